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
// The first form: one workgroup per output row, keys (or queries) taken a
// tile of WG at a time: each invocation scores one of the tile's rows into
// workgroup memory, then every invocation accumulates its own output
// columns (at most PER_THREAD x WG of them: D, V <= 1024) over the tile. The
// forward keeps a running max and sum (online softmax); the backward
// recomputes p from lse. Every output row has one writer: no atomics,
// deterministic. Tiling queries and keys in workgroup memory (and subgroup
// matrices) is the next step for speed; this is the reference the faster
// forms will be checked against on the GPU.
import { paramsWgsl, type Kernel } from '../driver'
import { FLOAT_BITS_WGSL, ROW_INDEX_WGSL, SAFE_MATH_WGSL, WG, WORKGROUP_MAX_WGSL, WORKGROUP_SUM_WGSL } from './common'

/** Output columns per invocation: D and V up to PER_THREAD x WG. */
export const PER_THREAD = 4
export const MAX_HEAD_DIM = PER_THREAD * WG

const params = [
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

const COMMON = `${paramsWgsl(params)}${ROW_INDEX_WGSL}${FLOAT_BITS_WGSL}${SAFE_MATH_WGSL}${WORKGROUP_SUM_WGSL}${WORKGROUP_MAX_WGSL}
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
    params,
    code: `${COMMON}
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

/** delta_t = do_t . o_t, one workgroup per (b, h, t). */
export const attentionDeltaKernel: Kernel = {
  label: 'softmax_attn_bwd/delta',
  entry: 'main',
  params,
  code: `${COMMON}
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

const BWD_BINDINGS = `
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

/** dq, one workgroup per query row (b, h, t): its keys a tile at a time. */
export const attentionDqKernel: Kernel = {
  label: 'softmax_attn_bwd/dq',
  entry: 'main',
  params,
  code: `${COMMON}${BWD_BINDINGS}
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
  params,
  code: `${COMMON}${BWD_BINDINGS}
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
