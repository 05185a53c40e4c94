// softmax_attn_fwd / softmax_attn_bwd / softmax_attn_decode: causal softmax
// attention, optionally sliding-window (query t sees keys s <= t, and
// s > t - window when window > 0).
//
// q, k, dq, dk: (B, T, H, D)   v, o, do, dv: (B, T, H, V)   lse, delta: (B, H, T)
// decode: q (B, H, D), k (B, S, H, D), v (B, S, H, V), o (B, H, V): one query at position S - 1
//
//   p[t, s] = softmax_s(scale q_t . k_s),  o_t = sum_s p[t, s] v_s,  lse_t = log sum_s exp(scale q_t . k_s)
//   delta_t = do_t . o_t;  ds = p (do_t . v_s - delta_t)
//   dq_t = scale sum_s ds k_s;  dk_s = scale sum_t ds q_t;  dv_s = sum_t p do_t
//
// Two forms. Tiled (D, V <= TILED_MAX_DIM, and the adapter's workgroup memory
// allows): a workgroup of 16 x 16 invocations per block of 16 query rows (dq
// and the forward) or of 16 key rows (dk, dv), the other side taken a tile of
// 16 rows at a time through workgroup memory, so each key, value, query and
// upstream row is read once per 16 partners instead of once per partner. The
// first form, kept for wider heads and for decoding: one workgroup per output
// row, keys (or queries) a tile of WG at a time: each invocation scores one of
// the tile's rows into workgroup memory, then every invocation accumulates its
// own output columns (at most PER_THREAD x WG of them: D, V <= 1024) over the
// tile. The forwards keep a running max and sum (online softmax); the
// backwards recompute p from lse. Every output element has one writer: no
// atomics, deterministic. Subgroup matrices are the next step for speed.
import { paramsWgsl, type Kernel } from '../driver'
import { FLOAT_BITS_WGSL, ROW_INDEX_WGSL, SAFE_MATH_WGSL, WG, WORKGROUP_MAX_WGSL, WORKGROUP_SUM_WGSL } from './common'

/** Output columns per invocation: D and V up to PER_THREAD x WG. */
export const PER_THREAD = 4
export const MAX_HEAD_DIM = PER_THREAD * WG

export const ATTENTION_PARAMS = [
  ['B', 'u32'],
  ['H', 'u32'],
  ['D', 'u32'],
  ['V', 'u32'],
  ['Tq', 'u32'], // query rows per (b, h): T, or 1 when decoding
  ['Tk', 'u32'], // key rows per (b, h): T, or S
  ['position0', 'u32'], // the position of query row 0: 0, or S - 1 when decoding
  ['window', 'u32'],
  ['scale', 'f32'],
] as const

export const ATTENTION_COMMON_WGSL = `${paramsWgsl(ATTENTION_PARAMS)}${ROW_INDEX_WGSL}${FLOAT_BITS_WGSL}${SAFE_MATH_WGSL}${WORKGROUP_SUM_WGSL}${WORKGROUP_MAX_WGSL}
// The keys query position t sees: [first_key(t), t].
fn first_key(t: u32) -> u32 { return select(0u, t + 1u - min(P.window, t + 1u), P.window > 0u); }
// The queries that see key s: [s, last_query(s)] (within the T rows).
fn last_query(s: u32) -> u32 { return select(P.Tq - 1u, min(P.Tq - 1u, s + P.window - 1u), P.window > 0u); }
// Rows of k and v, (B, Tk, H, *); of q, o, do in the full form, (B, T, H, *).
fn key_row(b: u32, s: u32, h: u32) -> u32 { return (b * P.Tk + s) * P.H + h; }
fn query_row(b: u32, t: u32, h: u32) -> u32 { return (b * P.Tq + t) * P.H + h; }
fn stat_index(b: u32, h: u32, t: u32) -> u32 { return (b * P.H + h) * P.Tq + t; }
var<workgroup> tile_a: array<f32, ${WG}>;
var<workgroup> tile_b: array<f32, ${WG}>;
`

