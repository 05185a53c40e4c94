// The launchers of the recurrent CUDA mixer (mixer_recurrent.cu has the
// design): templates over the storage type T, instantiated once per dtype in
// mixer_recurrent_{f32,f64,bf16}.cu, so the three dtypes' many kernel variants
// compile in parallel (one file took 90 s alone, the longest step of a GPU
// build).
#pragma once

#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "cuda_check.h"
#include "cuda_context.h"
#include "mixer_recurrent_api.cuh"
#include "mixer_recurrent_bwd.cuh"
#include "mixer_recurrent_fwd.cuh"
#include "mixer_recurrent_launch.h"

namespace linea::cuda_mixer {

static_assert(kCudaMixerRecurrentMaxK == kMaxK, "mixer_recurrent_api.cuh and mixer_recurrent_step.cuh disagree");

// The call's tensors and the switches the kernels branch on.
template <class T>
RecArgs<T> make_args(OpCall& call, const MixerParams& p) {
  RecArgs<T> x;
  x.p = p;
  x.den_on = p.has_denominator();
  x.decays = p.gate_dims() > 0;
  x.vector_gate = p.gate == MixerGate::vector;
  x.write_weight = p.has_write_weight();
  x.tiles = p.V > 0 ? (p.V + kCols - 1) / kCols : 1;  // tile 0 also carries z when V = 0
  auto in = [&](const char* name) -> const T* {
    const Tensor* t = call.input(name);
    return t ? t->data<T>() : nullptr;
  };
  auto out = [&](const char* name) -> T* {
    Tensor* t = call.output(name);
    return t ? t->data<T>() : nullptr;
  };
  x.q = in("q"), x.k = in("k"), x.v = in("v"), x.g = in("g"), x.i = in("i"), x.beta = in("beta");
  x.s0 = in("s0"), x.z0 = in("z0"), x.m0 = in("m0");
  x.d_o = in("do"), x.ds_final = in("ds_final"), x.dz_final = in("dz_final");
  x.o = out("o"), x.s_final = out("s_final"), x.z_final = out("z_final"), x.m_final = out("m_final");
  x.dq = out("dq"), x.dk = out("dk"), x.dv = out("dv"), x.dg = out("dg"), x.di = out("di"), x.dbeta = out("dbeta");
  x.ds0 = out("ds0"), x.dz0 = out("dz0");
  return x;
}

// n elements of scratch in the accumulation type, kept alive by `keep` until
// the launcher returns (the release is stream-ordered after the kernels).
template <class T>
acc_t<T>* scratch(std::vector<Tensor>& keep, int64_t n) {
  const DType acc = std::is_same<acc_t<T>, double>::value ? DType::f64 : DType::f32;
  keep.push_back(cuda_context().scratch(Shape{n}, acc));
  return keep.back().data<acc_t<T>>();
}

// Refuses what the kernels cannot run (the registration's predicate refuses it first).
inline void check_dims(const char* op, const MixerParams& p) {
  if (p.K > kMaxK)
    throw OpError(std::string(op) + " on CUDA (recurrent path): K = " + std::to_string(p.K) +
                  " is over the largest key dim " + std::to_string(kMaxK) +
                  " (the state rows are kept in registers); use K <= " + std::to_string(kMaxK) + " or the CPU backend");
  if ((p.V + kCols - 1) / kCols > 65535)
    throw OpError(std::string(op) + " on CUDA (recurrent path): V = " + std::to_string(p.V) + " is over " +
                  std::to_string(int64_t(65535) * kCols) + " (one grid row per 32 value columns)");
}

// Grid (BH, tiles) of the per-column-tile kernels.
template <class T>
dim3 tile_grid(const RecArgs<T>& x) {
  return dim3(static_cast<unsigned>(x.p.B * x.p.H), static_cast<unsigned>(x.tiles));
}

// Key rows per warp: the smallest of 8, 16, 32, 64 with K <= kWarps * rows.
template <class T>
void launch_forward_kernel(const RecArgs<T>& x) {
  const CudaContext& ctx = cuda_context();
  const dim3 grid = tile_grid(x);
  if (x.p.K <= kWarps * 8) forward_kernel<T, 8><<<grid, kThreads, 0, ctx.stream>>>(x);
  else if (x.p.K <= kWarps * 16) forward_kernel<T, 16><<<grid, kThreads, 0, ctx.stream>>>(x);
  else if (x.p.K <= kWarps * 32) forward_kernel<T, 32><<<grid, kThreads, 0, ctx.stream>>>(x);
  else forward_kernel<T, 64><<<grid, kThreads, 0, ctx.stream>>>(x);
  LINEA_CUDA_CHECK_LAUNCH("mixer forward_kernel");
}

template <class T>
void launch_reverse_kernel(const RecArgs<T>& x) {
  const CudaContext& ctx = cuda_context();
  const dim3 grid = tile_grid(x);
  if (x.p.K <= kWarps * 8) reverse_kernel<T, 8><<<grid, kThreads, 0, ctx.stream>>>(x);
  else if (x.p.K <= kWarps * 16) reverse_kernel<T, 16><<<grid, kThreads, 0, ctx.stream>>>(x);
  else if (x.p.K <= kWarps * 32) reverse_kernel<T, 32><<<grid, kThreads, 0, ctx.stream>>>(x);
  else reverse_kernel<T, 64><<<grid, kThreads, 0, ctx.stream>>>(x);
  LINEA_CUDA_CHECK_LAUNCH("mixer reverse_kernel");
}

// The exp gate's stabilizer m_t into x.m (and m_final); needs B*H > 0.
template <class T>
void launch_stabilizer(RecArgs<T>& x, std::vector<Tensor>& keep) {
  const MixerParams& p = x.p;
  x.m = scratch<T>(keep, p.B * p.H * p.T);
  stabilizer_kernel<T><<<static_cast<unsigned>(p.B * p.H), kCols, 0, cuda_context().stream>>>(x);
  LINEA_CUDA_CHECK_LAUNCH("mixer stabilizer_kernel");
}

template <class T>
void recurrent_fwd(OpCall& call, const MixerParams& p) {
  check_dims("mixer_fwd", p);
  // With B*H = 0 every output (o, s_final, z_final, m_final) is empty.
  if (p.B * p.H == 0) return;
  RecArgs<T> x = make_args<T>(call, p);
  std::vector<Tensor> keep;
  if (p.input_gate == MixerInputGate::exp) launch_stabilizer(x, keep);
  launch_forward_kernel(x);
}

template <class T>
void recurrent_bwd(OpCall& call, const MixerParams& p) {
  check_dims("mixer_bwd", p);
  const CudaContext& ctx = cuda_context();
  RecArgs<T> x = make_args<T>(call, p);
  std::vector<Tensor> keep;
  const int64_t BH = p.B * p.H, BTH = p.B * p.T * p.H, K = p.K, V = p.V, T_ = p.T;
  if (BH > 0) {
    // Checkpoint spacing ~ sqrt(T): checkpoints plus one chunk of states per head.
    x.chunk = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(T_))));
    if (x.chunk < 1) x.chunk = 1;
    x.chunks = (T_ + x.chunk - 1) / x.chunk;
    x.ckpt = scratch<T>(keep, BH * x.chunks * K * V);
    x.buf = scratch<T>(keep, BH * x.tiles * x.chunk * K * kCols);
    if (x.den_on) {
      x.zs = scratch<T>(keep, BH * (T_ + 1) * K);
      x.den = scratch<T>(keep, BH * T_);
      x.dotp = scratch<T>(keep, x.tiles * BH * T_);
    }
    x.dqp = scratch<T>(keep, x.tiles * BTH * K);
    x.dkp = scratch<T>(keep, x.tiles * BTH * K);
    if (p.gate != MixerGate::none) x.dgp = scratch<T>(keep, x.tiles * BTH * K);
    if (p.delta) x.dbp = scratch<T>(keep, x.tiles * BTH);
    if (x.write_weight) x.dwp = scratch<T>(keep, x.tiles * BTH);

    if (p.input_gate == MixerInputGate::exp) launch_stabilizer(x, keep);
    if (T_ > 0) launch_forward_kernel(x);  // checkpoint mode: x.ckpt is set, x.o is not
    launch_reverse_kernel(x);              // also for T = 0: ds0 = ds_final, dz0 = dz_final
  }
  if (BTH * K > 0) {
    finish_rows_kernel<T><<<grid_for(BTH * K), 256, 0, ctx.stream>>>(x);
    LINEA_CUDA_CHECK_LAUNCH("mixer finish_rows_kernel");
  }
  if (BTH > 0 && (p.delta || x.write_weight || p.gate == MixerGate::scalar)) {
    finish_steps_kernel<T><<<grid_for(BTH), 256, 0, ctx.stream>>>(x);
    LINEA_CUDA_CHECK_LAUNCH("mixer finish_steps_kernel");
  }
  // The fixed gate's dg [H] (when asked for) has elements even when B*T = 0 (then zeros).
  if (p.gate == MixerGate::fixed && x.dg && p.H > 0) {
    finish_fixed_gate_kernel<T><<<static_cast<unsigned>(p.H), kThreads, 0, ctx.stream>>>(x);
    LINEA_CUDA_CHECK_LAUNCH("mixer finish_fixed_gate_kernel");
  }
}

}  // namespace linea::cuda_mixer
