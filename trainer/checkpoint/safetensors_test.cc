// safetensors: round trips, the on-disk layout, and errors that name the file and tensor.
#include "trainer/checkpoint/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include "tests/util/test_files.h"

namespace sbmt::trainer {
namespace {

std::vector<char> Bytes(const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  return std::vector<char>(p, p + size);
}

std::vector<SafeTensor> Sample() {
  const float w[6] = {1.5f, -2.0f, 0.25f, 3.0f, 4.0f, -0.5f};
  const int64_t step[1] = {1200};
  return {{"layer.weight", "F32", {2, 3}, Bytes(w, sizeof(w))},
          {"step", "I64", {1}, Bytes(step, sizeof(step))},
          {"empty", "F32", {0, 4}, {}}};
}

TEST(Safetensors, RoundTripsTensorsAndMetadata) {
  const std::string path = testing::TempPath("round.safetensors");
  WriteSafetensors(path, Sample(), {{"format", "pt"}});
  const SafetensorsFile file = ReadSafetensors(path);
  ASSERT_EQ(file.tensors.size(), 3u);
  EXPECT_EQ(file.metadata.at("format"), "pt");
  const SafeTensor* w = file.Find("layer.weight");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->dtype, "F32");
  EXPECT_EQ(w->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(w->bytes, Sample()[0].bytes);
  int64_t step = 0;
  std::memcpy(&step, file.Find("step")->bytes.data(), 8);
  EXPECT_EQ(step, 1200);
  EXPECT_TRUE(file.Find("empty")->bytes.empty());
  EXPECT_EQ(file.Find("missing"), nullptr);
}

TEST(Safetensors, LayoutIsLengthThenJsonThenAlignedData) {
  const std::string path = testing::TempPath("layout.safetensors");
  WriteSafetensors(path, Sample());
  const std::string bytes = testing::ReadFile(path);
  uint64_t length = 0;
  std::memcpy(&length, bytes.data(), 8);
  EXPECT_EQ(length % 8, 0u);
  const nlohmann::json header = nlohmann::json::parse(bytes.substr(8, length));
  EXPECT_EQ(header["layer.weight"]["data_offsets"], nlohmann::json({0, 24}));
  EXPECT_EQ(header["step"]["data_offsets"], nlohmann::json({24, 32}));
  EXPECT_EQ(header["step"]["dtype"], "I64");
  EXPECT_EQ(bytes.size(), 8 + length + 32);
}

void ExpectReadError(const std::string& path, const std::string& needle) {
  try {
    ReadSafetensors(path);
    ADD_FAILURE() << "expected an error mentioning " << needle;
  } catch (const SafetensorsError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Safetensors, DetectsTruncationAndBadHeaders) {
  const std::string path = testing::TempPath("bad.safetensors");
  WriteSafetensors(path, Sample());
  const std::string good = testing::ReadFile(path);
  std::ofstream(path, std::ios::binary) << good.substr(0, good.size() - 4);
  ExpectReadError(path, "outside the 28-byte data section (file truncated?)");
  std::ofstream(path, std::ios::binary) << good.substr(0, 5);
  ExpectReadError(path, "no header length");
  std::string broken = good;
  broken[9] = '#';
  std::ofstream(path, std::ios::binary) << broken;
  ExpectReadError(path, "header is not valid JSON");
  ExpectReadError(testing::TempPath("absent.safetensors"), "cannot open");
}

TEST(Safetensors, WriterRejectsInconsistentTensors) {
  std::vector<SafeTensor> t = Sample();
  t[0].shape = {3, 3};
  EXPECT_THROW(WriteSafetensors(testing::TempPath("w.safetensors"), t), SafetensorsError);
  t = Sample();
  t[1].dtype = "F128";
  EXPECT_THROW(WriteSafetensors(testing::TempPath("w.safetensors"), t), SafetensorsError);
  t = Sample();
  t[1].name = t[0].name;
  EXPECT_THROW(WriteSafetensors(testing::TempPath("w.safetensors"), t), SafetensorsError);
}

}  // namespace
}  // namespace sbmt::trainer