const ROW_ENTRY = `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = row_index(wid, nwg); // (b H + h) Tq + t
  if (row >= P.B * P.H * P.Tq) { return; }
  let t = row % P.Tq;
  let h = (row / P.Tq) % P.H;
  let b = row / (P.Tq * P.H);`

/** Forward (and decode, with decode = true: no lse, q and o as (B, H, *)). */
export function attentionFwdKernel(decode: boolean): Kernel {
  return {
    label: decode ? 'softmax_attn_decode' : 'softmax_attn_fwd',
    entry: 'main',
    params: ATTENTION_PARAMS,
    code: `${ATTENTION_COMMON_WGSL}
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> o: array<f32>;
${decode ? '' : '@group(0) @binding(5) var<storage, read_write> lse: array<f32>;'}
${ROW_ENTRY}
  let qrow = ${decode ? 'b * P.H + h' : 'query_row(b, t, h)'};
  let position = P.position0 + t;
  let first = first_key(position);
  var m = negative_infinity();
  var l = 0.0;
  var acc: array<f32, ${PER_THREAD}>;
  for (var s0 = first; s0 <= position; s0 += ${WG}u) {
    let s = s0 + lid;
    var score = negative_infinity();
    if (s <= position) {
      var dot = 0.0;
      for (var d = 0u; d < P.D; d++) { dot += q[qrow * P.D + d] * k[key_row(b, s, h) * P.D + d]; }
      score = dot * P.scale;
    }
    let m_new = max(m, workgroup_max(lid, score));
    let p = select(0.0, exp(score - m_new), s <= position);
    tile_a[lid] = p;
    let rescale = exp(m - m_new); // 0 on the first tile (m = -inf)
    l = l * rescale + workgroup_sum(lid, p);
    m = m_new;
    let count = min(${WG}u, position + 1u - s0);
    for (var u = 0u; u < ${PER_THREAD}u; u++) {
      let c = lid + u * ${WG}u;
      if (c >= P.V) { break; }
      var sum = 0.0;
      for (var j = 0u; j < count; j++) { sum += tile_a[j] * v[key_row(b, s0 + j, h) * P.V + c]; }
      acc[u] = acc[u] * rescale + sum;
    }
    workgroupBarrier();
  }
  for (var u = 0u; u < ${PER_THREAD}u; u++) {
    let c = lid + u * ${WG}u;
    if (c < P.V) { o[qrow * P.V + c] = acc[u] / l; }
  }
  ${decode ? '' : 'if (lid == 0u) { lse[row] = m + select(log(l), log1p_unit(l - 1.0), l <= 2.0); }'}
}
`,
  }
}

/** The forwards' bindings: q, k, v in; o and the log-sum-exp out. */
export const ATTENTION_FWD_BINDINGS_WGSL = `
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> o: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
`

/** Query rows per workgroup and keys per tile of the tiled forward; its head dims' limit. */
export const TILE_ROWS = 16
export const TILED_MAX_DIM = 128
const LDK = TILED_MAX_DIM + 1 // k's rows in workgroup memory, padded: the 16 keys of a tile fall in different banks
/** The tiled forward's workgroup memory: q's block, a tile of k and of v, the scores. */
export const TILED_FWD_BYTES = 4 * (TILE_ROWS * TILED_MAX_DIM * 2 + TILE_ROWS * LDK + TILE_ROWS * TILE_ROWS)

/** The tiled kernels' entry: a workgroup of 16 x 16 per (b, h) and block of 16 rows starting at row r0. */
const TILED_ENTRY = `@compute @workgroup_size(${TILE_ROWS * TILE_ROWS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let blocks = (P.Tq + ${TILE_ROWS - 1}u) / ${TILE_ROWS}u;
  let item = row_index(wid, nwg); // (b H + h) blocks + block
  if (item >= P.B * P.H * blocks) { return; }
  let r0 = (item % blocks) * ${TILE_ROWS}u;
  let h = (item / blocks) % P.H;
  let b = item / (blocks * P.H);`

