#include "trainer/tasks/lra/lra_data.h"

#include <png.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <sstream>

#include "trainer/config/train_config.h"

namespace sbmt::trainer::lra {
namespace {

namespace fs = std::filesystem;

constexpr size_t kKeptProblems = 5;

// A malformed record: refused (the default) or skipped and counted.
void Malformed(Split& split, const ReadOptions& options, const std::string& where,
               const std::string& why) {
  if (!options.skip_malformed) {
    throw ConfigError(where + ": " + why + " (task.lra.skip_malformed=true skips such records)");
  }
  ++split.skipped;
  if (split.problems.size() < kKeptProblems) split.problems.push_back(where + ": " + why);
}

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(ErrorCode::kNotFound, path + ": cannot read");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<int32_t> Bytes(const std::string& text, size_t max_bytes, int64_t max_length) {
  const size_t n = std::min({text.size(), max_bytes, static_cast<size_t>(max_length)});
  std::vector<int32_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = static_cast<unsigned char>(text[i]) + 1;
  return ids;
}

int64_t Length(const std::string& name, const ReadOptions& options) {
  return options.max_length > 0 ? options.max_length : Info(name).default_length;
}

std::vector<std::string> SplitTabs(const std::string& line) {
  std::vector<std::string> fields;
  size_t start = 0;
  for (size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1) {
    fields.push_back(line.substr(start, tab - start));
  }
  fields.push_back(line.substr(start));
  return fields;
}

bool ParseLabel(const std::string& text, int64_t classes, int32_t* label) {
  // The AAN files write labels as floats ("1.0"); ListOps as integers.
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || v != static_cast<int64_t>(v) || v < 0 ||
      v >= static_cast<double>(classes)) {
    return false;
  }
  *label = static_cast<int32_t>(v);
  return true;
}

void RequireFile(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    throw ConfigError(ErrorCode::kNotFound, path + ": missing (" + what + ")");
  }
}

}  // namespace

const TaskInfo& Info(const std::string& name) {
  static const std::map<std::string, TaskInfo> tasks = {
      {"listops", {"listops", 10, 17, 2000, false}},
      {"text", {"text", 2, 257, 3000, false}},
      {"retrieval", {"retrieval", 2, 257, 4000, true}},
      {"image", {"image", 10, 257, 1024, false}},
      {"pathfinder", {"pathfinder", 2, 257, 1024, false}},
  };
  const auto it = tasks.find(name);
  if (it == tasks.end()) {
    throw ConfigError(
        "task.lra.name: expected one of listops, text, retrieval, image, "
        "pathfinder, got '" +
        name + "'");
  }
  return it->second;
}

int32_t ListOpsTokenId(const std::string& token) {
  static const std::map<std::string, int32_t> ids = {
      {"[MAX", 1}, {"[MED", 2}, {"[MIN", 3}, {"[SM", 4}, {"X", 5},  {"0", 6},  {"1", 7}, {"2", 8},
      {"3", 9},    {"4", 10},   {"5", 11},   {"6", 12},  {"7", 13}, {"8", 14}, {"9", 15}};
  const auto it = ids.find(token);
  return it == ids.end() ? 16 : it->second;
}

