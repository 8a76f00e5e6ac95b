// Fast CPU kernels of SBM attention on edges (math in sbm_attention_kernels.h).
//
// Work is split into (graph, row chunk) items whose size depends only on n_q, never on the
// thread count. Query-indexed outputs (dq, W, dY) belong to one item; key-indexed sums (dk, dv,
// dZ's U) are accumulated per item into private buffers and then added in item order. No two
// threads add into the same memory and every sum runs in a fixed order, so results are
// identical for any thread count. Inner loops run over the head dimension or the clusters,
// contiguous and vectorizable; the key rows of upcoming edges are prefetched, since the gathers
// are what bounds these loops.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "attention/sbm_attention_cpu_isa.h"
#include "attention/sbm_attention_kernels.h"
#include "attention/uninitialized_allocator.h"

// Built once per instruction set (see sbm_attention_cpu_isa.h); BUILD sets the namespace.
#ifndef SBMT_CPU_NAMESPACE
#error "compile with -DSBMT_CPU_NAMESPACE=cpu_generic, cpu_avx2 or cpu_avx512"
#endif

namespace sbmt::attention::SBMT_CPU_NAMESPACE {
namespace {

template <typename T>
inline T Dot(const T* a, const T* b, int64_t n) {
  T s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t c = 0; c < n; ++c) s += a[c] * b[c];
  return s;
}

template <typename T>
inline void Axpy(T alpha, const T* x, T* y, int64_t n) {
#pragma omp simd
  for (int64_t c = 0; c < n; ++c) y[c] += alpha * x[c];
}

// Vectors of T that may sit at any T-aligned address (as GCC's own __m256_u): the kernels keep a
// row's running sum in registers through them. Rows of the attention kernels (the head
// dimension) use 32-byte vectors; the membership pass (k-wide rows) uses kWideBytes: 64 in the
// AVX-512 build, where a 128-float row fits in 8 of its 32 registers and each edge needs half
// the instructions. Plain x86-64 builds split each vector into SSE registers.
#ifndef SBMT_WIDE_VEC_BYTES
#define SBMT_WIDE_VEC_BYTES 32
#endif
constexpr int kNarrowBytes = 32;
constexpr int kWideBytes = SBMT_WIDE_VEC_BYTES;
template <typename T, int Bytes = kNarrowBytes>
using Vec [[gnu::vector_size(Bytes), gnu::may_alias, gnu::aligned(alignof(T))]] = T;
template <typename T, int Bytes = kNarrowBytes>
constexpr int kVecWidth = Bytes / sizeof(T);
// Vectors per slice of the membership pass: 8 accumulators + the broadcast weight + two
// temporaries fit the 16 vector registers of AVX2.
constexpr int kSliceVecs = 8;

// Vectors in a row of compile-time width N when a whole row fits in kSliceVecs registers; 0
// otherwise (then the kernels update rows in memory).
template <typename T, int N>
constexpr int RowVecs() {
  return N > 0 && N % kVecWidth<T> == 0 && N / kVecWidth<T> <= kSliceVecs ? N / kVecWidth<T> : 0;
}

// Vector v of a row in memory, as a reference (returning a vector type by value changes the ABI,
// and GCC warns, in the plain x86-64 build).
template <typename T, int Bytes = kNarrowBytes>
inline Vec<T, Bytes>& RowVec(T* row, int v) {
  return *reinterpret_cast<Vec<T, Bytes>*>(row + v * kVecWidth<T, Bytes>);
}
template <typename T, int Bytes = kNarrowBytes>
inline const Vec<T, Bytes>& RowVec(const T* row, int v) {
  return *reinterpret_cast<const Vec<T, Bytes>*>(row + v * kVecWidth<T, Bytes>);
}

// x[v] = row[v] and row[v] = x[v], for the V vectors of a row held in registers.
template <typename T, int V, int Bytes = kNarrowBytes>
inline void LoadRow(Vec<T, Bytes>* x, const T* row) {
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) x[v] = RowVec<T, Bytes>(row, v);
}
template <typename T, int V, int Bytes = kNarrowBytes>
inline void StoreRow(const Vec<T, Bytes>* x, T* row) {
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) RowVec<T, Bytes>(row, v) = x[v];
}

