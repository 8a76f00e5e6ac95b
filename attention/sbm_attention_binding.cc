#include "attention/sbm_attention_binding.h"

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "attention/fastrg_sampler.h"
#include "attention/philox.h"
#include "attention/sbm_attention_kernels.h"
#include "runtime/error.h"

#if defined(SBMT_TORCH_CUDA)
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "attention/cuda/sbm_attention_cuda.h"
#endif

namespace sbmt::attention {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

std::string ShapeOf(const torch::Tensor& t) {
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

[[noreturn]] void Invalid(const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, "sbm_attention: " + message);
}

// dtype kUndefined: any floating type.
void CheckTensor(const char* name, const torch::Tensor& t, std::vector<int64_t> shape,
                 torch::ScalarType dtype, torch::Device device) {
  if (!t.defined()) Invalid(std::string(name) + ": expected a tensor, got undefined");
  if (t.device() != device) {
    Invalid(std::string(name) + ": expected a tensor on " + device.str() + " (where q is), got " +
            t.device().str());
  }
  if (dtype == c10::ScalarType::Undefined) {
    if (!t.is_floating_point()) {
      Invalid(std::string(name) + ": expected a floating-point tensor, got " +
              c10::toString(t.scalar_type()));
    }
  } else if (t.scalar_type() != dtype) {
    Invalid(std::string(name) + ": expected dtype " + c10::toString(dtype) + ", got " +
            c10::toString(t.scalar_type()));
  }
  if (t.sizes() != c10::IntArrayRef(shape)) {
    std::ostringstream expected;
    expected << c10::IntArrayRef(shape);
    Invalid(std::string(name) + ": expected shape " + expected.str() + ", got " + ShapeOf(t));
  }
  if (!t.is_contiguous()) Invalid(std::string(name) + ": expected a contiguous tensor");
}

void CheckMask(const char* name, const torch::Tensor& t, int64_t batch, int64_t n,
               torch::Device device) {
  if (t.defined()) CheckTensor(name, t, {batch, n}, torch::kBool, device);
}

SbmEdges EdgesOf(const torch::Tensor& row_ptr, const torch::Tensor& col, int64_t graphs,
                 int64_t n_q, int64_t n_k) {
  return {graphs, n_q, n_k, row_ptr.data_ptr<int64_t>(), col.data_ptr<int32_t>()};
}

// A 1-d tensor that takes ownership of a vector's buffer (no copy).
template <typename Vector>
torch::Tensor OwningTensor(Vector&& values, torch::ScalarType dtype) {
  auto* holder = new std::decay_t<Vector>(std::move(values));
  return torch::from_blob(
      holder->data(), {static_cast<int64_t>(holder->size())}, [holder](void*) { delete holder; },
      torch::TensorOptions().dtype(dtype));
}

uint64_t DropoutStream(const SbmOpOptions& o) {
  return StreamId({o.step, o.layer, o.batch_offset, kPurposeDropout});
}

// The optional masks travel in a struct: autograd's apply() cannot take undefined tensors as
// inputs, and masks need no gradient.
struct Masks {
  torch::Tensor key_valid;
  torch::Tensor query_valid;
};

// What the sampler reads, in the types it reads them (float32 memberships: they are
// probabilities, 24 bits are plenty; uint8 masks), on the tensors' device. The params point into
// these tensors, which must outlive the sampling.
struct SamplerInputs {
  torch::Tensor y, z, b, key_valid, query_valid;
  FastRgParams params;
};

SamplerInputs SamplerInputsOf(const torch::Tensor& y, const torch::Tensor& z,
                              const torch::Tensor& b, const Masks& masks, const SbmOpOptions& o) {
  SamplerInputs in;
  in.y = y.to(torch::kFloat32).contiguous();
  in.z = z.to(torch::kFloat32).contiguous();
  in.b = b.to(torch::kFloat32).contiguous();
  if (masks.key_valid.defined()) in.key_valid = masks.key_valid.to(torch::kUInt8).contiguous();
  if (masks.query_valid.defined()) {
    in.query_valid = masks.query_valid.to(torch::kUInt8).contiguous();
  }
  FastRgParams& sp = in.params;
  sp.batch = y.size(0);
  sp.heads = y.size(1);
  sp.n_q = y.size(2);
  sp.n_k = z.size(2);
  sp.k = y.size(3);
  sp.y = in.y.data_ptr<float>();
  sp.z = in.z.data_ptr<float>();
  sp.b = in.b.data_ptr<float>();
  sp.eps = static_cast<float>(o.eps);
  sp.key_valid = in.key_valid.defined() ? in.key_valid.data_ptr<uint8_t>() : nullptr;
  sp.query_valid = in.query_valid.defined() ? in.query_valid.data_ptr<uint8_t>() : nullptr;
  sp.self_loops = o.self_loops;
  sp.seed = o.seed;
  sp.step = o.step;
  sp.layer = o.layer;
  sp.batch_offset = o.batch_offset;
  return in;
}

// The options the backward needs, kept in the autograd context, and read back.
void SaveOptions(AutogradContext* ctx, const SbmOpOptions& o) {
  ctx->saved_data["self_loops"] = o.self_loops;
  ctx->saved_data["dropout"] = o.dropout;
  ctx->saved_data["seed"] = static_cast<int64_t>(o.seed);
  ctx->saved_data["dropout_stream"] = static_cast<int64_t>(DropoutStream(o));
}
bool SavedSelfLoops(AutogradContext* ctx) { return ctx->saved_data["self_loops"].toBool(); }
SbmDropout SavedDropout(AutogradContext* ctx) {
  return {static_cast<float>(ctx->saved_data["dropout"].toDouble()),
          static_cast<uint64_t>(ctx->saved_data["seed"].toInt()),
          static_cast<uint64_t>(ctx->saved_data["dropout_stream"].toInt())};
}

#if defined(SBMT_TORCH_CUDA)
// Device memory for the CUDA sampler from torch's caching allocator: every block is a uint8
// tensor, and the graph's arrays are handed back as typed views that keep their blocks alive.
class TorchDeviceAllocator : public cuda::DeviceAllocator {
 public:
  explicit TorchDeviceAllocator(torch::Device device) : device_(device) {}
  void* Allocate(size_t bytes) override {
    blocks_.push_back(torch::empty({static_cast<int64_t>(bytes)},
                                   torch::TensorOptions().dtype(torch::kUInt8).device(device_)));
    return blocks_.back().data_ptr();
  }
  // The block that starts at `data`, as `count` elements of `dtype`.
  torch::Tensor Take(const void* data, int64_t count, torch::ScalarType dtype) const {
    for (const torch::Tensor& block : blocks_) {
      if (block.data_ptr() == data) return block.view(dtype).narrow(0, 0, count);
    }
    throw Error(ErrorCode::kInternal, "sbm_attention: a sampler array outside its allocator");
  }

