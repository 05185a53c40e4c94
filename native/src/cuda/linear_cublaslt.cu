// linear_fwd and linear_bwd on CUDA: the three products through cuBLASLt
// (the library, not a hand-written GEMM), the bias and its gradient by two
// small kernels. A thin wrapper: it compiles only where cuBLASLt is (the GPU
// box), so it holds nothing but the calls.
//
// x, dx: (N, K) row-major, N = all leading dims   y, dy: (N, M)   bias, dbias: (M)
// w, dw: (K, M), or (M, K) under trans_w
//
// cuBLASLt is column-major; a row-major (r, c) matrix is the column-major
// (c, r) matrix with the same memory, so every product is computed transposed:
//   y  = x W        ->  yᵀ (M, N) = Wᵀ xᵀ
//   dx = dy Wᵀ      ->  dxᵀ (K, N) = W dyᵀ
//   dw = xᵀ dy      ->  dwᵀ (M, K) = dyᵀ x          (trans_w: dw = dyᵀ x -> dwᵀ (K, M) = xᵀ dy)
// Compute types: f32 in fp32 (no TF32: the f32 path checks the others to
// 1e-4), bf16 in, fp32 accumulate, bf16 out; f64 in f64.
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <string>

#include "../ops/op_params.h"
#include "cuda_backend.h"
#include "cuda_check.h"
#include "cuda_context.h"
#include "cuda_types.cuh"

namespace linea {
namespace {

void lt_check(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw OpError(std::string("cuBLASLt error in ") + what + ": " + cublasGetStatusString(status));
}
#define LINEA_LT_CHECK(call) lt_check((call), #call)

// Workspace per matmul, from the stream-ordered pool.
constexpr int64_t kWorkspaceBytes = int64_t(32) << 20;

// One column-major product D (m, n) = op(A) op(B), every matrix dense.
struct Product {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  const void* a = nullptr;  // (m, k), or (k, m) when trans_a, leading dim its rows
  const void* b = nullptr;  // (k, n), or (n, k) when trans_b
  void* d = nullptr;        // (m, n), leading dim m
};

class LtRunner {
 public:
  LtRunner() { LINEA_LT_CHECK(cublasLtCreate(&handle_)); }

