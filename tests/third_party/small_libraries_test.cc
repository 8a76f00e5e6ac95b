// One real check per small library the workspace wires in: yaml-cpp, nlohmann-json, CLI11,
// spdlog, utf8proc, SQLite, zlib, libpng and Google Benchmark.
#include <CLI/CLI.hpp>
#include <benchmark/benchmark.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <png.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <utf8proc.h>
#include <yaml-cpp/yaml.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

TEST(YamlCpp, ParsesNestedMapping) {
  YAML::Node config = YAML::Load("model:\n  layers: 4\n  attention: sbm\nlr: 1.0e-4\n");
  EXPECT_EQ(config["model"]["layers"].as<int>(), 4);
  EXPECT_EQ(config["model"]["attention"].as<std::string>(), "sbm");
  EXPECT_DOUBLE_EQ(config["lr"].as<double>(), 1e-4);
  EXPECT_THROW(config["model"]["attention"].as<int>(), YAML::BadConversion);
}

TEST(NlohmannJson, RoundTripsObject) {
  nlohmann::json state = {{"step", 1200}, {"seed", 7}, {"files", {"model.safetensors"}}};
  nlohmann::json parsed = nlohmann::json::parse(state.dump());
  EXPECT_EQ(parsed["step"].get<int>(), 1200);
  EXPECT_EQ(parsed["files"][0].get<std::string>(), "model.safetensors");
  EXPECT_THROW(nlohmann::json::parse("{\"step\": "), nlohmann::json::parse_error);
}

TEST(Cli11, ParsesFlagsAndRejectsUnknownOnes) {
  CLI::App app("test");
  std::string config;
  int threads = 1;
  app.add_option("--config", config)->required();
  app.add_option("--threads", threads);
  std::vector<std::string> args = {"--threads=3", "--config=x.yaml"};
  std::reverse(args.begin(), args.end());  // CLI11 consumes the vector from the back
  app.parse(args);
  EXPECT_EQ(config, "x.yaml");
  EXPECT_EQ(threads, 3);

  CLI::App strict("test");
  strict.add_option("--config", config);
  std::vector<std::string> bad = {"--no-such-flag"};
  EXPECT_THROW(strict.parse(bad), CLI::ExtrasError);
}

TEST(Spdlog, FormatsIntoSink) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger logger("test", sink);
  logger.set_pattern("%l %v");
  logger.info("step {} loss {:.3f}", 10, 2.5);
  EXPECT_EQ(out.str(), "info step 10 loss 2.500\n");
}

TEST(Utf8proc, DecomposesAndStripsAccents) {
  // "Héllo" -> NFD splits é into e + U+0301; STRIPMARK drops the combining mark.
  utf8proc_uint8_t* result = nullptr;
  const char* input = "H\xC3\xA9llo";
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(input), 0, &result,
                                    static_cast<utf8proc_option_t>(UTF8PROC_NULLTERM |
                                                                   UTF8PROC_DECOMPOSE |
                                                                   UTF8PROC_STRIPMARK));
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(result)), "Hello");
  std::free(result);
  EXPECT_EQ(utf8proc_tolower(0x00C9), 0x00E9);  // É -> é
}

TEST(Sqlite, StoresAndQueriesRows) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  char* error = nullptr;
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE TABLE jobs(id INTEGER PRIMARY KEY, name TEXT);"
                         "INSERT INTO jobs(name) VALUES ('pretrain'), ('glue-sst2');",
                         nullptr, nullptr, &error),
            SQLITE_OK)
      << error;
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT COUNT(*), MAX(name) FROM jobs", -1, &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 2);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1)), "pretrain");
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST(Zlib, Crc32MatchesKnownValueAndCompressionRoundTrips) {
  const std::string text = "123456789";
  uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(text.data()), text.size());
  EXPECT_EQ(crc, 0xCBF43926UL);  // the standard CRC-32 check value

  std::string input(10000, 'a');
  uLongf packed_size = compressBound(input.size());
  std::vector<Bytef> packed(packed_size);
  ASSERT_EQ(compress(packed.data(), &packed_size, reinterpret_cast<const Bytef*>(input.data()),
                     input.size()),
            Z_OK);
  EXPECT_LT(packed_size, 200u);
  std::string output(input.size(), '\0');
  uLongf output_size = output.size();
  ASSERT_EQ(uncompress(reinterpret_cast<Bytef*>(output.data()), &output_size, packed.data(),
                       packed_size),
            Z_OK);
  EXPECT_EQ(output, input);
}

TEST(Libpng, WritesAndReadsGrayscaleImage) {
  const int width = 5;
  const int height = 3;
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = width;
  image.height = height;
  image.format = PNG_FORMAT_GRAY;
  std::vector<png_byte> pixels(width * height);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<png_byte>(i * 17);
  png_alloc_size_t size = 0;
  ASSERT_TRUE(png_image_write_to_memory(&image, nullptr, &size, 0, pixels.data(), 0, nullptr));
  std::vector<png_byte> encoded(size);
  ASSERT_TRUE(png_image_write_to_memory(&image, encoded.data(), &size, 0, pixels.data(), 0,
                                        nullptr));
  png_image decoded{};
  decoded.version = PNG_IMAGE_VERSION;
  ASSERT_TRUE(png_image_begin_read_from_memory(&decoded, encoded.data(), size));
  decoded.format = PNG_FORMAT_GRAY;
  std::vector<png_byte> back(PNG_IMAGE_SIZE(decoded));
  ASSERT_TRUE(png_image_finish_read(&decoded, nullptr, back.data(), 0, nullptr));
  EXPECT_EQ(decoded.width, static_cast<png_uint_32>(width));
  EXPECT_EQ(back, pixels);
}

namespace {
void BM_Sum(benchmark::State& state) {
  std::vector<int> values(static_cast<size_t>(state.range(0)), 1);
  for (auto _ : state) {
    int total = 0;
    for (int v : values) total += v;
    benchmark::DoNotOptimize(total);
  }
}
BENCHMARK(BM_Sum)->Arg(64);

// Collects the names of the benchmarks that ran.
class CollectingReporter : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) names.push_back(run.benchmark_name());
  }
  std::vector<std::string> names;
};
}  // namespace

TEST(GoogleBenchmark, RunsRegisteredBenchmark) {
  int argc = 2;
  char arg0[] = "test";
  char arg1[] = "--benchmark_min_time=0.001";
  char* argv[] = {arg0, arg1, nullptr};
  benchmark::Initialize(&argc, argv);
  CollectingReporter reporter;
  EXPECT_EQ(benchmark::RunSpecifiedBenchmarks(&reporter), 1u);
  ASSERT_EQ(reporter.names.size(), 1u);
  EXPECT_EQ(reporter.names[0], "BM_Sum/64");
}
