// Files and folders for tests: a fresh folder under the test's private tmpdir, and whole-file
// reads and writes.
//
//   std::filesystem::path dir = sbmt::testing::FreshDir("resume");   // emptied if it existed
//   sbmt::testing::WriteFile(dir / "a.txt", "hello");
//   std::string bytes = sbmt::testing::ReadFile(dir / "a.txt");
#pragma once

#include <filesystem>
#include <string>

namespace sbmt::testing {

// $TEST_TMPDIR/name (or /tmp/name outside Bazel), removed and created again.
std::filesystem::path FreshDir(const std::string& name);

// $TEST_TMPDIR/name, without creating anything.
std::string TempPath(const std::string& name);

std::string ReadFile(const std::filesystem::path& path);  // "" when missing
void WriteFile(const std::filesystem::path& path, const std::string& bytes);  // makes parents

}  // namespace sbmt::testing
