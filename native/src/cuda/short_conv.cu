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
// Two forms. The sliding-window kernels (f32 and bf16, C a multiple of 4,
// x, y, dy, dx aligned to 4 elements, W <= 8; the default where they apply):
// a thread owns a vector of 4 channels (16 bytes f32, 8 bytes bf16) over one
// slice of consecutive time steps of one sequence and walks the slice in
// order, keeping the last W inputs in registers, so each x and dy element is
// read about once (plus a halo of W - 1 rows at a slice's start, and in the
// backward W - 1 rows past its end for g) and each y, dx element written
// once. The backward is one kernel: g, dx and the slice's dweight / dbias
// sums in registers, added over the block's slices in a fixed order into
// (groups, W + 1, C) partials; a last kernel adds the groups in a fixed
// order. On the H200 (B * T = 32768, C = 1024, W = 4, silu, bias) they take
// the forward from 279 to 62 us and the backward from 1073 to 119 us in bf16
// (f32: 268 to 82, 985 to 143; bf16 without an activation: 252 to 43, 607 to
// 70). What is left over the memory floor (~35 / ~60 us in bf16) is mostly
// silu's expf and IEEE division, kept for the values of sigmoid_acc.
//
// The elementwise kernels (f64, other shapes, or LINEA_SHORT_CONV_KERNELS=
// elementwise): y, g and dx are grid-stride loops over (b, t, c), c fastest
// so a warp reads consecutive channels. g is dy itself without an
// activation, else an acc_t (B, T, C) scratch. dweight and dbias: block
// (channel tile, tap j or the bias, chunk of rows) sums its column over the
// chunk's rows (8 row lanes, added in lane order) into (chunks, W + 1, C)
// partials; a last kernel adds the chunks in order.
//
// Both are deterministic without atomics: every sum's order depends only on
// the shapes. Sums in acc_t (f32 for f32 / bf16, f64 for f64).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <type_traits>
#include <utility>

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

// ---- elementwise forward -------------------------------------------------------

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

// ---- elementwise backward ------------------------------------------------------

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

// ---- sliding-window kernels (f32, bf16) ---------------------------------------

constexpr int kMaxWindowTaps = 8;
// Time steps whose loads a thread issues before their arithmetic (memory-level
// parallelism), and blocks per SM the register budget is cut for, as measured
// best on the H200 (bf16, 32768 x 1024, W = 4, silu: forward 62 us at 3
// blocks against 70 at 2 or 4; backward 119 us against 185 at 1 block, and
// 130 with twice the steps ahead).
template <class T, int N>
constexpr int kFwdAhead = 64 / (N * int(sizeof(T)));  // 8 steps of 4 bf16, 4 of 4 f32
template <class T, int N>
constexpr int kBwdAhead = 32 / (N * int(sizeof(T)));  // per tensor (x and dy): 4 steps of 4 bf16, 2 of 4 f32
template <int W>
constexpr int kFwdMinBlocks = W <= 4   ? 3
                              : W <= 6 ? 2
                                       : 1;
template <int W>
constexpr int kBwdMinBlocks = W <= 4 ? 2 : 1;

