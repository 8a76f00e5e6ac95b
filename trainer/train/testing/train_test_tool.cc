// Helper of the data-parallel tests (data_parallel_test.sh):
//   train_test_tool shards DIR                 writes DIR/train.shard, DIR/valid.shard and
//       DIR/vocab.txt
//   train_test_tool compare A B [--tolerance=T] compares two model.safetensors: prints the
//       largest absolute difference and exits 1 when it exceeds T (0: must be bitwise equal)
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "trainer/checkpoint/safetensors.h"
#include "trainer/train/testing/synthetic_shards.h"

namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("data-parallel test helper");
  app.require_subcommand(1);
  std::string dir, a, b;
  double tolerance = 0;
  CLI::App* shards = app.add_subcommand("shards", "write synthetic shards");
  shards->add_option("dir", dir)->required();
  CLI::App* compare = app.add_subcommand("compare", "compare two model.safetensors");
  compare->add_option("a", a)->required();
  compare->add_option("b", b)->required();
  compare->add_option("--tolerance", tolerance);
  CLI11_PARSE(app, argc, argv);
  try {
    if (*shards) {
      sbmt::testing::WriteSyntheticShard(dir + "/train.shard", 64, 1);
      sbmt::testing::WriteSyntheticShard(dir + "/valid.shard", 24, 2);
      sbmt::testing::WriteSyntheticVocab(dir + "/vocab.txt");
      return 0;
    }
    const std::string bytes_a = Read(a), bytes_b = Read(b);
    const sbmt::trainer::SafetensorsFile fa = sbmt::trainer::ReadSafetensors(a);
    const sbmt::trainer::SafetensorsFile fb = sbmt::trainer::ReadSafetensors(b);
    double worst = 0;
    std::string worst_name;
    for (const sbmt::trainer::SafeTensor& t : fa.tensors) {
      const sbmt::trainer::SafeTensor* u = fb.Find(t.name);
      if (!u || u->bytes.size() != t.bytes.size() || t.dtype != "F32") {
        std::fprintf(stderr, "%s: tensor %s missing, resized or not F32 in %s\n", a.c_str(),
                     t.name.c_str(), b.c_str());
        return 1;
      }
      const float* x = reinterpret_cast<const float*>(t.bytes.data());
      const float* y = reinterpret_cast<const float*>(u->bytes.data());
      for (size_t i = 0; i < t.bytes.size() / 4; ++i) {
        const double d = std::fabs(static_cast<double>(x[i]) - y[i]);
        if (d > worst || std::isnan(d)) {
          worst = std::isnan(d) ? INFINITY : d;
          worst_name = t.name;
        }
      }
    }
    std::printf("max |a - b| = %.3g (%s); bitwise %s\n", worst, worst_name.c_str(),
                bytes_a == bytes_b ? "equal" : "different");
    return worst <= tolerance ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_test_tool: %s\n", e.what());
    return 1;
  }
}
