// softmax_attn_fwd in blocks of 32 query rows against tiles of 32 keys, each
// invocation of 16 x 16 holding a 2 x 2 block of scores and 2 rows x V/16
// output columns in registers (opt-in: ops.ts useAttentionBlocks, until timed
// on a GPU against the 16 x 16 tiled kernel of softmax_attention.ts).
//
// Why: the tiled kernel gives each invocation one score, so every multiply-add
// of q·k and of p·v reads two values from workgroup memory (1.6 reads per
// multiply-add over a tile); on the H200 through Vulkan its forward took 7.2 of
// the Transformer preset's 44.6 ms step (bench/gpu/README.md, fifteenth
// session). Here a score's q value serves two keys and its k value two
// queries, and a value row's entry two queries: about 0.6 reads per
// multiply-add.
//
// q, k: (B, T, H, D)   v, o: (B, T, H, V)   lse: (B, H, T)   D, V <= 128
// Workgroup memory (29 KB, within Apple's and lavapipe's 32 KiB): the block's
// q rows; k 32 key dims at a time; v 8 keys at a time; the tile's scores,
// then its probabilities. Invocation (ty, tx) owns query rows ty and ty + 16
// of the block, keys tx and tx + 16 of each tile, and value columns tx + 16 u.
// Online softmax as the tiled kernel: a running max and sum per row, every
// invocation of a row computing them alike from the row's 32 scores.
import type { Kernel } from '../driver'
import { ATTENTION_COMMON_WGSL, ATTENTION_PARAMS, TILED_MAX_DIM } from './softmax_attention'

/** Query rows per workgroup and keys per tile. */
export const BLOCK_ROWS = 32
const KEY_DIMS = 32 // k's dims staged at a time
const VALUE_KEYS = 8 // v's rows staged at a time
const LDQ = TILED_MAX_DIM + 1 // padded rows: the 2 rows a warp reads fall in different banks
const LDS = KEY_DIMS + 1 // k chunk and score rows, padded likewise
const COLS = TILED_MAX_DIM / 16 // output columns per invocation and row

/** The blocked forward's workgroup memory. */
export const BLOCKED_FWD_BYTES = 4 * (BLOCK_ROWS * LDQ + BLOCK_ROWS * LDS + VALUE_KEYS * TILED_MAX_DIM + BLOCK_ROWS * LDS)