// N consecutive channels of T as one vector load / store, unpacked to f32
// (bf16 stored rounded to nearest even, as `store`): 4 f32 (16 bytes), 4 bf16
// (8 bytes) or 8 bf16 (16 bytes; unused, see kWindowChannels).
template <class T, int N>
struct ChannelVec;
template <>
struct ChannelVec<float, 4> {
  using Raw = float4;
  static __device__ __forceinline__ Raw load(const float* p) { return __ldg(reinterpret_cast<const Raw*>(p)); }
  static __device__ __forceinline__ void unpack(const Raw& r, float* f) {
    f[0] = r.x, f[1] = r.y, f[2] = r.z, f[3] = r.w;
  }
  static __device__ __forceinline__ void store(float* p, const float* f) {
    *reinterpret_cast<Raw*>(p) = make_float4(f[0], f[1], f[2], f[3]);
  }
};
template <int N>
struct ChannelVec<bf16, N> {
  static_assert(N == 4 || N == 8, "4 or 8 bf16 channels per vector");
  using Raw = std::conditional_t<N == 8, uint4, uint2>;
  static __device__ __forceinline__ Raw load(const bf16* p) { return __ldg(reinterpret_cast<const Raw*>(p)); }
  static __device__ __forceinline__ void unpack(const Raw& r, float* f) {
    const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&r);
#pragma unroll
    for (int i = 0; i < N / 2; ++i) {
      const float2 v = __bfloat1622float2(h[i]);
      f[2 * i] = v.x, f[2 * i + 1] = v.y;
    }
  }
  static __device__ __forceinline__ void store(bf16* p, const float* f) {
    Raw r;
    __nv_bfloat162* h = reinterpret_cast<__nv_bfloat162*>(&r);
#pragma unroll
    for (int i = 0; i < N / 2; ++i) h[i] = __floats2bfloat162_rn(f[2 * i], f[2 * i + 1]);
    *reinterpret_cast<Raw*>(p) = r;
  }
};

// How the sliding-window kernels cut (B, T, C): per row `vectors` vectors of
// N channels; per sequence `per_seq` slices of `steps` consecutive
// time steps (the last one may be shorter). Thread (vector v, slice q), with
// v = blockIdx.x * blockDim.x + threadIdx.x and q = blockIdx.y * blockDim.y +
// threadIdx.y, owns v's channels over slice q = b * per_seq + (t0 / steps):
// a warp's lanes read consecutive vectors of a row. A block's slices may
// belong to different sequences; each thread keeps to its own.
struct ConvSlices {
  int64_t T, C;
  int64_t vectors;  // C / channels per vector
  int64_t steps;    // time steps per slice
  int64_t per_seq;  // slices per sequence: ceil(T / steps)
  int64_t slices;   // B * per_seq
};

// Thread (v, q)'s place: x's row (b, 0) at channel c0, and its time steps t0 <= t < t1.
struct SlicePlace {
  int64_t base, c0, t0, t1;
};
__device__ __forceinline__ SlicePlace slice_place(const ConvSlices& s, int64_t v, int64_t q, int n) {
  const int64_t b = q / s.per_seq;
  const int64_t t0 = (q - b * s.per_seq) * s.steps;
  const int64_t c0 = v * n;
  return {b * s.T * s.C + c0, c0, t0, t0 + s.steps < s.T ? t0 + s.steps : s.T};
}

// w[j][k] = weight[c0 + k, j], bi[k] = bias[c0 + k] (0 without a bias).
template <class T, int W, int N>
__device__ __forceinline__ void load_taps(const T* weight, const T* bias, int64_t c0, float (&w)[W][N],
                                          float (&bi)[N]) {
#pragma unroll
  for (int k = 0; k < N; ++k) {
#pragma unroll
    for (int j = 0; j < W; ++j) w[j][k] = to_acc(weight[(c0 + k) * W + j]);
    bi[k] = bias ? to_acc(bias[c0 + k]) : 0.0f;
  }
}

// The window before the walk's first step t0: xw[j] = x[t0 - W + 1 + j] for
// j < W - 1, zero before time 0 of the sequence (xs points at time 0).
template <class T, int N, int W>
__device__ __forceinline__ void load_halo(const T* xs, int64_t C, int64_t t0, float (&xw)[W][N]) {
#pragma unroll
  for (int j = 0; j < W; ++j) {
    const int64_t t = t0 - W + 1 + j;
    if (j < W - 1 && t >= 0) {
      ChannelVec<T, N>::unpack(ChannelVec<T, N>::load(xs + t * C), xw[j]);
    } else {
#pragma unroll
      for (int k = 0; k < N; ++k) xw[j][k] = 0.0f;
    }
  }
}