// acc[v] += a * row[v]: a row in memory into one in registers.
template <typename T, int V, int Bytes = kNarrowBytes>
inline void AddScaledRow(Vec<T, Bytes>* acc, T a, const T* row) {
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) acc[v] += a * RowVec<T, Bytes>(row, v);
}

// row[v] += a * x[v]: a row in registers into one in memory.
template <typename T, int V, int Bytes = kNarrowBytes>
inline void AddScaledToRow(T* row, T a, const Vec<T, Bytes>* x) {
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) RowVec<T, Bytes>(row, v) += a * x[v];
}

// The sum of a vector's lanes, as a tree: the two halves added, then their halves, down to two
// lanes. Summing lane by lane made one chain of 8 dependent adds plus 7 shuffles, the largest
// part of a score at d = 32; the tree takes 3 adds.
template <typename T, int Bytes>
inline T LaneSum(const Vec<T, Bytes>& x) {
  if constexpr (Bytes == 2 * sizeof(T)) {
    return x[0] + x[1];
  } else {
    Vec<T, Bytes / 2> low, high;
    std::memcpy(&low, &x, Bytes / 2);
    std::memcpy(&high, reinterpret_cast<const char*>(&x) + Bytes / 2, Bytes / 2);
    return LaneSum<T, Bytes / 2>(low + high);
  }
}

// x · row for x held in V vectors (registers) and row in memory.
template <typename T, int V>
inline T DotRegisters(const Vec<T>* x, const T* row) {
  Vec<T> sum = x[0] * RowVec(row, 0);
#pragma GCC unroll 8
  for (int v = 1; v < V; ++v) sum += x[v] * RowVec(row, v);
  return LaneSum<T, kNarrowBytes>(sum);
}

// exp for the softmax: branch-free and inlinable, so the loop over a row's scores vectorizes
// (std::exp is a scalar library call). Cephes' expf polynomial: under 2 ulp on the range used.
inline float Exp(float x) {
  x = std::min(88.3f, std::max(-87.3f, x));
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float q = 1.9875691500e-4f;
  q = q * r + 1.3981999507e-3f;
  q = q * r + 8.3334519073e-3f;
  q = q * r + 4.1665795894e-2f;
  q = q * r + 1.6666665459e-1f;
  q = q * r + 5.0000001201e-1f;
  const float e = q * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;  // 2^n
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return e * scale;
}
inline double Exp(double x) { return std::exp(x); }

// C[R rows x 2 vectors] += A[R x inner] M[inner x 2 vectors], the accumulators in registers.
template <typename T, int R>
inline void MatMulAddBlock(int64_t inner, const T* A, int64_t lda, const T* M, int64_t ldm, T* C,
                           int64_t ldc) {
  using V = Vec<T, kWideBytes>;
  V acc[R][2];
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = V{};
  for (int64_t l = 0; l < inner; ++l) {
    const V m0 = RowVec<T, kWideBytes>(M + l * ldm, 0);
    const V m1 = RowVec<T, kWideBytes>(M + l * ldm, 1);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const T a = A[r * lda + l];
      acc[r][0] += a * m0;
      acc[r][1] += a * m1;
    }
  }
  for (int r = 0; r < R; ++r) {
    RowVec<T, kWideBytes>(C + r * ldc, 0) += acc[r][0];
    RowVec<T, kWideBytes>(C + r * ldc, 1) += acc[r][1];
  }
}

