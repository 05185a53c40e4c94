// Short causal depthwise convolution over time, forward and backward, on
// CUDA: the port of src/cpu/short_conv.cpp. No state in or out: the signal
// is zero before t = 0.
//
// x, y, dy, dx: (B, T, C)   weight, dweight: (C, W), W <= 64   bias, dbias: (C)
//
//   pre[b, t, c] = bias[c] + sum_{j<W} weight[c, j] x[b, t - W + 1 + j, c]   (x = 0 at t < 0)
//   y = act(pre), act = identity or silu
//   g = dy * act'(pre)
//   dx[b, s, c]  = sum_j weight[c, j] g[b, s + W - 1 - j, c]   (terms past T dropped)
//   dweight[c, j] = sum_{b, t} g[b, t, c] x[b, t - W + 1 + j, c]
//   dbias[c]     = sum_{b, t} g[b, t, c]
//
// y, g and dx: elementwise grid-stride loops over (b, t, c), c fastest so a
// warp reads consecutive channels. g is dy itself without an activation,
// else an acc_t (B, T, C) scratch. dweight and dbias, deterministic without
// atomics: block (channel tile, tap j or the bias, chunk of rows) sums its
// column over the chunk's rows (8 row lanes, added in lane order) into
// (chunks, W + 1, C) partials; a last kernel adds the chunks in order.
// Sums in acc_t (f32 for f32 / bf16, f64 for f64).
#include "../ops/op_params.h"
#include "cuda_backend.h"
#include "layer_common.cuh"

namespace linea {
namespace {

using Act = ConvActivation;

// pre[b, t, c] for element e = (b * T + t) * C + c.
template <class T>
__device__ __forceinline__ acc_t<T> conv_pre(const T* x, const T* weight, const T* bias, int64_t e, int64_t Tn,
                                             int64_t C, int64_t W) {
  using A = acc_t<T>;
  const int64_t row = e / C, c = e - row * C;
  const int64_t t = row % Tn;
  A pre = bias ? to_acc(bias[c]) : A(0);
  // Tap j reads time t - W + 1 + j: taps j < W - 1 - t would read before time 0.
  for (int64_t j = W - 1 - t > 0 ? W - 1 - t : 0; j < W; ++j)
    pre += to_acc(weight[c * W + j]) * to_acc(x[e + (j - W + 1) * C]);
  return pre;
}

// ---- forward -----------------------------------------------------------------

template <class T, Act Activation>
__global__ void short_conv_fwd_kernel(const T* x, const T* weight, const T* bias, T* y, int64_t n, int64_t Tn,
                                      int64_t C, int64_t W) {
  using A = acc_t<T>;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
    const A pre = conv_pre(x, weight, bias, e, Tn, C, W);
    if constexpr (Activation == Act::silu) store(y, e, pre * sigmoid_acc(pre));
    else store(y, e, pre);
  }
}

template <class T>
void short_conv_fwd(OpCall& call) {
  const CudaContext& ctx = cuda_context();
  const int64_t Tn = call.dims.at("T"), C = call.dims.at("C"), W = call.dims.at("W");
  const int64_t n = call.input("x")->numel();
  if (n == 0) return;
  const T* x = call.input("x")->data<T>();
  const T* weight = call.input("weight")->data<T>();
  const T* bias = call.input("bias") ? call.input("bias")->data<T>() : nullptr;
  T* y = call.output("y")->data<T>();
  if (short_conv_params(call).activation == Act::silu)
    short_conv_fwd_kernel<T, Act::silu>
        <<<layer_grid(n), kLayerThreads, 0, ctx.stream>>>(x, weight, bias, y, n, Tn, C, W);
  else
    short_conv_fwd_kernel<T, Act::none>
        <<<layer_grid(n), kLayerThreads, 0, ctx.stream>>>(x, weight, bias, y, n, Tn, C, W);
  LINEA_CUDA_CHECK_LAUNCH("short_conv_fwd_kernel");
}

// ---- backward ----------------------------------------------------------------

// g = dy * silu'(pre), into an acc_t scratch (B, T, C).
template <class T>
__global__ void short_conv_grad_pre_kernel(const T* x, const T* weight, const T* bias, const T* dy, acc_t<T>* g,
                                           int64_t n, int64_t Tn, int64_t C, int64_t W) {
  using A = acc_t<T>;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
    const A pre = conv_pre(x, weight, bias, e, Tn, C, W);
    const A s = sigmoid_acc(pre);
    g[e] = to_acc(dy[e]) * (s * (A(1) + pre * sigmoid_acc(-pre)));
  }
}

// dx[b, s, c]: output times t = s + W - 1 - j that exist, i.e. j >= s + W - T. G: T or acc_t<T>.
template <class T, class G>
__global__ void short_conv_dx_kernel(const G* g, const T* weight, T* dx, int64_t n, int64_t Tn, int64_t C, int64_t W) {
  using A = acc_t<T>;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = e / C, c = e - row * C;
    const int64_t s = row % Tn;
    A acc = 0;
    for (int64_t j = s + W - Tn > 0 ? s + W - Tn : 0; j < W; ++j)
      acc += to_acc(weight[c * W + j]) * to_acc(g[e + (W - 1 - j) * C]);
    store(dx, e, acc);
  }
}

constexpr int kConvLanes = 8;  // row lanes per block of the parameter-gradient partials