Split ReadListOps(const std::string& tsv, const ReadOptions& options) {
  const int64_t length = Length("listops", options);
  std::ifstream in(tsv);
  if (!in) throw ConfigError(ErrorCode::kNotFound, tsv + ": cannot read (a ListOps split)");
  std::string line;
  if (!std::getline(in, line) || line.rfind("Source\tTarget", 0) != 0) {
    throw ConfigError(tsv + ":1: expected the header 'Source<TAB>Target'");
  }
  Split split;
  for (int64_t number = 2; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::string where = tsv + ":" + std::to_string(number);
    const std::vector<std::string> fields = SplitTabs(line);
    Example e;
    if (fields.size() != 2) {
      Malformed(split, options, where,
                "expected 'Source<TAB>Target', got " + std::to_string(fields.size()) + " fields");
      continue;
    }
    if (!ParseLabel(fields[1], 10, &e.label)) {
      Malformed(split, options, where, "Target: expected 0..9, got '" + fields[1] + "'");
      continue;
    }
    std::string source = fields[0];
    source.erase(
        std::remove_if(source.begin(), source.end(), [](char c) { return c == '(' || c == ')'; }),
        source.end());
    std::istringstream tokens(source);
    bool unknown = false;
    for (std::string token; tokens >> token;) {
      if (token == "]") token = "X";
      const int32_t id = ListOpsTokenId(token);
      unknown |= id == 16;
      if (static_cast<int64_t>(e.ids0.size()) < length) e.ids0.push_back(id);
    }
    if (e.ids0.empty() || unknown) {
      Malformed(split, options, where,
                e.ids0.empty() ? "Source: empty"
                               : "Source: a token that is not an operator, "
                                 "digit or bracket");
      continue;
    }
    split.examples.push_back(std::move(e));
  }
  return split;
}

Split ReadTextFolder(const std::string& split_dir, const ReadOptions& options) {
  const int64_t length = Length("text", options);
  Split split;
  for (int label = 0; label < 2; ++label) {
    const fs::path dir = fs::path(split_dir) / (label == 0 ? "neg" : "pos");
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      throw ConfigError(ErrorCode::kNotFound,
                        dir.string() + ": missing (the aclImdb layout has neg/ and pos/)");
    }
    std::vector<fs::path> files;
    for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
      if (entry.path().extension() == ".txt") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());  // directory order is the file system's
    for (const fs::path& file : files) {
      Example e;
      e.ids0 = Bytes(ReadWhole(file.string()), std::string::npos, length);
      e.label = label;
      if (e.ids0.empty()) {
        Malformed(split, options, file.string(), "empty review");
        continue;
      }
      split.examples.push_back(std::move(e));
    }
  }
  return split;
}

Split ReadRetrievalTsv(const std::string& tsv, const ReadOptions& options) {
  const int64_t length = Length("retrieval", options);
  std::ifstream in(tsv);
  if (!in) throw ConfigError(ErrorCode::kNotFound, tsv + ": cannot read (an AAN pairs split)");
  Split split;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::string where = tsv + ":" + std::to_string(number);
    const std::vector<std::string> fields = SplitTabs(line);
    Example e;
    if (fields.size() != 5) {
      Malformed(split, options, where,
                "expected label, id1, id2, text1, text2 (5 tab-separated fields), got " +
                    std::to_string(fields.size()));
      continue;
    }
    if (!ParseLabel(fields[0], 2, &e.label)) {
      Malformed(split, options, where, "label: expected 0 or 1, got '" + fields[0] + "'");
      continue;
    }
    e.ids0 = Bytes(fields[3], 10000, length);
    e.ids1 = Bytes(fields[4], 10000, length);
    if (e.ids0.empty() || e.ids1.empty()) {
      Malformed(split, options, where, "an empty document");
      continue;
    }
    split.examples.push_back(std::move(e));
  }
  return split;
}

Split ReadCifar10(const std::vector<std::string>& files, int64_t first, int64_t end,
                  const ReadOptions& options) {
  constexpr int64_t kPixels = 1024, kRecord = 1 + 3 * kPixels;
  const int64_t length = Length("image", options);
  Split split;
  int64_t index = 0;
  for (const std::string& file : files) {
    const std::string bytes = ReadWhole(file);
    if (bytes.size() % kRecord != 0) {
      throw ConfigError(file + ": " + std::to_string(bytes.size()) +
                        " bytes is not a whole number of CIFAR-10 records (" +
                        std::to_string(kRecord) + " bytes: a label and 32x32 RGB)");
    }
    for (size_t at = 0; at < bytes.size(); at += kRecord, ++index) {
      if (index < first || (end >= 0 && index >= end)) continue;
      const auto* r = reinterpret_cast<const unsigned char*>(bytes.data() + at);
      Example e;
      if (r[0] > 9) {
        Malformed(split, options, file + ": record " + std::to_string(at / kRecord),
                  "label " + std::to_string(r[0]) + " is not 0..9");
        continue;
      }
      e.label = r[0];
      const int64_t n = std::min(kPixels, length);
      e.ids0.resize(n);
      for (int64_t p = 0; p < n; ++p) {
        const double gray =
            0.2989 * r[1 + p] + 0.5870 * r[1 + kPixels + p] + 0.1140 * r[1 + 2 * kPixels + p];
        e.ids0[p] = static_cast<int32_t>(gray) + 1;
      }
      split.examples.push_back(std::move(e));
    }
  }
  return split;
}