// C[rows x cols] += A[rows x inner] M[inner x cols] (row-major, leading dimensions given),
// register-blocked 6 rows x 2 wide vectors of columns (12 accumulators: the classic AVX2 block;
// with 64-byte vectors, twice the columns per instruction), so each loaded piece of M feeds six
// rows of A. Every output sums over `inner` in order, whatever the blocking. Used for the k x k
// products of the membership backward, which are dense and would otherwise cost as much as
// the edge sums.
template <typename T>
void MatMulAdd(int64_t rows, int64_t inner, int64_t cols, const T* A, int64_t lda, const T* M,
               int64_t ldm, T* C, int64_t ldc) {
  constexpr int kR = 6;
  constexpr int kC = 2 * kVecWidth<T, kWideBytes>;
  // One copy of the block per row count, so the last rows of a tile stay vectorized too.
  using Block = void (*)(int64_t, const T*, int64_t, const T*, int64_t, T*, int64_t);
  static constexpr Block kBlocks[kR] = {MatMulAddBlock<T, 1>, MatMulAddBlock<T, 2>,
                                        MatMulAddBlock<T, 3>, MatMulAddBlock<T, 4>,
                                        MatMulAddBlock<T, 5>, MatMulAddBlock<T, 6>};
  const int64_t vector_cols = cols - cols % kC;
  for (int64_t r0 = 0; r0 < rows; r0 += kR) {
    const T* a = A + r0 * lda;
    T* c = C + r0 * ldc;
    for (int64_t c0 = 0; c0 < vector_cols; c0 += kC) {
      kBlocks[std::min<int64_t>(kR, rows - r0) - 1](inner, a, lda, M + c0, ldm, c + c0, ldc);
    }
    // Columns past the last whole block (k not a multiple of 2 vectors).
    for (int64_t r = r0; r < std::min(rows, r0 + kR); ++r) {
      for (int64_t col = vector_cols; col < cols; ++col) {
        T sum = 0;
        for (int64_t l = 0; l < inner; ++l) sum += A[r * lda + l] * M[l * ldm + col];
        C[r * ldc + col] += sum;
      }
    }
  }
}

// Rows per work item: at most `max_items` items per graph, at least 512 rows each. Each item
// owns a private buffer for key-indexed sums, so fewer items cost less memory.
struct RowChunks {
  int64_t graphs, n_q, per_graph, rows;
  RowChunks(const SbmEdges& E, int64_t max_items) : graphs(E.graphs), n_q(E.n_q) {
    rows = std::max<int64_t>(512, (n_q + max_items - 1) / max_items);
    per_graph = (n_q + rows - 1) / rows;
  }
  int64_t items() const { return graphs * per_graph; }
  int64_t graph(int64_t item) const { return item / per_graph; }
  // Global row range [first, last) of an item.
  std::pair<int64_t, int64_t> range(int64_t item) const {
    const int64_t g = graph(item), c = item % per_graph;
    return {g * n_q + c * rows, g * n_q + std::min(n_q, (c + 1) * rows)};
  }
};

// Adds the per-item partial buffers ([items][n_k][width]) of each graph in item order into
// out ([graphs][n_k][width]).
template <typename T>
void ReducePartials(const RowChunks& chunks, int64_t n_k, int64_t width, const T* partial, T* out) {
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks.graphs * n_k; ++c) {
    const int64_t g = c / n_k, j = c % n_k;
    T* dst = out + c * width;
    std::fill(dst, dst + width, T(0));
    for (int64_t item = g * chunks.per_graph; item < (g + 1) * chunks.per_graph; ++item) {
      const T* src = partial + (item * n_k + j) * width;
#pragma omp simd
      for (int64_t x = 0; x < width; ++x) dst[x] += src[x];
    }
  }
}

// Per-item partial buffers, left uninitialized: each work item clears its own slice, in
// parallel, instead of one thread zero-filling (and faulting in) megabytes first.
template <typename T>
using Scratch = std::vector<T, UninitializedAllocator<T>>;

constexpr int kPrefetchDistance = 4;

// Keys per tile when a pass gathers key-indexed rows of `row_bytes` bytes (and updates as many):
// about 256 KB of each, so a tile's rows stay in L2 while the chunk's edges into it are visited.
inline int64_t KeyBlock(int64_t row_bytes) {
  return std::max<int64_t>(64, (int64_t{256} * 1024) / row_bytes);
}

