#include "trainer/dist/gradient_reducer.h"

#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <mutex>
#include <stdexcept>

#include "runtime/error.h"

namespace sbmt::dist {

Buffer BufferOf(const torch::Tensor& t) {
  if (!t.is_contiguous() || !(t.device().is_cpu() || t.device().is_cuda())) {
    throw Error(ErrorCode::kInvalidArgument,
                "BufferOf: expected a contiguous CPU or CUDA tensor, got " + t.device().str());
  }
  DType dtype;
  switch (t.scalar_type()) {
    case torch::kFloat32:
      dtype = DType::kFloat32;
      break;
    case torch::kFloat64:
      dtype = DType::kFloat64;
      break;
    case torch::kInt32:
      dtype = DType::kInt32;
      break;
    case torch::kInt64:
      dtype = DType::kInt64;
      break;
    case torch::kUInt8:
      dtype = DType::kUInt8;
      break;
    default:
      throw Error(ErrorCode::kInvalidArgument,
                  std::string("BufferOf: unsupported dtype ") + c10::toString(t.scalar_type()));
  }
  return {t.data_ptr(), t.numel(), dtype, t.device().is_cuda()};
}

struct GradientReducer::Core {
  struct Bucket {
    std::vector<int> params;
    std::vector<int64_t> offsets;  // of each parameter in `flat`
    torch::Tensor flat;
    int pending = 0;
    std::shared_ptr<Work> work;
  };

  Communicator& comm;
  std::vector<torch::Tensor> params;
  ReducerOptions options;
  std::vector<Bucket> buckets;
  std::vector<int> bucket_of, slot_of;                               // per parameter
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;  // kept alive for the hooks

  std::mutex mu;
  bool armed = false;
  std::vector<bool> ready;
  size_t next_launch = 0;
  std::chrono::steady_clock::time_point first_launch;

  Core(Communicator& c, std::vector<torch::Tensor> p, ReducerOptions o)
      : comm(c), params(std::move(p)), options(o) {}

  void CopyIn(int i) {  // the parameter's gradient, or zeros, into its bucket slot
    const Bucket& b = buckets[bucket_of[i]];
    torch::Tensor slot = b.flat.narrow(0, b.offsets[slot_of[i]], params[i].numel());
    const torch::Tensor& grad = params[i].grad();
    if (grad.defined()) {
      slot.copy_(grad.reshape(-1));
    } else {
      slot.zero_();
    }
  }

  void LaunchReady() {  // with mu held; buckets go out in order on every rank
    while (next_launch < buckets.size() && buckets[next_launch].pending == 0) {
      if (next_launch == 0) first_launch = std::chrono::steady_clock::now();
      Bucket& b = buckets[next_launch++];
      b.work = comm.AllReduce(BufferOf(b.flat), ReduceOp::kSum);
    }
  }

