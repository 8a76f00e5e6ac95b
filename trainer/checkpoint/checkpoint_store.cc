#include "trainer/checkpoint/checkpoint_store.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

namespace sbmt::trainer {
namespace {

namespace fs = std::filesystem;

constexpr char kManifest[] = "MANIFEST";
constexpr char kCommitted[] = "COMMITTED";
constexpr char kStepPrefix[] = "step_";

[[noreturn]] void Fail(const std::string& what) { throw CheckpointError(what); }

// Fault injection for tests of full disks: when SBMT_FAULT_FREE_BYTES_FILE names a file, the
// number in it is the free space of an emulated disk, and writing a larger file fails as a full
// disk does (ENOSPC). A test fills and empties the "disk" by rewriting the number while a worker
// runs. Unset (always, outside tests), it costs one getenv per file.
bool InjectedDiskFull(size_t bytes) {
  const char* path = std::getenv("SBMT_FAULT_FREE_BYTES_FILE");
  if (path == nullptr || *path == '\0') return false;
  std::ifstream in(path);
  long long free_bytes = -1;
  return static_cast<bool>(in >> free_bytes) && free_bytes >= 0 &&
         bytes > static_cast<size_t>(free_bytes);
}

// Fault injection for kill tests: SBMT_FAULT_SLOW_WRITES_MS=N sleeps N ms before each file of a
// save, so that kills at random moments land inside saves as often as between them.
void InjectedSlowWrite() {
  const char* ms = std::getenv("SBMT_FAULT_SLOW_WRITES_MS");
  if (ms != nullptr && *ms != '\0') {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(ms)));
  }
}

// Writes `contents` to `path` and fsyncs it.
void WriteDurably(const std::string& path, const std::string& contents) {
  InjectedSlowWrite();
  if (InjectedDiskFull(contents.size())) {
    Fail(path + ": write failed: " + std::strerror(ENOSPC) +
         " (injected by SBMT_FAULT_FREE_BYTES_FILE)");
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) Fail(path + ": cannot create: " + std::strerror(errno));
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string error = std::strerror(errno);
      ::close(fd);
      Fail(path + ": write failed: " + error);
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const std::string error = std::strerror(errno);
    ::close(fd);
    Fail(path + ": fsync failed: " + error);
  }
  ::close(fd);
}

void SyncDirectory(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) Fail(path + ": cannot open directory: " + std::strerror(errno));
  ::fsync(fd);
  ::close(fd);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail(path + ": cannot read");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string Megabytes(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

std::string Hex(uint32_t value) {
  char buf[9];
  std::snprintf(buf, sizeof(buf), "%08x", value);
  return buf;
}

}  // namespace

uint32_t Crc32(const std::string& bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  size_t done = 0;
  while (done < bytes.size()) {  // zlib takes uInt lengths
    const uInt chunk = static_cast<uInt>(std::min<size_t>(bytes.size() - done, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + done), chunk);
    done += chunk;
  }
  return static_cast<uint32_t>(crc);
}

CheckpointStore::CheckpointStore(std::string root, int keep_last)
    : root_(std::move(root)), keep_last_(keep_last) {
  if (keep_last_ < 1) Fail("checkpoint keep_last must be >= 1, got " + std::to_string(keep_last));
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec) Fail(root_ + ": cannot create checkpoint directory: " + ec.message());
}

std::string CheckpointStore::StepDir(int64_t step) const {
  return (fs::path(root_) / (kStepPrefix + std::to_string(step))).string();
}

std::string CheckpointStore::Save(int64_t step, const std::map<std::string, std::string>& files) {
  if (step < 0) Fail("checkpoint step must be >= 0, got " + std::to_string(step));
  const std::string tmp_dir = (fs::path(root_) / (".tmp_" + std::string(kStepPrefix) +
                                                  std::to_string(step) + "_" +
                                                  std::to_string(::getpid())))
                                  .string();
  try {
    return SaveVia(step, files, tmp_dir);
  } catch (const CheckpointError& e) {
    std::error_code ec;
    fs::remove_all(tmp_dir, ec);  // a full disk must not stay full
    int64_t needed = 0;
    for (const auto& [name, contents] : files) needed += static_cast<int64_t>(contents.size());
    const fs::space_info space = fs::space(root_, ec);
    throw CheckpointError(
        e.code(),
        std::string(e.what()) + " (the save needed " + Megabytes(needed) + "; " +
            (ec ? std::string("free space unknown")
                : Megabytes(static_cast<int64_t>(space.available)) + " free in " + root_) +
            ")");
  }
}

std::string CheckpointStore::SaveVia(int64_t step, const std::map<std::string, std::string>& files,
                                     const std::string& tmp_dir) {
  const std::string final_dir = StepDir(step);
  std::error_code ec;
  fs::remove_all(tmp_dir, ec);
  fs::create_directories(tmp_dir, ec);
  if (ec) Fail(tmp_dir + ": cannot create: " + ec.message());
  std::ostringstream manifest;
  for (const auto& [name, contents] : files) {
    if (name.empty() || name.find('/') != std::string::npos || name == kManifest ||
        name == kCommitted) {
      Fail("checkpoint file name not allowed: '" + name + "'");
    }
    WriteDurably((fs::path(tmp_dir) / name).string(), contents);
    manifest << contents.size() << ' ' << Hex(Crc32(contents)) << ' ' << name << '\n';
  }
  WriteDurably((fs::path(tmp_dir) / kManifest).string(), manifest.str());
  SyncDirectory(tmp_dir);
  // A previous, uncommitted attempt at this step is replaced; a committed one is kept as is
  // (steps are immutable once committed).
  if (fs::exists(final_dir)) {
    if (fs::exists(fs::path(final_dir) / kCommitted)) {
      fs::remove_all(tmp_dir, ec);
      Fail(final_dir + ": step " + std::to_string(step) + " is already committed");
    }
    fs::remove_all(final_dir, ec);
  }
  fs::rename(tmp_dir, final_dir, ec);
  if (ec) Fail(final_dir + ": cannot rename into place: " + ec.message());
  SyncDirectory(root_);
  WriteDurably((fs::path(final_dir) / kCommitted).string(), "");
  SyncDirectory(final_dir);
  Prune();
  return final_dir;
}

