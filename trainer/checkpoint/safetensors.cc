#include "trainer/checkpoint/safetensors.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>

namespace sbmt::trainer {
namespace {

[[noreturn]] void Fail(const std::string& path, const std::string& message) {
  throw SafetensorsError(path + ": " + message);
}

int64_t Numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

}  // namespace

int64_t SafetensorsElementSize(const std::string& dtype) {
  static const std::map<std::string, int64_t> sizes = {
      {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8},
      {"I32", 4}, {"I16", 2}, {"I8", 1},  {"U8", 1},   {"BOOL", 1}};
  auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

const SafeTensor* SafetensorsFile::Find(const std::string& name) const {
  for (const SafeTensor& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::string SerializeSafetensors(const std::vector<SafeTensor>& tensors,
                                const std::map<std::string, std::string>& metadata,
                                const std::string& what) {
  const std::string& path = what;
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> names;
  int64_t offset = 0;
  for (const SafeTensor& t : tensors) {
    const int64_t size = SafetensorsElementSize(t.dtype);
    if (size == 0) Fail(path, "tensor '" + t.name + "': unknown dtype '" + t.dtype + "'");
    if (!names.insert(t.name).second) Fail(path, "duplicate tensor name '" + t.name + "'");
    if (t.name == "__metadata__") Fail(path, "'__metadata__' is reserved");
    const int64_t bytes = Numel(t.shape) * size;
    if (bytes != static_cast<int64_t>(t.bytes.size())) {
      Fail(path, "tensor '" + t.name + "': shape needs " + std::to_string(bytes) +
                     " bytes, buffer has " + std::to_string(t.bytes.size()));
    }
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keep the data 8-byte aligned
  std::string out;
  out.reserve(8 + text.size() + static_cast<size_t>(offset));
  const uint64_t length = text.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
  out += text;
  for (const SafeTensor& t : tensors) out.append(t.bytes.data(), t.bytes.size());
  return out;
}

void WriteSafetensors(const std::string& path, const std::vector<SafeTensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const std::string bytes = SerializeSafetensors(tensors, metadata, path);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) Fail(path, "cannot open for writing");
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.flush();
  if (!out) Fail(path, "write failed");
}

SafetensorsFile ReadSafetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail(path, "cannot open for reading");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return ParseSafetensors(bytes, path);
}

SafetensorsFile ParseSafetensors(const std::string& bytes, const std::string& what) {
  const std::string& path = what;
  const int64_t file_size = static_cast<int64_t>(bytes.size());
  if (file_size < 8) Fail(path, "truncated: no header length");
  uint64_t length = 0;
  for (int i = 0; i < 8; ++i) {
    length |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  }
  if (length > static_cast<uint64_t>(file_size - 8) || length > (uint64_t{100} << 20)) {
    Fail(path, "header length " + std::to_string(length) + " exceeds the file (" +
                   std::to_string(file_size) + " bytes)");
  }
  const std::string text = bytes.substr(8, length);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    Fail(path, std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) Fail(path, "header is not a JSON object");
  const int64_t data_start = 8 + static_cast<int64_t>(length);
  const int64_t data_size = file_size - data_start;

  SafetensorsFile file;
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string()) Fail(path, "__metadata__." + m.key() + ": expected a string");
        file.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + it.key() + "'";
    const nlohmann::json& info = it.value();
    SafeTensor t;
    t.name = it.key();
    try {
      t.dtype = info.at("dtype").get<std::string>();
      t.shape = info.at("shape").get<std::vector<int64_t>>();
      const auto offsets = info.at("data_offsets").get<std::vector<int64_t>>();
      if (offsets.size() != 2) Fail(path, where + ": data_offsets must have 2 entries");
      const int64_t size = SafetensorsElementSize(t.dtype);
      if (size == 0) Fail(path, where + ": unknown dtype '" + t.dtype + "'");
      for (int64_t d : t.shape) {
        if (d < 0) Fail(path, where + ": negative dimension");
      }
      if (offsets[0] < 0 || offsets[1] < offsets[0] || offsets[1] > data_size) {
        Fail(path, where + ": data_offsets [" + std::to_string(offsets[0]) + ", " +
                       std::to_string(offsets[1]) + "] outside the " + std::to_string(data_size) +
                       "-byte data section (file truncated?)");
      }
      if (offsets[1] - offsets[0] != Numel(t.shape) * size) {
        Fail(path, where + ": shape and dtype need " + std::to_string(Numel(t.shape) * size) +
                       " bytes, data_offsets give " + std::to_string(offsets[1] - offsets[0]));
      }
      ranges.emplace_back(offsets[0], offsets[1]);
      t.bytes.assign(bytes.begin() + data_start + offsets[0],
                     bytes.begin() + data_start + offsets[1]);
    } catch (const nlohmann::json::exception& e) {
      Fail(path, where + ": malformed entry: " + e.what());
    }
    file.tensors.push_back(std::move(t));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second) Fail(path, "tensor data ranges overlap");
  }
  // File order = data order.
  std::vector<SafeTensor> sorted;
  std::vector<std::pair<int64_t, size_t>> by_offset;
  for (size_t i = 0; i < file.tensors.size(); ++i) {
    by_offset.emplace_back(header[file.tensors[i].name]["data_offsets"][0].get<int64_t>(), i);
  }
  std::sort(by_offset.begin(), by_offset.end());
  for (const auto& [offset, i] : by_offset) sorted.push_back(std::move(file.tensors[i]));
  file.tensors = std::move(sorted);
  return file;
}

}  // namespace sbmt::trainer
