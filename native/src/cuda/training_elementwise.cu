// Elementwise ops on CUDA: unary (silu, sigmoid, softplus, ...), binary (add,
// mul, optionally broadcasting one [D] row) and in-place accumulate; the port
// of the CPU reference (src/cpu/training_elementwise.cpp).
//
// unary:      x, y, dy, dx: any shape (n elements)           y = alpha f(x), dx = dy alpha f'(x)
// binary:     a, y, dy, da: (R, D), R = product of *S       b, db: (R, D), or (D) with broadcast
// accumulate: dst, src: any shape (n elements)               dst += alpha src, in place
//
// Grid-stride loops over elements, kUnroll elements per thread per step
// (strided_unrolled, training_common.cuh). The
// unary and binary kinds are template parameters (no branch on them in the
// loops). Pointwise math runs in the accumulation type (float for f32 and
// bf16, double for f64), as the CPU runs it in the tensor's type. The
// broadcast db is a column sum in double, in two passes whose order depends
// only on the shape (deterministic): per (row chunk, 32 columns) block a
// partial row, then per column the partials in chunk order.
#include <cstdint>
#include <type_traits>

#include "../ops/op_params.h"
#include "cuda_backend.h"
#include "training_common.cuh"

namespace linea {
namespace {

using namespace cuda_training;

// ---- unary -------------------------------------------------------------------

// log(1 + exp(-|x|)), in (0, log 2]: exponentiates a non-positive argument only.
template <class A>
__device__ __forceinline__ A log1p_exp_neg_abs(A x) {
  return dev_log1p(dev_exp(-dev_abs(x)));
}

// sigmoid without overflow: exp of a non-positive argument only.
template <class A>
__device__ __forceinline__ A sigmoid(A x) {
  const A e = dev_exp(-dev_abs(x));
  return x >= A(0) ? A(1) / (A(1) + e) : e / (A(1) + e);
}

// std::max(x, 0) and std::min(x, 0) exactly (a NaN x passes through, as on the CPU).
template <class A>
__device__ __forceinline__ A max0(A x) {
  return x < A(0) ? A(0) : x;
}
template <class A>
__device__ __forceinline__ A min0(A x) {
  return A(0) < x ? A(0) : x;
}

template <UnaryKind Kind, class A>
__device__ __forceinline__ A unary_value(A x) {
  if constexpr (Kind == UnaryKind::identity) return x;
  else if constexpr (Kind == UnaryKind::silu) return x * sigmoid(x);
  else if constexpr (Kind == UnaryKind::sigmoid) return sigmoid(x);
  else if constexpr (Kind == UnaryKind::softplus) return max0(x) + log1p_exp_neg_abs(x);
  else if constexpr (Kind == UnaryKind::logsigmoid) return min0(x) - log1p_exp_neg_abs(x);
  else if constexpr (Kind == UnaryKind::exp) return dev_exp(x);
  else if constexpr (Kind == UnaryKind::neg_exp) return -dev_exp(x);
  else static_assert(Kind != Kind, "unary_value: a UnaryKind without a formula");
}

template <UnaryKind Kind, class A>
__device__ __forceinline__ A unary_grad(A x) {
  if constexpr (Kind == UnaryKind::identity) {
    return A(1);
  } else if constexpr (Kind == UnaryKind::silu) {
    const A s = sigmoid(x);
    return s * (A(1) + x * sigmoid(-x));  // 1 - s as sigmoid(-x): no cancellation for large x
  } else if constexpr (Kind == UnaryKind::sigmoid) {
    return sigmoid(x) * sigmoid(-x);  // s (1 - s) without cancellation for large |x|
  } else if constexpr (Kind == UnaryKind::softplus) {
    return sigmoid(x);
  } else if constexpr (Kind == UnaryKind::logsigmoid) {
    return sigmoid(-x);  // 1 - sigmoid(x) without cancellation for large x
  } else if constexpr (Kind == UnaryKind::exp) {
    return dev_exp(x);
  } else if constexpr (Kind == UnaryKind::neg_exp) {
    return -dev_exp(x);
  } else {
    static_assert(Kind != Kind, "unary_grad: a UnaryKind without a derivative");
  }
}

// The loaded inputs of one element (strided_unrolled).
template <class A>
struct Two {
  A first, second;
};
template <class A>
struct Three {
  A first, second, third;
};

// y = alpha f(x); x, y: (n)
template <class T, UnaryKind Kind>
__global__ void unary_fwd_kernel(const T* x, T* y, int64_t n, acc_t<T> alpha) {
  elementwise(
      n, [&](int64_t i) { return load(x, i); },
      [&](int64_t i, acc_t<T> xi) { store(y, i, alpha * unary_value<Kind>(xi)); });
}

// dx = dy (alpha f'(x)); x, dy, dx: (n)
template <class T, UnaryKind Kind>
__global__ void unary_bwd_kernel(const T* x, const T* dy, T* dx, int64_t n, acc_t<T> alpha) {
  using A = acc_t<T>;
  elementwise(
      n,
      [&](int64_t i) {
        return Two<A>{load(x, i), load(dy, i)};
      },
      [&](int64_t i, Two<A> v) { store(dx, i, v.second * (alpha * unary_grad<Kind>(v.first))); });
}

template <class T>
void unary_fwd(OpCall& call) {
  const CudaContext& ctx = cuda_context();
  const Tensor& x = *call.input("x");
  T* y = call.output("y")->data<T>();
  const int64_t n = x.numel();
  const UnaryParams u = unary_params(call);
  if (n == 0) return;
  const acc_t<T> alpha = static_cast<acc_t<T>>(u.alpha);
  with_unary_kind(u.kind, [&](auto kind) {
    unary_fwd_kernel<T, decltype(kind)::value><<<elementwise_blocks(n), 256, 0, ctx.stream>>>(x.data<T>(), y, n, alpha);
    LINEA_CUDA_CHECK_LAUNCH("unary_fwd_kernel");
  });
}

template <class T>
void unary_bwd(OpCall& call) {
  const CudaContext& ctx = cuda_context();
  const Tensor& x = *call.input("x");
  const T* dy = call.input("dy")->data<T>();
  T* dx = call.output("dx")->data<T>();
  const int64_t n = x.numel();
  const UnaryParams u = unary_params(call);
  if (n == 0) return;
  const acc_t<T> alpha = static_cast<acc_t<T>>(u.alpha);
  with_unary_kind(u.kind, [&](auto kind) {
    unary_bwd_kernel<T, decltype(kind)::value>
        <<<elementwise_blocks(n), 256, 0, ctx.stream>>>(x.data<T>(), dy, dx, n, alpha);
    LINEA_CUDA_CHECK_LAUNCH("unary_bwd_kernel");
  });
}

// ---- binary ------------------------------------------------------------------

template <class T>
struct BinaryArgs {
  const T* a;   // (R, D)
  const T* b;   // (R, D), or (D) with broadcast
  const T* dy;  // (R, D); backward only
  T* y;         // (R, D); forward only
  T* da;        // (R, D); backward only
  T* db;        // shaped like b; backward only
  int64_t R, D;
};

// Element i of a's (R, D) is column i % D: b's element is that column when broadcasting.
template <bool Broadcast>
__device__ __forceinline__ int64_t b_index(int64_t i, int64_t D) {
  return Broadcast ? i % D : i;
}

template <class T, BinaryKind Kind, bool Broadcast>
__global__ void binary_fwd_kernel(BinaryArgs<T> p) {
  using A = acc_t<T>;
  elementwise(
      p.R * p.D,
      [&](int64_t i) {
        return Two<A>{load(p.a, i), load(p.b, b_index<Broadcast>(i, p.D))};
      },
      [&](int64_t i, Two<A> v) { store(p.y, i, Kind == BinaryKind::add ? v.first + v.second : v.first * v.second); });
}

// da, and db where it is elementwise (no broadcast). Loads (dy, a, b), the
// last two only for mul.
template <class T, BinaryKind Kind, bool Broadcast>
__global__ void binary_bwd_kernel(BinaryArgs<T> p) {
  using A = acc_t<T>;
  constexpr bool kMul = Kind == BinaryKind::mul;
  elementwise(
      p.R * p.D,
      [&](int64_t i) {
        return Three<A>{load(p.dy, i), kMul ? load(p.a, i) : A(0), kMul ? load(p.b, b_index<Broadcast>(i, p.D)) : A(0)};
      },
      [&](int64_t i, Three<A> v) {
        store(p.da, i, kMul ? v.first * v.third : v.first);
        if constexpr (!Broadcast) store(p.db, i, kMul ? v.first * v.second : v.first);
      });
}

// Column sums of the broadcast db, pass 1. Block (32, 8), grid (ceil(D / 32),
// chunks): thread (tx, ty) sums column blockIdx.x * 32 + tx over rows
// ty, ty + 8, ... of its chunk; the 8 row partials are added in ty order.
// partial: (chunks, D) doubles.
constexpr int kColumnTile = 32;
constexpr int kRowLanes = 8;

template <class T, BinaryKind Kind>
__global__ void column_partials_kernel(BinaryArgs<T> p, int64_t rows_per_chunk, double* partial) {
  __shared__ double tile[kRowLanes][kColumnTile + 1];
  const int64_t d = blockIdx.x * int64_t(kColumnTile) + threadIdx.x;
  const int64_t chunk = blockIdx.y;
  const int64_t r_first = chunk * rows_per_chunk;
  const int64_t r_end = r_first + rows_per_chunk < p.R ? r_first + rows_per_chunk : p.R;
  double acc = 0;
  if (d < p.D) {
    for (int64_t r = r_first + threadIdx.y; r < r_end; r += kRowLanes) {
      const int64_t i = r * p.D + d;
      acc += Kind == BinaryKind::add ? double(load(p.dy, i)) : double(load(p.dy, i)) * double(load(p.a, i));
    }
  }
  tile[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && d < p.D) {
    double sum = tile[0][threadIdx.x];
    for (int y = 1; y < kRowLanes; ++y) sum += tile[y][threadIdx.x];
    partial[chunk * p.D + d] = sum;
  }
}

// Pass 2: db[d] = sum of partial[chunk, d] in chunk order, rounded once.
template <class T>
__global__ void column_totals_kernel(const double* partial, int64_t chunks, int64_t D, T* db) {
  for (int64_t d = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; d < D; d += int64_t(gridDim.x) * blockDim.x) {
    double sum = 0;
    for (int64_t c = 0; c < chunks; ++c) sum += partial[c * D + d];
    store(db, d, sum);
  }
}

template <class T, BinaryKind Kind>
void broadcast_db(const CudaContext& ctx, const BinaryArgs<T>& p) {
  // About 2048 blocks in all (enough for any GPU), at least 32 rows per
  // chunk, at most 1024 chunks; all from the shape, so the order is fixed.
  const int64_t column_blocks = (p.D + kColumnTile - 1) / kColumnTile;
  int64_t chunks = (p.R + 31) / 32;
  const int64_t want = (2048 + column_blocks - 1) / column_blocks;
  if (chunks > want) chunks = want;
  if (chunks > 1024) chunks = 1024;
  if (chunks < 1) chunks = 1;
  const int64_t rows_per_chunk = (p.R + chunks - 1) / chunks;
  if (rows_per_chunk > 0) chunks = (p.R + rows_per_chunk - 1) / rows_per_chunk;
  if (chunks < 1) chunks = 1;  // R = 0: one chunk of no rows, so db is written as zeros
  Tensor partial = ctx.scratch(Shape{chunks, p.D}, DType::f64);
  const dim3 grid(static_cast<unsigned>(column_blocks), static_cast<unsigned>(chunks));
  column_partials_kernel<T, Kind>
      <<<grid, dim3(kColumnTile, kRowLanes), 0, ctx.stream>>>(p, rows_per_chunk, partial.data<double>());
  LINEA_CUDA_CHECK_LAUNCH("column_partials_kernel");
  column_totals_kernel<T><<<grid_for(p.D), 256, 0, ctx.stream>>>(partial.data<double>(), chunks, p.D, p.db);
  LINEA_CUDA_CHECK_LAUNCH("column_totals_kernel");
}

template <class T>
void binary_fwd(OpCall& call) {
  const CudaContext& ctx = cuda_context();
  BinaryArgs<T> p{};
  const Tensor& a = *call.input("a");
  p.a = a.data<T>();
  p.b = call.input("b")->data<T>();
  p.y = call.output("y")->data<T>();
  p.D = call.dims.at("D");
  const int64_t n = a.numel();
  if (n == 0 || p.D == 0) return;
  p.R = n / p.D;
  const BinaryParams s = binary_params(call);
  with_binary_switches(s.kind, s.broadcast, [&](auto kind, auto broadcast) {
    binary_fwd_kernel<T, decltype(kind)::value, decltype(broadcast)::value>
        <<<elementwise_blocks(n), 256, 0, ctx.stream>>>(p);
    LINEA_CUDA_CHECK_LAUNCH("binary_fwd_kernel");
  });
}

template <class T>
void binary_bwd(OpCall& call) {
  const CudaContext& ctx = cuda_context();
  BinaryArgs<T> p{};
  const Tensor& a = *call.input("a");
  p.a = a.data<T>();
  p.b = call.input("b")->data<T>();
  p.dy = call.input("dy")->data<T>();
  p.da = call.output("da")->data<T>();
  p.db = call.output("db")->data<T>();
  p.D = call.dims.at("D");
  if (p.D == 0) return;  // every tensor is empty
  const int64_t n = a.numel();
  p.R = n / p.D;
  const BinaryParams s = binary_params(call);
  with_binary_switches(s.kind, s.broadcast, [&](auto kind, auto broadcast) {
    constexpr BinaryKind Kind = decltype(kind)::value;
    constexpr bool Broadcast = decltype(broadcast)::value;
    if (n > 0) {
      binary_bwd_kernel<T, Kind, Broadcast><<<elementwise_blocks(n), 256, 0, ctx.stream>>>(p);
      LINEA_CUDA_CHECK_LAUNCH("binary_bwd_kernel");
    }
    // With broadcast, db has D elements even when a has no rows (then zeros).
    if constexpr (Broadcast) broadcast_db<T, Kind>(ctx, p);
  });
}

// ---- accumulate (in place) -----------------------------------------------------

// dst = dst + alpha src in double, rounded once (alpha need not be
// representable in T). Each element is read and written by one thread, so
// src may be dst itself.
template <class T>
__global__ void accumulate_kernel(T* dst, const T* src, int64_t n, double alpha) {
  elementwise(
      n,
      [&](int64_t i) {
        return Two<double>{double(load(dst, i)), double(load(src, i))};
      },
      [&](int64_t i, Two<double> v) { store(dst, i, v.first + alpha * v.second); });
}

template <class T>
void accumulate(OpCall& call) {
  const CudaContext& ctx = cuda_context();
  const Tensor& dst = *call.input("dst");
  const T* src = call.input("src")->data<T>();
  const int64_t n = dst.numel();
  const double alpha = accumulate_params(call).alpha;
  if (n == 0) return;
  accumulate_kernel<T><<<elementwise_blocks(n), 256, 0, ctx.stream>>>(dst.data<T>(), src, n, alpha);
  LINEA_CUDA_CHECK_LAUNCH("accumulate_kernel");
}

template <class T>
void register_dtype(Backend& backend, DType dtype) {
  backend.add_kernel("unary_fwd", dtype, unary_fwd<T>);
  backend.add_kernel("unary_bwd", dtype, unary_bwd<T>);
  backend.add_kernel("binary_fwd", dtype, binary_fwd<T>);
  backend.add_kernel("binary_bwd", dtype, binary_bwd<T>);
  backend.add_kernel("accumulate", dtype, accumulate<T>);
}

}  // namespace

void register_cuda_training_elementwise_kernels(Backend& backend) {
  register_dtype<float>(backend, DType::f32);
  register_dtype<double>(backend, DType::f64);
  register_dtype<bf16>(backend, DType::bf16);
}

}  // namespace linea