  void run(const Product& p, DType dtype) {
    const CudaContext& ctx = cuda_context();
    const cudaDataType_t type = dtype == DType::bf16 ? CUDA_R_16BF : dtype == DType::f64 ? CUDA_R_64F : CUDA_R_32F;
    const cublasComputeType_t compute = dtype == DType::f64 ? CUBLAS_COMPUTE_64F : CUBLAS_COMPUTE_32F;
    const cudaDataType_t scale_type = dtype == DType::f64 ? CUDA_R_64F : CUDA_R_32F;
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t la = nullptr, lb = nullptr, ld = nullptr;
    cublasLtMatmulPreference_t pref = nullptr;
    struct Cleanup {
      cublasLtMatmulDesc_t* desc;
      cublasLtMatrixLayout_t *la, *lb, *ld;
      cublasLtMatmulPreference_t* pref;
      ~Cleanup() {
        if (*pref) cublasLtMatmulPreferenceDestroy(*pref);
        if (*ld) cublasLtMatrixLayoutDestroy(*ld);
        if (*lb) cublasLtMatrixLayoutDestroy(*lb);
        if (*la) cublasLtMatrixLayoutDestroy(*la);
        if (*desc) cublasLtMatmulDescDestroy(*desc);
      }
    } cleanup{&desc, &la, &lb, &ld, &pref};

    LINEA_LT_CHECK(cublasLtMatmulDescCreate(&desc, compute, scale_type));
    const cublasOperation_t op_a = p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op_b = p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    LINEA_LT_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_a, sizeof(op_a)));
    LINEA_LT_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_b, sizeof(op_b)));
    // Stored shapes: A is (m, k) or, transposed, (k, m); likewise B.
    const uint64_t a_rows = p.trans_a ? p.k : p.m, a_cols = p.trans_a ? p.m : p.k;
    const uint64_t b_rows = p.trans_b ? p.n : p.k, b_cols = p.trans_b ? p.k : p.n;
    LINEA_LT_CHECK(cublasLtMatrixLayoutCreate(&la, type, a_rows, a_cols, static_cast<int64_t>(a_rows)));
    LINEA_LT_CHECK(cublasLtMatrixLayoutCreate(&lb, type, b_rows, b_cols, static_cast<int64_t>(b_rows)));
    LINEA_LT_CHECK(cublasLtMatrixLayoutCreate(&ld, type, p.m, p.n, p.m));

    LINEA_LT_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    const uint64_t workspace_bytes = kWorkspaceBytes;
    LINEA_LT_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                        &workspace_bytes, sizeof(workspace_bytes)));
    cublasLtMatmulHeuristicResult_t heuristic{};
    int found = 0;
    LINEA_LT_CHECK(cublasLtMatmulAlgoGetHeuristic(handle_, desc, la, lb, ld, ld, pref, 1, &heuristic, &found));
    if (found == 0)
      throw OpError("cuBLASLt has no algorithm for a " + std::string(dtype_name(dtype)) + " product of (" +
                    std::to_string(p.m) + " x " + std::to_string(p.k) + ") by (" + std::to_string(p.k) + " x " +
                    std::to_string(p.n) + ")");
    Tensor workspace = ctx.scratch(Shape{kWorkspaceBytes / 2}, DType::bf16);  // bf16: 2 bytes each
    const float one_f = 1, zero_f = 0;
    const double one_d = 1, zero_d = 0;
    const void* alpha = dtype == DType::f64 ? static_cast<const void*>(&one_d) : &one_f;
    const void* beta = dtype == DType::f64 ? static_cast<const void*>(&zero_d) : &zero_f;
    LINEA_LT_CHECK(cublasLtMatmul(handle_, desc, alpha, p.a, la, p.b, lb, beta, p.d, ld, p.d, ld, &heuristic.algo,
                                  workspace.buffer->data, workspace_bytes, ctx.stream));
  }

 private:
  cublasLtHandle_t handle_ = nullptr;
};

// One runner per device (handles are per device; never destroyed, like the backends).
LtRunner& runner() {
  static std::mutex mutex;
  static std::map<int, LtRunner*> runners;
  std::lock_guard<std::mutex> lock(mutex);
  LtRunner*& r = runners[cuda_context().device];
  if (!r) r = new LtRunner();
  return *r;
}

// y (N, M) += bias (M) on every row.
template <class T>
__global__ void add_bias_kernel(T* y, const T* bias, int64_t N, int64_t M) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N * M; i += int64_t(gridDim.x) * blockDim.x)
    store(y, i, load(y, i) + load(bias, i % M));
}

// dbias (M) = sum over rows of dy (N, M). Block: 32 columns x 8 row lanes;
// each lane sums rows lane, lane + 8, ... in order and the 8 lane sums are
// added in lane order: the result does not depend on scheduling.
template <class T>
__global__ void column_sums_kernel(const T* dy, T* dbias, int64_t N, int64_t M) {
  __shared__ acc_t<T> partial[8][33];
  const int64_t col = blockIdx.x * 32 + threadIdx.x;
  acc_t<T> sum = 0;
  if (col < M)
    for (int64_t r = threadIdx.y; r < N; r += 8) sum += load(dy, r * M + col);
  partial[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && col < M) {
    acc_t<T> total = 0;
    for (int lane = 0; lane < 8; ++lane) total += partial[lane][threadIdx.x];
    store(dbias, col, total);
  }
}

int64_t rows_of(const OpCall& call, const char* input) { return call.input(input)->numel() / call.dims.at("K"); }

