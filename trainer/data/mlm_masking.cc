#include "trainer/data/mlm_masking.h"

namespace sbmt::trainer {
namespace {

uint64_t Mix(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double Unit(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

}  // namespace

MaskedBatch MaskTokens(const TokenBatch& batch, const MaskingOptions& o) {
  MaskedBatch m;
  m.inputs = batch.tokens;
  for (int64_t r = 0; r < batch.rows; ++r) {
    const uint64_t key = Mix(Mix(o.seed ^ Mix(static_cast<uint64_t>(o.epoch))) ^
                             static_cast<uint64_t>(batch.sequence_ids[r]));
    for (int64_t t = 0; t < batch.lengths[r]; ++t) {
      const int64_t at = r * batch.width + t;
      const int32_t id = batch.tokens[at];
      if (id == o.cls_id || id == o.sep_id || id == o.pad_id) continue;
      const uint64_t a = Mix(key + 2 * static_cast<uint64_t>(t));
      if (Unit(a) >= o.probability) continue;
      const uint64_t b = Mix(key + 2 * static_cast<uint64_t>(t) + 1);
      const double action = Unit(b);
      if (action < 0.8) {
        m.inputs[at] = o.mask_id;
      } else if (action < 0.9) {
        const uint64_t span = static_cast<uint64_t>(o.vocab_size - o.first_random_id);
        m.inputs[at] = o.first_random_id + static_cast<int32_t>((b & 0xffffffffu) % span);
      }
      m.positions.push_back(at);
      m.labels.push_back(id);
    }
  }
  return m;
}

}  // namespace sbmt::trainer