  void OnGradient(int i) {
    std::lock_guard<std::mutex> lock(mu);
    if (!armed || ready[i]) return;
    ready[i] = true;
    CopyIn(i);
    if (--buckets[bucket_of[i]].pending == 0) LaunchReady();
  }
};

GradientReducer::GradientReducer(Communicator& comm, std::vector<torch::Tensor> params,
                                 ReducerOptions options)
    : core_(std::make_shared<Core>(comm, std::move(params), options)) {
  Core& c = *core_;
  const int n = static_cast<int>(c.params.size());
  c.bucket_of.assign(n, -1);
  c.slot_of.assign(n, -1);
  c.ready.assign(n, false);
  if (comm.size() == 1) return;  // nothing to reduce: no buckets, no hooks

  // Reverse registration order: the output side of the model finishes backward first.
  int64_t bytes = 0;
  for (int i = n - 1; i >= 0; --i) {
    const torch::Tensor& p = c.params[i];
    if (!p.requires_grad()) continue;
    const int64_t cap = c.buckets.size() == 1 ? options.first_bucket_bytes : options.bucket_bytes;
    if (c.buckets.empty() || bytes >= cap ||
        c.params[c.buckets.back().params.front()].scalar_type() != p.scalar_type()) {
      c.buckets.emplace_back();
      bytes = 0;
    }
    Core::Bucket& b = c.buckets.back();
    c.bucket_of[i] = static_cast<int>(c.buckets.size()) - 1;
    c.slot_of[i] = static_cast<int>(b.params.size());
    b.offsets.push_back(b.params.empty() ? 0
                                         : b.offsets.back() + c.params[b.params.back()].numel());
    b.params.push_back(i);
    bytes += p.numel() * static_cast<int64_t>(p.element_size());
  }
  for (Core::Bucket& b : c.buckets) {
    const int64_t numel = b.offsets.back() + c.params[b.params.back()].numel();
    b.flat = torch::empty({numel}, c.params[b.params.front()].options().requires_grad(false));
  }
  // A post hook on the accumulator runs once .grad holds this backward's full gradient.
  std::weak_ptr<Core> weak = core_;
  for (int i = 0; i < n; ++i) {
    if (c.bucket_of[i] < 0) continue;
    std::shared_ptr<torch::autograd::Node> acc =
        torch::autograd::impl::grad_accumulator(c.params[i]);
    acc->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [weak, i](const torch::autograd::variable_list& outputs,
                  const torch::autograd::variable_list&) {
          if (std::shared_ptr<Core> core = weak.lock()) core->OnGradient(i);
          return outputs;
        }));
    c.accumulators.push_back(std::move(acc));
  }
}

GradientReducer::~GradientReducer() = default;

void GradientReducer::PrepareForReduction() {
  Core& c = *core_;
  std::lock_guard<std::mutex> lock(c.mu);
  c.armed = !c.buckets.empty();
  std::fill(c.ready.begin(), c.ready.end(), false);
  c.next_launch = 0;
  for (Core::Bucket& b : c.buckets) {
    b.pending = static_cast<int>(b.params.size());
    b.work.reset();
  }
}

ReductionStats GradientReducer::FinishReduction() {
  Core& c = *core_;
  ReductionStats stats;
  if (c.buckets.empty()) return stats;
  const auto start = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (!c.armed) throw Error(ErrorCode::kInternal, "FinishReduction without PrepareForReduction");
    c.armed = false;
    for (size_t i = 0; i < c.params.size(); ++i) {
      if (c.bucket_of[i] >= 0 && !c.ready[i]) {  // unused in this backward: contributes zeros
        c.ready[i] = true;
        c.CopyIn(static_cast<int>(i));
        --c.buckets[c.bucket_of[i]].pending;
      }
    }
    c.LaunchReady();
  }
  for (Core::Bucket& b : c.buckets) {
    b.work->Wait(c.options.timeout);
    stats.allreduce_bytes += static_cast<int64_t>(b.flat.nbytes());
    for (size_t s = 0; s < b.params.size(); ++s) {
      torch::Tensor& p = c.params[b.params[s]];
      torch::Tensor sum = b.flat.narrow(0, b.offsets[s], p.numel()).view(p.sizes());
      if (p.grad().defined()) {
        p.mutable_grad().copy_(sum);
      } else {
        p.mutable_grad() = sum.clone();
      }
    }
  }
  const auto end = std::chrono::steady_clock::now();
  stats.exposed_seconds = std::chrono::duration<double>(end - start).count();
  stats.allreduce_seconds = std::chrono::duration<double>(end - c.first_launch).count();
  return stats;
}

std::vector<std::vector<int>> GradientReducer::BucketLayout() const {
  std::vector<std::vector<int>> layout;
  for (const Core::Bucket& b : core_->buckets) layout.push_back(b.params);
  return layout;
}

void BroadcastTensors(Communicator& comm, const std::vector<torch::Tensor>& tensors, int root,
                      std::chrono::milliseconds timeout) {
  if (comm.size() == 1) return;
  torch::NoGradGuard no_grad;
  for (const torch::Tensor& t : tensors) {
    torch::Tensor flat = t.detach().contiguous();
    comm.Broadcast(BufferOf(flat), root)->Wait(timeout);
    if (flat.data_ptr() != t.data_ptr()) t.detach().copy_(flat.view(t.sizes()));
  }
}

}  // namespace sbmt::dist
