// Zero-padded copies for the tensor-core kernels that take head dims of 64 or
// 128 only (the delta rule's chunked path, softmax attention's mma kernels):
// a call with smaller or odd head dims runs them on copies padded with zeros
// and keeps the first columns of the results. Exact where zero columns add
// nothing: padded keys and queries leave every score and state row they touch
// at zero; padded values give zero output columns; their gradients are zero
// and dropped. The copies cost a pass over q, k, v and the outputs, which at
// the small widths that need them is far less than the scalar paths they
// replace (the recall models' head dim 32: bench/gpu/README.md, twentieth session).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda_types.cuh"

namespace linea {

// The width a kernel of widths {64, 128} runs a head dim d at: 64 up to 64,
// 128 up to 128, 0 past that (no padded run).
inline int64_t padded_head_dim(int64_t d) { return d <= 0 ? 0 : d <= 64 ? 64 : d <= 128 ? 128 : 0; }

// dst [n, rp, cp] = src [n, r, c] in its top-left corner, zeros elsewhere
// (rp >= r, cp >= c). Rows of a [B, T, H, D] tensor are n = B T H, r = 1.
void pad_bf16(const bf16* src, int64_t n, int64_t r, int64_t c, int64_t rp, int64_t cp, bf16* dst, cudaStream_t stream);
// dst [n, r, c] = the top-left corner of src [n, rp, cp].
void unpad_bf16(const bf16* src, int64_t n, int64_t rp, int64_t cp, int64_t r, int64_t c, bf16* dst,
                cudaStream_t stream);

}  // namespace linea
