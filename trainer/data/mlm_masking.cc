#include "trainer/data/mlm_masking.h"

#include "runtime/hash.h"

namespace sbmt::trainer {
namespace {

using runtime::Mix64;
double Unit(uint64_t bits) { return runtime::UnitDouble(bits); }

}  // namespace

MaskedBatch MaskTokens(const TokenBatch& batch, const MaskingOptions& o) {
  MaskedBatch m;
  m.inputs = batch.tokens;
  for (int64_t r = 0; r < batch.rows; ++r) {
    const uint64_t key = Mix64(Mix64(o.seed ^ Mix64(static_cast<uint64_t>(o.epoch))) ^
                               static_cast<uint64_t>(batch.sequence_ids[r]));
    for (int64_t t = 0; t < batch.lengths[r]; ++t) {
      const int64_t at = r * batch.width + t;
      const int32_t id = batch.tokens[at];
      if (id == o.cls_id || id == o.sep_id || id == o.pad_id) continue;
      const uint64_t a = Mix64(key + 2 * static_cast<uint64_t>(t));
      if (Unit(a) >= o.probability) continue;
      const uint64_t b = Mix64(key + 2 * static_cast<uint64_t>(t) + 1);
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