export const attentionBlockedFwdKernel: Kernel = {
  label: 'softmax_attn_fwd/blocked',
  entry: 'main',
  params: ATTENTION_PARAMS,
  code: `${ATTENTION_COMMON_WGSL}
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> o: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
var<workgroup> qs: array<f32, ${BLOCK_ROWS * LDQ}>; // [32 queries][LDQ]
var<workgroup> kc: array<f32, ${BLOCK_ROWS * LDS}>; // [32 keys][LDS]: dims d0 .. d0 + 31
var<workgroup> vc: array<f32, ${VALUE_KEYS * TILED_MAX_DIM}>; // [8 keys][V]
var<workgroup> ps: array<f32, ${BLOCK_ROWS * LDS}>; // [32 queries][LDS]: scores, then probabilities

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let blocks = (P.Tq + ${BLOCK_ROWS - 1}u) / ${BLOCK_ROWS}u;
  let item = row_index(wid, nwg); // (b H + h) blocks + block
  if (item >= P.B * P.H * blocks) { return; }
  let t0 = (item % blocks) * ${BLOCK_ROWS}u;
  let h = (item / blocks) % P.H;
  let b = item / (blocks * P.H);
  let ty = lid / 16u;
  let tx = lid % 16u;
  let last = min(t0 + ${BLOCK_ROWS - 1}u, P.Tq - 1u); // the block's last query, and its last key
  for (var e = lid; e < ${BLOCK_ROWS}u * P.D; e += 256u) {
    let r = t0 + e / P.D;
    qs[(e / P.D) * ${LDQ}u + e % P.D] = select(0.0, q[query_row(b, min(r, last), h) * P.D + e % P.D], r <= last);
  }
  var m = array<f32, 2>(negative_infinity(), negative_infinity());
  var l = array<f32, 2>(0.0, 0.0);
  var acc: array<f32, ${2 * COLS}>; // [row ri][column u]: columns tx + 16 u of rows ty + 16 ri
  for (var s0 = first_key(t0); s0 <= last; s0 += ${BLOCK_ROWS}u) {
    // Scores of the 2 x 2 block, over k's dims a chunk at a time.
    var sc = array<f32, 4>(0.0, 0.0, 0.0, 0.0); // [ri 2 + ci]
    for (var d0 = 0u; d0 < P.D; d0 += ${KEY_DIMS}u) {
      workgroupBarrier(); // the previous chunk (or tile) consumed; the first time, qs staged
      for (var e = lid; e < ${BLOCK_ROWS * KEY_DIMS}u; e += 256u) {
        let s = s0 + e / ${KEY_DIMS}u;
        let d = d0 + e % ${KEY_DIMS}u;
        kc[(e / ${KEY_DIMS}u) * ${LDS}u + e % ${KEY_DIMS}u] = select(0.0, k[key_row(b, min(s, last), h) * P.D + min(d, P.D - 1u)], s <= last && d < P.D);
      }
      workgroupBarrier();
      let dn = min(${KEY_DIMS}u, P.D - d0);
      for (var dd = 0u; dd < dn; dd++) {
        let a0 = qs[ty * ${LDQ}u + d0 + dd];
        let a1 = qs[(ty + 16u) * ${LDQ}u + d0 + dd];
        let b0 = kc[tx * ${LDS}u + dd];
        let b1 = kc[(tx + 16u) * ${LDS}u + dd];
        sc[0] += a0 * b0;
        sc[1] += a0 * b1;
        sc[2] += a1 * b0;
        sc[3] += a1 * b1;
      }
    }
    for (var ri = 0u; ri < 2u; ri++) {
      let t = t0 + ty + ri * 16u;
      for (var ci = 0u; ci < 2u; ci++) {
        let s = s0 + tx + ci * 16u;
        let seen = t <= last && s <= t && s >= first_key(t);
        ps[(ty + ri * 16u) * ${LDS}u + tx + ci * 16u] = select(negative_infinity(), sc[ri * 2u + ci] * P.scale, seen);
      }
    }
    workgroupBarrier();
    // Each row's new max, then the block's probabilities in place of its scores.
    var mx = array<f32, 2>(m[0], m[1]);
    for (var ri = 0u; ri < 2u; ri++) {
      for (var j = 0u; j < ${BLOCK_ROWS}u; j++) { mx[ri] = max(mx[ri], ps[(ty + ri * 16u) * ${LDS}u + j]); }
    }
    workgroupBarrier(); // every row's max read before its scores are overwritten
    for (var ri = 0u; ri < 2u; ri++) {
      for (var ci = 0u; ci < 2u; ci++) {
        let at = (ty + ri * 16u) * ${LDS}u + tx + ci * 16u;
        ps[at] = select(0.0, exp(ps[at] - mx[ri]), mx[ri] > negative_infinity()); // 0 for a masked key
      }
    }
    workgroupBarrier();
    for (var ri = 0u; ri < 2u; ri++) {
      if (mx[ri] > negative_infinity()) { // else no key of the row so far: nothing to add
        let rescale = exp(m[ri] - mx[ri]); // 0 the first time (m = -inf)
        var sum = 0.0;
        for (var j = 0u; j < ${BLOCK_ROWS}u; j++) { sum += ps[(ty + ri * 16u) * ${LDS}u + j]; }
        l[ri] = l[ri] * rescale + sum;
        for (var u = 0u; u < ${COLS}u; u++) { acc[ri * ${COLS}u + u] *= rescale; }
        m[ri] = mx[ri];
      }
    }
    // p v over the tile's keys, v staged 8 keys at a time.
    for (var k0 = 0u; k0 < ${BLOCK_ROWS}u; k0 += ${VALUE_KEYS}u) {
      workgroupBarrier(); // the previous rows of v consumed
      for (var e = lid; e < ${VALUE_KEYS}u * P.V; e += 256u) {
        let s = s0 + k0 + e / P.V;
        vc[e] = select(0.0, v[key_row(b, min(s, last), h) * P.V + e % P.V], s <= last);
      }
      workgroupBarrier();
      for (var kk = 0u; kk < ${VALUE_KEYS}u; kk++) {
        let p0 = ps[ty * ${LDS}u + k0 + kk];
        let p1 = ps[(ty + 16u) * ${LDS}u + k0 + kk];
        for (var u = 0u; u < ${COLS}u; u++) {
          let c = tx + u * 16u;
          if (c < P.V) {
            let x = vc[kk * P.V + c];
            acc[u] += p0 * x;
            acc[${COLS}u + u] += p1 * x;
          }
        }
      }
    }
  }
  for (var ri = 0u; ri < 2u; ri++) {
    let t = t0 + ty + ri * 16u;
    if (t <= last) {
      let row = query_row(b, t, h);
      for (var u = 0u; u < ${COLS}u; u++) {
        let c = tx + u * 16u;
        if (c < P.V) { o[row * P.V + c] = acc[ri * ${COLS}u + u] / l[ri]; }
      }
      if (tx == 0u) { lse[stat_index(b, h, t)] = m[ri] + select(log(l[ri]), log1p_unit(l[ri] - 1.0), l[ri] <= 2.0); }
    }
  }
}
`,
}