std::vector<int64_t> CheckpointStore::CommittedSteps() const {
  std::vector<int64_t> steps;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kStepPrefix, 0) != 0 || !entry.is_directory()) continue;
    const std::string digits = name.substr(std::strlen(kStepPrefix));
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit)) continue;
    if (!fs::exists(entry.path() / kCommitted)) continue;
    steps.push_back(std::stoll(digits));
  }
  std::sort(steps.rbegin(), steps.rend());
  return steps;
}

LoadedCheckpoint CheckpointStore::Load(int64_t step) const {
  LoadedCheckpoint c;
  c.step = step;
  c.dir = StepDir(step);
  if (!fs::exists(fs::path(c.dir) / kCommitted)) Fail(c.dir + ": not committed");
  std::istringstream manifest(ReadFile((fs::path(c.dir) / kManifest).string()));
  std::string line;
  int line_number = 0;
  while (std::getline(manifest, line)) {
    ++line_number;
    std::istringstream fields(line);
    int64_t size = -1;
    std::string crc, name;
    if (!(fields >> size >> crc >> name)) {
      Fail(c.dir + "/MANIFEST:" + std::to_string(line_number) + ": malformed line '" + line + "'");
    }
    const std::string path = (fs::path(c.dir) / name).string();
    if (!fs::exists(path)) Fail(path + ": listed in MANIFEST but missing");
    std::string contents = ReadFile(path);
    if (static_cast<int64_t>(contents.size()) != size) {
      Fail(path + ": size " + std::to_string(contents.size()) + " bytes, MANIFEST says " +
           std::to_string(size));
    }
    const std::string actual = Hex(Crc32(contents));
    if (actual != crc) Fail(path + ": CRC-32 " + actual + ", MANIFEST says " + crc);
    c.files.emplace(name, std::move(contents));
  }
  if (line_number == 0) Fail(c.dir + "/MANIFEST: empty");
  return c;
}

CheckpointStore::Latest CheckpointStore::FindLatest(
    const std::function<void(const LoadedCheckpoint&)>& validate) const {
  Latest latest;
  for (int64_t step : CommittedSteps()) {
    try {
      LoadedCheckpoint c = Load(step);
      if (validate) validate(c);
      latest.loaded = std::move(c);
      return latest;
    } catch (const CheckpointError& e) {
      latest.damaged.emplace_back(step, e.what());
    }
  }
  return latest;
}

std::optional<LoadedCheckpoint> CheckpointStore::LoadLatest(
    const std::function<void(const std::string&)>& report) {
  Latest latest = FindLatest();
  for (const auto& [step, reason] : latest.damaged) {
    const std::string moved = latest.loaded ? Quarantine(step, reason) : std::string();
    if (report) {
      report("checkpoint step " + std::to_string(step) + " is damaged, trying the previous " +
             "one: " + reason + (moved.empty() ? "" : "; moved to " + moved));
    }
  }
  return latest.loaded;
}

std::string CheckpointStore::Quarantine(int64_t step, const std::string& reason) {
  const fs::path damaged = fs::path(root_) / "damaged";
  std::error_code ec;
  fs::create_directories(damaged, ec);
  if (ec) Fail(damaged.string() + ": cannot create: " + ec.message());
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", std::gmtime(&now));
  fs::path target = damaged / (kStepPrefix + std::to_string(step) + "-" + stamp);
  for (int n = 1; fs::exists(target); ++n) {
    target = damaged / (kStepPrefix + std::to_string(step) + "-" + stamp + "." + std::to_string(n));
  }
  fs::rename(StepDir(step), target, ec);
  if (ec) Fail(StepDir(step) + ": cannot move aside to " + target.string() + ": " + ec.message());
  SyncDirectory(root_);
  std::ofstream(target / "REASON") << reason << "\n";
  return target.string();
}

int CheckpointStore::RemoveStaleTemporaries() const {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(".tmp_", 0) == 0) {
      fs::remove_all(entry.path(), ec);
      ++removed;
    }
  }
  return removed;
}

void CheckpointStore::Prune() const {
  const std::vector<int64_t> steps = CommittedSteps();
  std::error_code ec;
  for (size_t i = static_cast<size_t>(keep_last_); i < steps.size(); ++i) {
    // Renamed out of the step namespace first (atomically), then deleted: a process killed
    // while deleting leaves a .tmp_ directory for the next start to remove, never a step that
    // looks committed but lacks files.
    const fs::path doomed =
        fs::path(root_) / (".tmp_pruned_" + std::string(kStepPrefix) + std::to_string(steps[i]) +
                           "_" + std::to_string(::getpid()));
    fs::rename(StepDir(steps[i]), doomed, ec);
    fs::remove_all(ec ? fs::path(StepDir(steps[i])) : doomed, ec);
  }
  RemoveStaleTemporaries();  // leftovers of interrupted saves of earlier processes
}

}  // namespace sbmt::trainer