/**
 * The tiled forward (D, V <= TILED_MAX_DIM): a workgroup of 16 x 16 invocations
 * per (b, h) and block of 16 query rows; keys a tile of 16 at a time, q's block
 * and each tile of k and v staged in workgroup memory, so every key and value is
 * read once per 16 queries instead of once per query. Invocation (i, j) scores
 * query i against key j of the tile; then each of row i's 16 invocations folds
 * the row's 16 scores into the row's running max and sum (all 16 alike, no
 * further sync) and accumulates its own value columns j, j + 16, ...
 */
export const attentionTiledFwdKernel: Kernel = {
  label: 'softmax_attn_fwd/tiled',
  entry: 'main',
  params: ATTENTION_PARAMS,
  code: `${ATTENTION_COMMON_WGSL}${ATTENTION_FWD_BINDINGS_WGSL}
var<workgroup> qs: array<f32, ${TILE_ROWS * TILED_MAX_DIM}>; // [16][D]
var<workgroup> ks: array<f32, ${TILE_ROWS * LDK}>; // [16][LDK]
var<workgroup> vs: array<f32, ${TILE_ROWS * TILED_MAX_DIM}>; // [16][V]
var<workgroup> ss: array<f32, ${TILE_ROWS * TILE_ROWS}>; // [16 queries][16 keys]

${TILED_ENTRY}
  let t0 = r0;
  let i = lid / ${TILE_ROWS}u;
  let j = lid % ${TILE_ROWS}u;
  let t = t0 + i;
  let last = min(t0 + ${TILE_ROWS - 1}u, P.Tq - 1u); // the block's last query, and its last key
  for (var e = lid; e < ${TILE_ROWS}u * P.D; e += ${TILE_ROWS * TILE_ROWS}u) {
    let r = t0 + e / P.D;
    qs[e] = select(0.0, q[query_row(b, min(r, last), h) * P.D + e % P.D], r <= last);
  }
  let first_t = first_key(t);
  var m = negative_infinity();
  var l = 0.0;
  var acc: array<f32, ${TILED_MAX_DIM / TILE_ROWS}>; // columns j + 16 u
  for (var s0 = first_key(t0); s0 <= last; s0 += ${TILE_ROWS}u) {
    workgroupBarrier(); // the previous tile is consumed (and, the first time, qs staged)
    for (var e = lid; e < ${TILE_ROWS}u * P.D; e += ${TILE_ROWS * TILE_ROWS}u) {
      let s = s0 + e / P.D;
      ks[(e / P.D) * ${LDK}u + e % P.D] = select(0.0, k[key_row(b, min(s, last), h) * P.D + e % P.D], s <= last);
    }
    for (var e = lid; e < ${TILE_ROWS}u * P.V; e += ${TILE_ROWS * TILE_ROWS}u) {
      let s = s0 + e / P.V;
      vs[e] = select(0.0, v[key_row(b, min(s, last), h) * P.V + e % P.V], s <= last);
    }
    workgroupBarrier();
    let s = s0 + j;
    var score = negative_infinity();
    if (t <= last && s <= t && s >= first_t) {
      var dot = 0.0;
      for (var d = 0u; d < P.D; d++) { dot += qs[i * P.D + d] * ks[j * ${LDK}u + d]; }
      score = dot * P.scale;
    }
    ss[i * ${TILE_ROWS}u + j] = score;
    workgroupBarrier();
    var mx = m;
    for (var jj = 0u; jj < ${TILE_ROWS}u; jj++) { mx = max(mx, ss[i * ${TILE_ROWS}u + jj]); }
    if (mx > negative_infinity()) { // else no key of row i so far: nothing to add
      let rescale = exp(m - mx); // 0 the first time (m = -inf)
      l = l * rescale;
      for (var u = 0u; u < ${TILED_MAX_DIM / TILE_ROWS}u; u++) { acc[u] = acc[u] * rescale; }
      for (var jj = 0u; jj < ${TILE_ROWS}u; jj++) {
        let p = exp(ss[i * ${TILE_ROWS}u + jj] - mx); // 0 for a masked key
        l += p;
        for (var u = 0u; u < ${TILED_MAX_DIM / TILE_ROWS}u; u++) {
          let c = j + u * ${TILE_ROWS}u;
          if (c < P.V) { acc[u] += p * vs[jj * P.V + c]; }
        }
      }
      m = mx;
    }
  }
  if (t > last) { return; }
  let qrow = query_row(b, t, h);
  for (var u = 0u; u < ${TILED_MAX_DIM / TILE_ROWS}u; u++) {
    let c = j + u * ${TILE_ROWS}u;
    if (c < P.V) { o[qrow * P.V + c] = acc[u] / l; }
  }
  if (j == 0u) { lse[stat_index(b, h, t)] = m + select(log(l), log1p_unit(l - 1.0), l <= 2.0); }
}
`,
}