// Width N > 0: the head dimension (or cluster count) is the compile-time constant N, so the
// row loops unroll into straight SIMD code; N = 0: any width, known at run time.
template <typename T, int N>
void ForwardImpl(const SbmForwardParams<T>& p) {
  const SbmEdges& E = p.edges;
  const int64_t d = N > 0 ? N : p.d;
  const T drop_scale = T(1) / (T(1) - static_cast<T>(p.dropout.p));
  const bool dropout = p.dropout.p > 0;
#pragma omp parallel for schedule(dynamic, 32)
  for (int64_t r = 0; r < E.graphs * E.n_q; ++r) {
    const int64_t g = r / E.n_q;
    const T* q_i = p.q + r * d;
    T* out_i = p.out + r * d;
    std::fill(out_i, out_i + d, T(0));
    const int64_t e0 = E.row_ptr[r];
    const int64_t e1 = E.row_ptr[r + 1];
    if (e0 == e1) continue;
    const T* k_g = p.k + g * E.n_k * d;
    const T* v_g = p.v + g * E.n_k * d;
    T row_max = -std::numeric_limits<T>::infinity();
    auto score_edges = [&](auto&& dot_q) {
      for (int64_t e = e0; e < e1; ++e) {
        if (e + kPrefetchDistance < e1) {
          __builtin_prefetch(k_g + E.col[e + kPrefetchDistance] * d);
          __builtin_prefetch(v_g + E.col[e + kPrefetchDistance] * d);
        }
        const T s = dot_q(k_g + E.col[e] * d) * p.scale;
        p.alpha[e] = s;
        row_max = std::max(row_max, s);
      }
    };
    if constexpr (RowVecs<T, N>() > 0) {
      // q_i in registers: the alpha stores could alias it, so it would be reloaded per edge.
      constexpr int V = RowVecs<T, N>();
      Vec<T> q[V];
      LoadRow<T, V>(q, q_i);
      score_edges([&](const T* k_j) { return DotRegisters<T, V>(q, k_j); });
    } else {
      score_edges([&](const T* k_j) { return Dot(q_i, k_j, d); });
    }
    T sum = 0;
    T* a = p.alpha;
#pragma omp simd reduction(+ : sum)
    for (int64_t e = e0; e < e1; ++e) {
      a[e] = Exp(a[e] - row_max);
      sum += a[e];
    }
    const T inv = T(1) / sum;
    if constexpr (RowVecs<T, N>() > 0) {
      // out_i in registers across the row (one chain of adds per element, no store-to-load
      // dependency through memory); the same order of additions as the loop below.
      constexpr int V = RowVecs<T, N>();
      Vec<T> acc[V];
      for (int v = 0; v < V; ++v) acc[v] = Vec<T>{};
      for (int64_t e = e0; e < e1; ++e) {
        p.alpha[e] *= inv;
        if (dropout && !sbm_dropout_keep(p.dropout, e)) continue;
        AddScaledRow<T, V>(acc, dropout ? p.alpha[e] * drop_scale : p.alpha[e], v_g + E.col[e] * d);
      }
      StoreRow<T, V>(acc, out_i);
    } else {
      for (int64_t e = e0; e < e1; ++e) {
        p.alpha[e] *= inv;
        if (dropout && !sbm_dropout_keep(p.dropout, e)) continue;
        Axpy(dropout ? p.alpha[e] * drop_scale : p.alpha[e], v_g + E.col[e] * d, out_i, d);
      }
    }
  }
}

// The per-row operands of the backward pass over a row's edges: q_i and g_i (read on every
// edge) and dq_i (summed over them). RegisterRow holds all three in V vectors each when the head
// dimension allows: the compiler cannot tell the dk/dv stores from q_i and g_i and would reload
// them after every edge. MemoryRow works on the rows in memory, for any width.
template <typename T, int V>
struct RegisterRow {
  Vec<T> q[V], g[V], dq[V];
  RegisterRow(const T* q_i, const T* g_i, const T* dq_i) {
    LoadRow<T, V>(q, q_i);
    LoadRow<T, V>(g, g_i);
    LoadRow<T, V>(dq, dq_i);
  }
  T DotG(const T* row) const { return DotRegisters<T, V>(g, row); }
  void AddToDq(T a, const T* k_j) { AddScaledRow<T, V>(dq, a, k_j); }
  void AddQTo(T a, T* row) const { AddScaledToRow<T, V>(row, a, q); }
  void AddGTo(T a, T* row) const { AddScaledToRow<T, V>(row, a, g); }
  void StoreDq(T* dq_i) const { StoreRow<T, V>(dq, dq_i); }
};

