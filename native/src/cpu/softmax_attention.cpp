// Softmax attention, causal, optionally sliding-window, computed blockwise
// (FlashAttention-2 on the CPU).
//
// q, k, dq, dk: (B, T, H, D)   v, o, do, dv: (B, T, H, V)   lse: (B, H, T)
//
// Forward: for each (b, h, query block) the scores of the query block against
// one key block at a time (a kQueryBlock x kKeyBlock tile) are turned into
// probabilities with an online softmax (running row max and row sum, the
// output accumulator rescaled when the max grows), so memory stays
// O(block * (D + V)) per work item and no T x T matrix exists. Key blocks
// wholly outside the causal / sliding-window range are never visited; inside a
// visited tile each query row only reads the key columns it may see, so a row
// that sees none of a tile's keys (window edges) is left untouched instead of
// producing exp(-inf - -inf).
//
// Backward: the probabilities are recomputed from lse, p = exp(s - lse), with
// delta_t = do_t . o_t and ds = p * (dp - delta), dp = do v^T. dq is
// accumulated per (b, h, query block) and dk, dv per (b, h, key block) (on
// transposed tiles, so lse and delta run along tile rows), so every output row
// has exactly one writer: no atomics, no races, at the price of computing the
// score and dp tiles twice (7 tile products per tile pair instead of 5).
//
// Exponentials go through exp_vectorizable (vector_exp.h) so the tile loops
// vectorize; the online-softmax rescale factor, once per row and tile, uses
// std::exp, which gives exactly 0 for the first tile's exp(-inf).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "../ops/op_params.h"
#include "blas.h"
#include "cpu_backend.h"
#include "parallel.h"
#include "vector_exp.h"

namespace linea {
namespace {

// Tile sizes: a 64 x 64 score tile plus the 64-row accumulators stay in L2
// for head dims up to a few hundred, and each tile product is big enough for
// BLAS to run near its peak.
constexpr int64_t kQueryBlock = 64;
constexpr int64_t kKeyBlock = 64;

// The largest extent of a BLAS call along its output columns and its inner
// dimension. Tiles have at most 64 rows, so every call stays within 64^3
// multiply-adds, which OpenBLAS runs on the calling thread (its threading
// cutoff is GEMM_MULTITHREAD_THRESHOLD (4) * 65536 = 64^3). A bigger call from
// inside parallel_for would start OpenBLAS's own threads, which spin
// (sched_yield) against the pool's: without the cut, fwd + bwd at
// B=4, T=2048, H=4, D=V=128 took 2.3x as long (2 threads, OpenBLAS 0.3.21).
constexpr int64_t kBlasPiece = 64;
static_assert(kQueryBlock <= kBlasPiece && kKeyBlock <= kBlasPiece, "tile rows must fit a BLAS piece");

int64_t blocks_of(int64_t n, int64_t block) { return (n + block - 1) / block; }

// gemm (blas.h) on one tile, C = alpha * A op(B) + beta * C with A M x Kd
// row-major, cut into calls of at most kBlasPiece output columns and inner
// length; the pieces along the inner dimension accumulate.
template <class T>
void tile_gemm(bool trans_b, int64_t M, int64_t N, int64_t Kd, T alpha, const T* A, int64_t lda, const T* B,
               int64_t ldb, T beta, T* C, int64_t ldc) {
  for (int64_t n0 = 0; n0 < N; n0 += kBlasPiece) {
    const int64_t n = std::min(kBlasPiece, N - n0);
    for (int64_t k0 = 0; k0 < Kd; k0 += kBlasPiece) {
      const T* b = trans_b ? B + n0 * ldb + k0 : B + k0 * ldb + n0;
      gemm<T>(false, trans_b, M, n, std::min(kBlasPiece, Kd - k0), alpha, A + k0, lda, b, ldb, k0 == 0 ? beta : T(1),
              C + n0, ldc);
    }
  }
}

// Which keys a query may see: query t sees keys first_key(t) .. t.
struct CausalWindow {
  int64_t window = 0;  // 0: full causal attention; w > 0: the last w positions