export const ATTENTION_BWD_BINDINGS_WGSL = `
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> lse: array<f32>;
@group(0) @binding(5) var<storage, read> d_o: array<f32>;
@group(0) @binding(6) var<storage, read> delta: array<f32>;
// p and ds of query t against key s, from lse and delta.
fn p_and_ds(b: u32, h: u32, t: u32, s: u32) -> vec2<f32> {
  let qr = query_row(b, t, h);
  let kr = key_row(b, s, h);
  var dot = 0.0;
  for (var d = 0u; d < P.D; d++) { dot += q[qr * P.D + d] * k[kr * P.D + d]; }
  let p = exp(dot * P.scale - lse[stat_index(b, h, t)]);
  var dp = 0.0;
  for (var c = 0u; c < P.V; c++) { dp += d_o[qr * P.V + c] * v[kr * P.V + c]; }
  return vec2<f32>(p, p * (dp - delta[stat_index(b, h, t)]));
}
`

/** The tiled backward kernels' workgroup memory: two padded tiles and two 16 x 16 score blocks. */
export const TILED_BWD_BYTES = 4 * (2 * TILE_ROWS * LDK + 2 * TILE_ROWS * TILE_ROWS + 2 * TILE_ROWS)

/**
 * The tiled backward's dq (D, V <= TILED_MAX_DIM): a workgroup per (b, h) and
 * block of 16 query rows, keys a tile of 16 at a time with k and v staged.
 * Invocation (i, j) recomputes p = exp(scale q_i . k_j - lse_i) and
 * ds = p (do_i . v_j - delta_i) for query i and key j (q_i and do_i read by the
 * row's 16 invocations alike), then accumulates dq_i's columns j, j + 16, ...
 */
