// Short causal depthwise convolution over time, forward and backward, on the CPU.
//
// x, y, dy, dx: (B, T, C)   weight, dweight: (C, W)   bias, dbias: (C)
//
//   pre[b, t, c] = bias[c] + sum_{j<W} weight[c, j] x[b, t - W + 1 + j, c]   (x = 0 at t < 0)
//   y = act(pre), act = identity or silu
//   g = dy * act'(pre)
//   dx[b, s, c]  = sum_j weight[c, j] g[b, s + W - 1 - j, c]   (terms past T dropped)
//   dweight[c, j] = sum_{b, t} g[b, t, c] x[b, t - W + 1 + j, c]
//   dbias[c]     = sum_{b, t} g[b, t, c]
//
// Threads: y, g and dx are split over (batch, block of time steps), each task
// writing its own rows; dweight and dbias are split over blocks of channels,
// each task reducing over every (b, t) for its channels only, so no element
// has two writers and the sums do not depend on the thread count. Sums
// accumulate in double and are rounded once.
#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "../ops/op_params.h"
#include "cpu_backend.h"
#include "parallel.h"

namespace linea {
namespace {

// Enough elements per task to amortize the pool's per-task cost (an atomic
// increment and a std::function call), few enough to balance the threads.
constexpr int64_t kElementsPerTask = int64_t(1) << 14;
// Channels per dweight task: a block spans several cache lines of each
// (b, t) row, and C = 3 * d_model still splits into many blocks.
constexpr int64_t kChannelsPerTask = 32;

// Calls fn(b, t_first, t_end) on blocks of time steps covering [0, B) x [0, Tn).
void parallel_time_blocks(int64_t B, int64_t Tn, int64_t C, const std::function<void(int64_t, int64_t, int64_t)>& fn) {
  const int64_t steps_per_task = std::max<int64_t>(1, kElementsPerTask / C);
  const int64_t blocks_per_batch = (Tn + steps_per_task - 1) / steps_per_task;
  parallel_for(B * blocks_per_batch, [&](int64_t task) {
    const int64_t b = task / blocks_per_batch;
    const int64_t first = (task % blocks_per_batch) * steps_per_task;
    fn(b, first, std::min(Tn, first + steps_per_task));
  });
}

double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);  // exp of a non-positive argument only: no overflow
  return e / (1.0 + e);
}

template <ConvActivation Act>
double activate(double pre) {
  if constexpr (Act == ConvActivation::silu) return pre * sigmoid(pre);
  else return pre;
}

template <ConvActivation Act>
double activation_grad(double pre) {
  if constexpr (Act == ConvActivation::silu) {
    const double s = sigmoid(pre);
    return s * (1.0 + pre * sigmoid(-pre));
  } else {
    return 1.0;
  }
}

// weight (C, W) -> (W, C), so that each tap's loop over channels is contiguous like x's rows.
template <class T>
std::vector<double> taps_by_channel(const T* weight, int64_t C, int64_t W) {
  std::vector<double> taps(static_cast<size_t>(W * C));
  for (int64_t c = 0; c < C; ++c)
    for (int64_t j = 0; j < W; ++j) taps[j * C + c] = double(weight[c * W + j]);
  return taps;
}

// pre[b, t, :] into `pre` (C values). Taps j < W - 1 - t would read x before time 0.
template <class T>
void conv_pre_activation(const T* x, const std::vector<double>& taps, const T* bias, int64_t b, int64_t t, int64_t Tn,
                         int64_t C, int64_t W, std::vector<double>& pre) {
  for (int64_t c = 0; c < C; ++c) pre[c] = bias ? double(bias[c]) : 0.0;
  for (int64_t j = std::max<int64_t>(0, W - 1 - t); j < W; ++j) {
    const T* x_row = x + (b * Tn + t - W + 1 + j) * C;
    const double* tap = taps.data() + j * C;
    for (int64_t c = 0; c < C; ++c) pre[c] += tap[c] * double(x_row[c]);
  }
}

