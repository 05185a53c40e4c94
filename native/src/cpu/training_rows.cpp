// Row gather and scatter-add (embedding lookup and its gradient) on the CPU.
//
// x, dx: (N, D)   idx: (M) i32 in 0..N-1   y, dy: (M, D)
//
//   gather_rows:      y[m] = x[idx[m]]
//   scatter_add_rows: dx[n] = sum over m with idx[m] = n of dy[m]   (0 when no m names n)
//
// The scatter is turned around into a gather: a stable counting sort of idx
// lists, for every destination row n, the source rows m that name it (in
// increasing m). Each task then sums whole destination rows, so no element
// has two writers, the order of the sum is fixed (results do not depend on
// the thread count), and the sums accumulate in double. A row named by most
// of idx is summed by one task: fine for embeddings (tokens spread over the
// vocabulary), where the zeroing of untouched rows is most of the work anyway.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "cpu_backend.h"
#include "training_common.h"

namespace linea {
namespace {

using training::parallel_rows;

std::string rows_note(const char* tensor, int64_t N) {
  return "(" + std::string(tensor) + " has N = " + std::to_string(N) + " rows)";
}

// ---- gather ------------------------------------------------------------------

template <class T>
struct GatherRowsParams {
  const T* x;          // (N, D)
  const int32_t* idx;  // (M)
  T* y;                // (M, D)
  int64_t N, M, D;
};

template <class T>
void gather_rows(OpCall& call) {
  GatherRowsParams<T> p{};
  p.x = call.input("x")->data<T>();
  p.idx = call.input("idx")->data<int32_t>();
  p.y = call.output("y")->data<T>();
  p.N = call.dims.at("N");
  p.M = call.dims.at("M");
  p.D = call.dims.at("D");
  training::check_indices(call.op->name, "idx", p.idx, p.M, 0, p.N - 1, rows_note("x", p.N));
  parallel_rows(p.M, p.D, [&](int64_t first, int64_t end) {
    for (int64_t m = first; m < end; ++m) {
      const T* src = p.x + int64_t(p.idx[m]) * p.D;
      std::copy(src, src + p.D, p.y + m * p.D);
    }
  });
}

// ---- scatter-add -------------------------------------------------------------

// For every destination row n, the source rows m with idx[m] = n:
// sources[first[n] .. first[n + 1]) in increasing m (a stable counting sort).
struct RowSources {
  std::vector<int64_t> first;    // (N + 1)
  std::vector<int64_t> sources;  // (M)
};

RowSources row_sources(const int32_t* idx, int64_t M, int64_t N) {
  RowSources r;
  r.first.assign(static_cast<size_t>(N + 1), 0);
  r.sources.resize(static_cast<size_t>(M));
  for (int64_t m = 0; m < M; ++m) ++r.first[idx[m] + 1];
  for (int64_t n = 0; n < N; ++n) r.first[n + 1] += r.first[n];
  std::vector<int64_t> next(r.first.begin(), r.first.end() - 1);
  for (int64_t m = 0; m < M; ++m) r.sources[next[idx[m]]++] = m;
  return r;
}

template <class T>
struct ScatterAddRowsParams {
  const int32_t* idx;  // (M)
  const T* dy;         // (M, D)
  T* dx;               // (N, D)
  int64_t N, M, D;
};

template <class T>
void scatter_add_rows(OpCall& call) {
  ScatterAddRowsParams<T> p{};
  p.idx = call.input("idx")->data<int32_t>();
  p.dy = call.input("dy")->data<T>();
  p.dx = call.output("dx")->data<T>();
  p.N = call.dims.at("N");
  p.M = call.dims.at("M");
  p.D = call.dims.at("D");
  training::check_indices(call.op->name, "idx", p.idx, p.M, 0, p.N - 1, rows_note("x", p.N));
  const RowSources rows = row_sources(p.idx, p.M, p.N);
  parallel_rows(p.N, p.D, [&](int64_t first, int64_t end) {
    std::vector<double> acc(static_cast<size_t>(p.D));
    for (int64_t n = first; n < end; ++n) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t k = rows.first[n]; k < rows.first[n + 1]; ++k) {
        const T* src = p.dy + rows.sources[k] * p.D;
        for (int64_t d = 0; d < p.D; ++d) acc[d] += double(src[d]);
      }
      T* dst = p.dx + n * p.D;
      for (int64_t d = 0; d < p.D; ++d) dst[d] = static_cast<T>(acc[d]);
    }
  });
}

}  // namespace

void register_cpu_rows_kernels(Backend& backend) {
  backend.add_kernel("gather_rows", DType::f32, gather_rows<float>);
  backend.add_kernel("gather_rows", DType::f64, gather_rows<double>);
  backend.add_kernel("scatter_add_rows", DType::f32, scatter_add_rows<float>);
  backend.add_kernel("scatter_add_rows", DType::f64, scatter_add_rows<double>);
}

}  // namespace linea