 private:
  torch::Device device_;
  std::vector<torch::Tensor> blocks_;
};

cuda::DType CudaDType(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32:
      return cuda::DType::kFloat32;
    case torch::kBFloat16:
      return cuda::DType::kBFloat16;
    case torch::kFloat16:
      return cuda::DType::kFloat16;
    default:
      Invalid(std::string("q: expected float32, bfloat16 or float16 on CUDA, got ") +
              c10::toString(t));
  }
}

// The graph arrays saved for the backward, in this order after q .. alpha.
enum SavedCuda { kRowPtr = 8, kCol, kKeyPtr, kKeyEdges, kEdgeRow };

variable_list ForwardCuda(AutogradContext* ctx, const torch::Tensor& q, const torch::Tensor& k,
                          const torch::Tensor& v, const torch::Tensor& y, const torch::Tensor& z,
                          const torch::Tensor& b, const Masks& masks, const SbmOpOptions& o) {
  const c10::cuda::CUDAGuard guard(q.device());
  cuda::Stream stream = c10::cuda::getCurrentCUDAStream(q.device().index()).stream();
  const int64_t batch = q.size(0), heads = q.size(1), n_q = q.size(2), d = q.size(3);
  const int64_t n_k = k.size(2), graphs = batch * heads;
  const SamplerInputs sampler = SamplerInputsOf(y, z, b, masks, o);
  TorchDeviceAllocator allocator(q.device());
  cuda::SbmGraphDevice graph = cuda::fastrg_sample_cuda(sampler.params, allocator, stream);
  cuda::transpose_edges_cuda(graph, allocator, stream);
  const int64_t rows = graphs * n_q, keys = graphs * n_k, edges = graph.edges;
  torch::Tensor row_ptr = allocator.Take(graph.row_ptr, rows + 1, torch::kInt64);
  torch::Tensor col = allocator.Take(graph.col, edges, torch::kInt32);
  torch::Tensor draws = allocator.Take(graph.draws, graphs, torch::kInt64).reshape({batch, heads});
  torch::Tensor key_ptr = allocator.Take(graph.key_ptr, keys + 1, torch::kInt64);
  torch::Tensor key_edges = allocator.Take(graph.key_edges, edges, torch::kInt64);
  torch::Tensor edge_row = allocator.Take(graph.edge_row, edges, torch::kInt32);
  // Per graph: row_ptr at its last row's end minus at its first row.
  torch::Tensor edge_count = (row_ptr.slice(0, n_q, rows + 1, n_q) - row_ptr.slice(0, 0, rows, n_q))
                                 .reshape({batch, heads})
                                 .to(torch::kFloat32);

  torch::Tensor out = torch::empty_like(q);
  torch::Tensor alpha = torch::empty({edges}, q.options().dtype(torch::kFloat32));
  cuda::SbmCudaForward p;
  p.edges = graph.csr();
  p.d = d;
  p.dtype = CudaDType(q.scalar_type());
  p.q = q.data_ptr();
  p.k = k.data_ptr();
  p.v = v.data_ptr();
  p.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  p.dropout = {static_cast<float>(o.dropout), o.seed, DropoutStream(o)};
  p.out = out.data_ptr();
  p.alpha = alpha.data_ptr<float>();
  cuda::sbm_attention_forward_cuda(p, stream);

  ctx->save_for_backward(
      {q, k, v, y, z, b, out, alpha, row_ptr, col, key_ptr, key_edges, edge_row});
  SaveOptions(ctx, o);
  ctx->mark_non_differentiable({draws, row_ptr, col});
  return {out, edge_count, draws, row_ptr, col};
}

