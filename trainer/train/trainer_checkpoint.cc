// Trainer checkpoints: saving (rank 0) and resuming from what rank 0 loads. The layout is the
// same for every task: model.safetensors (the task model's named parameters), optimizer.
// safetensors (AdamW moments) and state.json (step, data position, config digest, world size).
#include <iterator>
#include <nlohmann/json.hpp>

#include "trainer/checkpoint/safetensors.h"
#include "trainer/checkpoint/tensor_io.h"
#include "trainer/train/trainer_state.h"

namespace sbmt::trainer {
namespace {

// The checkpoint's files, in the order rank 0 broadcasts them.
const char* const kCheckpointFiles[] = {"model.safetensors", "optimizer.safetensors", "state.json"};

}  // namespace

std::string Trainer::State::Save() {
  std::vector<SafeTensor> weights, moments;
  for (const auto& [name, p] : params) {
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
                          {"world_size", comm->size()}};
  return store.Save(step,
                    {{"model.safetensors", SerializeSafetensors(weights, {{"format", "pt"}})},
                     {"optimizer.safetensors", SerializeSafetensors(moments, {{"format", "pt"}})},
                     {"state.json", state.dump(1)}});
}

// Rank 0 loads the newest committed checkpoint that verifies and sends its files to every
// rank, so all resume from the same step even without a shared filesystem.
std::optional<LoadedCheckpoint> Trainer::State::LoadLatestEverywhere() {
  std::optional<LoadedCheckpoint> c;
  std::vector<int64_t> header(2 + std::size(kCheckpointFiles), 0);  // found, step, sizes
  if (comm->rank() == 0) {
    c = store.LoadLatest(log);
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
  const nlohmann::json state = nlohmann::json::parse(c->files.at("state.json"));
  if (state["config_digest"] != config.Digest()) {
    throw CheckpointError(c->dir + ": written with another configuration (digest " +
                          state["config_digest"].get<std::string>() + ", this run " +
                          config.Digest() + "); use another run.out_dir");
  }
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
      st->step(state["step"].get<int64_t>());
      optimizer->state()[c10::guts::to_string(p.unsafeGetTensorImpl())] = std::move(st);
    }
  }
  step = state["step"].get<int64_t>();
  position = {state["epoch"].get<int64_t>(), state["batch"].get<int64_t>()};
  const int written_by = state.value("world_size", 1);
  Say("resumed from " + c->dir + " (step " + std::to_string(step) + ")");
  if (written_by != comm->size()) {
    Say("the checkpoint was written at world size " + std::to_string(written_by) +
        ", this run has " + std::to_string(comm->size()) +
        ": same global batch and data order; float sums may round differently");
  }
  return true;
}

}  // namespace sbmt::trainer
