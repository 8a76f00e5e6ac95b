// Reading and writing NumPy .npy files (format versions 1.0-3.0) of float32, float64, int32 and
// int64, the types the attention CLI exchanges with Python. Every layout NumPy writes for them
// is read (C or Fortran order, little- or big-endian: `arr.T`, `np.argwhere(...)` and
// `astype('>f8')` save such files) and returned as little-endian C order; other dtypes are
// errors naming the dtype. Writing is always little-endian C order.
//
//   NpyArray q = ReadNpy("q.npy");             // throws NpyError naming the file
//   std::vector<double> values = q.AsDouble();
//   WriteNpy("out.npy", {n, d}, values);
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/error.h"

namespace sbmt::attention {

SBMT_DEFINE_ERROR(NpyError, ErrorCode::kInvalidArgument);

struct NpyArray {
  std::string path;
  std::string descr;            // "<f4", "<f8", "<i4" or "<i8"
  std::vector<int64_t> shape;
  std::vector<char> bytes;  // the raw data, little-endian C order

  int64_t size() const;  // number of elements
  bool is_float() const { return descr == "<f4" || descr == "<f8"; }
  std::vector<double> AsDouble() const;  // any supported dtype
  std::vector<int64_t> AsInt64() const;  // integer dtypes only
  std::string ShapeString() const;       // e.g. "(3, 4)"
};

NpyArray ReadNpy(const std::string& path);

void WriteNpy(const std::string& path, const std::vector<int64_t>& shape,
              const std::vector<double>& values);
void WriteNpy(const std::string& path, const std::vector<int64_t>& shape,
              const std::vector<int32_t>& values);

}  // namespace sbmt::attention
