// Linear layer on the last dim, forward and backward, on the CPU.
//
// x, dx: (N, K), N = all leading dims   y, dy: (N, M)   bias, dbias: (M)
// w, dw: (K, M), or (M, K) under trans_w; W below is w, or w^T under trans_w, so W is (K, M)
//
//   y     = x W + bias
//   dx    = dy W^T
//   dw    = x^T dy (K, M), or dy^T x (M, K) under trans_w
//   dbias = sum over rows of dy
//
// Threads: y and dx are cut into tiles of kTileRows rows x kTileColumns
// columns, one gemm per tile. dw is cut into square tiles of kWeightTile, each
// task reducing over all N rows for its tile only, so no element has two
// writers and no partial copies of dw are needed; dbias is cut into column
// blocks the same way. BLAS itself runs single-threaded (blas.h). In float32
// the reductions over rows run as one sgemm per kRowsPerPartialProduct rows,
// whose results are added up in double; float64 does one dgemm per tile.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

#include "../ops/op_params.h"
#include "blas.h"
#include "cpu_backend.h"
#include "parallel.h"

namespace linea {
namespace {

// Output tiles of y and dx: 128 rows keep the packed A block in L2 and make
// rows 8192 split into 64 row blocks; 512 columns bound the packed part of
// W one gemm reads (512 x K) while leaving wide outputs (an LM head) several
// column blocks to spread when there are few rows.
constexpr int64_t kTileRows = 128;
constexpr int64_t kTileColumns = 512;
// dw tiles: 128 x 128 gives K 256, M 1024 16 independent tasks, each a
// product over all rows whose operands stream through once.
constexpr int64_t kWeightTile = 128;
// float32 reductions over rows: sgemm sums this many products in float, the
// pieces are summed in double (error of a float sum of 256 terms, not 8192).
constexpr int64_t kRowsPerPartialProduct = 256;
// dbias: columns per task.
constexpr int64_t kBiasColumns = 256;

int64_t blocks_of(int64_t n, int64_t block) { return (n + block - 1) / block; }

// C (N, P) = A (N, Q) op(B), with op(B) (Q, P): B is (Q, P) row-major, or
// (P, Q) when trans_b. Adds bias (P) to every row when given. Tiles of C over the pool.
template <class T>
struct TiledProductParams {
  const T* A;     // (N, Q)
  const T* B;     // (Q, P), or (P, Q) when trans_b
  const T* bias;  // (P) or nullptr
  T* C;           // (N, P)
  int64_t N, Q, P;
  bool trans_b;
};

template <class T>
void tiled_product(const TiledProductParams<T>& p) {
  const int64_t row_blocks = blocks_of(p.N, kTileRows);
  const int64_t column_blocks = blocks_of(p.P, kTileColumns);
  parallel_for(row_blocks * column_blocks, [&](int64_t task) {
    const int64_t r0 = (task / column_blocks) * kTileRows;
    const int64_t c0 = (task % column_blocks) * kTileColumns;
    const int64_t rows = std::min(kTileRows, p.N - r0);
    const int64_t columns = std::min(kTileColumns, p.P - c0);
    const T* b = p.trans_b ? p.B + c0 * p.Q : p.B + c0;
    const int64_t ldb = p.trans_b ? p.Q : p.P;
    T* c = p.C + r0 * p.P + c0;
    gemm<T>(false, p.trans_b, rows, columns, p.Q, T(1), p.A + r0 * p.Q, p.Q, b, ldb, T(0), c, p.P);
    if (p.bias)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < columns; ++j) c[r * p.P + j] += p.bias[c0 + j];
  });
}

// C (P, Q) = A^T B for A (N, P), B (N, Q): a reduction over the N rows, one
// task per C tile.
template <class T>
struct TransposedProductParams {
  const T* A;  // (N, P)
  const T* B;  // (N, Q)
  T* C;        // (P, Q)
  int64_t N, P, Q;
};

template <class T>
void transposed_product(const TransposedProductParams<T>& p) {
  const int64_t row_blocks = blocks_of(p.P, kWeightTile);
  const int64_t column_blocks = blocks_of(p.Q, kWeightTile);
  parallel_for(row_blocks * column_blocks, [&](int64_t task) {
    const int64_t i0 = (task / column_blocks) * kWeightTile;
    const int64_t j0 = (task % column_blocks) * kWeightTile;
    const int64_t rows = std::min(kWeightTile, p.P - i0);
    const int64_t columns = std::min(kWeightTile, p.Q - j0);
    T* c = p.C + i0 * p.Q + j0;
    if constexpr (sizeof(T) == sizeof(double)) {
      gemm<T>(true, false, rows, columns, p.N, T(1), p.A + i0, p.P, p.B + j0, p.Q, T(0), c, p.Q);
    } else {
      std::vector<T> piece(static_cast<size_t>(rows * columns));  // (rows, columns)
      std::vector<double> sum(static_cast<size_t>(rows * columns), 0.0);
      for (int64_t n0 = 0; n0 < p.N; n0 += kRowsPerPartialProduct) {
        const int64_t n = std::min(kRowsPerPartialProduct, p.N - n0);
        gemm<T>(true, false, rows, columns, n, T(1), p.A + n0 * p.P + i0, p.P, p.B + n0 * p.Q + j0, p.Q, T(0),
                piece.data(), columns);
        for (size_t e = 0; e < piece.size(); ++e) sum[e] += double(piece[e]);
      }
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < columns; ++j) c[i * p.Q + j] = static_cast<T>(sum[i * columns + j]);
    }
  });
}