  int64_t first_key(int64_t t) const { return window > 0 ? std::max<int64_t>(0, t - window + 1) : 0; }
  // The last query (clipped to the sequence) that sees key s.
  int64_t last_query(int64_t s, int64_t seq_len) const {
    return window > 0 ? std::min(seq_len - 1, s + window - 1) : seq_len - 1;
  }
};

// A half-open range [begin, end) of a tile's rows or columns, with
// 0 <= begin <= end <= the tile's extent; empty when begin == end.
struct TileRange {
  int64_t begin = 0, end = 0;
  bool empty() const { return begin >= end; }
};

// The key columns of a tile (keys s0 .. s0+nk-1) that query t may see. Empty
// when t's window starts after the tile (begin clamps to nk) or the tile lies
// in t's future (end clamps to begin).
TileRange visible_keys(const CausalWindow& mask, int64_t t, int64_t s0, int64_t nk) {
  TileRange r;
  r.begin = std::min(std::max(mask.first_key(t), s0) - s0, nk);
  r.end = std::max(r.begin, std::min(t + 1, s0 + nk) - s0);
  return r;
}

// The query rows of a tile (queries t0 .. t0+nq-1) that see key s. Empty when
// s comes after the tile (begin clamps to nq) or has left every window in the
// tile (end clamps to begin).
TileRange visible_queries(const CausalWindow& mask, int64_t s, int64_t t0, int64_t nq, int64_t seq_len) {
  TileRange r;
  r.begin = std::min(std::max(s, t0) - t0, nq);
  r.end = std::max(r.begin, std::min(mask.last_query(s, seq_len) + 1, t0 + nq) - t0);
  return r;
}

// Shapes shared by both kernels, and the strided views of one head: row t of
// head (b, h) in a (B, T, H, X) tensor starts at row_index(b, t, h) * X, and
// consecutive t are H * X elements apart (the leading dimension of a tile).
struct HeadLayout {
  int64_t B = 0, Tn = 0, H = 0, D = 0, V = 0;

  int64_t row_index(int64_t b, int64_t t, int64_t h) const { return (b * Tn + t) * H + h; }
  int64_t qk_stride() const { return H * D; }
  int64_t v_stride() const { return H * V; }
  // Index of (b, h, t) in a (B, H, T) tensor (lse, delta).
  int64_t stat_index(int64_t b, int64_t h, int64_t t) const { return (b * H + h) * Tn + t; }

