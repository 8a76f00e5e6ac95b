// Sums gradients across ranks while backward is still running (DESIGN.md section 5).
//
// Parameters go into buckets (about 25 MB; the first, small one fills first so communication
// starts early) in reverse registration order, roughly the order backward finishes them. A hook
// on each parameter's gradient accumulator marks it ready; when a bucket is complete it is copied
// flat and its allreduce queued on the communicator, in bucket order on every rank, while
// backward continues. FinishReduction() queues the buckets whose gradients never came (unused
// parameters count as zero), waits, and writes the sums back into .grad. The time it spends is
// the communication backward did not hide.
//
// Only the backward of an optimizer step's last micro-step reduces: call PrepareForReduction()
// before it; the earlier micro-steps only accumulate locally.
//
//   GradientReducer reducer(comm, params, {});
//   for (m ...) { if (m == last) reducer.PrepareForReduction(); loss.backward(); }
//   ReductionStats r = reducer.FinishReduction();  // .grad now holds the sum over ranks
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <vector>

#include "trainer/dist/communicator.h"

namespace sbmt::dist {

struct ReducerOptions {
  int64_t bucket_bytes = 25 << 20;
  int64_t first_bucket_bytes = 1 << 20;
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
};

// One step's gradient reduction on this rank.
struct ReductionStats {
  double exposed_seconds = 0;    // FinishReduction's wait: the communication backward did not hide
  double allreduce_seconds = 0;  // from the first bucket's launch to the last one's completion
  int64_t allreduce_bytes = 0;   // this rank's buckets together (the payload, not wire traffic)
};

class GradientReducer {
 public:
  GradientReducer(Communicator& comm, std::vector<torch::Tensor> params, ReducerOptions options);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  void PrepareForReduction();
  // Waits for every bucket and writes the sums to .grad. Throws CommError from the backend.
  ReductionStats FinishReduction();

  // Parameter indices per bucket, in launch order (exposed for tests and logs).
  std::vector<std::vector<int>> BucketLayout() const;

 private:
  struct Core;
  std::shared_ptr<Core> core_;  // shared with the hooks, which outlive nothing but may fire late
};

// Overwrites every tensor with rank root's values (in buckets of ~25 MB). Used at start, after
// initialization or resume, so that all ranks begin identical.
void BroadcastTensors(Communicator& comm, const std::vector<torch::Tensor>& tensors, int root,
                      std::chrono::milliseconds timeout);

// The buffer view of a contiguous CPU tensor.
Buffer BufferOf(const torch::Tensor& tensor);

}  // namespace sbmt::dist