template <typename T>
struct MemoryRow {
  const T* q;
  const T* g;
  T* dq;
  int64_t d;
  T DotG(const T* row) const { return Dot(g, row, d); }
  void AddToDq(T a, const T* k_j) { Axpy(a, k_j, dq, d); }
  void AddQTo(T a, T* row) const { Axpy(a, q, row, d); }
  void AddGTo(T a, T* row) const { Axpy(a, g, row, d); }
  void StoreDq(T*) const {}
};

template <typename T, int N>
void BackwardImpl(const SbmBackwardParams<T>& p) {
  const SbmEdges& E = p.edges;
  const int64_t d = N > 0 ? N : p.d;
  const T drop_scale = T(1) / (T(1) - static_cast<T>(p.dropout.p));
  const bool dropout = p.dropout.p > 0;
  const RowChunks chunks(E, 2);
  // Per item: partial dk and dv, [n_k][d] each (each item clears its own). A graph of one item
  // (n_q up to 512: training's sequence lengths) sums straight into dk and dv instead: adding up
  // a single partial would only copy it.
  const bool direct = chunks.per_graph == 1;
  Scratch<T> part_dk(direct ? 0 : chunks.items() * E.n_k * d);
  Scratch<T> part_dv(direct ? 0 : chunks.items() * E.n_k * d);

#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t item = 0; item < chunks.items(); ++item) {
    const int64_t g = chunks.graph(item);
    const T* k_g = p.k + g * E.n_k * d;
    const T* v_g = p.v + g * E.n_k * d;
    T* dk_part = (direct ? p.dk : part_dk.data()) + item * E.n_k * d;
    T* dv_part = (direct ? p.dv : part_dv.data()) + item * E.n_k * d;
    std::fill(dk_part, dk_part + E.n_k * d, T(0));
    std::fill(dv_part, dv_part + E.n_k * d, T(0));
    const T grad_edges = p.grad_edges ? p.grad_edges[g] : T(0);
    const auto [first, last] = chunks.range(item);
    // D_i = g_i·out_i per row, and dq zeroed: dq_i accumulates over the key tiles below.
    std::vector<T> D(last - first);
    for (int64_t r = first; r < last; ++r) {
      D[r - first] = Dot(p.grad_out + r * d, p.out + r * d, d);
      std::fill(p.dq + r * d, p.dq + (r + 1) * d, T(0));
    }
    // Tiled by key blocks so the k, v, dk and dv rows being touched stay in cache; each row's
    // edges are still visited in ascending column order, so every sum runs in the same order.
    std::vector<int64_t> cursor(E.row_ptr + first, E.row_ptr + last);
    const int64_t key_block = KeyBlock(4 * d * static_cast<int64_t>(sizeof(T)));
    for (int64_t kb = 0; kb < E.n_k; kb += key_block) {
      const int64_t kb_end = std::min(E.n_k, kb + key_block);
      for (int64_t r = first; r < last; ++r) {
        const int64_t i = r - g * E.n_q;
        const T* q_i = p.q + r * d;
        const T* g_i = p.grad_out + r * d;
        T* dq_i = p.dq + r * d;
        const T D_i = D[r - first];
        const int64_t e1 = E.row_ptr[r + 1];
        const int64_t e0 = cursor[r - first];
        int64_t e = e0;
        while (e < e1 && E.col[e] < kb_end) ++e;
        cursor[r - first] = e;
        if (e == e0) continue;
        // Per edge: ds, dp, and the updates of dq_i, dk_j and dv_j.
        auto visit_edges = [&](auto& row) {
          for (int64_t edge = e0; edge < e; ++edge) {
            if (edge + kPrefetchDistance < e1) {
              const int64_t ahead = E.col[edge + kPrefetchDistance] * d;
              __builtin_prefetch(k_g + ahead);
              __builtin_prefetch(v_g + ahead);
              __builtin_prefetch(dk_part + ahead, 1);
              __builtin_prefetch(dv_part + ahead, 1);
            }
            const int64_t j = E.col[edge];
            const bool keep = !dropout || sbm_dropout_keep(p.dropout, edge);
            const T scale_e = keep ? drop_scale : T(0);
            const T gv = keep ? row.DotG(v_g + j * d) : T(0);
            const T ds = p.alpha[edge] * (gv * scale_e - D_i);
            row.AddToDq(ds * p.scale, k_g + j * d);
            row.AddQTo(ds * p.scale, dk_part + j * d);
            row.AddGTo(p.alpha[edge] * scale_e, dv_part + j * d);
            p.dp[edge] = p.self_loops && j == i ? T(0) : std::clamp(ds + grad_edges, T(-1), T(1));
          }
          row.StoreDq(dq_i);
        };
        if constexpr (RowVecs<T, N>() > 0) {
          RegisterRow<T, RowVecs<T, N>()> row(q_i, g_i, dq_i);
          visit_edges(row);
        } else {
          MemoryRow<T> row{q_i, g_i, dq_i, d};
          visit_edges(row);
        }
      }
    }
  }
  if (!direct) {
    ReducePartials(chunks, E.n_k, d, part_dk.data(), p.dk);
    ReducePartials(chunks, E.n_k, d, part_dv.data(), p.dv);
  }
}