  static HeadLayout of(const OpCall& call) {
    HeadLayout l;
    l.B = call.dims.at("B");
    l.Tn = call.dims.at("T");
    l.H = call.dims.at("H");
    l.D = call.dims.at("D");
    l.V = call.dims.at("V");
    return l;
  }
};

// scores (nq x nk, leading dim kKeyBlock) = scale * Q[t0 : t0+nq] K[s0 : s0+nk]^T of head (b, h).
template <class T>
void score_tile(const HeadLayout& l, const T* q, const T* k, T scale, int64_t b, int64_t h, int64_t t0, int64_t nq,
                int64_t s0, int64_t nk, T* scores) {
  tile_gemm<T>(true, nq, nk, l.D, scale, q + l.row_index(b, t0, h) * l.D, l.qk_stride(),
               k + l.row_index(b, s0, h) * l.D, l.qk_stride(), T(0), scores, kKeyBlock);
}

// ---- forward ------------------------------------------------------------------

template <class T>
struct AttentionFwdParams {
  const T *q, *k, *v;  // q, k: (B, T, H, D)  v: (B, T, H, V)
  T *o, *lse;          // o: (B, T, H, V)  lse: (B, H, T)
  HeadLayout layout;
  CausalWindow mask;
  T scale;
};

// One (b, h, query block): online softmax over the visible key blocks.
template <class T>
void attention_fwd_block(const AttentionFwdParams<T>& p, int64_t b, int64_t h, int64_t query_block) {
  const HeadLayout& l = p.layout;
  const int64_t t0 = query_block * kQueryBlock;
  const int64_t nq = std::min(kQueryBlock, l.Tn - t0);
  const int64_t t_last = t0 + nq - 1;

  std::vector<T> probs(static_cast<size_t>(kQueryBlock * kKeyBlock));  // scores, then probabilities
  std::vector<T> acc(static_cast<size_t>(nq * l.V), T(0));             // unnormalized o rows
  std::vector<T> row_max(static_cast<size_t>(nq), -std::numeric_limits<T>::infinity());
  std::vector<T> row_sum(static_cast<size_t>(nq), T(0));

  const int64_t first_block = p.mask.first_key(t0) / kKeyBlock;
  const int64_t last_block = t_last / kKeyBlock;
  for (int64_t key_block = first_block; key_block <= last_block; ++key_block) {
    const int64_t s0 = key_block * kKeyBlock;
    const int64_t nk = std::min(kKeyBlock, l.Tn - s0);
    score_tile(l, p.q, p.k, p.scale, b, h, t0, nq, s0, nk, probs.data());
    for (int64_t i = 0; i < nq; ++i) {
      T* row = probs.data() + i * kKeyBlock;
      const TileRange cols = visible_keys(p.mask, t0 + i, s0, nk);
      if (cols.empty()) {  // this row's window lies outside the tile: it adds nothing
        std::fill(row, row + nk, T(0));
        continue;
      }
      T tile_max = row[cols.begin];
      for (int64_t j = cols.begin + 1; j < cols.end; ++j) tile_max = std::max(tile_max, row[j]);
      const T new_max = std::max(row_max[i], tile_max);     // finite: the row has a visible key
      const T correction = std::exp(row_max[i] - new_max);  // 0 on the row's first visible tile
      std::fill(row, row + cols.begin, T(0));
      for (int64_t j = cols.begin; j < cols.end; ++j) row[j] = exp_vectorizable(row[j] - new_max);
      std::fill(row + cols.end, row + nk, T(0));
      T sum = 0;
      for (int64_t j = cols.begin; j < cols.end; ++j) sum += row[j];
      row_sum[i] = row_sum[i] * correction + sum;
      row_max[i] = new_max;
      if (correction != T(1)) {
        T* a = acc.data() + i * l.V;
        for (int64_t c = 0; c < l.V; ++c) a[c] *= correction;
      }
    }
    // acc += P V[s0 : s0+nk]
    tile_gemm<T>(false, nq, l.V, nk, T(1), probs.data(), kKeyBlock, p.v + l.row_index(b, s0, h) * l.V, l.v_stride(),
                 T(1), acc.data(), l.V);
  }

  // row_sum >= 1: the row's max term contributes exp(0).
  for (int64_t i = 0; i < nq; ++i) {
    const T inv_sum = T(1) / row_sum[i];
    const T* a = acc.data() + i * l.V;
    T* o = p.o + l.row_index(b, t0 + i, h) * l.V;
    for (int64_t c = 0; c < l.V; ++c) o[c] = a[c] * inv_sum;
    p.lse[l.stat_index(b, h, t0 + i)] = row_max[i] + std::log(row_sum[i]);
  }
}

template <class T>
void softmax_attn_fwd(OpCall& call) {
  AttentionFwdParams<T> p{};
  p.q = call.input("q")->data<T>();
  p.k = call.input("k")->data<T>();
  p.v = call.input("v")->data<T>();
  p.o = call.output("o")->data<T>();
  p.lse = call.output("lse")->data<T>();
  p.layout = HeadLayout::of(call);
  const AttentionParams a = attention_params(call);
  p.mask.window = a.window;
  p.scale = static_cast<T>(a.scale);
  const int64_t query_blocks = blocks_of(p.layout.Tn, kQueryBlock);
  // Later query blocks see more keys: hand them out first so the pool ends evenly.
  parallel_for(p.layout.B * p.layout.H * query_blocks, [&](int64_t item) {
    const int64_t query_block = query_blocks - 1 - item % query_blocks;
    const int64_t bh = item / query_blocks;
    attention_fwd_block(p, bh / p.layout.H, bh % p.layout.H, query_block);
  });
}

// ---- backward -----------------------------------------------------------------

template <class T>
struct AttentionBwdParams {
  const T *q, *k, *v, *o, *lse, *d_o;  // q, k: (B, T, H, D)  v, o, d_o: (B, T, H, V)  lse: (B, H, T)
  const T* delta;                      // (B, H, T): do_t . o_t
  T *dq, *dk, *dv;                     // dq, dk: (B, T, H, D)  dv: (B, T, H, V)
  HeadLayout layout;
  CausalWindow mask;
  T scale;
};

// Recomputes the probability tile p = exp(score - lse_t) (nq x nk, leading dim
// kKeyBlock), zero where a query may not see a key, then turns dp (same
// layout, holding do v^T) into ds = p * (dp - delta_t) in place.
template <class T>
void probability_and_ds_tiles(const AttentionBwdParams<T>& p, int64_t b, int64_t h, int64_t t0, int64_t nq, int64_t s0,
                              int64_t nk, T* probs, T* dp) {
  const HeadLayout& l = p.layout;
  score_tile(l, p.q, p.k, p.scale, b, h, t0, nq, s0, nk, probs);
  // dp = do[t0 : t0+nq] V[s0 : s0+nk]^T
  tile_gemm<T>(true, nq, nk, l.V, T(1), p.d_o + l.row_index(b, t0, h) * l.V, l.v_stride(),
               p.v + l.row_index(b, s0, h) * l.V, l.v_stride(), T(0), dp, kKeyBlock);
  for (int64_t i = 0; i < nq; ++i) {
    T* prow = probs + i * kKeyBlock;
    T* drow = dp + i * kKeyBlock;
    const TileRange cols = visible_keys(p.mask, t0 + i, s0, nk);
    const T lse = p.lse[l.stat_index(b, h, t0 + i)];
    const T delta = p.delta[l.stat_index(b, h, t0 + i)];
    std::fill(prow, prow + cols.begin, T(0));
    std::fill(drow, drow + cols.begin, T(0));
    for (int64_t j = cols.begin; j < cols.end; ++j) {
      prow[j] = exp_vectorizable(prow[j] - lse);
      drow[j] = prow[j] * (drow[j] - delta);
    }
    std::fill(prow + cols.end, prow + nk, T(0));
    std::fill(drow + cols.end, drow + nk, T(0));
  }
}

// dq for one (b, h, query block): dq = scale * sum over key blocks of ds K.
template <class T>
void attention_dq_block(const AttentionBwdParams<T>& p, int64_t b, int64_t h, int64_t query_block) {
  const HeadLayout& l = p.layout;
  const int64_t t0 = query_block * kQueryBlock;
  const int64_t nq = std::min(kQueryBlock, l.Tn - t0);
  std::vector<T> probs(static_cast<size_t>(kQueryBlock * kKeyBlock));
  std::vector<T> ds(static_cast<size_t>(kQueryBlock * kKeyBlock));
  std::vector<T> dq_acc(static_cast<size_t>(nq * l.D), T(0));

  const int64_t first_block = p.mask.first_key(t0) / kKeyBlock;
  const int64_t last_block = (t0 + nq - 1) / kKeyBlock;
  for (int64_t key_block = first_block; key_block <= last_block; ++key_block) {
    const int64_t s0 = key_block * kKeyBlock;
    const int64_t nk = std::min(kKeyBlock, l.Tn - s0);
    probability_and_ds_tiles(p, b, h, t0, nq, s0, nk, probs.data(), ds.data());
    tile_gemm<T>(false, nq, l.D, nk, p.scale, ds.data(), kKeyBlock, p.k + l.row_index(b, s0, h) * l.D, l.qk_stride(),
                 T(1), dq_acc.data(), l.D);
  }
  for (int64_t i = 0; i < nq; ++i) std::copy_n(dq_acc.data() + i * l.D, l.D, p.dq + l.row_index(b, t0 + i, h) * l.D);
}

// The transposed tiles for one key block: p^T (nk x nq, leading dim
// kQueryBlock) recomputed from lse and zero where a query may not see a key,
// and ds^T = p^T * (dp^T - delta) with dp^T = V do^T. Working transposed keeps
// every product below a plain or B-transposed gemm (no packing of a
// transposed A), and lse and delta are contiguous along a tile row.
template <class T>
void transposed_probability_and_ds_tiles(const AttentionBwdParams<T>& p, int64_t b, int64_t h, int64_t s0, int64_t nk,
                                         int64_t t0, int64_t nq, T* probs_t, T* ds_t) {
  const HeadLayout& l = p.layout;
  // scores^T = scale * K[s0 : s0+nk] Q[t0 : t0+nq]^T
  tile_gemm<T>(true, nk, nq, l.D, p.scale, p.k + l.row_index(b, s0, h) * l.D, l.qk_stride(),
               p.q + l.row_index(b, t0, h) * l.D, l.qk_stride(), T(0), probs_t, kQueryBlock);
  // dp^T = V[s0 : s0+nk] do[t0 : t0+nq]^T
  tile_gemm<T>(true, nk, nq, l.V, T(1), p.v + l.row_index(b, s0, h) * l.V, l.v_stride(),
               p.d_o + l.row_index(b, t0, h) * l.V, l.v_stride(), T(0), ds_t, kQueryBlock);
  const T* lse = p.lse + l.stat_index(b, h, t0);
  const T* delta = p.delta + l.stat_index(b, h, t0);
  for (int64_t j = 0; j < nk; ++j) {
    T* prow = probs_t + j * kQueryBlock;
    T* drow = ds_t + j * kQueryBlock;
    const TileRange rows = visible_queries(p.mask, s0 + j, t0, nq, l.Tn);
    std::fill(prow, prow + rows.begin, T(0));
    std::fill(drow, drow + rows.begin, T(0));
    for (int64_t i = rows.begin; i < rows.end; ++i) {
      prow[i] = exp_vectorizable(prow[i] - lse[i]);
      drow[i] = prow[i] * (drow[i] - delta[i]);
    }
    std::fill(prow + rows.end, prow + nq, T(0));
    std::fill(drow + rows.end, drow + nq, T(0));
  }
}

// dk, dv for one (b, h, key block), over the query blocks that see it:
// dv = sum p^T do, dk = scale * sum ds^T Q.
template <class T>
void attention_dkdv_block(const AttentionBwdParams<T>& p, int64_t b, int64_t h, int64_t key_block) {
  const HeadLayout& l = p.layout;
  const int64_t s0 = key_block * kKeyBlock;
  const int64_t nk = std::min(kKeyBlock, l.Tn - s0);
  std::vector<T> probs_t(static_cast<size_t>(kKeyBlock * kQueryBlock));
  std::vector<T> ds_t(static_cast<size_t>(kKeyBlock * kQueryBlock));
  std::vector<T> dk_acc(static_cast<size_t>(nk * l.D), T(0));
  std::vector<T> dv_acc(static_cast<size_t>(nk * l.V), T(0));

  const int64_t first_block = s0 / kQueryBlock;
  const int64_t last_block = p.mask.last_query(s0 + nk - 1, l.Tn) / kQueryBlock;
  for (int64_t query_block = first_block; query_block <= last_block; ++query_block) {
    const int64_t t0 = query_block * kQueryBlock;
    const int64_t nq = std::min(kQueryBlock, l.Tn - t0);
    transposed_probability_and_ds_tiles(p, b, h, s0, nk, t0, nq, probs_t.data(), ds_t.data());
    tile_gemm<T>(false, nk, l.V, nq, T(1), probs_t.data(), kQueryBlock, p.d_o + l.row_index(b, t0, h) * l.V,
                 l.v_stride(), T(1), dv_acc.data(), l.V);
    tile_gemm<T>(false, nk, l.D, nq, p.scale, ds_t.data(), kQueryBlock, p.q + l.row_index(b, t0, h) * l.D,
                 l.qk_stride(), T(1), dk_acc.data(), l.D);
  }
  for (int64_t j = 0; j < nk; ++j) {
    const int64_t row = l.row_index(b, s0 + j, h);
    std::copy_n(dk_acc.data() + j * l.D, l.D, p.dk + row * l.D);
    std::copy_n(dv_acc.data() + j * l.V, l.V, p.dv + row * l.V);
  }
}

template <class T>
void softmax_attn_bwd(OpCall& call) {
  AttentionBwdParams<T> p{};
  p.q = call.input("q")->data<T>();
  p.k = call.input("k")->data<T>();
  p.v = call.input("v")->data<T>();
  p.o = call.input("o")->data<T>();
  p.lse = call.input("lse")->data<T>();
  p.d_o = call.input("do")->data<T>();
  p.dq = call.output("dq")->data<T>();
  p.dk = call.output("dk")->data<T>();
  p.dv = call.output("dv")->data<T>();
  p.layout = HeadLayout::of(call);
  const AttentionParams a = attention_params(call);
  p.mask.window = a.window;
  p.scale = static_cast<T>(a.scale);
  const HeadLayout& l = p.layout;

  // delta_t = do_t . o_t, once per row: O(B H T) scratch.
  std::vector<T> delta(static_cast<size_t>(l.B * l.H * l.Tn));
  parallel_for(l.B * l.H, [&](int64_t bh) {
    const int64_t b = bh / l.H, h = bh % l.H;
    for (int64_t t = 0; t < l.Tn; ++t) {
      const int64_t row = l.row_index(b, t, h);
      const T* d_o = p.d_o + row * l.V;
      const T* o = p.o + row * l.V;
      T sum = 0;
      for (int64_t c = 0; c < l.V; ++c) sum += d_o[c] * o[c];
      delta[static_cast<size_t>(l.stat_index(b, h, t))] = sum;
    }
  });
  p.delta = delta.data();

  // One pool job for both halves: dq items (one per query block), then dk/dv
  // items (one per key block). The busiest come first in each half: late
  // query blocks and early key blocks see the most tiles.
  const int64_t query_blocks = blocks_of(l.Tn, kQueryBlock);
  const int64_t key_blocks = blocks_of(l.Tn, kKeyBlock);
  const int64_t dq_items = l.B * l.H * query_blocks;
  parallel_for(dq_items + l.B * l.H * key_blocks, [&](int64_t item) {
    if (item < dq_items) {
      const int64_t bh = item / query_blocks;
      attention_dq_block(p, bh / l.H, bh % l.H, query_blocks - 1 - item % query_blocks);
    } else {
      const int64_t bh = (item - dq_items) / key_blocks;
      attention_dkdv_block(p, bh / l.H, bh % l.H, (item - dq_items) % key_blocks);
    }
  });
}

}  // namespace

void register_cpu_attention_kernels(Backend& backend) {
  backend.add_kernel("softmax_attn_fwd", DType::f32, softmax_attn_fwd<float>);
  backend.add_kernel("softmax_attn_fwd", DType::f64, softmax_attn_fwd<double>);
  backend.add_kernel("softmax_attn_bwd", DType::f32, softmax_attn_bwd<float>);
  backend.add_kernel("softmax_attn_bwd", DType::f64, softmax_attn_bwd<double>);
}

}  // namespace linea
