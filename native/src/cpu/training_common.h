// Pieces shared by the CPU training kernels (training_*.cpp): block splits
// for the thread pool, a deterministic column reduction, index validation,
// and each file's registration function (called from training.cpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "linea/backend.h"
#include "parallel.h"

namespace linea {

void register_cpu_loss_kernels(Backend& backend);         // training_loss.cpp: cross-entropy
void register_cpu_rows_kernels(Backend& backend);         // training_rows.cpp: gather / scatter-add
void register_cpu_elementwise_kernels(Backend& backend);  // training_elementwise.cpp: unary, binary, accumulate
void register_cpu_optimizer_kernels(Backend& backend);    // training_optimizer.cpp: sum_squares, adamw
void register_cpu_cast_kernels(Backend& backend);         // training_cast.cpp: cast

namespace training {

// Enough elements per task to amortize the pool's per-task cost (an atomic
// increment and a std::function call), few enough to balance the threads.
constexpr int64_t kElementsPerTask = int64_t(1) << 14;
// Column block of a reduction over rows: wide enough for long contiguous
// runs, narrow enough that a row chunk of it stays in L1/L2.
constexpr int64_t kColumnsPerBlock = 1024;
// Most row chunks of a reduction: plenty of tasks for any CPU's thread count,
// and a scratch of at most this many partial rows of D doubles.
constexpr int64_t kMaxRowChunks = 256;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Calls fn(first, end) on blocks covering [0, n), each about `per_task`
// items, spread over the pool. Blocks never overlap, so tasks that write only
// items of their own block are race-free.
template <class Fn>
void parallel_blocks(int64_t n, int64_t per_task, const Fn& fn) {
  per_task = std::max<int64_t>(1, per_task);
  const int64_t tasks = ceil_div(n, per_task);
  parallel_for(tasks, [&](int64_t task) {
    const int64_t first = task * per_task;
    fn(first, std::min(n, first + per_task));
  });
}

// Blocks of rows of `row_length` elements, about kElementsPerTask each.
template <class Fn>
void parallel_rows(int64_t rows, int64_t row_length, const Fn& fn) {
  parallel_blocks(rows, kElementsPerTask / std::max<int64_t>(1, row_length), fn);
}

// Column sums of a (rows, D) matrix given blockwise, in double:
//   out[d] = sum_r term(r, d)
// `add_block(r_first, r_end, d_first, d_end, acc)` adds term(r, d) for that
// block into acc[d - d_first]. Two passes: every (row chunk, column block)
// task writes its own partial sums (at most kMaxRowChunks rows of D), then
// every column block adds its chunks' partials in chunk order. The chunks
// depend only on the shape, so the result is the same whatever the thread
// count, and no element has two writers.
template <class AddBlock>
void column_sums(int64_t rows, int64_t D, const AddBlock& add_block, double* out) {
  const int64_t block_width = std::min(D, kColumnsPerBlock);
  const int64_t column_blocks = ceil_div(D, block_width);
  const int64_t rows_per_chunk = std::max({int64_t(1), kElementsPerTask / block_width, ceil_div(rows, kMaxRowChunks)});
  const int64_t chunks = ceil_div(rows, rows_per_chunk);
  std::vector<double> partial(static_cast<size_t>(chunks * D), 0.0);  // (chunks, D)
  parallel_for(chunks * column_blocks, [&](int64_t task) {
    const int64_t chunk = task / column_blocks;
    const int64_t d_first = (task % column_blocks) * block_width;
    const int64_t r_first = chunk * rows_per_chunk;
    add_block(r_first, std::min(rows, r_first + rows_per_chunk), d_first, std::min(D, d_first + block_width),
              partial.data() + chunk * D + d_first);
  });
  parallel_blocks(D, block_width, [&](int64_t d_first, int64_t d_end) {
    for (int64_t d = d_first; d < d_end; ++d) out[d] = 0.0;
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      const double* row = partial.data() + chunk * D;
      for (int64_t d = d_first; d < d_end; ++d) out[d] += row[d];
    }
  });
}

// Throws OpError for the first index outside lowest..highest, naming op,
// tensor, position and value, then `note`:
//   "cross_entropy_fwd: labels[3] = 512 is outside -1..511 (-1 = ignored)".
// Serial and before any work, so the reported position is always the first bad one.
void check_indices(const std::string& op, const std::string& tensor, const int32_t* idx, int64_t n, int64_t lowest,
                   int64_t highest, const std::string& note);

}  // namespace training
}  // namespace linea