// Prefetches the cache lines of `count` elements at `row`, for writing when kWrite.
template <bool kWrite = false, typename T>
inline void PrefetchRow(const T* row, int64_t count) {
  for (int64_t x = 0; x < count; x += 64 / static_cast<int64_t>(sizeof(T))) {
    __builtin_prefetch(row + x, kWrite ? 1 : 0);
  }
}

// The two halves of the membership pass over edges [e0, e1) of row i. With a compile-time
// width that splits into slices of kSliceVecs vectors, the row's own operand (W_i's running sum,
// or y_i) stays in registers across the edges; otherwise plain row updates. Every element sums
// over the edges in the same order either way, so the results are bitwise the same.
//
// W_i += Σ_e dp_e Z_{j(e)}: gathers key rows.
template <typename T, int N>
inline void GatherScaledRows(const int32_t* col, const T* dp, int64_t e0, int64_t e1, const T* z_g,
                             T* w_i, int64_t k) {
  using V = Vec<T, kWideBytes>;
  constexpr int kWidth = kVecWidth<T, kWideBytes>;
  constexpr int kSlice = kSliceVecs * kWidth;
  if constexpr (N > 0 && N % kSlice == 0) {
    for (int s = 0; s < N; s += kSlice) {
      V acc[kSliceVecs];
      LoadRow<T, kSliceVecs, kWideBytes>(acc, w_i + s);
      for (int64_t e = e0; e < e1; ++e) {
        if (e + kPrefetchDistance < e1) {
          PrefetchRow(z_g + col[e + kPrefetchDistance] * int64_t{N} + s, kSlice);
        }
        AddScaledRow<T, kSliceVecs, kWideBytes>(acc, dp[e], z_g + col[e] * int64_t{N} + s);
      }
      StoreRow<T, kSliceVecs, kWideBytes>(acc, w_i + s);
    }
  } else {
    for (int64_t e = e0; e < e1; ++e) {
      if (e + kPrefetchDistance < e1) PrefetchRow(z_g + col[e + kPrefetchDistance] * k, k);
      Axpy(dp[e], z_g + col[e] * k, w_i, k);
    }
  }
}

