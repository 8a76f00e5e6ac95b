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

namespace sbmt::attention {

using PhiloxWords = std::array<uint32_t, 4>;

// One Philox4x32-10 block: 10 rounds on `counter` under the 64-bit key (key_lo, key_hi).
inline PhiloxWords Philox4x32(PhiloxWords counter, uint32_t key_lo, uint32_t key_hi) {
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

// SplitMix64 finalizer: a bijective 64-bit mix, used to fold tuples into one stream id.
inline uint64_t Mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Folds the components of a stream's identity, in order, into a 64-bit stream id.
inline uint64_t StreamId(std::initializer_list<uint64_t> parts) {
  uint64_t h = 0x5BD1E9955BD1E995ull;
  for (uint64_t part : parts) h = Mix64(h ^ Mix64(part));
  return h;
}

// Sequential draws from one stream: counter = (index_lo, index_hi, stream_lo, stream_hi), key =
// seed. Each block yields four 32-bit words; `offset` selects the first block, so disjoint
// sub-streams of one stream can start at distinct offsets (e.g. one per block pair).
class PhiloxStream {
 public:
  PhiloxStream(uint64_t seed, uint64_t stream, uint64_t offset = 0)
      : key_lo_(static_cast<uint32_t>(seed)),
        key_hi_(static_cast<uint32_t>(seed >> 32)),
        stream_(stream),
        block_(offset) {}

  uint32_t NextU32() {
    if (used_ == 4) Refill();
    return words_[used_++];
  }

  // Uniform in [0, 1) with 53 random bits.
  double Uniform() {
    const uint64_t hi = NextU32();
    const uint64_t lo = NextU32();
    return static_cast<double>(((hi << 32) | lo) >> 11) * 0x1.0p-53;
  }

  // Uniform in [0, 1) with 24 random bits, from a single word.
  float UniformFloat() { return static_cast<float>(NextU32() >> 8) * 0x1.0p-24f; }

  // Uniform integer in [0, n) by multiply-shift (bias below 2^-32 * n, irrelevant here).
  uint32_t Below(uint32_t n) {
    return static_cast<uint32_t>((static_cast<uint64_t>(NextU32()) * n) >> 32);
  }

 private:
  void Refill() {
    words_ = Philox4x32({static_cast<uint32_t>(block_), static_cast<uint32_t>(block_ >> 32),
                         static_cast<uint32_t>(stream_), static_cast<uint32_t>(stream_ >> 32)},
                        key_lo_, key_hi_);
    ++block_;
    used_ = 0;
  }

  uint32_t key_lo_;
  uint32_t key_hi_;
  uint64_t stream_;
  uint64_t block_;
  PhiloxWords words_{};
  int used_ = 4;
};

// Purposes, the last component of a stream id, so different uses never share draws.
enum StreamPurpose : uint64_t {
  kPurposeEdges = 1,
  kPurposeDropout = 2,
};

}  // namespace sbmt::attention
