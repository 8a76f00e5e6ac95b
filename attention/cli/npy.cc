#include "attention/cli/npy.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

namespace sbmt::attention {
namespace {

constexpr char kMagic[] = "\x93NUMPY";

[[noreturn]] void Fail(const std::string& path, const std::string& message) {
  throw NpyError(path + ": " + message);
}

int64_t ElementSize(const std::string& descr) {
  if (descr == "<f4" || descr == "<i4") return 4;
  if (descr == "<f8" || descr == "<i8") return 8;
  return 0;
}

// How the file stores its data; ReadNpy turns it into little-endian C order.
struct Layout {
  bool big_endian = false;
  bool fortran_order = false;
};

// NumPy's descr: a byte order ('<' little, '>' big, '=' native, '|' not applicable) and a type
// code. We read float32/64 and int32/64 in either byte order; '=' is this host's order, which
// for the hosts we build for (x86-64, aarch64) is little-endian.
std::string NormalizeDescr(const std::string& path, const std::string& descr, Layout& layout) {
  const std::string type = descr.size() == 3 ? descr.substr(1) : "";
  const char order = descr.empty() ? '?' : descr[0];
  if ((order != '<' && order != '>' && order != '=') ||
      (type != "f4" && type != "f8" && type != "i4" && type != "i8")) {
    Fail(path, "unsupported dtype '" + descr +
                   "': expected float32, float64, int32 or int64 in either byte order "
                   "('<f4', '>f8', ...)");
  }
  layout.big_endian = order == '>';
  return "<" + type;
}

// The header is a Python dict literal: {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }
void ParseHeader(const std::string& path, const std::string& header, NpyArray& array,
                 Layout& layout) {
  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr'\\s*:\\s*'([^']*)'"))) {
    Fail(path, "header has no 'descr': " + header);
  }
  array.descr = NormalizeDescr(path, m[1], layout);
  if (!std::regex_search(header, m, std::regex("'fortran_order'\\s*:\\s*(True|False)"))) {
    Fail(path, "header has no 'fortran_order': " + header);
  }
  layout.fortran_order = m[1] == "True";
  if (!std::regex_search(header, m, std::regex("'shape'\\s*:\\s*\\(([^)]*)\\)"))) {
    Fail(path, "header has no 'shape': " + header);
  }
  std::stringstream dims(m[1].str());
  std::string dim;
  while (std::getline(dims, dim, ',')) {
    const size_t b = dim.find_first_not_of(" \t");
    if (b == std::string::npos) continue;  // trailing comma of a 1-tuple
    try {
      array.shape.push_back(std::stoll(dim.substr(b)));
    } catch (const std::exception&) {
      Fail(path, "malformed shape in header: " + header);
    }
  }
}

void Write(const std::string& path, const std::string& descr, const std::vector<int64_t>& shape,
           const char* data, size_t bytes) {
  std::string shape_text = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    shape_text += std::to_string(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? "," : "");
    if (i + 1 < shape.size()) shape_text += " ";
  }
  shape_text += ")";
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape_text + ", }";
  // Version 1.0: magic (6) + version (2) + length (2) + header, padded to a multiple of 64.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  if (!out) Fail(path, "cannot open for writing");
  out.write(kMagic, 6);
  const char version[2] = {1, 0};
  out.write(version, 2);
  const uint16_t length = static_cast<uint16_t>(header.size());
  const char length_bytes[2] = {static_cast<char>(length & 0xff), static_cast<char>(length >> 8)};
  out.write(length_bytes, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(data, static_cast<std::streamsize>(bytes));
  if (!out) Fail(path, "write failed");
}

// Swaps big-endian elements and transposes Fortran order (first index fastest) into C order
// (last index fastest), so readers only ever see little-endian C order.
void ToLittleEndianCOrder(const Layout& layout, NpyArray& array) {
  const int64_t width = ElementSize(array.descr), n = array.size();
  if (layout.big_endian) {
    for (int64_t i = 0; i < n; ++i) {
      char* p = array.bytes.data() + i * width;
      std::reverse(p, p + width);
    }
  }
  if (!layout.fortran_order || array.shape.size() < 2) return;
  const std::vector<int64_t>& shape = array.shape;
  const size_t dims = shape.size();
  std::vector<int64_t> c_stride(dims, 1);
  for (size_t d = dims - 1; d > 0; --d) c_stride[d - 1] = c_stride[d] * shape[d];
  std::vector<char> c_order(array.bytes.size());
  std::vector<int64_t> index(dims, 0);  // multi-index of Fortran element f, first dim fastest
  for (int64_t f = 0; f < n; ++f) {
    int64_t c = 0;
    for (size_t d = 0; d < dims; ++d) c += index[d] * c_stride[d];
    std::memcpy(c_order.data() + c * width, array.bytes.data() + f * width, width);
    for (size_t d = 0; d < dims && ++index[d] == shape[d]; ++d) index[d] = 0;
  }
  array.bytes = std::move(c_order);
}

}  // namespace

int64_t NpyArray::size() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string NpyArray::ShapeString() const {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + ")";
}

std::vector<double> NpyArray::AsDouble() const {
  std::vector<double> out(size());
  for (int64_t i = 0; i < size(); ++i) {
    const char* p = bytes.data() + i * ElementSize(descr);
    if (descr == "<f4") {
      float x;
      std::memcpy(&x, p, 4);
      out[i] = x;
    } else if (descr == "<f8") {
      std::memcpy(&out[i], p, 8);
    } else if (descr == "<i4") {
      int32_t x;
      std::memcpy(&x, p, 4);
      out[i] = x;
    } else {
      int64_t x;
      std::memcpy(&x, p, 8);
      out[i] = static_cast<double>(x);
    }
  }
  return out;
}

std::vector<int64_t> NpyArray::AsInt64() const {
  if (is_float()) Fail(path, "expected an integer array (int32 or int64), got dtype " + descr);
  std::vector<int64_t> out(size());
  for (int64_t i = 0; i < size(); ++i) {
    if (descr == "<i4") {
      int32_t x;
      std::memcpy(&x, bytes.data() + i * 4, 4);
      out[i] = x;
    } else {
      std::memcpy(&out[i], bytes.data() + i * 8, 8);
    }
  }
  return out;
}

NpyArray ReadNpy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail(path, "cannot open for reading");
  char prefix[8];
  if (!in.read(prefix, 8) || std::memcmp(prefix, kMagic, 6) != 0) {
    Fail(path, "not a .npy file (bad magic)");
  }
  const int major = static_cast<unsigned char>(prefix[6]);
  uint32_t header_length = 0;
  unsigned char length_bytes[4] = {0, 0, 0, 0};
  if (major == 1) {
    if (!in.read(reinterpret_cast<char*>(length_bytes), 2)) Fail(path, "truncated header");
    header_length = length_bytes[0] | (length_bytes[1] << 8);
  } else if (major == 2 || major == 3) {
    if (!in.read(reinterpret_cast<char*>(length_bytes), 4)) Fail(path, "truncated header");
    header_length = length_bytes[0] | (length_bytes[1] << 8) | (length_bytes[2] << 16) |
                    (static_cast<uint32_t>(length_bytes[3]) << 24);
  } else {
    Fail(path, "unsupported .npy format version " + std::to_string(major));
  }
  std::string header(header_length, '\0');
  if (!in.read(header.data(), header_length)) Fail(path, "truncated header");
  NpyArray array;
  array.path = path;
  Layout layout;
  ParseHeader(path, header, array, layout);
  // What the header claims is checked against what the file holds before anything is
  // allocated: a damaged header must not ask for gigabytes (or overflow the size).
  const std::streamoff data_start = in.tellg();
  in.seekg(0, std::ios::end);
  const int64_t available = static_cast<int64_t>(in.tellg() - data_start);
  in.seekg(data_start);
  const int64_t width = ElementSize(array.descr);
  for (int64_t d : array.shape) {
    if (d < 0) Fail(path, "negative dimension in shape " + array.ShapeString());
  }
  // A zero dimension makes the array empty; otherwise the product is checked as it grows, so
  // it cannot overflow.
  int64_t elements = 1;
  if (std::find(array.shape.begin(), array.shape.end(), 0) != array.shape.end()) {
    elements = 0;
  } else {
    for (int64_t d : array.shape) {
      if (elements > available / width / d) {
        Fail(path, "truncated data: shape " + array.ShapeString() + " of " + array.descr +
                       " needs more than the " + std::to_string(available) +
                       " bytes the file holds");
      }
      elements *= d;
    }
  }
  const int64_t bytes = elements * width;
  array.bytes.resize(bytes);
  if (!in.read(array.bytes.data(), bytes)) {
    Fail(path, "truncated data: shape " + array.ShapeString() + " of " + array.descr + " needs " +
                   std::to_string(bytes) + " bytes");
  }
  ToLittleEndianCOrder(layout, array);
  return array;
}

void WriteNpy(const std::string& path, const std::vector<int64_t>& shape,
              const std::vector<double>& values) {
  Write(path, "<f8", shape, reinterpret_cast<const char*>(values.data()),
        values.size() * sizeof(double));
}

void WriteNpy(const std::string& path, const std::vector<int64_t>& shape,
              const std::vector<int32_t>& values) {
  Write(path, "<i4", shape, reinterpret_cast<const char*>(values.data()),
        values.size() * sizeof(int32_t));
}

}  // namespace sbmt::attention
