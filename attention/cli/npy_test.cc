// .npy reading and writing: NumPy's exact header layout, round trips, and clear errors.
#include "attention/cli/npy.h"

#include <gtest/gtest.h>

#include <cstdio>
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
  ExpectError(path, "truncated data: shape (4, 4) of <f8 needs 128 bytes");
  std::string fortran = full;
  fortran.replace(fortran.find("False"), 5, "True ");
  Spit(path, fortran);
  ExpectError(path, "Fortran-order");
  std::string big_endian = full;
  big_endian.replace(big_endian.find("<f8"), 3, ">f8");
  Spit(path, big_endian);
  ExpectError(path, "unsupported dtype '>f8'");
}

}  // namespace
}  // namespace sbmt::attention