template <class T>
void linear_fwd(OpCall& call) {
  const CudaContext& ctx = cuda_context();
  const LinearParams p = linear_params(call);
  const int64_t K = call.dims.at("K"), M = call.dims.at("M");
  const int64_t N = K > 0 ? rows_of(call, "x") : call.output("y")->numel() / std::max<int64_t>(M, 1);
  Tensor& y = *call.output("y");
  if (N == 0 || M == 0) return;
  if (K == 0) {
    LINEA_CUDA_CHECK(cudaMemsetAsync(y.buffer->data, 0, y.bytes(), ctx.stream));
  } else {
    // yᵀ (M, N) = Wᵀ xᵀ: W stored (K, M) row-major is column-major (M, K) as is; (M, K) row-major needs op T.
    Product prod;
    prod.m = M;
    prod.n = N;
    prod.k = K;
    prod.a = call.input("w")->buffer->data;
    prod.trans_a = p.trans_w;
    prod.b = call.input("x")->buffer->data;  // xᵀ: (K, N) column-major
    prod.d = y.buffer->data;
    runner().run(prod, call.dtype);
  }
  if (const Tensor* bias = call.input("bias")) {
    add_bias_kernel<T><<<grid_for(N * M), 256, 0, ctx.stream>>>(y.data<T>(), bias->data<T>(), N, M);
    LINEA_CUDA_CHECK_LAUNCH("add_bias_kernel");
  }
}

template <class T>
void linear_bwd(OpCall& call) {
  const CudaContext& ctx = cuda_context();
  const LinearParams p = linear_params(call);
  const int64_t K = call.dims.at("K"), M = call.dims.at("M");
  const int64_t N = M > 0 ? call.input("dy")->numel() / M : (K > 0 ? rows_of(call, "x") : 0);
  Tensor& dx = *call.output("dx");
  Tensor& dw = *call.output("dw");
  const void* x = call.input("x")->buffer->data;
  const void* w = call.input("w")->buffer->data;
  const void* dy = call.input("dy")->buffer->data;
  // dxᵀ (K, N) = W dyᵀ; W is w (K, M) = column-major (M, K) -> op T; under trans_w, column-major (K, M) as is.
  if (dx.numel() > 0) {
    if (M == 0) {
      LINEA_CUDA_CHECK(cudaMemsetAsync(dx.buffer->data, 0, dx.bytes(), ctx.stream));
    } else {
      Product prod;
      prod.m = K;
      prod.n = N;
      prod.k = M;
      prod.a = w;
      prod.trans_a = !p.trans_w;
      prod.b = dy;  // dyᵀ: (M, N) column-major
      prod.d = dx.buffer->data;
      runner().run(prod, call.dtype);
    }
  }
  if (dw.numel() > 0) {
    if (N == 0) {
      LINEA_CUDA_CHECK(cudaMemsetAsync(dw.buffer->data, 0, dw.bytes(), ctx.stream));
    } else {
      Product prod;
      prod.k = N;
      prod.d = dw.buffer->data;
      if (!p.trans_w) {  // dwᵀ (M, K) = dyᵀ x: dyᵀ is (M, N) as is, x is column-major (K, N) -> op T
        prod.m = M;
        prod.n = K;
        prod.a = dy;
        prod.b = x;
        prod.trans_b = true;
      } else {  // dwᵀ (K, M) = xᵀ dy: xᵀ is (K, N) as is, dy is column-major (M, N) -> op T
        prod.m = K;
        prod.n = M;
        prod.a = x;
        prod.b = dy;
        prod.trans_b = true;
      }
      runner().run(prod, call.dtype);
    }
  }
  if (Tensor* dbias = call.output("dbias")) {
    if (M > 0) {
      column_sums_kernel<T><<<static_cast<unsigned>((M + 31) / 32), dim3(32, 8), 0, ctx.stream>>>(
          static_cast<const T*>(dy), dbias->data<T>(), N, M);
      LINEA_CUDA_CHECK_LAUNCH("column_sums_kernel");
    }
  }
}

}  // namespace

void register_cuda_linear_kernels(Backend& backend) {
  backend.add_kernel("linear_fwd", DType::f32, linear_fwd<float>);
  backend.add_kernel("linear_fwd", DType::f64, linear_fwd<double>);
  backend.add_kernel("linear_fwd", DType::bf16, linear_fwd<bf16>);
  backend.add_kernel("linear_bwd", DType::f32, linear_bwd<float>);
  backend.add_kernel("linear_bwd", DType::f64, linear_bwd<double>);
  backend.add_kernel("linear_bwd", DType::bf16, linear_bwd<bf16>);
}

}  // namespace linea