// dbias (M) = sum over the N rows of dy (N, M), in double, column blocks over the pool.
template <class T>
void column_sums(const T* dy, T* dbias, int64_t N, int64_t M) {
  parallel_for(blocks_of(M, kBiasColumns), [&](int64_t task) {
    const int64_t c0 = task * kBiasColumns;
    const int64_t columns = std::min(kBiasColumns, M - c0);
    std::vector<double> sum(static_cast<size_t>(columns), 0.0);
    for (int64_t n = 0; n < N; ++n) {
      const T* row = dy + n * M + c0;
      for (int64_t j = 0; j < columns; ++j) sum[j] += double(row[j]);
    }
    for (int64_t j = 0; j < columns; ++j) dbias[c0 + j] = static_cast<T>(sum[j]);
  });
}

// ---- forward -----------------------------------------------------------------

template <class T>
struct LinearFwdParams {
  const T* x;     // (N, K)
  const T* w;     // (K, M), or (M, K) when trans_w
  const T* bias;  // (M) or nullptr
  T* y;           // (N, M)
  int64_t N, K, M;
  bool trans_w;
};

template <class T>
void linear_fwd_impl(const LinearFwdParams<T>& p) {
  // y = x W: W is w (K, M), or w^T with w (M, K) read transposed.
  tiled_product<T>({p.x, p.w, p.bias, p.y, p.N, p.K, p.M, p.trans_w});
}

template <class T>
void linear_fwd(OpCall& call) {
  LinearFwdParams<T> p{};
  p.x = call.input("x")->data<T>();
  p.w = call.input("w")->data<T>();
  p.bias = call.input("bias") ? call.input("bias")->data<T>() : nullptr;
  p.y = call.output("y")->data<T>();
  p.K = call.dims.at("K");
  p.M = call.dims.at("M");
  p.N = call.input("x")->numel() / p.K;
  p.trans_w = linear_params(call).trans_w;
  linear_fwd_impl(p);
}

// ---- backward ----------------------------------------------------------------

template <class T>
struct LinearBwdParams {
  const T* x;   // (N, K)
  const T* w;   // (K, M), or (M, K) when trans_w
  const T* dy;  // (N, M)
  T* dx;        // (N, K)
  T* dw;        // w's shape
  T* dbias;     // (M) or nullptr
  int64_t N, K, M;
  bool trans_w;
};

template <class T>
void linear_bwd_impl(const LinearBwdParams<T>& p) {
  // dx = dy W^T: W^T is w^T (w (K, M) read transposed), or w itself (M, K) under trans_w.
  tiled_product<T>({p.dy, p.w, nullptr, p.dx, p.N, p.M, p.K, !p.trans_w});
  if (p.trans_w) transposed_product<T>({p.dy, p.x, p.dw, p.N, p.M, p.K});  // dw = dy^T x (M, K)
  else transposed_product<T>({p.x, p.dy, p.dw, p.N, p.K, p.M});            // dw = x^T dy (K, M)
  if (p.dbias) column_sums(p.dy, p.dbias, p.N, p.M);
}

template <class T>
void linear_bwd(OpCall& call) {
  LinearBwdParams<T> p{};
  p.x = call.input("x")->data<T>();
  p.w = call.input("w")->data<T>();
  p.dy = call.input("dy")->data<T>();
  p.dx = call.output("dx")->data<T>();
  p.dw = call.output("dw")->data<T>();
  p.dbias = call.output("dbias") ? call.output("dbias")->data<T>() : nullptr;
  p.K = call.dims.at("K");
  p.M = call.dims.at("M");
  p.N = call.input("x")->numel() / p.K;
  p.trans_w = linear_params(call).trans_w;
  linear_bwd_impl(p);
}

}  // namespace

void register_cpu_linear_kernels(Backend& backend) {
  backend.add_kernel("linear_fwd", DType::f32, linear_fwd<float>);
  backend.add_kernel("linear_fwd", DType::f64, linear_fwd<double>);
  backend.add_kernel("linear_bwd", DType::f32, linear_bwd<float>);
  backend.add_kernel("linear_bwd", DType::f64, linear_bwd<double>);
}

}  // namespace linea