// window[j] = window[j + 1]: one time step on.
template <int W, int N>
__device__ __forceinline__ void shift_window(float (&window)[W][N]) {
#pragma unroll
  for (int j = 0; j + 1 < W; ++j)
#pragma unroll
    for (int k = 0; k < N; ++k) window[j][k] = window[j + 1][k];
}

// pre = bi + sum_j w[j] xw[j], taps in order (as conv_pre: x = 0 adds nothing).
template <int W, int N>
__device__ __forceinline__ float window_pre(const float (&w)[W][N], const float (&bi)[N], const float (&xw)[W][N],
                                            int k) {
  float pre = bi[k];
#pragma unroll
  for (int j = 0; j < W; ++j) pre += w[j][k] * xw[j][k];
  return pre;
}

// sigmoid_acc without its branch, the same value (1 / (1 + e^-x) for x >= 0,
// e^x / (1 + e^x) below, e from exp of a non-positive argument), so a warp
// whose lanes differ in sign does not run both sides.
__device__ __forceinline__ float sigmoid_flat(float x) {
  const float e = expf(-fabsf(x));
  return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
}

// Forward. Block (vx, 256 / vx), grid (ceil(vectors / vx), ceil(slices / (256 / vx))).
// Thread (v, q) walks its slice's steps in order: before step t, xw[j] holds
// x[t - W + 1 + j] for j < W - 1 (load_halo, then shift_window), step t loads
// x[t] into xw[W - 1] and writes y[t] with one vector store. The loads of U
// steps are issued before their arithmetic, for memory-level parallelism.
// y is the elementwise kernel's value bit for bit (same taps order, same
// sigmoid; the x = 0 taps add exact zeros).
template <class T, int N, int W, Act Activation, int U = kFwdAhead<T, N>, int MinBlocks = kFwdMinBlocks<W>>
__global__ void __launch_bounds__(kLayerThreads, MinBlocks)
    short_conv_fwd_window_kernel(const T* __restrict__ x, const T* __restrict__ weight, const T* __restrict__ bias,
                                 T* __restrict__ y, ConvSlices s) {
  using V = ChannelVec<T, N>;
  const int64_t v = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  const int64_t q = blockIdx.y * int64_t(blockDim.y) + threadIdx.y;
  if (v >= s.vectors || q >= s.slices) return;
  const SlicePlace p = slice_place(s, v, q, N);
  const T* xs = x + p.base;
  T* ys = y + p.base;
  float w[W][N], bi[N], xw[W][N];
  load_taps(weight, bias, p.c0, w, bi);
  load_halo<T>(xs, s.C, p.t0, xw);
  for (int64_t t = p.t0; t < p.t1; t += U) {
    typename V::Raw r[U];
#pragma unroll
    for (int u = 0; u < U; ++u) r[u] = t + u < p.t1 ? V::load(xs + (t + u) * s.C) : typename V::Raw{};
#pragma unroll
    for (int u = 0; u < U; ++u) {
      if (t + u >= p.t1) break;
      V::unpack(r[u], xw[W - 1]);
      float out[N];
#pragma unroll
      for (int k = 0; k < N; ++k) {
        const float pre = window_pre(w, bi, xw, k);
        if constexpr (Activation == Act::silu) out[k] = pre * sigmoid_flat(pre);
        else out[k] = pre;
      }
      V::store(ys + (t + u) * s.C, out);
      shift_window(xw);
    }
  }
}

// One of the backward's W + 1 parameter sums: the block's threads' N values
// (thread order = slice order within each vector) added per channel through
// shared memory, by thread `tid` for channel tid of the block's width =
// blockDim.x * N channels, into out[c] (c = the block's first channel + tid).
// Every thread of the block calls it (it syncs).
template <int N>
__device__ __forceinline__ void window_block_partial(const float (&vals)[N], float* red, float* out, int64_t c,
                                                     int64_t C) {
  const int tid = threadIdx.y * blockDim.x + threadIdx.x;
  const int width = blockDim.x * N;
  __syncthreads();  // the previous sum's readers are done with red
#pragma unroll
  for (int k = 0; k < N; ++k) red[tid * N + k] = vals[k];
  __syncthreads();
  if (tid < width && c < C) {
    float sum = 0.0f;
    for (int y = 0; y < int(blockDim.y); ++y) sum += red[y * width + tid];
    out[c] = sum;
  }
}