Split ReadPathfinder(const std::string& root, int split_index, const ReadOptions& options) {
  // Images are side x side with side² = the sequence length: 32 (1024, Pathfinder-32, the
  // default), 128 (16384, Path-X) or a smaller CPU variant such as 16 (256).
  const int64_t length = Length("pathfinder", options);
  int side = 1;
  while (static_cast<int64_t>(side + 1) * (side + 1) <= length) ++side;
  if (static_cast<int64_t>(side) * side != length) {
    throw ConfigError(
        "task.lra.max_length: Pathfinder reads square images of side² pixels "
        "(1024 for 32x32, 16384 for Path-X), got " +
        std::to_string(length));
  }
  const fs::path metadata = fs::path(root) / "metadata";
  std::error_code ec;
  if (!fs::is_directory(metadata, ec)) {
    throw ConfigError(ErrorCode::kNotFound,
                      metadata.string() + ": missing (Pathfinder's metadata/*.npy)");
  }
  std::vector<fs::path> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(metadata)) {
    if (entry.path().extension() == ".npy") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
    // 0.npy, 1.npy, ..., 10.npy: numeric order where the stems are numbers
    const std::string sa = a.stem().string(), sb = b.stem().string();
    if (sa.size() != sb.size()) return sa.size() < sb.size();
    return sa < sb;
  });
  // Every record, then a fixed shuffle (seed 0) split 80/10/10: the same split every run.
  struct Record {
    std::string image, where;
    int32_t label;
  };
  std::vector<Record> records;
  Split split;
  for (const fs::path& file : files) {
    std::ifstream in(file);
    std::string line;
    for (int64_t number = 1; std::getline(in, line); ++number) {
      if (line.empty()) continue;
      const std::string where = file.string() + ":" + std::to_string(number);
      std::istringstream fields(line);
      std::string dir, name, index, label;
      Record r;
      if (!(fields >> dir >> name >> index >> label) || !ParseLabel(label, 2, &r.label)) {
        Malformed(split, options, where,
                  "expected 'imgs/<dir> sample_<i>.png <i> <label 0|1> ...'");
        continue;
      }
      r.image = (fs::path(root) / dir / name).string();
      r.where = where;
      records.push_back(std::move(r));
    }
  }
  std::vector<size_t> order(records.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::mt19937_64 rng(0);
  for (size_t i = order.size(); i > 1; --i) {
    std::swap(order[i - 1], order[std::uniform_int_distribution<size_t>(0, i - 1)(rng)]);
  }
  const size_t train_end = order.size() * 8 / 10, dev_end = order.size() * 9 / 10;
  const size_t begin = split_index == 0 ? 0 : split_index == 1 ? train_end : dev_end;
  const size_t end = split_index == 0 ? train_end : split_index == 1 ? dev_end : order.size();
  for (size_t k = begin; k < end; ++k) {
    const Record& r = records[order[k]];
    Example e;
    e.label = r.label;
    try {
      const std::vector<uint8_t> pixels = ReadGrayPng(r.image, side, side);
      e.ids0.resize(pixels.size());
      for (size_t p = 0; p < pixels.size(); ++p) e.ids0[p] = pixels[p] + 1;
    } catch (const Error& error) {
      Malformed(split, options, r.where, error.what());
      continue;
    }
    split.examples.push_back(std::move(e));
  }
  return split;
}

