#include "trainer/data/shard.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace sbmt::trainer {
namespace {

constexpr char kMagic[8] = {'S', 'B', 'M', 'T', 'S', 'H', 'R', 'D'};
// Version 2 stores the CRC-32 of everything after the header in the header's fourth word
// (version 1 left it 0); both are read, version 1 without a checksum to compare.
constexpr uint32_t kVersion = 2;

uint32_t BodyCrc(const char* index, size_t index_bytes, const char* tokens, size_t token_bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  for (auto [data, size] : {std::pair{index, index_bytes}, std::pair{tokens, token_bytes}}) {
    while (size > 0) {  // zlib takes uInt lengths
      const uInt chunk = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
      crc = crc32(crc, reinterpret_cast<const Bytef*>(data), chunk);
      data += chunk;
      size -= chunk;
    }
  }
  return static_cast<uint32_t>(crc);
}
constexpr size_t kHeaderBytes = 8 + 4 * 4 + 8;

std::string Hex(uint32_t value) {
  char buf[9];
  std::snprintf(buf, sizeof(buf), "%08x", value);
  return buf;
}

[[noreturn]] void Fail(const std::string& path, const std::string& message) {
  throw ShardError(path + ": " + message);
}

template <typename T>
void Put(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));  // little-endian hosts only (x86-64, aarch64)
  out.append(bytes, sizeof(T));
}

template <typename T>
T Get(const char* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

}  // namespace

ShardWriter::ShardWriter(std::string path, uint32_t vocab_size, uint32_t max_len)
    : path_(std::move(path)), vocab_size_(vocab_size), max_len_(max_len) {
  if (vocab_size_ == 0 || vocab_size_ > 65536) {
    Fail(path_, "vocab size must be in [1, 65536] for uint16 ids, got " +
                    std::to_string(vocab_size_));
  }
}

void ShardWriter::Add(const std::vector<int32_t>& ids) {
  if (ids.empty()) Fail(path_, "empty sequence");
  if (ids.size() > max_len_) {
    Fail(path_, "sequence of " + std::to_string(ids.size()) + " tokens exceeds max_len " +
                    std::to_string(max_len_));
  }
  for (int32_t id : ids) {
    if (id < 0 || static_cast<uint32_t>(id) >= vocab_size_) {
      Fail(path_, "token id " + std::to_string(id) + " outside the vocabulary of " +
                      std::to_string(vocab_size_));
    }
    tokens_.push_back(static_cast<uint16_t>(id));
  }
  offsets_.push_back(tokens_.size());
}

void ShardWriter::Finish() {
  if (finished_) return;
  std::string header;
  header.append(kMagic, 8);
  Put<uint32_t>(header, kVersion);
  Put<uint32_t>(header, vocab_size_);
  Put<uint32_t>(header, max_len_);
  Put<uint32_t>(
      header,
      BodyCrc(reinterpret_cast<const char*>(offsets_.data()), offsets_.size() * sizeof(uint64_t),
              reinterpret_cast<const char*>(tokens_.data()), tokens_.size() * sizeof(uint16_t)));
  Put<uint64_t>(header, offsets_.size() - 1);
  const std::string tmp = path_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) Fail(tmp, "cannot open for writing");
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(reinterpret_cast<const char*>(offsets_.data()),
              static_cast<std::streamsize>(offsets_.size() * sizeof(uint64_t)));
    out.write(reinterpret_cast<const char*>(tokens_.data()),
              static_cast<std::streamsize>(tokens_.size() * sizeof(uint16_t)));
    out.flush();
    if (!out) Fail(tmp, "write failed");
  }
  const int fd = ::open(tmp.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) {
    Fail(path_, std::string("cannot rename into place: ") + std::strerror(errno));
  }
  finished_ = true;
}