export const attentionTiledDqKernel: Kernel = {
  label: 'softmax_attn_bwd/dq tiled',
  entry: 'main',
  params: ATTENTION_PARAMS,
  code: `${ATTENTION_COMMON_WGSL}${ATTENTION_BWD_BINDINGS_WGSL}
@group(0) @binding(7) var<storage, read_write> dq: array<f32>;
var<workgroup> ks: array<f32, ${TILE_ROWS * LDK}>; // [16 keys][LDK]
var<workgroup> vs: array<f32, ${TILE_ROWS * LDK}>; // [16 keys][LDK]
var<workgroup> dss: array<f32, ${TILE_ROWS * TILE_ROWS}>; // [16 queries][16 keys]

${TILED_ENTRY}
  let t0 = r0;
  let i = lid / ${TILE_ROWS}u;
  let j = lid % ${TILE_ROWS}u;
  let last = min(t0 + ${TILE_ROWS - 1}u, P.Tq - 1u); // the block's last query, and its last key
  let t = min(t0 + i, last); // rows past the block's end repeat its last row and write nothing
  let qr = query_row(b, t, h);
  let lse_t = lse[stat_index(b, h, t)];
  let delta_t = delta[stat_index(b, h, t)];
  let first_t = first_key(t);
  var acc: array<f32, ${TILED_MAX_DIM / TILE_ROWS}>; // columns j + 16 u
  for (var s0 = first_key(t0); s0 <= last; s0 += ${TILE_ROWS}u) {
    workgroupBarrier(); // the previous tile is consumed
    for (var e = lid; e < ${TILE_ROWS}u * P.D; e += ${TILE_ROWS * TILE_ROWS}u) {
      let s = min(s0 + e / P.D, last);
      ks[(e / P.D) * ${LDK}u + e % P.D] = k[key_row(b, s, h) * P.D + e % P.D];
    }
    for (var e = lid; e < ${TILE_ROWS}u * P.V; e += ${TILE_ROWS * TILE_ROWS}u) {
      let s = min(s0 + e / P.V, last);
      vs[(e / P.V) * ${LDK}u + e % P.V] = v[key_row(b, s, h) * P.V + e % P.V];
    }
    workgroupBarrier();
    let s = s0 + j;
    var ds = 0.0;
    if (t0 + i <= last && s <= t && s >= first_t) {
      var dot = 0.0;
      for (var d = 0u; d < P.D; d++) { dot += q[qr * P.D + d] * ks[j * ${LDK}u + d]; }
      var dp = 0.0;
      for (var c = 0u; c < P.V; c++) { dp += d_o[qr * P.V + c] * vs[j * ${LDK}u + c]; }
      let p = exp(dot * P.scale - lse_t);
      ds = p * (dp - delta_t);
    }
    dss[i * ${TILE_ROWS}u + j] = ds;
    workgroupBarrier();
    for (var u = 0u; u < ${TILED_MAX_DIM / TILE_ROWS}u; u++) {
      let d = j + u * ${TILE_ROWS}u;
      if (d < P.D) {
        var sum = 0.0;
        for (var jj = 0u; jj < ${TILE_ROWS}u; jj++) { sum += dss[i * ${TILE_ROWS}u + jj] * ks[jj * ${LDK}u + d]; }
        acc[u] += sum;
      }
    }
  }
  if (t0 + i > last) { return; }
  for (var u = 0u; u < ${TILED_MAX_DIM / TILE_ROWS}u; u++) {
    let d = j + u * ${TILE_ROWS}u;
    if (d < P.D) { dq[qr * P.D + d] = acc[u] * P.scale; }
  }
}
`,
}

/**
 * The tiled backward's dk and dv: a workgroup per (b, h) and block of 16 key
 * rows, the queries that see them a tile of 16 at a time with q and do staged
 * (and their lse and delta). Invocation (j, i) recomputes p and ds for key j and
 * query i (k_j and v_j read by the key's 16 invocations alike), then
 * accumulates dk_j's and dv_j's columns i, i + 16, ...
 */
