// Small integer hashes shared by every package: the SplitMix64 generator and its finalizer.
// Deterministic data order, masking, held-out splits, dropout seeds and the attention's stream
// ids are all keyed through these, so they live once; changing one changes every stream.
//
//   uint64_t state = seed;
//   uint64_t r = SplitMix64Next(state);                 // a generator
//   uint64_t id = Mix64(a ^ Mix64(b));                 // folding a tuple into one key
//   double u = UnitDouble(Mix64(key));                 // uniform in [0, 1)
#pragma once

#include <cstdint>
#include <string_view>

namespace sbmt::runtime {

// The golden-ratio increment of SplitMix64's Weyl sequence.
inline constexpr uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ull;

// SplitMix64's output function (Stafford's Mix13): a bijective avalanche of 64 bits.
constexpr uint64_t Fmix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// One SplitMix64 output of the state after `x`: Fmix64(x + gamma).
constexpr uint64_t Mix64(uint64_t x) { return Fmix64(x + kGoldenGamma); }

// Advances a SplitMix64 generator and returns its next 64 bits.
inline uint64_t SplitMix64Next(uint64_t& state) {
  state += kGoldenGamma;
  return Fmix64(state);
}

// FNV-1a of `text`, continuing from `h` (the offset basis by default), so a sequence of strings
// can be hashed piece by piece: a text's fingerprint (config digests, settings compared across
// ranks), not a generator.
inline constexpr uint64_t kFnvOffsetBasis = 1469598103934665603ull;
constexpr uint64_t Fnv1a64(std::string_view text, uint64_t h = kFnvOffsetBasis) {
  for (char ch : text) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
  return h;
}

// The top 53 bits of `bits` as a double in [0, 1).
constexpr double UnitDouble(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

}  // namespace sbmt::runtime