Split ReadSplit(const std::string& name, const std::string& data_dir, const std::string& split,
                const ReadOptions& options) {
  Info(name);  // an unknown name is an error before any file is touched
  const int index = split == "train" ? 0 : split == "dev" ? 1 : split == "test" ? 2 : -1;
  if (index < 0) throw ConfigError("LRA split: expected train, dev or test, got '" + split + "'");
  const fs::path dir(data_dir);
  if (name == "listops") {
    const char* files[] = {"basic_train.tsv", "basic_val.tsv", "basic_test.tsv"};
    RequireFile((dir / files[index]).string(), "ListOps' " + split + " split");
    return ReadListOps((dir / files[index]).string(), options);
  }
  if (name == "text") {
    return ReadTextFolder((dir / (index == 0 ? "train" : "test")).string(), options);
  }
  if (name == "retrieval") {
    const char* files[] = {"new_aan_pairs.train.tsv", "new_aan_pairs.eval.tsv",
                           "new_aan_pairs.test.tsv"};
    RequireFile((dir / files[index]).string(), "the AAN " + split + " split");
    return ReadRetrievalTsv((dir / files[index]).string(), options);
  }
  if (name == "image") {
    const fs::path bin = dir / "cifar-10-batches-bin";
    if (index == 2) {
      RequireFile((bin / "test_batch.bin").string(), "CIFAR-10's test split");
      return ReadCifar10({(bin / "test_batch.bin").string()}, 0, -1, options);
    }
    std::vector<std::string> files;
    for (int b = 1; b <= 5; ++b) {
      const std::string f = (bin / ("data_batch_" + std::to_string(b) + ".bin")).string();
      RequireFile(f, "CIFAR-10's training batches");
      files.push_back(f);
    }
    constexpr int64_t kTrain = 45000;  // train[:90 %] / train[90 %:] of 50000, as the reference
    int64_t records = 0;
    for (const std::string& f : files) records += static_cast<int64_t>(fs::file_size(f)) / 3073;
    const int64_t cut = records == 50000 ? kTrain : records * 9 / 10;
    return index == 0 ? ReadCifar10(files, 0, cut, options) : ReadCifar10(files, cut, -1, options);
  }
  return ReadPathfinder(data_dir, index, options);
}

std::vector<uint8_t> ReadGrayPng(const std::string& path, int width, int height) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, path.c_str())) {
    throw ConfigError(path + ": not a readable PNG (" + image.message + ")");
  }
  const bool gray8 = (image.format & PNG_FORMAT_FLAG_COLOR) == 0 &&
                     (image.format & PNG_FORMAT_FLAG_ALPHA) == 0 &&
                     PNG_IMAGE_SAMPLE_COMPONENT_SIZE(image.format) == 1;
  if (static_cast<int>(image.width) != width || static_cast<int>(image.height) != height ||
      !gray8) {
    const std::string got = std::to_string(image.width) + "x" + std::to_string(image.height) +
                            (gray8 ? " 8-bit grayscale" : " not 8-bit grayscale");
    png_image_free(&image);
    throw ConfigError(path + ": expected a " + std::to_string(width) + "x" +
                      std::to_string(height) + " 8-bit grayscale PNG, got " + got);
  }
  image.format = PNG_FORMAT_GRAY;
  std::vector<uint8_t> pixels(static_cast<size_t>(width) * height);
  if (!png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr)) {
    throw ConfigError(path + ": PNG decoding failed (" + image.message + ")");
  }
  return pixels;
}

void WriteGrayPng(const std::string& path, const std::vector<uint8_t>& pixels, int width,
                  int height) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(width);
  image.height = static_cast<png_uint_32>(height);
  image.format = PNG_FORMAT_GRAY;
  if (!png_image_write_to_file(&image, path.c_str(), 0, pixels.data(), 0, nullptr)) {
    throw Error(ErrorCode::kUnavailable, path + ": cannot write PNG (" + image.message + ")");
  }
}

}  // namespace sbmt::trainer::lra
