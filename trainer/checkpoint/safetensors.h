// The safetensors file format (Hugging Face): an 8-byte little-endian header length, a JSON
// header {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, then
// the raw little-endian tensor bytes. Torch-free: tensors are named byte buffers with a dtype
// and shape, so checkpoints, exports and tools share one reader and writer.
//
//   std::vector<SafeTensor> tensors = {{"bert.embeddings.word_embeddings.weight", "F32",
//                                       {30522, 512}, bytes}};
//   WriteSafetensors("model.safetensors", tensors, {{"format", "pt"}});
//   SafetensorsFile file = ReadSafetensors("model.safetensors");  // validated
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/error.h"

namespace sbmt::trainer {

SBMT_DEFINE_ERROR(SafetensorsError, ErrorCode::kDataLoss);

struct SafeTensor {
  std::string name;
  std::string dtype;  // "F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"
  std::vector<int64_t> shape;
  std::vector<char> bytes;  // exactly numel * element size
};

struct SafetensorsFile {
  std::vector<SafeTensor> tensors;  // in file order (by data offset)
  std::map<std::string, std::string> metadata;
  const SafeTensor* Find(const std::string& name) const;
};

int64_t SafetensorsElementSize(const std::string& dtype);  // 0 for an unknown dtype

// Writes to `path` directly (callers that need atomicity write into a temporary directory).
// Throws SafetensorsError on a bad tensor (unknown dtype, size mismatch, duplicate name) or I/O.
void WriteSafetensors(const std::string& path, const std::vector<SafeTensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// The same file as bytes in memory (checkpoints hash and store them without a temporary file);
// `what` names the data in errors.
std::string SerializeSafetensors(const std::vector<SafeTensor>& tensors,
                                const std::map<std::string, std::string>& metadata = {},
                                const std::string& what = "<memory>");
SafetensorsFile ParseSafetensors(const std::string& bytes, const std::string& what);

// Reads and validates (header length, JSON, dtypes, shapes against offsets, offsets inside the
// file and not overlapping). Errors name the file and the tensor or field.
SafetensorsFile ReadSafetensors(const std::string& path);

}  // namespace sbmt::trainer
