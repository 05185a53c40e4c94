// Rotary position embedding ("rotate half", GPT-NeoX / Llama) on the CPU.
//
// x, y: (B, T, H, D), D even, half = D / 2
//
//   theta[t, i] = (offset + t) * base^(-2i / D)             i < half
//   y_i        = x_i cos(theta) - x_{i+half} sin(theta)
//   y_{i+half} = x_{i+half} cos(theta) + x_i sin(theta)
//
// inverse rotates by -theta (sin negated): the inverse of the forward and,
// the rotation being orthogonal, its backward. There is no separate bwd op.
//
// Threads: a (T, half) table of cos and sin, in double, is filled over blocks
// of time steps, then rows (b, t, h) are rotated over blocks of rows.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "../ops/op_params.h"
#include "cpu_backend.h"
#include "parallel.h"

namespace linea {
namespace {

// Enough elements per task to amortize the pool's per-task cost, few enough
// to balance the threads.
constexpr int64_t kElementsPerTask = int64_t(1) << 14;

template <class T>
struct RotaryArgs {
  const T* x;  // (B, T, H, D)
  T* y;        // (B, T, H, D)
  int64_t B, Tn, H, D;
  RotaryParams params;  // base, offset, inverse (src/ops/op_params.h)
};

// cos and sin of theta[t, i], (T, half) each; sin negated for the inverse.
struct RotaryTable {
  std::vector<double> cos, sin;
};

template <class T>
RotaryTable rotary_table(const RotaryArgs<T>& p) {
  const int64_t half = p.D / 2;
  std::vector<double> inv_freq(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) inv_freq[i] = std::pow(p.params.base, -2.0 * double(i) / double(p.D));
  RotaryTable table;
  table.cos.resize(static_cast<size_t>(p.Tn * half));
  table.sin.resize(static_cast<size_t>(p.Tn * half));
  const double sign = p.params.inverse ? -1.0 : 1.0;
  const int64_t steps_per_task = std::max<int64_t>(1, kElementsPerTask / half);
  parallel_for((p.Tn + steps_per_task - 1) / steps_per_task, [&](int64_t task) {
    const int64_t first = task * steps_per_task;
    const int64_t end = std::min(p.Tn, first + steps_per_task);
    for (int64_t t = first; t < end; ++t) {
      const double position = double(p.params.offset + t);
      for (int64_t i = 0; i < half; ++i) {
        const double theta = position * inv_freq[i];
        table.cos[t * half + i] = std::cos(theta);
        table.sin[t * half + i] = sign * std::sin(theta);
      }
    }
  });
  return table;
}

template <class T>
void rotary_fwd_impl(const RotaryArgs<T>& p) {
  const RotaryTable table = rotary_table(p);
  const int64_t half = p.D / 2;
  const int64_t rows = p.B * p.Tn * p.H;
  const int64_t rows_per_task = std::max<int64_t>(1, kElementsPerTask / p.D);
  parallel_for((rows + rows_per_task - 1) / rows_per_task, [&](int64_t task) {
    const int64_t first = task * rows_per_task;
    const int64_t end = std::min(rows, first + rows_per_task);
    for (int64_t r = first; r < end; ++r) {
      const int64_t t = (r / p.H) % p.Tn;  // r = (b * T + t) * H + h
      const double* cos = table.cos.data() + t * half;
      const double* sin = table.sin.data() + t * half;
      const T* x = p.x + r * p.D;
      T* y = p.y + r * p.D;
      for (int64_t i = 0; i < half; ++i) {
        const double lo = double(x[i]), hi = double(x[i + half]);
        y[i] = static_cast<T>(lo * cos[i] - hi * sin[i]);
        y[i + half] = static_cast<T>(hi * cos[i] + lo * sin[i]);
      }
    }
  });
}

template <class T>
void rotary_fwd(OpCall& call) {
  RotaryArgs<T> p{};
  p.x = call.input("x")->data<T>();
  p.y = call.output("y")->data<T>();
  p.B = call.dims.at("B");
  p.Tn = call.dims.at("T");
  p.H = call.dims.at("H");
  p.D = call.dims.at("D");
  p.params = rotary_params(call);
  rotary_fwd_impl(p);
}

}  // namespace

void register_cpu_rotary_kernels(Backend& backend) {
  backend.add_kernel("rotary_fwd", DType::f32, rotary_fwd<float>);
  backend.add_kernel("rotary_fwd", DType::f64, rotary_fwd<double>);
}

}  // namespace linea