variable_list BackwardCuda(AutogradContext* ctx, const variable_list& saved,
                           const variable_list& grads) {
  const torch::Tensor &q = saved[0], &k = saved[1], &v = saved[2], &y = saved[3], &z = saved[4],
                      &b = saved[5], &out = saved[6], &alpha = saved[7];
  const c10::cuda::CUDAGuard guard(q.device());
  cuda::Stream stream = c10::cuda::getCurrentCUDAStream(q.device().index()).stream();
  const int64_t batch = q.size(0), heads = q.size(1), n_q = q.size(2), d = q.size(3);
  const int64_t n_k = k.size(2), clusters = y.size(3), graphs = batch * heads;
  cuda::SbmGraphDevice graph;
  graph.graphs = graphs;
  graph.n_q = n_q;
  graph.n_k = n_k;
  graph.edges = saved[kCol].numel();
  graph.row_ptr = saved[kRowPtr].data_ptr<int64_t>();
  graph.col = saved[kCol].data_ptr<int32_t>();
  graph.key_ptr = saved[kKeyPtr].data_ptr<int64_t>();
  graph.key_edges = saved[kKeyEdges].data_ptr<int64_t>();
  graph.edge_row = saved[kEdgeRow].data_ptr<int32_t>();

  const torch::Tensor grad_out =
      grads[0].defined() ? grads[0].to(q.scalar_type()).contiguous() : torch::zeros_like(out);
  const torch::Tensor grad_edges =
      grads[1].defined() ? grads[1].to(torch::kFloat32).contiguous() : torch::Tensor();
  const torch::Tensor yf = y.to(torch::kFloat32).contiguous();
  const torch::Tensor zf = z.to(torch::kFloat32).contiguous();
  const torch::Tensor bf = b.to(torch::kFloat32).contiguous();
  const auto floats = [&](std::vector<int64_t> shape) {
    return torch::empty(shape, q.options().dtype(torch::kFloat32));
  };
  torch::Tensor dq = torch::empty_like(q), dk = torch::empty_like(k), dv = torch::empty_like(v);
  torch::Tensor dp = floats({graph.edges}), ds = floats({graph.edges});
  torch::Tensor dy = torch::empty_like(yf), dz = torch::empty_like(zf), db = torch::empty_like(bf);
  torch::Tensor w = floats({graphs, n_q, clusters}), x = floats({graphs, n_k, clusters});
  torch::Tensor db_partial = floats({graphs, clusters, clusters});

  cuda::SbmCudaBackward p;
  p.graph = &graph;
  p.d = d;
  p.dtype = CudaDType(q.scalar_type());
  p.q = q.data_ptr();
  p.k = k.data_ptr();
  p.v = v.data_ptr();
  p.out = out.data_ptr();
  p.grad_out = grad_out.data_ptr();
  p.alpha = alpha.data_ptr<float>();
  p.grad_edges = grad_edges.defined() ? grad_edges.data_ptr<float>() : nullptr;
  p.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  p.dropout = SavedDropout(ctx);
  p.self_loops = SavedSelfLoops(ctx);
  p.dq = dq.data_ptr();
  p.dk = dk.data_ptr();
  p.dv = dv.data_ptr();
  p.dp = dp.data_ptr<float>();
  p.ds = ds.data_ptr<float>();
  p.heads = heads;
  p.clusters = clusters;
  p.y = yf.data_ptr<float>();
  p.z = zf.data_ptr<float>();
  p.b = bf.data_ptr<float>();
  p.dy = dy.data_ptr<float>();
  p.dz = dz.data_ptr<float>();
  p.db = db.data_ptr<float>();
  p.w = w.data_ptr<float>();
  p.x = x.data_ptr<float>();
  p.db_partial = db_partial.data_ptr<float>();
  cuda::sbm_attention_backward_cuda(p, stream);
  return {dq,
          dk,
          dv,
          dy.to(y.scalar_type()),
          dz.to(z.scalar_type()),
          db.to(b.scalar_type()),
          torch::Tensor(),
          torch::Tensor()};
}
#endif  // SBMT_TORCH_CUDA