// Backward, one kernel; block and grid as the forward's. Thread (v, q) with
// slice t0 <= t < t1 walks t0 <= t <= t1 + W - 2: step t < T loads x[t] and
// dy[t] and forms g[t] = dy[t] act'(pre[t]) (dy[t] without an activation)
// from the x window; g = 0 at t >= T (the dropped terms); steps t >= t1 are
// the halo that only gives dx its g. After step t, gw[j] holds
// g[t - W + 1 + j], so dx[s] at s = t - W + 1 >= t0 is complete: sum_j w[j]
// g[s + W - 1 - j], taps in order (as short_conv_dx_kernel), one vector
// store. Steps t < t1 add g[t] x[t - W + 1 + j] into dw[j] and g[t] into db
// in registers. Then each of the W + 1 sums is added over the block's slices
// (window_block_partial) into partials[blockIdx.y, j, c], j = W the bias.
// silu' = s (1 + pre (1 - s)) with one sigmoid (the elementwise kernel takes
// sigmoid(-pre) for 1 - s: the same to an ulp or so of f32).
template <class T, int N, int W, Act Activation, int U = kBwdAhead<T, N>, int MinBlocks = kBwdMinBlocks<W>>
__global__ void __launch_bounds__(kLayerThreads, MinBlocks)
    short_conv_bwd_window_kernel(const T* __restrict__ x, const T* __restrict__ weight, const T* __restrict__ bias,
                                 const T* __restrict__ dy, T* __restrict__ dx, float* __restrict__ partials,
                                 ConvSlices s) {
  using V = ChannelVec<T, N>;
  __shared__ float red[kLayerThreads * N];
  const int64_t v = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  const int64_t q = blockIdx.y * int64_t(blockDim.y) + threadIdx.y;
  float dw[W][N], db[N];
#pragma unroll
  for (int k = 0; k < N; ++k) {
#pragma unroll
    for (int j = 0; j < W; ++j) dw[j][k] = 0.0f;
    db[k] = 0.0f;
  }
  if (v < s.vectors && q < s.slices) {
    const SlicePlace p = slice_place(s, v, q, N);
    const T* xs = x + p.base;
    const T* dys = dy + p.base;
    T* dxs = dx + p.base;
    float w[W][N], bi[N], xw[W][N], gw[W][N];
    load_taps(weight, bias, p.c0, w, bi);
    load_halo<T>(xs, s.C, p.t0, xw);
#pragma unroll
    for (int j = 0; j < W; ++j)
#pragma unroll
      for (int k = 0; k < N; ++k) gw[j][k] = 0.0f;  // g before t0: never reaches an output
    const int64_t last = p.t1 + W - 2;
    for (int64_t t = p.t0; t <= last; t += U) {
      typename V::Raw xr[U], dr[U];
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const bool in = t + u <= last && t + u < s.T;
        xr[u] = in ? V::load(xs + (t + u) * s.C) : typename V::Raw{};
        dr[u] = in ? V::load(dys + (t + u) * s.C) : typename V::Raw{};
      }
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const int64_t tu = t + u;
        if (tu > last) break;
        float d[N];
        V::unpack(xr[u], xw[W - 1]);
        V::unpack(dr[u], d);
#pragma unroll
        for (int k = 0; k < N; ++k) {
          float g = 0.0f;
          if (tu < s.T) {
            if constexpr (Activation == Act::silu) {
              const float pre = window_pre(w, bi, xw, k);
              const float sg = sigmoid_flat(pre);
              g = d[k] * (sg * (1.0f + pre * (1.0f - sg)));
            } else {
              g = d[k];
            }
          }
          gw[W - 1][k] = g;
          if (tu < p.t1) {
#pragma unroll
            for (int j = 0; j < W; ++j) dw[j][k] += g * xw[j][k];
            db[k] += g;
          }
        }
        if (tu >= p.t0 + W - 1) {
          float out[N];
#pragma unroll
          for (int k = 0; k < N; ++k) {
            float acc = 0.0f;
#pragma unroll
            for (int j = 0; j < W; ++j) acc += w[j][k] * gw[W - 1 - j][k];
            out[k] = acc;
          }
          V::store(dxs + (tu - W + 1) * s.C, out);
        }
        shift_window(xw);
        shift_window(gw);
      }
    }
  }
  const int64_t c = blockIdx.x * int64_t(blockDim.x) * N + threadIdx.y * blockDim.x + threadIdx.x;
  float* out = partials + int64_t(blockIdx.y) * (W + 1) * s.C;