Shard Shard::Open(const std::string& path) {
  Shard s;
  s.path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) Fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  ::fstat(fd, &st);
  s.map_size_ = static_cast<size_t>(st.st_size);
  if (s.map_size_ < kHeaderBytes) {
    ::close(fd);
    Fail(path, "truncated: " + std::to_string(s.map_size_) + " bytes, shorter than the header");
  }
  s.map_ = ::mmap(nullptr, s.map_size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (s.map_ == MAP_FAILED) {
    s.map_ = nullptr;
    Fail(path, std::string("mmap failed: ") + std::strerror(errno));
  }
  const char* p = static_cast<const char*>(s.map_);
  if (std::memcmp(p, kMagic, 8) != 0) Fail(path, "not a shard (bad magic)");
  const uint32_t version = Get<uint32_t>(p + 8);
  if (version != 1 && version != kVersion) {
    Fail(path, "unsupported shard version " + std::to_string(version) + " (expected 1 or " +
                   std::to_string(kVersion) + ")");
  }
  s.vocab_size_ = Get<uint32_t>(p + 12);
  s.max_len_ = Get<uint32_t>(p + 16);
  const uint64_t count = Get<uint64_t>(p + 24);
  const uint64_t index_bytes = (count + 1) * sizeof(uint64_t);
  if (count > s.map_size_ || kHeaderBytes + index_bytes > s.map_size_) {
    Fail(path, "truncated index: " + std::to_string(count) + " sequences need " +
                   std::to_string(kHeaderBytes + index_bytes) + " bytes, file has " +
                   std::to_string(s.map_size_));
  }
  s.count_ = static_cast<int64_t>(count);
  s.index_ = reinterpret_cast<const uint64_t*>(p + kHeaderBytes);
  s.tokens_ = reinterpret_cast<const uint16_t*>(p + kHeaderBytes + index_bytes);
  const uint64_t body = s.map_size_ - kHeaderBytes - index_bytes;
  if (s.index_[0] != 0) Fail(path, "corrupt index: first offset is not 0");
  for (int64_t i = 0; i < s.count_; ++i) {
    if (s.index_[i + 1] <= s.index_[i] || s.index_[i + 1] - s.index_[i] > s.max_len_) {
      Fail(path, "corrupt index at sequence " + std::to_string(i));
    }
  }
  if (s.index_[s.count_] * sizeof(uint16_t) != body) {
    Fail(path, "truncated body: index lists " + std::to_string(s.index_[s.count_]) +
                   " tokens, file holds " + std::to_string(body / sizeof(uint16_t)));
  }
  s.crc_ = BodyCrc(p + kHeaderBytes, index_bytes, p + kHeaderBytes + index_bytes, body);
  const uint32_t stored = Get<uint32_t>(p + 20);
  if (version >= 2 && stored != s.crc_) {
    Fail(path, "checksum mismatch: the header says CRC-32 " + Hex(stored) + ", the contents give " +
                   Hex(s.crc_) + "; the file is damaged (prepare it again)");
  }
  // Ids are checked once here, so a damaged or foreign shard never reaches the model.
  for (int64_t i = 0; i < s.count_; ++i) {
    for (uint64_t t = s.index_[i]; t < s.index_[i + 1]; ++t) {
      if (s.tokens_[t] >= s.vocab_size_) {
        Fail(path, "sequence " + std::to_string(i) + ", position " +
                       std::to_string(t - s.index_[i]) + ": token id " +
                       std::to_string(s.tokens_[t]) + " outside the shard's vocabulary of " +
                       std::to_string(s.vocab_size_));
      }
    }
  }
  return s;
}

Shard::Shard(Shard&& o) noexcept { *this = std::move(o); }

Shard& Shard::operator=(Shard&& o) noexcept {
  if (this != &o) {
    if (map_) ::munmap(map_, map_size_);
    path_ = std::move(o.path_);
    map_ = o.map_;
    map_size_ = o.map_size_;
    vocab_size_ = o.vocab_size_;
    max_len_ = o.max_len_;
    crc_ = o.crc_;
    count_ = o.count_;
    index_ = o.index_;
    tokens_ = o.tokens_;
    o.map_ = nullptr;
  }
  return *this;
}

Shard::~Shard() {
  if (map_) ::munmap(map_, map_size_);
}

}  // namespace sbmt::trainer
