// Trainer checkpoints: saving (rank 0) and resuming from what rank 0 loads. The layout is the
// same for every task: model.safetensors (the task model's named parameters), optimizer.
// safetensors (AdamW moments) and state.json (step, data position, the settings the math
// depends on, the data's content checksums, world size).
//
// Resume takes the newest committed step that verifies (MANIFEST sizes and CRC-32) and whose
// contents parse (state.json, both safetensors files, every parameter with its shape). Newer
// damaged steps are moved aside into checkpoints/damaged/ so the run can save those steps again;
// if every committed step is damaged the trainer refuses, naming them, unless run.start_fresh.
#include <cmath>
#include <iterator>
#include <nlohmann/json.hpp>

#include "trainer/checkpoint/safetensors.h"
#include "trainer/checkpoint/tensor_io.h"
#include "trainer/train/trainer_state.h"

namespace sbmt::trainer {
namespace {

// The checkpoint's files, in the order rank 0 broadcasts them.
const char* const kCheckpointFiles[] = {"model.safetensors", "optimizer.safetensors", "state.json"};

// Settings left out of the resume comparison, and why: the shard and file paths (the data is
// compared by content checksum instead, so ../x and a symlink to x are the same data);
// total_steps (extending or shortening a schedule is a deliberate change: the learning rate
// follows the new schedule from the resumed step on); init_from (only step 0 reads it).
bool ComparedOnResume(const TrainConfig::Setting& s) {
  return s.resume && s.key != "data.train" && s.key != "task.classification.train" &&
         s.key != "optim.total_steps" && s.key != "model.init_from";
}

nlohmann::json ResumeSettings(const TrainConfig& config) {
  nlohmann::json out = nlohmann::json::object();
  for (const TrainConfig::Setting& s : config.Settings()) {
    if (ComparedOnResume(s)) out[s.key] = s.value;
  }
  return out;
}

// The parsed state.json; throws CheckpointError naming the file for anything missing.
struct CheckpointState {
  int64_t step = 0, epoch = 0, batch = 0, total_steps = 0, threads = 0;
  int world_size = 1;
  nlohmann::json settings;  // null in checkpoints written before settings were stored
  std::string data, digest;
};

CheckpointState ParseState(const LoadedCheckpoint& c) {
  const std::string where = c.dir + "/state.json";
  CheckpointState s;
  try {
    const nlohmann::json j = nlohmann::json::parse(c.files.at("state.json"));
    s.step = j.at("step").get<int64_t>();
    s.epoch = j.at("epoch").get<int64_t>();
    s.batch = j.at("batch").get<int64_t>();
    s.world_size = j.value("world_size", 1);
    s.total_steps = j.value("total_steps", int64_t{0});
    s.threads = j.value("threads", int64_t{0});
    s.digest = j.value("config_digest", "");
    if (j.contains("settings")) s.settings = j.at("settings");
    s.data = j.value("data", "");
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(where + ": unreadable: " + e.what());
  }
  if (s.step != c.step) {
    throw CheckpointError(where + ": step " + std::to_string(s.step) + " in a step_" +
                          std::to_string(c.step) + " directory");
  }
  return s;
}

// Refuses a checkpoint written with settings the math depends on that differ from this run's,
// naming each differing key with both values.
void CheckResumable(const TrainConfig& config, const Task& task, const LoadedCheckpoint& c,
                    const CheckpointState& s) {
  std::string differ;
  if (s.settings.is_object()) {
    const nlohmann::json mine = ResumeSettings(config);
    for (const auto& [key, value] : mine.items()) {
      const std::string theirs = s.settings.value(key, std::string("(not set)"));
      if (theirs != value.get<std::string>()) {
        differ += "\n  " + key + ": " + theirs + " in the checkpoint, " + value.get<std::string>() +
                  " in this run";
      }
    }
    const std::string data = task.DataIdentity();
    if (!s.data.empty() && s.data != data) {
      differ += "\n  training data: content checksums " + s.data + " in the checkpoint, " + data +
                " in this run";
    }
  } else if (s.digest != config.Digest()) {  // a checkpoint from before settings were stored
    differ += "\n  config digest: " + s.digest + " in the checkpoint, " + config.Digest() +
              " in this run";
  }
  if (!differ.empty()) {
    throw CheckpointError(ErrorCode::kFailedPrecondition,
                          c.dir + ": written with another configuration; settings that differ:" +
                              differ + "\nUse another run.out_dir to start a new run.");
  }
}

}  // namespace

std::string Trainer::State::Save() {
  std::vector<SafeTensor> weights, moments;
  for (const auto& [name, p] : params) {
    // A run that produced non-finite weights must not replace good checkpoints (pruning would
    // remove them): refuse the commit.
    if (!torch::isfinite(p).all().item<bool>()) {
      throw Error(ErrorCode::kInternal, "refusing to commit step " + std::to_string(step) +
                                            ": parameter " + name + " has non-finite values");
    }
    weights.push_back(ToSafeTensor(name, p));
    auto it = optimizer->state().find(c10::guts::to_string(p.unsafeGetTensorImpl()));
    if (it != optimizer->state().end()) {
      auto& st = static_cast<torch::optim::AdamWParamState&>(*it->second);
      moments.push_back(ToSafeTensor(name + ".exp_avg", st.exp_avg()));
      moments.push_back(ToSafeTensor(name + ".exp_avg_sq", st.exp_avg_sq()));
    }
  }
  nlohmann::json state = {{"step", step},
                          {"epoch", position.epoch},
                          {"batch", position.batch},
                          {"config_digest", config.Digest()},
                          {"settings", ResumeSettings(config)},
                          {"data", task.DataIdentity()},
                          {"total_steps", config.optim.total_steps},
                          {"threads", config.run.threads},
                          {"world_size", comm->size()}};
  const std::string dir = store.Save(
      step, {{"model.safetensors", SerializeSafetensors(weights, {{"format", "pt"}})},
             {"optimizer.safetensors", SerializeSafetensors(moments, {{"format", "pt"}})},
             {"state.json", state.dump(1)}});
  last_saved_step = step;
  return dir;
}

// Throws CheckpointError for a checkpoint whose files do not parse: damage a MANIFEST cannot
// see (a writer's bug). A checkpoint of another model parses; CheckResumable refuses it.
void Trainer::State::Validate(const LoadedCheckpoint& c) const {
  for (const char* name : kCheckpointFiles) {
    if (!c.files.count(name)) throw CheckpointError(c.dir + ": " + name + " is missing");
  }
  ParseState(c);
  try {
    ParseSafetensors(c.files.at("model.safetensors"), c.dir + "/model.safetensors");
    ParseSafetensors(c.files.at("optimizer.safetensors"), c.dir + "/optimizer.safetensors");
  } catch (const SafetensorsError& e) {
    throw CheckpointError(e.what());
  }
}

// Rank 0 finds the newest usable checkpoint and sends its files to every rank, so all resume
// from the same step even without a shared filesystem.
std::optional<LoadedCheckpoint> Trainer::State::LoadLatestEverywhere() {
  std::optional<LoadedCheckpoint> c;
  // status (0 none, 1 found, 2 refused), step, file sizes
  std::vector<int64_t> header(2 + std::size(kCheckpointFiles), 0);
  std::string refusal;
  if (comm->rank() == 0) {
    CheckpointStore::Latest latest =
        store.FindLatest([this](const LoadedCheckpoint& l) { Validate(l); });
    for (const auto& [damaged_step, reason] : latest.damaged) {
      Say("checkpoint step " + std::to_string(damaged_step) + " is damaged: " + reason);
    }
    if (latest.loaded || config.run.start_fresh) {
      for (const auto& [damaged_step, reason] : latest.damaged) {
        Say("moved damaged step " + std::to_string(damaged_step) + " to " +
            store.Quarantine(damaged_step, reason));
      }
    } else if (!latest.damaged.empty()) {
      std::string steps;
      for (const auto& [damaged_step, reason] : latest.damaged) {
        steps += (steps.empty() ? "" : ", ") + std::to_string(damaged_step);
      }
      refusal = store.root() + ": every committed checkpoint is damaged (steps " + steps +
                "); refusing to start over from step 0. Restore a good copy, or pass --set "
                "run.start_fresh=true to move them aside and start from scratch";
      header[0] = 2;
    }
    c = std::move(latest.loaded);
    if (c) {
      header[0] = 1;
      header[1] = c->step;
      for (size_t f = 0; f < std::size(kCheckpointFiles); ++f) {
        header[2 + f] = static_cast<int64_t>(c->files.at(kCheckpointFiles[f]).size());
      }
    }
  }
  comm->Broadcast(dist::Buffer::Of(header.data(), static_cast<int64_t>(header.size())), 0)
      ->Wait(timeout);
  if (header[0] == 2) {
    throw CheckpointError(comm->rank() == 0 ? refusal
                                            : "rank 0 refused to resume (see its log): every "
                                              "committed checkpoint is damaged");
  }
  if (header[0] == 0) return std::nullopt;
  if (comm->rank() != 0) {
    c = LoadedCheckpoint{header[1], store.root() + "/step_" + std::to_string(header[1]), {}};
  }
  for (size_t f = 0; f < std::size(kCheckpointFiles); ++f) {
    std::string& bytes = c->files[kCheckpointFiles[f]];
    bytes.resize(static_cast<size_t>(header[2 + f]));
    comm->Broadcast(dist::Buffer::Of(reinterpret_cast<uint8_t*>(bytes.data()), header[2 + f]), 0)
        ->Wait(timeout);
  }
  return c;
}

bool Trainer::State::Resume() {
  std::optional<LoadedCheckpoint> c = LoadLatestEverywhere();
  if (!c) return false;
  const CheckpointState state = ParseState(*c);
  CheckResumable(config, task, *c, state);
  const SafetensorsFile weights =
      ParseSafetensors(c->files.at("model.safetensors"), c->dir + "/model.safetensors");
  const SafetensorsFile moments =
      ParseSafetensors(c->files.at("optimizer.safetensors"), c->dir + "/optimizer.safetensors");
  for (auto& [name, p] : params) {
    const SafeTensor* w = weights.Find(name);
    if (!w) throw CheckpointError(c->dir + "/model.safetensors: missing tensor '" + name + "'");
    CopyInto(*w, p, c->dir + "/model.safetensors");
    const SafeTensor* m1 = moments.Find(name + ".exp_avg");
    const SafeTensor* m2 = moments.Find(name + ".exp_avg_sq");
    if (m1 && m2) {
      auto st = std::make_unique<torch::optim::AdamWParamState>();
      torch::Tensor a = torch::empty_like(p), b = torch::empty_like(p);
      CopyInto(*m1, a, c->dir + "/optimizer.safetensors");
      CopyInto(*m2, b, c->dir + "/optimizer.safetensors");
      st->exp_avg(a);
      st->exp_avg_sq(b);
      st->step(state.step);
      optimizer->state()[c10::guts::to_string(p.unsafeGetTensorImpl())] = std::move(st);
    }
  }
  step = state.step;
  last_saved_step = step;
  position = {state.epoch, state.batch};
  Say("resumed from " + c->dir + " (step " + std::to_string(step) + ")");
  if (state.world_size != comm->size()) {
    Say("the checkpoint was written at world size " + std::to_string(state.world_size) +
        ", this run has " + std::to_string(comm->size()) +
        ": same global batch and data order; float sums may round differently");
  }
  if (state.threads > 0 && state.threads != config.run.threads) {
    Say("the checkpoint was written with " + std::to_string(state.threads) +
        " threads per rank, this run has " + std::to_string(config.run.threads) +
        ": LibTorch's matrix products sum in another order, so the weights will differ from an "
        "uninterrupted run by float rounding (bitwise identity needs the same threads per rank)");
  }
  if (state.total_steps > 0 && state.total_steps != config.optim.total_steps) {
    Say("optim.total_steps changed from " + std::to_string(state.total_steps) + " to " +
        std::to_string(config.optim.total_steps) +
        ": the learning-rate schedule follows the new total from here on");
  }
  return true;
}

}  // namespace sbmt::trainer