// U_{j(e)} += dp_e y_i: scatters into the rows of a key tile that starts at key j0.
template <typename T, int N>
inline void ScatterScaledRow(const int32_t* col, const T* dp, int64_t e0, int64_t e1, const T* y_i,
                             int64_t j0, T* u_tile, int64_t k) {
  using V = Vec<T, kWideBytes>;
  constexpr int kWidth = kVecWidth<T, kWideBytes>;
  constexpr int kSlice = kSliceVecs * kWidth;
  if constexpr (N > 0 && N % kSlice == 0) {
    for (int s = 0; s < N; s += kSlice) {
      // y_i's slice in locals: the compiler cannot tell the U stores from y_i, and would reload
      // it after every edge.
      V y[kSliceVecs];
      LoadRow<T, kSliceVecs, kWideBytes>(y, y_i + s);
      for (int64_t e = e0; e < e1; ++e) {
        if (e + kPrefetchDistance < e1) {
          PrefetchRow<true>(u_tile + (col[e + kPrefetchDistance] - j0) * int64_t{N} + s, kSlice);
        }
        AddScaledToRow<T, kSliceVecs, kWideBytes>(u_tile + (col[e] - j0) * int64_t{N} + s, dp[e],
                                                  y);
      }
    }
  } else {
    for (int64_t e = e0; e < e1; ++e) {
      if (e + kPrefetchDistance < e1) {
        PrefetchRow<true>(u_tile + (col[e + kPrefetchDistance] - j0) * k, k);
      }
      Axpy(dp[e], y_i, u_tile + (col[e] - j0) * k, k);
    }
  }
}

// dY = W Bᵀ, dZ = U B and dB = Yᵀ W with W = D Z and U = Dᵀ Y (D: the sparse dp matrix), in two
// passes over the edges, both tiled by blocks of keys so that the k-wide key rows being touched
// stay in cache:
//   - by row chunks: W_i in registers across each row's edges, then dY and a partial dB per
//     chunk; it also records where each row's edges into each key block start;
//   - by key blocks: U for the block's keys, summed over all rows of the graph in row order, in
//     a cache-sized tile, then dZ for those keys.
// Every sum runs in a fixed order, and no thread adds into another's memory: the results do not
// depend on the thread count, and no per-thread copies of U need clearing and adding up.
template <typename T, int N>
void MembershipBackwardImpl(const SbmMembershipBackwardParams<T>& p) {
  const SbmEdges& E = p.edges;
  const int64_t k = N > 0 ? N : p.k;
  const int64_t n_k = E.n_k;
  const int64_t key_block = KeyBlock(k * static_cast<int64_t>(sizeof(T)));
  const int64_t blocks = (n_k + key_block - 1) / key_block;
  const RowChunks chunks(E, 8);
  // block_start[r * (blocks + 1) + b]: row r's first edge into key block b; entry `blocks` is
  // the row's end.
  Scratch<int64_t> block_start(E.graphs * E.n_q * (blocks + 1));
  // Both written in full below, so left uninitialized: at training shapes (many graphs of a
  // few hundred rows) zero-filling them first cost as much as the rest of the pass.
  Scratch<T> part_db(chunks.items() * k * k);  // per row chunk: Yᵀ W over its rows
  Scratch<T> bt(p.heads * k * k);              // Bᵀ per head
  for (int64_t h = 0; h < p.heads; ++h) {
    for (int64_t u = 0; u < k; ++u) {
      for (int64_t v = 0; v < k; ++v) bt[(h * k + v) * k + u] = p.b[(h * k + u) * k + v];
    }
  }

#pragma omp parallel
  {
    std::vector<T> w;             // [chunk rows][k]: W_i of the item's rows
    std::vector<T> yt;            // [k][chunk rows]: the item's Y, transposed
    std::vector<int64_t> cursor;  // per row: next edge to visit
#pragma omp for schedule(dynamic, 1)
    for (int64_t item = 0; item < chunks.items(); ++item) {
      const int64_t g = chunks.graph(item);
      const T* z_g = p.z + g * n_k * k;
      T* db_part = part_db.data() + item * k * k;
      std::fill(db_part, db_part + k * k, T(0));
      const auto [first, last] = chunks.range(item);
      w.assign((last - first) * k, T(0));
      cursor.assign(E.row_ptr + first, E.row_ptr + last);
      for (int64_t b = 0; b < blocks; ++b) {
        const int64_t kb_end = std::min(n_k, (b + 1) * key_block);
        for (int64_t r = first; r < last; ++r) {
          const int64_t e1 = E.row_ptr[r + 1];
          const int64_t e0 = cursor[r - first];
          int64_t e = e0;
          while (e < e1 && E.col[e] < kb_end) ++e;
          cursor[r - first] = e;
          block_start[r * (blocks + 1) + b] = e0;
          GatherScaledRows<T, N>(E.col, p.dp, e0, e, z_g, w.data() + (r - first) * k, k);
        }
      }
      for (int64_t r = first; r < last; ++r)
        block_start[r * (blocks + 1) + blocks] = E.row_ptr[r + 1];
      // dY = W Bᵀ and dB += Yᵀ W for the item's rows, as blocked products.
      const int64_t rows = last - first;
      std::fill(p.dy + first * k, p.dy + last * k, T(0));
      MatMulAdd(rows, k, k, w.data(), k, bt.data() + (g % p.heads) * k * k, k, p.dy + first * k, k);
      yt.resize(k * rows);
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t u = 0; u < k; ++u) yt[u * rows + r] = p.y[(first + r) * k + u];
      }
      MatMulAdd(k, rows, k, yt.data(), rows, w.data(), k, db_part, k);
    }
  }