#pragma unroll
  for (int j = 0; j < W; ++j) window_block_partial(dw[j], red, out + j * s.C, c, s.C);
  window_block_partial(db, red, out + W * s.C, c, s.C);
}

// The window backward's dweight and dbias. Grid ceil((W + 1) * C / 32),
// block (32, kConvLanes): entry e = (j, c) of the (groups, W + 1, C)
// partials; lane y adds groups y, y + kConvLanes, ... in order, then lane 0
// adds the lanes' sums in lane order into dweight[c, j] (j < W) or dbias[c].
template <class T>
__global__ void short_conv_window_total_kernel(const float* partials, int64_t groups, int64_t C, int64_t W, T* dweight,
                                               T* dbias) {
  __shared__ float lanes[kConvLanes][32];
  const int64_t n = (W + 1) * C;
  const int64_t e = blockIdx.x * int64_t(32) + threadIdx.x;
  float acc = 0.0f;
  if (e < n)
    for (int64_t k = threadIdx.y; k < groups; k += kConvLanes) acc += partials[k * n + e];
  lanes[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y != 0 || e >= n) return;
  float sum = 0.0f;
  for (int l = 0; l < kConvLanes; ++l) sum += lanes[l][threadIdx.x];
  const int64_t j = e / C, c = e - j * C;
  if (j < W) store(dweight, c * W + j, sum);
  else if (dbias) store(dbias, c, sum);
}

// ---- launch ------------------------------------------------------------------

// Whether the sliding-window kernels may run: LINEA_SHORT_CONV_KERNELS=elementwise
// forces the elementwise ones everywhere (to compare the two on a GPU).
bool short_conv_window_allowed() {
  static const char* forced = std::getenv("LINEA_SHORT_CONV_KERNELS");
  return !(forced && std::strcmp(forced, "elementwise") == 0);
}

template <class T>
constexpr bool kWindowType = std::is_same_v<T, float> || std::is_same_v<T, bf16>;

// Channels per thread (one vector): 4, so 16-byte f32 and 8-byte bf16 vectors
// (8 bf16 channels, 16 bytes, took twice the registers and ran at half the speed).
constexpr int kWindowChannels = 4;
// Time steps per slice. The forward's slices have kWindowSteps. The
// backward's start there and double, up to kMaxBwdSteps, while the grid keeps
// kWindowMinThreads threads (longer slices: less halo, fewer partials, but
// fewer threads; on the H200, bf16, C = 1024, silu: at B * T = 32768 128
// steps took 119 us against 125 at 64, at B * T = 8192 32 steps took 38 us
// against 53 at 64 and 92 at 128). Both
// double further while the grid has more than the caller's max_groups rows
// (the backward's partials: kMaxWindowGroups, as rows_per_chunk's 1024
// chunks). Shape only, so the backward's sums are the same on every run and
// device.
constexpr int64_t kWindowSteps = 32;
constexpr int64_t kMaxBwdSteps = 128;
constexpr int64_t kWindowMinThreads = 65536;
constexpr int64_t kMaxWindowGroups = 1024;
constexpr int64_t kMaxGridRows = 65535;  // gridDim.y

struct WindowLaunch {
  ConvSlices s;
  dim3 grid, block;
};

