// Row-major GEMM for the CPU kernels: C = alpha * op(A) op(B) + beta * C,
// through BLAS when the build has one (OpenBLAS, Accelerate), else a plain
// loop. A is M x Kd (or Kd x M when trans_a), B is Kd x N (or N x Kd).
#pragma once

#include <cstdint>

#if defined(LINEA_BLAS_ACCELERATE)
#include <Accelerate/Accelerate.h>
#elif defined(LINEA_BLAS_OPENBLAS)
#include <cblas.h>
#endif

namespace linea {

// The CPU kernels parallelize over their own work (heads, row blocks) with
// the thread pool, and call BLAS on small blocks from each worker. A BLAS
// library threading those calls itself would spin against the pool, so it is
// kept single-threaded; Linea's own ops split large products across the pool.
inline void use_single_threaded_blas() {
#if defined(LINEA_BLAS_OPENBLAS)
  openblas_set_num_threads(1);  // declared by OpenBLAS's cblas.h
#endif
}

template <class T>
inline void gemm_loops(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t Kd, T alpha, const T* A, int64_t lda,
                       const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    T* c = C + i * ldc;
    if (beta == T(0))
      for (int64_t j = 0; j < N; ++j) c[j] = T(0);
    else if (beta != T(1))
      for (int64_t j = 0; j < N; ++j) c[j] *= beta;
    for (int64_t p = 0; p < Kd; ++p) {
      const T a = alpha * (trans_a ? A[p * lda + i] : A[i * lda + p]);
      if (a == T(0)) continue;
      if (!trans_b) {
        const T* b = B + p * ldb;
        for (int64_t j = 0; j < N; ++j) c[j] += a * b[j];
      } else {
        for (int64_t j = 0; j < N; ++j) c[j] += a * B[j * ldb + p];
      }
    }
  }
}

template <class T>
inline void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t Kd, T alpha, const T* A, int64_t lda,
                 const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (Kd <= 0) {
    gemm_loops<T>(trans_a, trans_b, M, N, 0, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
#if defined(LINEA_BLAS_OPENBLAS) || defined(LINEA_BLAS_ACCELERATE)
  const auto ta = trans_a ? CblasTrans : CblasNoTrans;
  const auto tb = trans_b ? CblasTrans : CblasNoTrans;
  if constexpr (sizeof(T) == 4)
    cblas_sgemm(CblasRowMajor, ta, tb, int(M), int(N), int(Kd), alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
  else cblas_dgemm(CblasRowMajor, ta, tb, int(M), int(N), int(Kd), alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
#else
  gemm_loops<T>(trans_a, trans_b, M, N, Kd, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

// Solves op(A) X = B in place (B becomes X) for a unit lower-triangular
// A (M x M, row-major, the diagonal and upper part are not read); op(A) is
// A or Aᵀ. B is M x N.
template <class T>
inline void trsm_unit_lower(bool trans, int64_t M, int64_t N, const T* A, int64_t lda, T* B, int64_t ldb) {
  if (M <= 0 || N <= 0) return;
#if defined(LINEA_BLAS_OPENBLAS) || defined(LINEA_BLAS_ACCELERATE)
  const auto ta = trans ? CblasTrans : CblasNoTrans;
  if constexpr (sizeof(T) == 4)
    cblas_strsm(CblasRowMajor, CblasLeft, CblasLower, ta, CblasUnit, int(M), int(N), 1.0f, A, int(lda), B, int(ldb));
  else cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, ta, CblasUnit, int(M), int(N), 1.0, A, int(lda), B, int(ldb));
#else
  if (!trans) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < i; ++j) {
        const T a = A[i * lda + j];
        if (a != T(0))
          for (int64_t n = 0; n < N; ++n) B[i * ldb + n] -= a * B[j * ldb + n];
      }
  } else {
    for (int64_t i = M - 1; i >= 0; --i)
      for (int64_t j = i + 1; j < M; ++j) {
        const T a = A[j * lda + i];
        if (a != T(0))
          for (int64_t n = 0; n < N; ++n) B[i * ldb + n] -= a * B[j * ldb + n];
      }
  }
#endif
}

}  // namespace linea