#pragma omp parallel
  {
    std::vector<T> u_tile;  // [keys of the block][k]
#pragma omp for schedule(dynamic, 1)
    for (int64_t item = 0; item < E.graphs * blocks; ++item) {
      const int64_t g = item / blocks;
      const int64_t b = item % blocks;
      const int64_t j0 = b * key_block;
      const int64_t keys = std::min(n_k, j0 + key_block) - j0;
      u_tile.assign(keys * k, T(0));
      for (int64_t r = g * E.n_q; r < (g + 1) * E.n_q; ++r) {
        const int64_t e0 = block_start[r * (blocks + 1) + b];
        const int64_t e1 = block_start[r * (blocks + 1) + b + 1];
        if (e0 < e1) ScatterScaledRow<T, N>(E.col, p.dp, e0, e1, p.y + r * k, j0, u_tile.data(), k);
      }
      T* dz = p.dz + (g * n_k + j0) * k;
      std::fill(dz, dz + keys * k, T(0));
      MatMulAdd(keys, k, k, u_tile.data(), k, p.b + (g % p.heads) * k * k, k, dz, k);
    }
  }
  // dB_h: the row chunks of every graph of head h, in order.
#pragma omp parallel for schedule(static)
  for (int64_t h = 0; h < p.heads; ++h) {
    T* db_h = p.db + h * k * k;
    std::fill(db_h, db_h + k * k, T(0));
    for (int64_t g = h; g < E.graphs; g += p.heads) {
      for (int64_t item = g * chunks.per_graph; item < (g + 1) * chunks.per_graph; ++item) {
        const T* src = part_db.data() + item * k * k;
#pragma omp simd
        for (int64_t x = 0; x < k * k; ++x) db_h[x] += src[x];
      }
    }
  }
}

// Common widths get their own unrolled copy; others run the generic loops.
#define SBMT_WIDTH_DISPATCH(impl, width, p) \
  switch (width) {                          \
    case 32:                                \
      return impl<T, 32>(p);                \
    case 64:                                \
      return impl<T, 64>(p);                \
    case 128:                               \
      return impl<T, 128>(p);               \
    default:                                \
      return impl<T, 0>(p);                 \
  }

}  // namespace

template <typename T>
void sbm_attention_forward(const SbmForwardParams<T>& p) {
  SBMT_WIDTH_DISPATCH(ForwardImpl, p.d, p);
}

template <typename T>
void sbm_attention_backward(const SbmBackwardParams<T>& p) {
  SBMT_WIDTH_DISPATCH(BackwardImpl, p.d, p);
}

template <typename T>
void sbm_membership_backward(const SbmMembershipBackwardParams<T>& p) {
  SBMT_WIDTH_DISPATCH(MembershipBackwardImpl, p.k, p);
}

SBMT_INSTANTIATE_KERNELS

}  // namespace sbmt::attention::SBMT_CPU_NAMESPACE