// ---- forward -----------------------------------------------------------------

template <class T>
struct ShortConvFwdParams {
  const T* x;       // (B, T, C)
  const T* weight;  // (C, W)
  const T* bias;    // (C) or nullptr
  T* y;             // (B, T, C)
  int64_t B, Tn, C, W;
};

template <class T, ConvActivation Act>
void short_conv_fwd_impl(const ShortConvFwdParams<T>& p) {
  const std::vector<double> taps = taps_by_channel(p.weight, p.C, p.W);
  parallel_time_blocks(p.B, p.Tn, p.C, [&](int64_t b, int64_t t_first, int64_t t_end) {
    std::vector<double> pre(static_cast<size_t>(p.C));
    for (int64_t t = t_first; t < t_end; ++t) {
      conv_pre_activation(p.x, taps, p.bias, b, t, p.Tn, p.C, p.W, pre);
      T* y = p.y + (b * p.Tn + t) * p.C;
      for (int64_t c = 0; c < p.C; ++c) y[c] = static_cast<T>(activate<Act>(pre[c]));
    }
  });
}

template <class T>
void short_conv_fwd(OpCall& call) {
  ShortConvFwdParams<T> p{};
  p.x = call.input("x")->data<T>();
  p.weight = call.input("weight")->data<T>();
  p.bias = call.input("bias") ? call.input("bias")->data<T>() : nullptr;
  p.y = call.output("y")->data<T>();
  p.B = call.dims.at("B");
  p.Tn = call.dims.at("T");
  p.C = call.dims.at("C");
  p.W = call.dims.at("W");
  switch (short_conv_params(call).activation) {
    case ConvActivation::none: return short_conv_fwd_impl<T, ConvActivation::none>(p);
    case ConvActivation::silu: return short_conv_fwd_impl<T, ConvActivation::silu>(p);
  }
}

// ---- backward ----------------------------------------------------------------

template <class T>
struct ShortConvBwdParams {
  const T* x;       // (B, T, C)
  const T* weight;  // (C, W)
  const T* bias;    // (C) or nullptr
  const T* dy;      // (B, T, C)
  T* dx;            // (B, T, C)
  T* dweight;       // (C, W)
  T* dbias;         // (C) or nullptr
  int64_t B, Tn, C, W;
};

// g = dy * act'(pre): dy itself without an activation, else a (B, T, C)
// scratch in the tensor's type (the dx and dweight passes both read all of it).
template <class T, ConvActivation Act>
const T* pre_activation_grad(const ShortConvBwdParams<T>& p, const std::vector<double>& taps, std::vector<T>& storage) {
  if constexpr (Act == ConvActivation::none) {
    return p.dy;
  } else {
    storage.resize(static_cast<size_t>(p.B * p.Tn * p.C));
    parallel_time_blocks(p.B, p.Tn, p.C, [&](int64_t b, int64_t t_first, int64_t t_end) {
      std::vector<double> pre(static_cast<size_t>(p.C));
      for (int64_t t = t_first; t < t_end; ++t) {
        conv_pre_activation(p.x, taps, p.bias, b, t, p.Tn, p.C, p.W, pre);
        const int64_t row = (b * p.Tn + t) * p.C;
        for (int64_t c = 0; c < p.C; ++c)
          storage[row + c] = static_cast<T>(double(p.dy[row + c]) * activation_grad<Act>(pre[c]));
      }
    });
    return storage.data();
  }
}

// dx[b, s, :]: output times t = s + W - 1 - j that exist, i.e. j >= s + W - Tn.
template <class T>
void conv_input_grad(const ShortConvBwdParams<T>& p, const std::vector<double>& taps, const T* g) {
  parallel_time_blocks(p.B, p.Tn, p.C, [&](int64_t b, int64_t s_first, int64_t s_end) {
    std::vector<double> acc(static_cast<size_t>(p.C));
    for (int64_t s = s_first; s < s_end; ++s) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t j = std::max<int64_t>(0, s + p.W - p.Tn); j < p.W; ++j) {
        const T* g_row = g + (b * p.Tn + s + p.W - 1 - j) * p.C;
        const double* tap = taps.data() + j * p.C;
        for (int64_t c = 0; c < p.C; ++c) acc[c] += tap[c] * double(g_row[c]);
      }
      T* dx = p.dx + (b * p.Tn + s) * p.C;
      for (int64_t c = 0; c < p.C; ++c) dx[c] = static_cast<T>(acc[c]);
    }
  });
}

