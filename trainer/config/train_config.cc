#include "trainer/config/train_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "runtime/hash.h"

namespace sbmt::trainer {
namespace {

// One setting of the schema: how to read it from YAML, print it, and whether it must match to
// resume from a checkpoint.
struct Field {
  using Setter = std::function<void(TrainConfig&, const YAML::Node&)>;
  using Getter = std::function<std::string(const TrainConfig&)>;
  Field(std::string k, bool d, Setter s, Getter g)
      : key(std::move(k)), digest(d), set(std::move(s)), get(std::move(g)) {}

  std::string key;
  bool digest;  // hashed into TrainConfig::Digest (must match to resume)
  std::function<void(TrainConfig&, const YAML::Node&)>
      set;  // throws ConfigError (the bare reason) on bad input
  std::function<std::string(const TrainConfig&)> get;
  // For settings added after checkpoints existed: at this value the setting is left out of the
  // digest, so older checkpoints still resume.
  std::string digest_skips_default;
};

Field AddedLater(Field f, std::string default_value) {
  f.digest_skips_default = std::move(default_value);
  return f;
}

template <typename T>
T As(const YAML::Node& node, const char* expected) {
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    std::ostringstream out;
    out << "expected " << expected << ", got '" << YAML::Dump(node) << "'";
    throw ConfigError(out.str());
  }
}

template <typename T>
std::string Str(const T& value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

template <typename Section, typename T>
Field Number(const std::string& key, bool digest, Section TrainConfig::*section, T Section::*member,
             T min, T max, const char* what) {
  return {key, digest,
          [=](TrainConfig& c, const YAML::Node& n) {
            const T value = As<T>(n, what);
            // Written so that NaN fails too (every comparison with NaN is false).
            if (!(value >= min && value <= max)) {
              throw ConfigError("expected " + std::string(what) + " in [" + Str(min) + ", " +
                                Str(max) + "], got " + Str(value));
            }
            c.*section.*member = value;
          },
          [=](const TrainConfig& c) { return Str(c.*section.*member); }};
}

template <typename Section>
Field Text(const std::string& key, bool digest, Section TrainConfig::*section,
           std::string Section::*member, std::vector<std::string> allowed = {}) {
  return {
      key, digest,
      [=](TrainConfig& c, const YAML::Node& n) {
        // An empty value (`key:` or `--set key=`) is the empty string, not "null".
        const std::string value = n.IsNull() ? "" : As<std::string>(n, "a string");
        if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
          std::string list;
          for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
          throw ConfigError("expected one of " + list + ", got '" + value + "'");
        }
        c.*section.*member = value;
      },
      [=](const TrainConfig& c) { return c.*section.*member; }};
}

template <typename Section>
Field Flag(const std::string& key, bool digest, Section TrainConfig::*section,
           bool Section::*member) {
  return {key, digest,
          [=](TrainConfig& c, const YAML::Node& n) {
            c.*section.*member = As<bool>(n, "true or false");
          },
          [=](const TrainConfig& c) { return std::string(c.*section.*member ? "true" : "false"); }};
}

constexpr int64_t kBig = int64_t{1} << 40;

Field SyntheticNumber(const std::string& key, int64_t SyntheticTaskConfig::*member, int64_t min,
                      int64_t max) {
  return {key, true,
          [=](TrainConfig& c, const YAML::Node& n) {
            const int64_t v = As<int64_t>(n, "an integer");
            if (v < min || v > max) {
              throw ConfigError("expected an integer in [" + Str(min) + ", " + Str(max) +
                                "], got " + Str(v));
            }
            c.task.synthetic.*member = v;
          },
          [=](const TrainConfig& c) { return Str(c.task.synthetic.*member); }};
}

const std::vector<Field>& Schema() {
  using T = TrainConfig;
  static const std::vector<Field> fields = {
      Text("task.name", true, &T::task, &TaskConfig::name,
           {"mlm", "classification", "glue", "lra", "synthetic"}),
      {"task.lra.name", true,
       [](TrainConfig& c, const YAML::Node& n) {
         const std::string v = n.IsNull() ? "" : As<std::string>(n, "a task name");
         const std::set<std::string> names = {"listops", "text", "retrieval", "image",
                                              "pathfinder"};
         if (!v.empty() && !names.count(v)) {
           throw ConfigError("expected one of listops, text, retrieval, image, pathfinder, got '" +
                             v + "'");
         }
         c.task.lra.name = v;
       },
       [](const TrainConfig& c) { return c.task.lra.name; }},
      {"task.lra.data_dir", false,
       [](TrainConfig& c, const YAML::Node& n) {
         c.task.lra.data_dir = n.IsNull() ? "" : As<std::string>(n, "a folder");
       },
       [](const TrainConfig& c) { return c.task.lra.data_dir; }},
      {"task.lra.max_length", true,
       [](TrainConfig& c, const YAML::Node& n) {
         const int64_t v = As<int64_t>(n, "an integer");
         if (v != 0 && (v < 2 || v > (int64_t{1} << 20)))
           throw ConfigError("expected 0 or an integer >= 2, got " + Str(v));
         c.task.lra.max_length = v;
       },
       [](const TrainConfig& c) { return Str(c.task.lra.max_length); }},
      {"task.lra.skip_malformed", true,
       [](TrainConfig& c, const YAML::Node& n) {
         c.task.lra.skip_malformed = As<bool>(n, "true or false");
       },
       [](const TrainConfig& c) {
         return std::string(c.task.lra.skip_malformed ? "true" : "false");
       }},
      SyntheticNumber("task.synthetic.length", &SyntheticTaskConfig::length, 2, 1 << 20),
      SyntheticNumber("task.synthetic.vocab", &SyntheticTaskConfig::vocab, 2, 65000),
      SyntheticNumber("task.synthetic.train_examples", &SyntheticTaskConfig::train_examples, 1,
                      int64_t{1} << 30),
      SyntheticNumber("task.synthetic.valid_examples", &SyntheticTaskConfig::valid_examples, 0,
                      int64_t{1} << 30),
      {"task.glue.name", true,
       [](TrainConfig& c, const YAML::Node& n) {
         c.task.glue.name = n.IsNull() ? "" : As<std::string>(n, "a task name");
       },
       [](const TrainConfig& c) { return c.task.glue.name; }},
      {"task.glue.data_dir", false,
       [](TrainConfig& c, const YAML::Node& n) {
         c.task.glue.data_dir = n.IsNull() ? "" : As<std::string>(n, "a folder");
       },
       [](const TrainConfig& c) { return c.task.glue.data_dir; }},
      {"task.glue.epochs", false,
       [](TrainConfig& c, const YAML::Node& n) {
         const int64_t v = As<int64_t>(n, "an integer");
         if (v < 0 || v > 10000)
           throw ConfigError("expected an integer in [0, 10000], got " + Str(v));
         c.task.glue.epochs = v;
       },
       [](const TrainConfig& c) { return Str(c.task.glue.epochs); }},
      {"task.glue.max_length", true,
       [](TrainConfig& c, const YAML::Node& n) {
         const int64_t v = As<int64_t>(n, "an integer");
         if (v != 0 && (v < 3 || v > (int64_t{1} << 20)))
           throw ConfigError("expected 0 or an integer >= 3, got " + Str(v));
         c.task.glue.max_length = v;
       },
       [](const TrainConfig& c) { return Str(c.task.glue.max_length); }},
      {"task.glue.skip_malformed", true,
       [](TrainConfig& c, const YAML::Node& n) {
         c.task.glue.skip_malformed = As<bool>(n, "true or false");
       },
       [](const TrainConfig& c) {
         return std::string(c.task.glue.skip_malformed ? "true" : "false");
       }},
      {"task.classification.train", true,
       [](TrainConfig& c, const YAML::Node& n) {
         c.task.classification.train = n.IsNull() ? "" : As<std::string>(n, "a file path");
       },
       [](const TrainConfig& c) { return c.task.classification.train; }},
      {"task.classification.valid", false,
       [](TrainConfig& c, const YAML::Node& n) {
         c.task.classification.valid = n.IsNull() ? "" : As<std::string>(n, "a file path");
       },
       [](const TrainConfig& c) { return c.task.classification.valid; }},
      {"task.classification.labels", true,
       [](TrainConfig& c, const YAML::Node& n) {
         const int64_t v = As<int64_t>(n, "an integer");
         if (v < 1 || v > 1000)
           throw ConfigError("expected an integer in [1, 1000], got " + Str(v));
         c.task.classification.labels = v;
       },
       [](const TrainConfig& c) { return Str(c.task.classification.labels); }},
      Number("model.vocab_size", true, &T::model, &ModelConfig::vocab_size, int64_t{5},
             int64_t{65536}, "an integer"),
      Number("model.layers", true, &T::model, &ModelConfig::layers, int64_t{1}, int64_t{1000},
             "an integer"),
      Number("model.heads", true, &T::model, &ModelConfig::heads, int64_t{1}, int64_t{1024},
             "an integer"),
      Number("model.hidden", true, &T::model, &ModelConfig::hidden, int64_t{1}, int64_t{1} << 20,
             "an integer"),
      Number("model.ffn", true, &T::model, &ModelConfig::ffn, int64_t{1}, int64_t{1} << 22,
             "an integer"),
      Number("model.max_positions", true, &T::model, &ModelConfig::max_positions, int64_t{2},
             int64_t{1} << 20, "an integer"),
      Number("model.dropout", true, &T::model, &ModelConfig::dropout, 0.0, 0.99, "a number"),
      Number("model.attention_dropout", true, &T::model, &ModelConfig::attention_dropout, 0.0, 0.99,
             "a number"),
      Text("model.attention", true, &T::model, &ModelConfig::attention,
           {"sbm", "full", "linformer", "nystrom"}),
      Number("model.sbm.clusters", true, &T::model, &ModelConfig::sbm_clusters, int64_t{1},
             int64_t{4096}, "an integer"),
      Number("model.sbm.eps", true, &T::model, &ModelConfig::sbm_eps, 0.0, 0.999, "a number"),
      Flag("model.sbm.self_loops", true, &T::model, &ModelConfig::sbm_self_loops),
      Text("model.sbm.density_penalty", true, &T::model, &ModelConfig::sbm_density_penalty,
           {"expected", "sampled"}),
      Number("model.sbm.penalty_weight", true, &T::model, &ModelConfig::sbm_penalty_weight, 0.0,
             1e6, "a number"),
      Text("model.init_from", true, &T::model, &ModelConfig::init_from),
      {"data.train", true,
       [](TrainConfig& c, const YAML::Node& n) {
         if (n.IsScalar()) {
           c.data.train = {n.as<std::string>()};
         } else {
           c.data.train = As<std::vector<std::string>>(n, "a list of shard paths");
         }
         if (c.data.train.empty())
           throw ConfigError(std::string("expected at least one shard path"));
       },
       [](const TrainConfig& c) {
         std::string s = "[";
         for (const std::string& p : c.data.train) s += (s.size() > 1 ? ", " : "") + p;
         return s + "]";
       }},
      Text("data.valid", false, &T::data, &DataConfig::valid),
      Text("data.vocab", false, &T::data, &DataConfig::vocab),
      Number("data.global_batch", true, &T::data, &DataConfig::global_batch, int64_t{1}, kBig,
             "an integer"),
      Number("data.mask_probability", true, &T::data, &DataConfig::mask_probability, 0.01, 0.99,
             "a number"),
      Number("optim.lr", true, &T::optim, &OptimConfig::lr, 1e-12, 10.0, "a number"),
      Number("optim.warmup_steps", true, &T::optim, &OptimConfig::warmup_steps, int64_t{0}, kBig,
             "an integer"),
      Number("optim.total_steps", true, &T::optim, &OptimConfig::total_steps, int64_t{1}, kBig,
             "an integer"),
      Number("optim.weight_decay", true, &T::optim, &OptimConfig::weight_decay, 0.0, 10.0,
             "a number"),
      Number("optim.clip_norm", true, &T::optim, &OptimConfig::clip_norm, 0.0, 1e9, "a number"),
      Number("optim.accumulation", false, &T::optim, &OptimConfig::accumulation, int64_t{1},
             int64_t{1} << 16, "an integer"),
      AddedLater(
          Text("optim.schedule", true, &T::optim, &OptimConfig::schedule, {"linear", "one_cycle"}),
          "linear"),
      Number("optim.max_skipped_in_a_row", false, &T::optim, &OptimConfig::max_skipped_in_a_row,
             int64_t{1}, kBig, "an integer"),
      {"run.seed", true,
       [](TrainConfig& c, const YAML::Node& n) {
         c.run.seed = As<uint64_t>(n, "a non-negative integer");
       },
       [](const TrainConfig& c) { return Str(c.run.seed); }},
      Text("run.out_dir", false, &T::run, &RunConfig::out_dir),
      Number("run.log_every", false, &T::run, &RunConfig::log_every, int64_t{1}, kBig,
             "an integer"),
      Number("run.eval_every", false, &T::run, &RunConfig::eval_every, int64_t{1}, kBig,
             "an integer"),
      Number("run.eval_batches", false, &T::run, &RunConfig::eval_batches, int64_t{1}, kBig,
             "an integer"),
      Number("run.checkpoint_every", false, &T::run, &RunConfig::checkpoint_every, int64_t{1}, kBig,
             "an integer"),
      Number("run.keep_checkpoints", false, &T::run, &RunConfig::keep_checkpoints, int64_t{1},
             int64_t{1000}, "an integer"),
      Number("run.threads", false, &T::run, &RunConfig::threads, int64_t{0}, int64_t{4096},
             "an integer"),
      Flag("run.start_fresh", false, &T::run, &RunConfig::start_fresh),
      Text("run.keep_best", false, &T::run, &RunConfig::keep_best),
      Text("run.device", false, &T::run, &RunConfig::device, {"cpu", "cuda"}),
      Text("run.precision", false, &T::run, &RunConfig::precision, {"fp32", "bf16"}),
      Text("dist.backend", false, &T::dist, &DistConfig::backend, {"auto", "mpi", "nccl"}),
      Number("dist.timeout_s", false, &T::dist, &DistConfig::timeout_s, int64_t{1}, int64_t{86400},
             "an integer"),
      Number("dist.bucket_mb", false, &T::dist, &DistConfig::bucket_mb, 0.001, 4096.0, "a number"),
      Number("dist.first_bucket_mb", false, &T::dist, &DistConfig::first_bucket_mb, 0.001, 4096.0,
             "a number"),
  };
  return fields;
}

const Field* Find(const std::string& key) {
  for (const Field& f : Schema()) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

bool IsSection(const std::string& key) {
  for (const Field& f : Schema()) {
    if (f.key.rfind(key + ".", 0) == 0) return true;
  }
  return false;
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string UnknownKey(const std::string& key) {
  std::string best;
  size_t best_distance = 4;
  for (const Field& f : Schema()) {
    const size_t d = EditDistance(key, f.key);
    if (d < best_distance) {
      best_distance = d;
      best = f.key;
    }
  }
  return "unknown key" + (best.empty() ? std::string() : " (did you mean " + best + "?)");
}

void Visit(TrainConfig& c, const YAML::Node& node, const std::string& prefix,
           const std::string& path) {
  std::map<std::string, int> seen;  // key -> line, to refuse duplicates (YAML forbids them)
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string key = prefix + it->first.as<std::string>();
    const int line = it->first.Mark().line + 1;
    const std::string where = path + ":" + std::to_string(line) + ": " + key;
    if (const auto [first, inserted] = seen.emplace(key, line); !inserted) {
      throw ConfigError(where + ": duplicate key (first set on line " +
                        std::to_string(first->second) + ")");
    }
    if (const Field* f = Find(key)) {
      try {
        f->set(c, it->second);
      } catch (const ConfigError& message) {
        throw ConfigError(where + ": " + message.what());
      }
    } else if (IsSection(key) && it->second.IsMap()) {
      Visit(c, it->second, key + ".", path);
    } else if (IsSection(key)) {
      throw ConfigError(where + ": expected a section (a mapping of keys)");
    } else {
      throw ConfigError(where + ": " + UnknownKey(key));
    }
  }
}

void CheckConsistency(const TrainConfig& c, const std::string& path) {
  if (c.model.hidden % c.model.heads != 0) {
    throw ConfigError(path + ": model.hidden (" + std::to_string(c.model.hidden) +
                      ") must be a multiple of model.heads (" + std::to_string(c.model.heads) +
                      ")");
  }
  if (c.optim.warmup_steps > c.optim.total_steps) {
    throw ConfigError(path + ": optim.warmup_steps (" + std::to_string(c.optim.warmup_steps) +
                      ") exceeds optim.total_steps (" + std::to_string(c.optim.total_steps) + ")");
  }
  if (c.task.name == "mlm" && c.data.train.empty()) {
    throw ConfigError(path + ": data.train: no training shards given");
  }
  if (c.task.name == "glue" && (c.task.glue.name.empty() || c.task.glue.data_dir.empty())) {
    throw ConfigError(path + ": task.glue.name and task.glue.data_dir: both are needed for GLUE");
  }
  if (c.task.name == "lra" && (c.task.lra.name.empty() || c.task.lra.data_dir.empty())) {
    throw ConfigError(path + ": task.lra.name and task.lra.data_dir: both are needed for LRA");
  }
  if (c.task.name == "synthetic" && c.task.synthetic.vocab < c.task.synthetic.length - 1) {
    throw ConfigError(path + ": task.synthetic.vocab (" + std::to_string(c.task.synthetic.vocab) +
                      ") must be at least task.synthetic.length - 1 (" +
                      std::to_string(c.task.synthetic.length - 1) +
                      "): the tokens of a sequence are distinct but one");
  }
  if (c.task.name == "classification" && c.task.classification.train.empty()) {
    throw ConfigError(path + ": task.classification.train: no training file given");
  }
  if (c.run.precision == "bf16" && c.run.device != "cuda") {
    throw ConfigError(path + ": run.precision: bf16 needs run.device: cuda (CPU runs are fp32)");
  }
  if (c.dist.backend == "nccl" && c.run.device != "cuda") {
    throw ConfigError(path + ": dist.backend: nccl reduces GPU tensors; it needs run.device: cuda");
  }
}

}  // namespace

std::string TrainConfig::ToYaml() const {
  std::string out;
  for (const Field& f : Schema()) out += f.key + ": " + f.get(*this) + "\n";
  return out;
}

std::vector<TrainConfig::Setting> TrainConfig::Settings() const {
  std::vector<Setting> out;
  for (const Field& f : Schema()) out.push_back({f.key, f.get(*this), f.digest});
  return out;
}

std::string TrainConfig::Digest() const {
  uint64_t h = runtime::kFnvOffsetBasis;
  for (const Field& f : Schema()) {
    if (!f.digest) continue;
    // Masked-LM configs hash as they did before tasks existed, so their checkpoints still
    // resume; any other task's settings are part of its digest.
    if (f.key.rfind("task.", 0) == 0 && task.name == "mlm") continue;
    if (!f.digest_skips_default.empty() && f.get(*this) == f.digest_skips_default) continue;
    h = runtime::Fnv1a64(f.key + "=" + f.get(*this) + "\n", h);
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

TrainConfig LoadTrainConfig(const std::string& path, const std::vector<std::string>& overrides) {
  TrainConfig c;
  YAML::Node root;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw ConfigError(path + ": is a directory; expected a YAML config file");
  }
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw ConfigError(path + ": cannot read config file");
  } catch (const YAML::ParserException& e) {
    throw ConfigError(path + ":" + std::to_string(e.mark.line + 1) +
                      ": YAML syntax error: " + e.msg);
  }
  if (!root.IsNull()) {
    if (!root.IsMap()) throw ConfigError(path + ": expected a mapping at the top level");
    Visit(c, root, "", path);
  }
  for (const std::string& o : overrides) {
    const size_t eq = o.find('=');
    const std::string where = "--set " + o;
    if (eq == std::string::npos) throw ConfigError(where + ": expected KEY=VALUE");
    const std::string key = o.substr(0, eq);
    const Field* f = Find(key);
    if (!f) throw ConfigError(where + ": " + UnknownKey(key));
    try {
      f->set(c, YAML::Load(o.substr(eq + 1)));
    } catch (const ConfigError& message) {
      throw ConfigError(where + ": " + message.what());
    } catch (const YAML::Exception& e) {
      throw ConfigError(where + ": " + e.msg);
    }
  }
  CheckConsistency(c, path);
  return c;
}

}  // namespace sbmt::trainer
