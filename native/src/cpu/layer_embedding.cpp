// Embedding lookup and its backward on the CPU.
//
// ids: (N) i32, N = all of ids' dims   table, dtable: (R, D)   y, dy: (N, D)
//
//   y[n, :]      = table[ids[n], :]
//   dtable[r, :] = sum_{n : ids[n] = r} dy[n, :]   (zero rows for ids that never occur)
//
// Threads: the forward copies blocks of positions. The backward first groups
// the positions by id (a counting sort, so the order within an id is the
// order in ids), then splits the table into tasks of (range of table rows,
// block of columns): every dtable element has one writer, the sums run in a
// fixed order whatever the thread count, and one very frequent id (padding)
// still spreads over the column blocks. Sums accumulate in double.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "cpu_backend.h"
#include "parallel.h"

namespace linea {
namespace {

// Enough elements per task to amortize the pool's per-task cost (an atomic
// increment and a std::function call), few enough to balance the threads.
constexpr int64_t kElementsPerTask = int64_t(1) << 14;
// Columns per backward task: 64 doubles of accumulator are 8 cache lines,
// and a [vocab, 512] table still splits 8 ways per row range.
constexpr int64_t kColumnsPerTask = 64;

// Throws naming the first id outside 0..R-1, before anything is written.
void check_ids(const std::string& op_name, const int32_t* ids, int64_t N, int64_t R) {
  for (int64_t n = 0; n < N; ++n)
    if (ids[n] < 0 || ids[n] >= R)
      throw OpError(op_name + ": ids[" + std::to_string(n) + "] = " + std::to_string(ids[n]) +
                    " is outside the table's rows 0.." + std::to_string(R - 1));
}

// ---- forward -----------------------------------------------------------------

template <class T>
struct EmbeddingFwdParams {
  const int32_t* ids;  // (N)
  const T* table;      // (R, D)
  T* y;                // (N, D)
  int64_t N, R, D;
};

template <class T>
void embedding_fwd_impl(const EmbeddingFwdParams<T>& p) {
  check_ids("embedding_fwd", p.ids, p.N, p.R);
  const int64_t positions_per_task = std::max<int64_t>(1, kElementsPerTask / p.D);
  const int64_t tasks = (p.N + positions_per_task - 1) / positions_per_task;
  parallel_for(tasks, [&](int64_t task) {
    const int64_t first = task * positions_per_task;
    const int64_t end = std::min(p.N, first + positions_per_task);
    for (int64_t n = first; n < end; ++n)
      std::memcpy(p.y + n * p.D, p.table + int64_t(p.ids[n]) * p.D, sizeof(T) * size_t(p.D));
  });
}

template <class T>
void embedding_fwd(OpCall& call) {
  EmbeddingFwdParams<T> p{};
  p.ids = call.input("ids")->data<int32_t>();
  p.table = call.input("table")->data<T>();
  p.y = call.output("y")->data<T>();
  p.N = call.input("ids")->numel();
  p.R = call.dims.at("R");
  p.D = call.dims.at("D");
  embedding_fwd_impl(p);
}

// ---- backward ----------------------------------------------------------------

template <class T>
struct EmbeddingBwdParams {
  const int32_t* ids;  // (N)
  const T* dy;         // (N, D)
  T* dtable;           // (R, D)
  int64_t N, R, D;
};

// Positions grouped by id: the positions with id r are
// positions[first[r]] .. positions[first[r + 1] - 1], in increasing order.
struct PositionsById {
  std::vector<int64_t> first;      // (R + 1)
  std::vector<int64_t> positions;  // (N)
};

PositionsById group_positions_by_id(const int32_t* ids, int64_t N, int64_t R) {
  PositionsById g;
  g.first.assign(static_cast<size_t>(R + 1), 0);
  for (int64_t n = 0; n < N; ++n) ++g.first[ids[n] + 1];
  for (int64_t r = 0; r < R; ++r) g.first[r + 1] += g.first[r];
  std::vector<int64_t> next(g.first.begin(), g.first.end() - 1);
  g.positions.resize(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) g.positions[next[ids[n]]++] = n;
  return g;
}

// Splits the table rows [0, R) into ranges of about `target` units of work,
// a unit being one table row to write or one position to add (each one row
// of at most kColumnsPerTask columns). Returns the range starts and R.
std::vector<int64_t> balanced_row_ranges(const PositionsById& g, int64_t R, int64_t target) {
  std::vector<int64_t> starts{0};
  int64_t work = 0;
  for (int64_t r = 0; r < R; ++r) {
    work += 1 + g.first[r + 1] - g.first[r];
    if (work >= target && r + 1 < R) {
      starts.push_back(r + 1);
      work = 0;
    }
  }
  starts.push_back(R);
  return starts;
}

template <class T>
void embedding_bwd_impl(const EmbeddingBwdParams<T>& p) {
  check_ids("embedding_bwd", p.ids, p.N, p.R);
  const PositionsById g = group_positions_by_id(p.ids, p.N, p.R);
  const int64_t column_blocks = (p.D + kColumnsPerTask - 1) / kColumnsPerTask;
  const int64_t columns = std::min(p.D, kColumnsPerTask);
  const std::vector<int64_t> starts = balanced_row_ranges(g, p.R, std::max<int64_t>(1, kElementsPerTask / columns));
  const int64_t row_ranges = static_cast<int64_t>(starts.size()) - 1;
  parallel_for(row_ranges * column_blocks, [&](int64_t task) {
    const int64_t range = task / column_blocks;
    const int64_t c_first = (task % column_blocks) * kColumnsPerTask;
    const int64_t n_cols = std::min(p.D, c_first + kColumnsPerTask) - c_first;
    std::vector<double> acc(static_cast<size_t>(n_cols));
    for (int64_t r = starts[range]; r < starts[range + 1]; ++r) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t i = g.first[r]; i < g.first[r + 1]; ++i) {
        const T* dy_row = p.dy + g.positions[i] * p.D + c_first;
        for (int64_t c = 0; c < n_cols; ++c) acc[c] += double(dy_row[c]);
      }
      T* out = p.dtable + r * p.D + c_first;
      for (int64_t c = 0; c < n_cols; ++c) out[c] = static_cast<T>(acc[c]);
    }
  });
}

template <class T>
void embedding_bwd(OpCall& call) {
  EmbeddingBwdParams<T> p{};
  p.ids = call.input("ids")->data<int32_t>();
  p.dy = call.input("dy")->data<T>();
  p.dtable = call.output("dtable")->data<T>();
  p.N = call.input("ids")->numel();
  p.R = call.dims.at("R");
  p.D = call.dims.at("D");
  embedding_bwd_impl(p);
}

}  // namespace

void register_cpu_embedding_kernels(Backend& backend) {
  backend.add_kernel("embedding_fwd", DType::f32, embedding_fwd<float>);
  backend.add_kernel("embedding_fwd", DType::f64, embedding_fwd<double>);
  backend.add_kernel("embedding_bwd", DType::f32, embedding_bwd<float>);
  backend.add_kernel("embedding_bwd", DType::f64, embedding_bwd<double>);
}

}  // namespace linea