// dweight and dbias for channels [c_first, c_end) of each task, reduced over every (b, t).
template <class T>
void conv_weight_grad(const ShortConvBwdParams<T>& p, const T* g) {
  const int64_t tasks = (p.C + kChannelsPerTask - 1) / kChannelsPerTask;
  parallel_for(tasks, [&](int64_t task) {
    const int64_t c_first = task * kChannelsPerTask;
    const int64_t n = std::min(p.C, c_first + kChannelsPerTask) - c_first;
    std::vector<double> dw(static_cast<size_t>(p.W * n), 0.0);  // (W, n)
    std::vector<double> db(static_cast<size_t>(n), 0.0);
    for (int64_t b = 0; b < p.B; ++b)
      for (int64_t t = 0; t < p.Tn; ++t) {
        const T* g_row = g + (b * p.Tn + t) * p.C + c_first;
        for (int64_t c = 0; c < n; ++c) db[c] += double(g_row[c]);
        for (int64_t j = std::max<int64_t>(0, p.W - 1 - t); j < p.W; ++j) {
          const T* x_row = p.x + (b * p.Tn + t - p.W + 1 + j) * p.C + c_first;
          double* dw_tap = dw.data() + j * n;
          for (int64_t c = 0; c < n; ++c) dw_tap[c] += double(g_row[c]) * double(x_row[c]);
        }
      }
    for (int64_t c = 0; c < n; ++c) {
      for (int64_t j = 0; j < p.W; ++j) p.dweight[(c_first + c) * p.W + j] = static_cast<T>(dw[j * n + c]);
      if (p.dbias) p.dbias[c_first + c] = static_cast<T>(db[c]);
    }
  });
}

template <class T, ConvActivation Act>
void short_conv_bwd_impl(const ShortConvBwdParams<T>& p) {
  const std::vector<double> taps = taps_by_channel(p.weight, p.C, p.W);
  std::vector<T> g_storage;
  const T* g = pre_activation_grad<T, Act>(p, taps, g_storage);
  conv_input_grad(p, taps, g);
  conv_weight_grad(p, g);
}

template <class T>
void short_conv_bwd(OpCall& call) {
  ShortConvBwdParams<T> p{};
  p.x = call.input("x")->data<T>();
  p.weight = call.input("weight")->data<T>();
  p.bias = call.input("bias") ? call.input("bias")->data<T>() : nullptr;
  p.dy = call.input("dy")->data<T>();
  p.dx = call.output("dx")->data<T>();
  p.dweight = call.output("dweight")->data<T>();
  p.dbias = call.output("dbias") ? call.output("dbias")->data<T>() : nullptr;
  p.B = call.dims.at("B");
  p.Tn = call.dims.at("T");
  p.C = call.dims.at("C");
  p.W = call.dims.at("W");
  switch (short_conv_params(call).activation) {
    case ConvActivation::none: return short_conv_bwd_impl<T, ConvActivation::none>(p);
    case ConvActivation::silu: return short_conv_bwd_impl<T, ConvActivation::silu>(p);
  }
}

}  // namespace

void register_cpu_short_conv_kernels(Backend& backend) {
  backend.add_kernel("short_conv_fwd", DType::f32, short_conv_fwd<float>);
  backend.add_kernel("short_conv_fwd", DType::f64, short_conv_fwd<double>);
  backend.add_kernel("short_conv_bwd", DType::f32, short_conv_bwd<float>);
  backend.add_kernel("short_conv_bwd", DType::f64, short_conv_bwd<double>);
}

}  // namespace linea