class SbmAttentionFunction : public torch::autograd::Function<SbmAttentionFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, torch::Tensor q, torch::Tensor k,
                               torch::Tensor v, torch::Tensor y, torch::Tensor z, torch::Tensor b,
                               Masks masks, SbmOpOptions o) {
#if defined(SBMT_TORCH_CUDA)
    if (q.is_cuda()) return ForwardCuda(ctx, q, k, v, y, z, b, masks, o);
#endif
    const int64_t batch = q.size(0), heads = q.size(1), n_q = q.size(2), d = q.size(3);
    const int64_t n_k = k.size(2);
    const SamplerInputs sampler = SamplerInputsOf(y, z, b, masks, o);
    SbmGraph graph = fastrg_sample(sampler.params);

    const int64_t graphs = batch * heads;
    std::vector<double> counts(graphs);
    for (int64_t g = 0; g < graphs; ++g) counts[g] = static_cast<double>(graph.edges(g));
    const int64_t n_edges = graph.edges();
    torch::Tensor row_ptr = OwningTensor(std::move(graph.row_ptr), torch::kInt64);
    torch::Tensor col = OwningTensor(std::move(graph.col), torch::kInt32);
    torch::Tensor draws =
        OwningTensor(std::move(graph.draws), torch::kInt64).reshape({batch, heads});
    torch::Tensor edge_count =
        torch::tensor(counts, torch::kFloat64).reshape({batch, heads}).to(q.scalar_type());

    torch::Tensor out = torch::empty_like(q);
    torch::Tensor alpha = torch::empty({n_edges}, q.options());
    AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "sbm_attention_forward", [&] {
      SbmForwardParams<scalar_t> p;
      p.edges = EdgesOf(row_ptr, col, graphs, n_q, n_k);
      p.d = d;
      p.q = q.data_ptr<scalar_t>();
      p.k = k.data_ptr<scalar_t>();
      p.v = v.data_ptr<scalar_t>();
      p.scale = static_cast<scalar_t>(1.0 / std::sqrt(static_cast<double>(d)));
      p.dropout = {static_cast<float>(o.dropout), o.seed, DropoutStream(o)};
      p.out = out.data_ptr<scalar_t>();
      p.alpha = alpha.data_ptr<scalar_t>();
      cpu::sbm_attention_forward(p);
    });

    ctx->save_for_backward({q, k, v, y, z, b, out, alpha, row_ptr, col});
    SaveOptions(ctx, o);
    ctx->mark_non_differentiable({draws, row_ptr, col});
    return {out, edge_count, draws, row_ptr, col};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