// The sliding-window cut of (B, T, C) and its launch shape: block (vx, 256 /
// vx), vx the power of two >= the row's vectors, at most 32; grid
// (ceil(vectors / vx), ceil(slices / (256 / vx))). False where the kernels do
// not apply: switched off, W > kMaxWindowTaps, no elements, C not a multiple
// of the vector, a row tensor not aligned to the vector, or more than max_groups
// grid rows even with one slice per sequence (B large, T short).
template <class T, int N>
bool window_launch(int64_t B, int64_t Tn, int64_t C, int64_t W, int64_t first_steps, int64_t max_steps,
                   int64_t max_groups, std::initializer_list<const void*> row_tensors, WindowLaunch& out) {
  if (!short_conv_window_allowed() || W < 1 || W > kMaxWindowTaps || B < 1 || Tn < 1 || C < 1 || C % N != 0)
    return false;
  for (const void* p : row_tensors)
    if (reinterpret_cast<uintptr_t>(p) % (N * sizeof(T)) != 0) return false;
  ConvSlices s{};
  s.T = Tn;
  s.C = C;
  s.vectors = C / N;
  int64_t vx = 1;
  while (vx < 32 && vx < s.vectors) vx *= 2;
  const int64_t ty = kLayerThreads / vx;
  s.steps = Tn < first_steps ? Tn : first_steps;
  while (s.steps < max_steps && s.steps < Tn &&
         B * ((Tn + 2 * s.steps - 1) / (2 * s.steps)) * s.vectors >= kWindowMinThreads)
    s.steps = 2 * s.steps < Tn ? 2 * s.steps : Tn;
  for (;;) {
    s.per_seq = (Tn + s.steps - 1) / s.steps;
    s.slices = B * s.per_seq;
    if ((s.slices + ty - 1) / ty <= max_groups || s.steps == Tn) break;
    s.steps = 2 * s.steps < Tn ? 2 * s.steps : Tn;
  }
  const int64_t groups = (s.slices + ty - 1) / ty, tiles = (s.vectors + vx - 1) / vx;
  if (groups > max_groups || tiles > INT32_MAX) return false;
  out = {s, dim3(static_cast<unsigned>(tiles), static_cast<unsigned>(groups)),
         dim3(static_cast<unsigned>(vx), static_cast<unsigned>(ty))};
  return true;
}

// f(std::integral_constant<int, W>{}) for 1 <= W <= kMaxWindowTaps.
template <class F>
void with_window_taps(int64_t W, F&& f) {
  switch (W) {
    case 1: return f(std::integral_constant<int, 1>{});
    case 2: return f(std::integral_constant<int, 2>{});
    case 3: return f(std::integral_constant<int, 3>{});
    case 4: return f(std::integral_constant<int, 4>{});
    case 5: return f(std::integral_constant<int, 5>{});
    case 6: return f(std::integral_constant<int, 6>{});
    case 7: return f(std::integral_constant<int, 7>{});
    case 8: return f(std::integral_constant<int, 8>{});
    default: return;  // window_launch refuses other W
  }
}

template <class T, int N>
void short_conv_fwd_window(const WindowLaunch& l, const T* x, const T* weight, const T* bias, T* y, int64_t W,
                           Act activation, cudaStream_t stream) {
  with_window_taps(W, [&](auto taps) {
    constexpr int Wc = decltype(taps)::value;
    if (activation == Act::silu)
      short_conv_fwd_window_kernel<T, N, Wc, Act::silu><<<l.grid, l.block, 0, stream>>>(x, weight, bias, y, l.s);
    else short_conv_fwd_window_kernel<T, N, Wc, Act::none><<<l.grid, l.block, 0, stream>>>(x, weight, bias, y, l.s);
  });
  LINEA_CUDA_CHECK_LAUNCH("short_conv_fwd_window_kernel");
}

