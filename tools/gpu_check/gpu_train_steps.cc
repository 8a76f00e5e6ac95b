// gpu_train_steps: a few training steps of the tiny model (configs/tiny.yaml's shape) on the GPU,
// with SBM attention on the CUDA kernels in bf16 autocast (run.device: cuda, run.precision: bf16,
// the Trainer's device.h), on a masked-LM task that needs no data files: each sequence counts up
// from a random token, so a masked token follows from its neighbours. Checks that the loss falls
// and that a checkpoint in the trainer's layout (model.safetensors, float32 on the host) reads
// back into a fresh model equal. tools/gpu_check.sh runs it on GPU machines without Bazel.
//
//   gpu_train_steps [--steps=60] [--out=DIR] [--attention=sbm|full] [--precision=bf16|fp32]
//
// Exit status: 0 checks passed, 1 a check failed, 2 no GPU (or a CPU-only LibTorch).
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "trainer/checkpoint/safetensors.h"
#include "trainer/checkpoint/tensor_io.h"
#include "trainer/config/train_config.h"
#include "trainer/model/bert.h"
#include "trainer/train/device.h"

namespace {

using sbmt::trainer::TrainConfig;

struct Options {
  int64_t steps = 60;
  std::string out = "/tmp/sbmt_gpu_train_steps";
  std::string attention = "sbm";
  std::string precision = "bf16";
};

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    const std::string key = arg.substr(0, eq),
                      value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    if (key == "--steps") {
      o.steps = std::stoll(value);
    } else if (key == "--out") {
      o.out = value;
    } else if (key == "--attention") {
      o.attention = value;
    } else if (key == "--precision") {
      o.precision = value;
    } else {
      throw sbmt::trainer::ConfigError("unknown option '" + arg +
                                       "' (see the top of gpu_train_steps.cc)");
    }
  }
  return o;
}

// configs/tiny.yaml's model, with a small vocabulary for the synthetic task.
TrainConfig TinyConfig(const Options& o) {
  TrainConfig c;
  c.model.vocab_size = 512;
  c.model.layers = 2;
  c.model.heads = 4;
  c.model.hidden = 128;
  c.model.ffn = 512;
  c.model.max_positions = 128;
  c.model.dropout = 0.0;
  c.model.attention_dropout = 0.0;
  c.model.attention = o.attention;
  c.model.sbm_clusters = 16;
  c.run.device = "cuda";
  c.run.precision = o.precision;
  return c;
}

struct Batch {
  torch::Tensor ids, valid, positions, labels;
};

// Rows counting up from a random token (mod vocab, above the 5 reserved ids), 15 % of the
// positions masked (id 4, [MASK]).
Batch MakeBatch(int64_t rows, int64_t length, int64_t vocab, const torch::Device& device) {
  const int64_t first_free = 5;
  torch::Tensor start = torch::randint(first_free, vocab, {rows, 1}, torch::kLong);
  torch::Tensor ids = first_free + (start - first_free + torch::arange(length, torch::kLong)) %
                                       (vocab - first_free);
  torch::Tensor masked = torch::rand({rows, length}) < 0.15;
  masked.index_put_({torch::indexing::Slice(), 0}, true);  // at least one per row
  Batch b;
  b.positions = masked.reshape(-1).nonzero().reshape(-1);
  b.labels = ids.reshape(-1).index_select(0, b.positions);
  b.ids = ids.masked_fill(masked, 4);
  b.valid = torch::ones({rows, length}, torch::kBool);
  for (torch::Tensor* t : {&b.ids, &b.valid, &b.positions, &b.labels}) *t = t->to(device);
  return b;
}

int Run(const Options& o) {
  const TrainConfig config = TinyConfig(o);
  torch::Device device(torch::kCPU);
  try {
    device = sbmt::trainer::TrainingDevice(config);
  } catch (const sbmt::Error& e) {
    std::fprintf(stderr, "gpu_train_steps: %s\n", e.what());
    return 2;
  }
  torch::manual_seed(0);
  auto model = std::make_shared<sbmt::trainer::BertForMaskedLM>(config.model, 0);
  model->to(device);
  torch::optim::AdamW optimizer(model->parameters(),
                                torch::optim::AdamWOptions(1e-3).weight_decay(0.01).eps(1e-6));
  std::printf("gpu_train_steps: %s attention on %s in %s, %lld steps of 32 x 128 tokens\n",
              o.attention.c_str(), device.str().c_str(), o.precision.c_str(),
              static_cast<long long>(o.steps));
  std::vector<double> losses;
  double density = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t step = 1; step <= o.steps; ++step) {
    const Batch b = MakeBatch(32, 128, config.model.vocab_size, device);
    const sbmt::attention::AttentionContext context{
        static_cast<uint64_t>(step), 0, sbmt::attention::AttentionContext::Phase::kTrain};
    torch::Tensor loss;
    {
      const sbmt::trainer::PrecisionScope precision(config);
      sbmt::trainer::BertOutput out = model->forward(b.ids, b.valid, b.positions, context);
      loss = torch::nn::functional::cross_entropy(out.logits.to(torch::kFloat32), b.labels) +
             out.regularizer;
      if (!out.layer_stats.empty() && out.layer_stats[0].density.defined()) {
        density = out.layer_stats[0].density.mean().item<double>();
      }
    }
    optimizer.zero_grad();
    loss.backward();
    torch::nn::utils::clip_grad_norm_(model->parameters(), 1.0);
    optimizer.step();
    losses.push_back(loss.item<double>());
    if (step == 1 || step % 10 == 0 || step == o.steps) {
      std::printf("  step %3lld  loss %.4f  layer-0 density %.3f\n", static_cast<long long>(step),
                  losses.back(), density);
    }
  }
  torch::cuda::synchronize();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double first = losses.front(), last = losses.back();
  const bool fell = last < 0.8 * first;
  std::printf("gpu_train_steps: loss %.4f -> %.4f (%s), %.2f s\n", first, last,
              fell ? "fell" : "DID NOT FALL by 20 %", seconds);

  // A checkpoint in the trainer's layout, read back into a fresh model on the GPU.
  std::filesystem::create_directories(o.out);
  const std::string path = o.out + "/model.safetensors";
  sbmt::trainer::WriteSafetensors(path, sbmt::trainer::ToSafeTensors(model->named_parameters()));
  auto fresh = std::make_shared<sbmt::trainer::BertForMaskedLM>(config.model, 1);
  fresh->to(device);
  sbmt::trainer::LoadTensors(sbmt::trainer::ReadSafetensors(path), fresh->named_parameters(), path);
  bool equal = true;
  const auto saved = model->named_parameters(), loaded = fresh->named_parameters();
  for (const auto& p : saved) {
    equal = equal && torch::equal(p.value().to(torch::kCPU), loaded[p.key()].to(torch::kCPU));
  }
  std::printf("gpu_train_steps: checkpoint %s (%zu tensors) %s\n", path.c_str(), saved.size(),
              equal ? "reads back equal" : "DIFFERS after reading back");
  return fell && equal ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(Parse(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gpu_train_steps: error: %s\n", e.what());
    return 1;
  }
}