#if defined(SBMT_TORCH_CUDA)
    if (saved[0].is_cuda()) return BackwardCuda(ctx, saved, grads);
#endif
    const torch::Tensor &q = saved[0], &k = saved[1], &v = saved[2], &y = saved[3], &z = saved[4],
                        &b = saved[5], &out = saved[6], &alpha = saved[7], &row_ptr = saved[8],
                        &col = saved[9];
    const int64_t batch = q.size(0), heads = q.size(1), n_q = q.size(2), d = q.size(3);
    const int64_t n_k = k.size(2), clusters = y.size(3), graphs = batch * heads;
    torch::Tensor grad_out = grads[0].defined() ? grads[0].contiguous() : torch::zeros_like(out);
    torch::Tensor grad_edges = grads[1].defined() ? grads[1].contiguous() : torch::Tensor();

    torch::Tensor dq = torch::empty_like(q), dk = torch::empty_like(k), dv = torch::empty_like(v);
    torch::Tensor dp = torch::empty_like(alpha);
    const bool self_loops = SavedSelfLoops(ctx);
    const SbmDropout dropout = SavedDropout(ctx);
    // Memberships may be another dtype than q in principle; the kernels want one type.
    const torch::Tensor yc = y.to(q.scalar_type()).contiguous();
    const torch::Tensor zc = z.to(q.scalar_type()).contiguous();
    const torch::Tensor bc = b.to(q.scalar_type()).contiguous();
    torch::Tensor dyc = torch::empty_like(yc), dzc = torch::empty_like(zc),
                  dbc = torch::empty_like(bc);
    AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "sbm_attention_backward", [&] {
      SbmBackwardParams<scalar_t> p;
      p.edges = EdgesOf(row_ptr, col, graphs, n_q, n_k);
      p.d = d;
      p.q = q.data_ptr<scalar_t>();
      p.k = k.data_ptr<scalar_t>();
      p.v = v.data_ptr<scalar_t>();
      p.out = out.data_ptr<scalar_t>();
      p.alpha = alpha.data_ptr<scalar_t>();
      p.grad_out = grad_out.data_ptr<scalar_t>();
      p.grad_edges = grad_edges.defined() ? grad_edges.data_ptr<scalar_t>() : nullptr;
      p.scale = static_cast<scalar_t>(1.0 / std::sqrt(static_cast<double>(d)));
      p.dropout = dropout;
      p.self_loops = self_loops;
      p.dq = dq.data_ptr<scalar_t>();
      p.dk = dk.data_ptr<scalar_t>();
      p.dv = dv.data_ptr<scalar_t>();
      p.dp = dp.data_ptr<scalar_t>();
      cpu::sbm_attention_backward(p);

      SbmMembershipBackwardParams<scalar_t> m;
      m.edges = p.edges;
      m.heads = heads;
      m.k = clusters;
      m.y = yc.data_ptr<scalar_t>();
      m.z = zc.data_ptr<scalar_t>();
      m.b = bc.data_ptr<scalar_t>();
      m.dp = dp.data_ptr<scalar_t>();
      m.dy = dyc.data_ptr<scalar_t>();
      m.dz = dzc.data_ptr<scalar_t>();
      m.db = dbc.data_ptr<scalar_t>();
      cpu::sbm_membership_backward(m);
    });
    return {dq,
            dk,
            dv,
            dyc.to(y.scalar_type()),
            dzc.to(z.scalar_type()),
            dbc.to(b.scalar_type()),
            torch::Tensor(),
            torch::Tensor()};
  }
};

}  // namespace