// partials: l.grid.y * (W + 1) * C floats.
template <class T, int N>
void short_conv_bwd_window(const WindowLaunch& l, const T* x, const T* weight, const T* bias, const T* dy, T* dx,
                           T* dweight, T* dbias, float* partials, int64_t W, Act activation, cudaStream_t stream) {
  with_window_taps(W, [&](auto taps) {
    constexpr int Wc = decltype(taps)::value;
    if (activation == Act::silu)
      short_conv_bwd_window_kernel<T, N, Wc, Act::silu>
          <<<l.grid, l.block, 0, stream>>>(x, weight, bias, dy, dx, partials, l.s);
    else
      short_conv_bwd_window_kernel<T, N, Wc, Act::none>
          <<<l.grid, l.block, 0, stream>>>(x, weight, bias, dy, dx, partials, l.s);
  });
  LINEA_CUDA_CHECK_LAUNCH("short_conv_bwd_window_kernel");
  const int64_t n = (W + 1) * l.s.C;
  short_conv_window_total_kernel<T><<<static_cast<unsigned>((n + 31) / 32), dim3(32, kConvLanes), 0, stream>>>(
      partials, l.grid.y, l.s.C, W, dweight, dbias);
  LINEA_CUDA_CHECK_LAUNCH("short_conv_window_total_kernel");
}

template <class T>
void short_conv_fwd(OpCall& call) {
  const CudaContext& ctx = cuda_context();
  const int64_t B = call.dims.at("B"), Tn = call.dims.at("T"), C = call.dims.at("C"), W = call.dims.at("W");
  const int64_t n = call.input("x")->numel();
  if (n == 0) return;
  const T* x = call.input("x")->data<T>();
  const T* weight = call.input("weight")->data<T>();
  const T* bias = call.input("bias") ? call.input("bias")->data<T>() : nullptr;
  T* y = call.output("y")->data<T>();
  const Act activation = short_conv_params(call).activation;
  if constexpr (kWindowType<T>) {
    WindowLaunch l;
    if (window_launch<T, kWindowChannels>(B, Tn, C, W, kWindowSteps, kWindowSteps, kMaxGridRows, {x, y}, l))
      return short_conv_fwd_window<T, kWindowChannels>(l, x, weight, bias, y, W, activation, ctx.stream);
  }
  if (activation == Act::silu)
    short_conv_fwd_kernel<T, Act::silu>
        <<<layer_grid(n), kLayerThreads, 0, ctx.stream>>>(x, weight, bias, y, n, Tn, C, W);
  else
    short_conv_fwd_kernel<T, Act::none>
        <<<layer_grid(n), kLayerThreads, 0, ctx.stream>>>(x, weight, bias, y, n, Tn, C, W);
  LINEA_CUDA_CHECK_LAUNCH("short_conv_fwd_kernel");
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
  const int64_t B = call.dims.at("B"), Tn = call.dims.at("T"), C = call.dims.at("C"), W = call.dims.at("W");
  const int64_t rows = B * Tn;
  const int64_t n = rows * C;
  const Act activation = short_conv_params(call).activation;
  if constexpr (kWindowType<T>) {
    const T* x = call.input("x")->data<T>();
    const T* dy = call.input("dy")->data<T>();
    T* dx = call.output("dx")->data<T>();
    WindowLaunch l;
    if (window_launch<T, kWindowChannels>(B, Tn, C, W, kWindowSteps, kMaxBwdSteps, kMaxWindowGroups, {x, dy, dx}, l)) {
      Tensor partials = ctx.scratch(Shape{int64_t(l.grid.y) * (W + 1) * C}, DType::f32);
      return short_conv_bwd_window<T, kWindowChannels>(
          l, x, call.input("weight")->data<T>(), call.input("bias") ? call.input("bias")->data<T>() : nullptr, dy, dx,
          call.output("dweight")->data<T>(), call.output("dbias") ? call.output("dbias")->data<T>() : nullptr,
          partials.data<float>(), W, activation, ctx.stream);
    }
  }
  if (activation == Act::none) return short_conv_bwd_rest<T, T>(call, call.input("dy")->data<T>(), rows, Tn, C, W);
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