export const attentionTiledDkvKernel: Kernel = {
  label: 'softmax_attn_bwd/dkv tiled',
  entry: 'main',
  params: ATTENTION_PARAMS,
  code: `${ATTENTION_COMMON_WGSL}${ATTENTION_BWD_BINDINGS_WGSL}
@group(0) @binding(7) var<storage, read_write> dk: array<f32>;
@group(0) @binding(8) var<storage, read_write> dv: array<f32>;
var<workgroup> qs: array<f32, ${TILE_ROWS * LDK}>; // [16 queries][LDK]
var<workgroup> dos: array<f32, ${TILE_ROWS * LDK}>; // [16 queries][LDK]
var<workgroup> ps: array<f32, ${TILE_ROWS * TILE_ROWS}>; // [16 keys][16 queries]
var<workgroup> dss: array<f32, ${TILE_ROWS * TILE_ROWS}>; // [16 keys][16 queries]
var<workgroup> lse_tile: array<f32, ${TILE_ROWS}>;
var<workgroup> delta_tile: array<f32, ${TILE_ROWS}>;

${TILED_ENTRY}
  let s0 = r0;
  let jk = lid / ${TILE_ROWS}u; // this invocation's key in the block
  let i = lid % ${TILE_ROWS}u; // its query in each tile, and its column lane
  let last_key = min(s0 + ${TILE_ROWS - 1}u, P.Tq - 1u);
  let s = min(s0 + jk, last_key); // keys past the block's end repeat its last key and write nothing
  let kr = key_row(b, s, h);
  let last = last_query(last_key); // the last query that sees any of the block's keys
  let last_s = last_query(s);
  var acc_k: array<f32, ${TILED_MAX_DIM / TILE_ROWS}>; // columns i + 16 u
  var acc_v: array<f32, ${TILED_MAX_DIM / TILE_ROWS}>;
  for (var t0 = s0; t0 <= last; t0 += ${TILE_ROWS}u) {
    workgroupBarrier(); // the previous tile is consumed
    for (var e = lid; e < ${TILE_ROWS}u * P.D; e += ${TILE_ROWS * TILE_ROWS}u) {
      let t = min(t0 + e / P.D, last);
      qs[(e / P.D) * ${LDK}u + e % P.D] = q[query_row(b, t, h) * P.D + e % P.D];
    }
    for (var e = lid; e < ${TILE_ROWS}u * P.V; e += ${TILE_ROWS * TILE_ROWS}u) {
      let t = min(t0 + e / P.V, last);
      dos[(e / P.V) * ${LDK}u + e % P.V] = d_o[query_row(b, t, h) * P.V + e % P.V];
    }
    if (lid < ${TILE_ROWS}u) {
      let t = min(t0 + lid, last);
      lse_tile[lid] = lse[stat_index(b, h, t)];
      delta_tile[lid] = delta[stat_index(b, h, t)];
    }
    workgroupBarrier();
    let t = t0 + i;
    var p = 0.0;
    var ds = 0.0;
    if (s0 + jk <= last_key && t >= s && t <= last_s) {
      var dot = 0.0;
      for (var d = 0u; d < P.D; d++) { dot += k[kr * P.D + d] * qs[i * ${LDK}u + d]; }
      var dp = 0.0;
      for (var c = 0u; c < P.V; c++) { dp += v[kr * P.V + c] * dos[i * ${LDK}u + c]; }
      p = exp(dot * P.scale - lse_tile[i]);
      ds = p * (dp - delta_tile[i]);
    }
    ps[jk * ${TILE_ROWS}u + i] = p;
    dss[jk * ${TILE_ROWS}u + i] = ds;
    workgroupBarrier();
    for (var u = 0u; u < ${TILED_MAX_DIM / TILE_ROWS}u; u++) {
      let c = i + u * ${TILE_ROWS}u;
      if (c < P.V) {
        var sum = 0.0;
        for (var ii = 0u; ii < ${TILE_ROWS}u; ii++) { sum += ps[jk * ${TILE_ROWS}u + ii] * dos[ii * ${LDK}u + c]; }
        acc_v[u] += sum;
      }
      if (c < P.D) {
        var sum = 0.0;
        for (var ii = 0u; ii < ${TILE_ROWS}u; ii++) { sum += dss[jk * ${TILE_ROWS}u + ii] * qs[ii * ${LDK}u + c]; }
        acc_k[u] += sum;
      }
    }
  }
  if (s0 + jk > last_key) { return; }
  for (var u = 0u; u < ${TILED_MAX_DIM / TILE_ROWS}u; u++) {
    let c = i + u * ${TILE_ROWS}u;
    if (c < P.D) { dk[kr * P.D + c] = acc_k[u] * P.scale; }
    if (c < P.V) { dv[kr * P.V + c] = acc_v[u]; }
  }
}
`,
}

/** delta_t = do_t . o_t, one workgroup per (b, h, t). */
export const attentionDeltaKernel: Kernel = {
  label: 'softmax_attn_bwd/delta',
  entry: 'main',
  params: ATTENTION_PARAMS,
  code: `${ATTENTION_COMMON_WGSL}
@group(0) @binding(1) var<storage, read> o: array<f32>;
@group(0) @binding(2) var<storage, read> d_o: array<f32>;
@group(0) @binding(3) var<storage, read_write> delta: array<f32>;
${ROW_ENTRY}
  let base = query_row(b, t, h) * P.V;
  var s = 0.0;
  for (var c = lid; c < P.V; c += ${WG}u) { s += d_o[base + c] * o[base + c]; }
  let total = workgroup_sum(lid, s);
  if (lid == 0u) { delta[row] = total; }
}
`,
}