SbmOpResult sbm_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                          const torch::Tensor& y, const torch::Tensor& z, const torch::Tensor& b,
                          const torch::Tensor& key_valid, const torch::Tensor& query_valid,
                          const SbmOpOptions& options) {
  if (!q.defined() || q.dim() != 4) {
    Invalid("q: expected a 4-d tensor [batch, heads, n_q, d], got " +
            (q.defined() ? ShapeOf(q) : std::string("undefined")));
  }
  const torch::Device device = q.device();
  const torch::ScalarType dtype = q.scalar_type();
  if (device.is_cuda()) {
#if !defined(SBMT_TORCH_CUDA)
    Invalid("q is on " + device.str() +
            ", but this build has no CUDA attention: build with --config=cuda and a CUDA "
            "LibTorch (SBMT_LIBTORCH, see the README)");
#endif
    if (dtype != torch::kFloat32 && dtype != torch::kBFloat16 && dtype != torch::kFloat16) {
      Invalid(std::string("q: expected dtype float32, bfloat16 or float16 on CUDA, got ") +
              c10::toString(dtype));
    }
  } else if (!device.is_cpu()) {
    Invalid("q: expected a CPU or CUDA tensor, got device " + device.str());
  } else if (dtype != torch::kFloat32 && dtype != torch::kFloat64) {
    Invalid(std::string("q: expected dtype float or double, got ") + c10::toString(dtype));
  }
  const int64_t batch = q.size(0), heads = q.size(1), n_q = q.size(2), d = q.size(3);
  if (!k.defined() || k.dim() != 4) Invalid("k: expected a 4-d tensor [batch, heads, n_k, d]");
  if (!y.defined() || y.dim() != 4) Invalid("y: expected a 4-d tensor [batch, heads, n_q, k]");
  const int64_t n_k = k.size(2), clusters = y.size(3);
  // On the CPU every tensor has q's dtype; on CUDA the memberships may have another (autocast
  // computes them in bfloat16; the kernels read them as float32).
  const torch::ScalarType membership_dtype = device.is_cuda() ? c10::ScalarType::Undefined : dtype;
  CheckTensor("q", q, {batch, heads, n_q, d}, dtype, device);
  CheckTensor("k", k, {batch, heads, n_k, d}, dtype, device);
  CheckTensor("v", v, {batch, heads, n_k, d}, dtype, device);
  CheckTensor("y", y, {batch, heads, n_q, clusters}, membership_dtype, device);
  CheckTensor("z", z, {batch, heads, n_k, clusters}, membership_dtype, device);
  CheckTensor("b", b, {heads, clusters, clusters}, membership_dtype, device);
  CheckMask("key_valid", key_valid, batch, n_k, device);
  CheckMask("query_valid", query_valid, batch, n_q, device);
  if (!(options.dropout >= 0 && options.dropout < 1)) {
    Invalid("dropout: expected a probability in [0, 1), got " + std::to_string(options.dropout));
  }
  variable_list r =
      SbmAttentionFunction::apply(q, k, v, y, z, b, Masks{key_valid, query_valid}, options);
  return {r[0], r[1], r[2], r[3], r[4]};
}

}  // namespace sbmt::attention
