// Philox4x32-10 counter-based random numbers (Salmon et al., "Parallel random numbers: as easy as
// 1, 2, 3", SC 2011), the generator cuRAND and PyTorch also use.
//
// A counter-based generator is a pure function (key, counter) -> 4 random words, so any draw can
// be computed independently of every other: samples depend only on (seed, stream, index), never on
// thread count or scheduling. sbmt keys streams by (seed, step, layer, batch, head, purpose).
//
//   PhiloxStream rng(seed, StreamId({step, layer, batch, head, kPurposeEdges}), /*offset=*/0);
//   double u = rng.Uniform();   // [0, 1)
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>

#include "attention/host_device.h"
#include "runtime/hash.h"

namespace sbmt::attention {

using PhiloxWords = std::array<uint32_t, 4>;

// One Philox4x32-10 block: 10 rounds on `counter` under the 64-bit key (key_lo, key_hi). Host
// and device code (attention/cuda) share it, so both draw the same words.
SBMT_HOST_DEVICE inline PhiloxWords Philox4x32(PhiloxWords counter, uint32_t key_lo,
                                               uint32_t key_hi) {
  constexpr uint32_t kM0 = 0xD2511F53u;
  constexpr uint32_t kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u;
  constexpr uint32_t kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(kM0) * counter[0];
    const uint64_t p1 = static_cast<uint64_t>(kM1) * counter[2];
    counter = {static_cast<uint32_t>(p1 >> 32) ^ counter[1] ^ key_lo, static_cast<uint32_t>(p1),
               static_cast<uint32_t>(p0 >> 32) ^ counter[3] ^ key_hi, static_cast<uint32_t>(p0)};
    key_lo += kW0;
    key_hi += kW1;
  }
  return counter;
}

// A bijective 64-bit mix (runtime/hash.h), used to fold tuples into one stream id.
using ::sbmt::runtime::Mix64;

// Folds the components of a stream's identity, in order, into a 64-bit stream id.
inline uint64_t StreamId(std::initializer_list<uint64_t> parts) {
  uint64_t h = 0x5BD1E9955BD1E995ull;
  for (uint64_t part : parts) h = Mix64(h ^ Mix64(part));
  return h;
}

// Philox4x32-10 on kLanes consecutive counters (index, index + 1, ...) of one stream, written as
// a loop over independent lanes so the compiler interleaves (and vectorizes) them: one block has
// a ~60-cycle dependency chain, eight in flight cost little more than one.
inline constexpr int kPhiloxLanes = 8;
inline void Philox4x32Lanes(uint64_t index, uint64_t stream, uint32_t key_lo, uint32_t key_hi,
                            uint32_t out[4 * kPhiloxLanes]) {
  constexpr uint32_t kM0 = 0xD2511F53u;
  constexpr uint32_t kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u;
  constexpr uint32_t kW1 = 0xBB67AE85u;
  uint32_t c0[kPhiloxLanes], c1[kPhiloxLanes], c2[kPhiloxLanes], c3[kPhiloxLanes];
  for (int l = 0; l < kPhiloxLanes; ++l) {
    const uint64_t i = index + static_cast<uint64_t>(l);
    c0[l] = static_cast<uint32_t>(i);
    c1[l] = static_cast<uint32_t>(i >> 32);
    c2[l] = static_cast<uint32_t>(stream);
    c3[l] = static_cast<uint32_t>(stream >> 32);
  }
  for (int round = 0; round < 10; ++round) {
    for (int l = 0; l < kPhiloxLanes; ++l) {
      const uint64_t p0 = static_cast<uint64_t>(kM0) * c0[l];
      const uint64_t p1 = static_cast<uint64_t>(kM1) * c2[l];
      const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1[l] ^ key_lo;
      const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3[l] ^ key_hi;
      c1[l] = static_cast<uint32_t>(p1);
      c3[l] = static_cast<uint32_t>(p0);
      c0[l] = n0;
      c2[l] = n2;
    }
    key_lo += kW0;
    key_hi += kW1;
  }
  for (int l = 0; l < kPhiloxLanes; ++l) {
    out[4 * l + 0] = c0[l];
    out[4 * l + 1] = c1[l];
    out[4 * l + 2] = c2[l];
    out[4 * l + 3] = c3[l];
  }
}

// The draws every stream offers, built on its NextU32() (CRTP, so they inline).
template <typename Stream>
class UniformDraws {
 public:
  // Uniform in [0, 1) with 53 random bits.
  double Uniform() {
    const uint64_t hi = self().NextU32();
    const uint64_t lo = self().NextU32();
    return static_cast<double>(((hi << 32) | lo) >> 11) * 0x1.0p-53;
  }

  // Uniform in [0, 1) with 24 random bits, from a single word.
  float UniformFloat() { return static_cast<float>(self().NextU32() >> 8) * 0x1.0p-24f; }

  // Uniform integer in [0, n) by multiply-shift (bias below 2^-32 * n, irrelevant here).
  uint32_t Below(uint32_t n) {
    return static_cast<uint32_t>((static_cast<uint64_t>(self().NextU32()) * n) >> 32);
  }

 private:
  Stream& self() { return static_cast<Stream&>(*this); }
};

// Sequential draws from one stream: block counter = (index_lo, index_hi, stream_lo, stream_hi),
// key = seed; block b yields words 4b .. 4b + 3. `offset` selects the first block, so disjoint
// sub-streams of one stream can start at distinct offsets (e.g. one per query row). Blocks are
// computed kPhiloxLanes at a time; the sequence is the same as computing them one by one.
class PhiloxStream : public UniformDraws<PhiloxStream> {
 public:
  PhiloxStream(uint64_t seed, uint64_t stream, uint64_t offset = 0)
      : key_lo_(static_cast<uint32_t>(seed)),
        key_hi_(static_cast<uint32_t>(seed >> 32)),
        stream_(stream),
        block_(offset) {}

  uint32_t NextU32() {
    if (used_ == kWords) Refill();
    return words_[used_++];
  }

 private:
  static constexpr int kWords = 4 * kPhiloxLanes;

  void Refill() {
    Philox4x32Lanes(block_, stream_, key_lo_, key_hi_, words_);
    block_ += kPhiloxLanes;
    used_ = 0;
  }

  uint32_t key_lo_;
  uint32_t key_hi_;
  uint64_t stream_;
  uint64_t block_;
  uint32_t words_[kWords];
  int used_ = kWords;
};

// A fast counter-based generator for the many draws made under one Philox-derived key:
// word pair n is SplitMix64(key + n * golden ratio), a bijective mix of a Weyl sequence that
// passes BigCrush. About 5x cheaper per word than Philox4x32-10; used for the per-edge draws of
// one query row, whose key comes from that row's Philox stream.
class SplitMixStream : public UniformDraws<SplitMixStream> {
 public:
  explicit SplitMixStream(uint64_t key) : state_(key) {}

  uint32_t NextU32() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const uint64_t z = ::sbmt::runtime::SplitMix64Next(state_);
    spare_ = static_cast<uint32_t>(z >> 32);
    has_spare_ = true;
    return static_cast<uint32_t>(z);
  }

 private:
  uint64_t state_;
  uint32_t spare_ = 0;
  bool has_spare_ = false;
};

// Purposes, the last component of a stream id, so different uses never share draws.
enum StreamPurpose : uint64_t {
  kPurposeEdges = 1,
  kPurposeDropout = 2,
};

}  // namespace sbmt::attention