/** dq, one workgroup per query row (b, h, t): its keys a tile at a time. */
export const attentionDqKernel: Kernel = {
  label: 'softmax_attn_bwd/dq',
  entry: 'main',
  params: ATTENTION_PARAMS,
  code: `${ATTENTION_COMMON_WGSL}${ATTENTION_BWD_BINDINGS_WGSL}
@group(0) @binding(7) var<storage, read_write> dq: array<f32>;
${ROW_ENTRY}
  let first = first_key(t);
  var acc: array<f32, ${PER_THREAD}>;
  for (var s0 = first; s0 <= t; s0 += ${WG}u) {
    let s = s0 + lid;
    var ds = 0.0;
    if (s <= t) { ds = p_and_ds(b, h, t, s).y; }
    tile_a[lid] = ds;
    workgroupBarrier();
    let count = min(${WG}u, t + 1u - s0);
    for (var u = 0u; u < ${PER_THREAD}u; u++) {
      let d = lid + u * ${WG}u;
      if (d >= P.D) { break; }
      var sum = 0.0;
      for (var j = 0u; j < count; j++) { sum += tile_a[j] * k[key_row(b, s0 + j, h) * P.D + d]; }
      acc[u] += sum;
    }
    workgroupBarrier();
  }
  let qr = query_row(b, t, h);
  for (var u = 0u; u < ${PER_THREAD}u; u++) {
    let d = lid + u * ${WG}u;
    if (d < P.D) { dq[qr * P.D + d] = acc[u] * P.scale; }
  }
}
`,
}

/** dk and dv, one workgroup per key row (b, h, s): the queries that see it, a tile at a time. */
export const attentionDkvKernel: Kernel = {
  label: 'softmax_attn_bwd/dkv',
  entry: 'main',
  params: ATTENTION_PARAMS,
  code: `${ATTENTION_COMMON_WGSL}${ATTENTION_BWD_BINDINGS_WGSL}
@group(0) @binding(7) var<storage, read_write> dk: array<f32>;
@group(0) @binding(8) var<storage, read_write> dv: array<f32>;
${ROW_ENTRY}
  let s = t; // this workgroup's row is a key row
  let last = last_query(s);
  var acc_k: array<f32, ${PER_THREAD}>;
  var acc_v: array<f32, ${PER_THREAD}>;
  for (var t0 = s; t0 <= last; t0 += ${WG}u) {
    let tq = t0 + lid;
    var pds = vec2<f32>(0.0, 0.0);
    if (tq <= last) { pds = p_and_ds(b, h, tq, s); }
    tile_a[lid] = pds.x;
    tile_b[lid] = pds.y;
    workgroupBarrier();
    let count = min(${WG}u, last + 1u - t0);
    for (var u = 0u; u < ${PER_THREAD}u; u++) {
      let c = lid + u * ${WG}u;
      if (c < P.V) {
        var sum = 0.0;
        for (var j = 0u; j < count; j++) { sum += tile_a[j] * d_o[query_row(b, t0 + j, h) * P.V + c]; }
        acc_v[u] += sum;
      }
      if (c < P.D) {
        var sum = 0.0;
        for (var j = 0u; j < count; j++) { sum += tile_b[j] * q[query_row(b, t0 + j, h) * P.D + c]; }
        acc_k[u] += sum;
      }
    }
    workgroupBarrier();
  }
  let kr = key_row(b, s, h);
  for (var u = 0u; u < ${PER_THREAD}u; u++) {
    let c = lid + u * ${WG}u;
    if (c < P.D) { dk[kr * P.D + c] = acc_k[u] * P.scale; }
    if (c < P.V) { dv[kr * P.V + c] = acc_v[u]; }
  }
}
`,
}
