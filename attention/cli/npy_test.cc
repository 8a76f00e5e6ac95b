// .npy reading and writing: NumPy's exact header layout, round trips, and clear errors.
#include "attention/cli/npy.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

namespace sbmt::attention {
namespace {

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/" + name;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void Spit(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(Npy, WritesNumpysHeaderLayout) {
  const std::string path = TempPath("layout.npy");
  WriteNpy(path, {2, 3}, std::vector<double>{1, 2, 3, 4, 5, 6});
  const std::string bytes = Slurp(path);
  // What numpy.save writes for np.arange(1, 7, dtype='<f8').reshape(2, 3), format 1.0.
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
  header.append(128 - 10 - header.size() - 1, ' ');  // 10 + header + '\n' = 128
  header += '\n';
  const std::string expected_prefix = std::string("\x93NUMPY\x01\x00", 8) + "\x76" +
                                      std::string(1, '\0') + header;
  ASSERT_EQ(bytes.size(), 128u + 6 * 8);
  EXPECT_EQ(bytes.substr(0, 128), expected_prefix);
  // One-element tuples keep their trailing comma, as Python prints them.
  WriteNpy(path, {4}, std::vector<int32_t>{1, 2, 3, 4});
  EXPECT_NE(Slurp(path).find("'shape': (4,), }"), std::string::npos);
}

TEST(Npy, RoundTripsEveryType) {
  const std::string path = TempPath("round.npy");
  WriteNpy(path, {3, 1}, std::vector<double>{-1.5, 0.25, 1e300});
  NpyArray a = ReadNpy(path);
  EXPECT_EQ(a.descr, "<f8");
  EXPECT_EQ(a.shape, (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(a.AsDouble(), (std::vector<double>{-1.5, 0.25, 1e300}));
  EXPECT_THROW(a.AsInt64(), NpyError);

  WriteNpy(path, {2, 2}, std::vector<int32_t>{7, -8, 9, 2147483647});
  a = ReadNpy(path);
  EXPECT_EQ(a.descr, "<i4");
  EXPECT_EQ(a.AsInt64(), (std::vector<int64_t>{7, -8, 9, 2147483647}));
  EXPECT_EQ(a.ShapeString(), "(2, 2)");
}

TEST(Npy, ReadsFloat32AndVersion2Headers) {
  // Hand-made version 2.0 file of float32 [0.5, -2] (4-byte header length).
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  header.append(128 - 12 - header.size() - 1, ' ');
  header += '\n';
  std::string bytes = std::string("\x93NUMPY\x02\x00", 8);
  const uint32_t length = static_cast<uint32_t>(header.size());
  bytes.append(reinterpret_cast<const char*>(&length), 4);
  bytes += header;
  const float values[2] = {0.5f, -2.0f};
  bytes.append(reinterpret_cast<const char*>(values), 8);
  const std::string path = TempPath("v2.npy");
  Spit(path, bytes);
  EXPECT_EQ(ReadNpy(path).AsDouble(), (std::vector<double>{0.5, -2.0}));
}

void ExpectError(const std::string& path, const std::string& needle) {
  try {
    ReadNpy(path);
    ADD_FAILURE() << "expected an error mentioning " << needle;
  } catch (const NpyError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Npy, ReportsBadFilesWithPathAndReason) {
  ExpectError(TempPath("missing.npy"), "cannot open");
  const std::string path = TempPath("bad.npy");
  Spit(path, "not numpy at all");
  ExpectError(path, "bad magic");
  WriteNpy(path, {4, 4}, std::vector<double>(16, 1.0));
  const std::string full = Slurp(path);
  Spit(path, full.substr(0, full.size() - 8));
  ExpectError(path, "truncated data: shape (4, 4) of <f8 needs more than the 120 bytes");
  // A header claiming a huge array is refused before anything is allocated.
  std::string huge = full;
  huge.replace(huge.find("(4, 4)"), 6, "(9999999999, 99999)");
  Spit(path, huge);
  ExpectError(path, "shape (9999999999, 99999) of <f8 needs more than the");
  for (const char* dtype : {"<f2", "|u1", "<c16", "|b1"}) {
    std::string other = full;
    other.replace(other.find("'<f8'"), 5, std::string("'") + dtype + "'");
    Spit(path, other);
    ExpectError(path, std::string("unsupported dtype '") + dtype + "'");
  }
}

// The bytes NumPy writes for `np.arange(6, dtype=DT).reshape(2, 3)` saved in the layout the
// header names: C or Fortran order (arr.T.copy().T, np.asfortranarray), either byte order.
std::string Npy(const std::string& descr, bool fortran, const std::vector<uint64_t>& words,
                int width) {
  std::string header = "{'descr': '" + descr +
                       "', 'fortran_order': " + (fortran ? "True" : "False") +
                       ", 'shape': (2, 3), }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header;
  const bool big = descr[0] == '>';
  for (uint64_t w : words) {
    for (int b = 0; b < width; ++b) {
      const int shift = 8 * (big ? width - 1 - b : b);
      bytes += static_cast<char>((w >> shift) & 0xff);
    }
  }
  return bytes;
}

TEST(Npy, ReadsFortranOrderAndBigEndianAsCOrder) {
  const std::string path = TempPath("layouts.npy");
  const std::vector<double> expected = {0, 1, 2, 3, 4, 5};  // C order of [[0, 1, 2], [3, 4, 5]]
  // Fortran order stores the columns: 0 3 1 4 2 5.
  const std::vector<uint64_t> c_ints = {0, 1, 2, 3, 4, 5}, f_ints = {0, 3, 1, 4, 2, 5};
  auto bits = [](double x) {
    uint64_t w;
    std::memcpy(&w, &x, 8);
    return w;
  };
  std::vector<uint64_t> c_doubles, f_doubles;
  for (uint64_t v : c_ints) c_doubles.push_back(bits(static_cast<double>(v)));
  for (uint64_t v : f_ints) f_doubles.push_back(bits(static_cast<double>(v)));
  struct Case {
    std::string descr;
    bool fortran;
    const std::vector<uint64_t>* words;
    int width;
  };
  for (const Case& c : std::vector<Case>{{"<i4", false, &c_ints, 4},
                                         {"<i4", true, &f_ints, 4},
                                         {">i4", false, &c_ints, 4},
                                         {">i8", true, &f_ints, 8},
                                         {"<f8", true, &f_doubles, 8},
                                         {">f8", false, &c_doubles, 8},
                                         {">f8", true, &f_doubles, 8},
                                         {"=f8", true, &f_doubles, 8}}) {
    Spit(path, Npy(c.descr, c.fortran, *c.words, c.width));
    const NpyArray a = ReadNpy(path);
    EXPECT_EQ(a.ShapeString(), "(2, 3)") << c.descr;
    EXPECT_EQ(a.descr[0], '<') << c.descr;
    EXPECT_EQ(a.AsDouble(), expected) << c.descr << (c.fortran ? " fortran" : " C");
  }
}

}  // namespace
}  // namespace sbmt::attention