// Grid (ceil(C / 32), W + 1, chunks), block (32, kConvLanes). Block (tile, j, chunk)
// writes partials[chunk, j, tile's channels]: for j < W the sum of g * x at
// time t - W + 1 + j over the chunk's rows (b, t) (rows with t < W - 1 - j
// add nothing), for j = W the sum of g.
template <class T, class G>
__global__ void short_conv_param_partial_kernel(const G* g, const T* x, int64_t rows, int64_t Tn, int64_t C, int64_t W,
                                                int64_t rows_per_chunk, acc_t<T>* partials) {
  using A = acc_t<T>;
  __shared__ A lanes[kConvLanes][32];
  const int64_t c = int64_t(blockIdx.x) * 32 + threadIdx.x;
  const int64_t j = blockIdx.y;
  const int64_t first = int64_t(blockIdx.z) * rows_per_chunk;
  const int64_t end = first + rows_per_chunk < rows ? first + rows_per_chunk : rows;
  A acc = 0;
  if (c < C) {
    for (int64_t r = first + threadIdx.y; r < end; r += kConvLanes) {
      const A gv = to_acc(g[r * C + c]);
      if (j == W) {
        acc += gv;
      } else if (r % Tn >= W - 1 - j) {
        acc += gv * to_acc(x[(r - W + 1 + j) * C + c]);
      }
    }
  }
  lanes[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y != 0 || c >= C) return;
  A sum = 0;
  for (int l = 0; l < kConvLanes; ++l) sum += lanes[l][threadIdx.x];
  partials[(int64_t(blockIdx.z) * (W + 1) + j) * C + c] = sum;
}

// Over (W + 1) * C entries (j, c): the chunks' partials added in order, into
// dweight[c, j] (j < W) or dbias[c] (j = W, when requested).
template <class T>
__global__ void short_conv_param_total_kernel(const acc_t<T>* partials, int64_t chunks, int64_t C, int64_t W,
                                              T* dweight, T* dbias) {
  const int64_t n = (W + 1) * C;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = e / C, c = e - j * C;
    acc_t<T> sum = 0;
    for (int64_t k = 0; k < chunks; ++k) sum += partials[k * n + e];
    if (j < W) store(dweight, c * W + j, sum);
    else if (dbias) store(dbias, c, sum);
  }
}

template <class T, class G>
void short_conv_bwd_rest(OpCall& call, const G* g, int64_t rows, int64_t Tn, int64_t C, int64_t W) {
  using A = acc_t<T>;
  const CudaContext& ctx = cuda_context();
  const int64_t n = rows * C;
  if (n > 0) {
    short_conv_dx_kernel<T, G><<<layer_grid(n), kLayerThreads, 0, ctx.stream>>>(
        g, call.input("weight")->data<T>(), call.output("dx")->data<T>(), n, Tn, C, W);
    LINEA_CUDA_CHECK_LAUNCH("short_conv_dx_kernel");
  }
  if ((W + 1) * C == 0) return;  // dweight and dbias are empty
  const int64_t per_chunk = rows_per_chunk(rows, 256);
  const int64_t chunks = (rows + per_chunk - 1) / per_chunk;  // 0 when there are no rows: zero gradients
  Tensor partials = ctx.scratch(Shape{chunks > 0 ? chunks * (W + 1) * C : 1}, sizeof(A) == 8 ? DType::f64 : DType::f32);
  if (chunks > 0) {
    const dim3 grid(static_cast<unsigned>((C + 31) / 32), static_cast<unsigned>(W + 1), static_cast<unsigned>(chunks));
    short_conv_param_partial_kernel<T, G><<<grid, dim3(32, kConvLanes), 0, ctx.stream>>>(
        g, call.input("x")->data<T>(), rows, Tn, C, W, per_chunk, partials.data<A>());
    LINEA_CUDA_CHECK_LAUNCH("short_conv_param_partial_kernel");
  }
  T* dbias = call.output("dbias") ? call.output("dbias")->data<T>() : nullptr;
  short_conv_param_total_kernel<T><<<layer_grid((W + 1) * C), kLayerThreads, 0, ctx.stream>>>(
      partials.data<A>(), chunks, C, W, call.output("dweight")->data<T>(), dbias);
  LINEA_CUDA_CHECK_LAUNCH("short_conv_param_total_kernel");
}

template <class T>
void short_conv_bwd(OpCall& call) {
  const CudaContext& ctx = cuda_context();
  const int64_t Tn = call.dims.at("T"), C = call.dims.at("C"), W = call.dims.at("W");
  const int64_t rows = call.dims.at("B") * Tn;
  const int64_t n = rows * C;
  if (short_conv_params(call).activation == Act::none)
    return short_conv_bwd_rest<T, T>(call, call.input("dy")->data<T>(), rows, Tn, C, W);
  using A = acc_t<T>;
  Tensor g = ctx.scratch(Shape{n > 0 ? n : 1}, sizeof(A) == 8 ? DType::f64 : DType::f32);
  if (n > 0) {
    short_conv_grad_pre_kernel<T>
        <<<layer_grid(n), kLayerThreads, 0, ctx.stream>>>(call.input("x")->data<T>(), call.input("weight")->data<T>(),
                                                          call.input("bias") ? call.input("bias")->data<T>() : nullptr,
                                                          call.input("dy")->data<T>(), g.data<A>(), n, Tn, C, W);
    LINEA_CUDA_CHECK_LAUNCH("short_conv_grad_pre_kernel");
  }
  short_conv_bwd_rest<T, A>(call, g.data<A>(), rows, Tn, C, W);
}

}  // namespace

void register_cuda_short_conv_kernels(Backend& backend) {
  LINEA_REGISTER_ALL_DTYPES(backend, "short_conv_fwd", short_conv_fwd);
  LINEA_REGISTER_ALL_DTYPES(backend, "short_conv_bwd", short_conv_bwd);
}

}  // namespace linea
