// softmax_attn_fwd and softmax_attn_bwd in blocks of 32 rows against tiles of
// 32 partners, each invocation of 16 x 16 holding a 2 x 2 block of scores and
// 2 rows x 128/16 output columns in registers (the default since a GPU call
// timed them against the 16 x 16 tiled kernels of softmax_attention.ts, 2.5x
// faster: ops.ts useAttentionBlocks; the backward is at the end of this file).
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
import { ATTENTION_BWD_BINDINGS_WGSL, ATTENTION_COMMON_WGSL, ATTENTION_FWD_BINDINGS_WGSL, ATTENTION_PARAMS, TILED_MAX_DIM } from './softmax_attention'

/** Query rows per workgroup and keys per tile. */
export const BLOCK_ROWS = 32
const KEY_DIMS = 32 // k's dims staged at a time
const VALUE_KEYS = 8 // v's rows staged at a time
const LDQ = TILED_MAX_DIM + 1 // padded rows: the 2 rows a warp reads fall in different banks
const LDS = KEY_DIMS + 1 // k chunk and score rows, padded likewise
const COLS = TILED_MAX_DIM / 16 // output columns per invocation and row

/** The blocked forward's workgroup memory. */
export const BLOCKED_FWD_BYTES = 4 * (BLOCK_ROWS * LDQ + BLOCK_ROWS * LDS + VALUE_KEYS * TILED_MAX_DIM + BLOCK_ROWS * LDS)

/**
 * WGSL: acc[ri COLS + u] += sum over the tile's 32 partners j of weights[row ty + 16 ri][j] times
 * partner j's column tx + 16 u (columns below `width`): the partners staged 8 at a time into `stage`
 * ([8][width]), partner s0 + k0 + jj loaded by `load(partner, column)` (0 past the edge). The
 * forward's p v and dq's ds k.
 */
function accumulateOverTile(weights: string, stage: string, width: string, load: (partner: string, column: string) => string): string {
  return `for (var k0 = 0u; k0 < ${BLOCK_ROWS}u; k0 += ${VALUE_KEYS}u) {
      workgroupBarrier(); // the weights written; the staged rows before consumed
      for (var e = lid; e < ${VALUE_KEYS}u * ${width}; e += 256u) {
        ${stage}[e] = ${load(`(s0 + k0 + e / ${width})`, `e % ${width}`)};
      }
      workgroupBarrier();
      for (var kk = 0u; kk < ${VALUE_KEYS}u; kk++) {
        let w0 = ${weights}[ty * ${LDS}u + k0 + kk];
        let w1 = ${weights}[(ty + 16u) * ${LDS}u + k0 + kk];
        for (var u = 0u; u < ${COLS}u; u++) {
          let c = tx + u * 16u;
          if (c < ${width}) {
            let x = ${stage}[kk * ${width} + c];
            acc[u] += w0 * x;
            acc[${COLS}u + u] += w1 * x;
          }
        }
      }
    }`
}

/** The blocked kernels' entry: 16 x 16 invocations per (b, h) and block of 32 rows starting at row r0. */
const BLOCKED_ENTRY = `@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let blocks = (P.Tq + ${BLOCK_ROWS - 1}u) / ${BLOCK_ROWS}u;
  let item = row_index(wid, nwg); // (b H + h) blocks + block
  if (item >= P.B * P.H * blocks) { return; }
  let r0 = (item % blocks) * ${BLOCK_ROWS}u;
  let h = (item / blocks) % P.H;
  let b = item / (blocks * P.H);
  let ty = lid / 16u;
  let tx = lid % 16u;`

export const attentionBlockedFwdKernel: Kernel = {
  label: 'softmax_attn_fwd/blocked',
  entry: 'main',
  params: ATTENTION_PARAMS,
  code: `${ATTENTION_COMMON_WGSL}${ATTENTION_FWD_BINDINGS_WGSL}
var<workgroup> qs: array<f32, ${BLOCK_ROWS * LDQ}>; // [32 queries][LDQ]
var<workgroup> kc: array<f32, ${BLOCK_ROWS * LDS}>; // [32 keys][LDS]: dims d0 .. d0 + 31
var<workgroup> vc: array<f32, ${VALUE_KEYS * TILED_MAX_DIM}>; // [8 keys][V]
var<workgroup> ps: array<f32, ${BLOCK_ROWS * LDS}>; // [32 queries][LDS]: scores, then probabilities

${BLOCKED_ENTRY}
  let t0 = r0;
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
    ${accumulateOverTile('ps', 'vc', 'P.V', (key, c) => `select(0.0, v[key_row(b, min(${key}, last), h) * P.V + ${c}], ${key} <= last)`)}
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

// The backward in the same blocks (opt-in with the forward): dq per block of 32 queries against
// tiles of 32 keys, dk and dv per block of 32 keys against tiles of 32 queries. Each invocation
// recomputes a 2 x 2 block of p = exp(scale q·k - lse) and ds = p (do·v - delta), the four operands
// staged 32 dims at a time, then accumulates 2 rows x D/16 columns of its gradients over the tile,
// their partner rows (k for dq; q and do for dk and dv) staged 8 at a time in the same memory.
// q, k, dq, dk: (B, T, H, D)   v, do, dv: (B, T, H, V)   lse, delta: (B, H, T)
const STAGE = 4 * BLOCK_ROWS * LDS // four chunks [32][LDS]; or 8 partner rows of q and of do
const [Q_AT, K_AT, DO_AT, V_AT] = [0, 1, 2, 3].map((i) => i * BLOCK_ROWS * LDS)

/** The blocked backward kernels' workgroup memory (the dk/dv kernel's, the larger). */
export const BLOCKED_BWD_BYTES = 4 * (STAGE + 2 * BLOCK_ROWS * LDS)

/**
 * WGSL: 2 x 2 blocks of row · column dots, sc over D and sp over V, the rows' and columns' operands
 * staged 32 dims at a time: rowD(r, d) and rowV(r, d) load row r (< 32) of the block, colD and colV
 * column r of the tile (expressions of r and d, 0 where out of range).
 */
function blockDots(rowD: string, colD: string, rowV: string, colV: string): string {
  return `var sc = array<f32, 4>(0.0, 0.0, 0.0, 0.0); // [ri 2 + ci]
    var sp = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
    for (var d0 = 0u; d0 < max(P.D, P.V); d0 += ${KEY_DIMS}u) {
      workgroupBarrier(); // the previous chunk, or the previous tile's partner rows, consumed
      for (var e = lid; e < ${BLOCK_ROWS * KEY_DIMS}u; e += 256u) {
        let r = e / ${KEY_DIMS}u;
        let dd = e % ${KEY_DIMS}u;
        let d = d0 + dd;
        let at = r * ${LDS}u + dd;
        st[${Q_AT}u + at] = ${rowD};
        st[${K_AT}u + at] = ${colD};
        st[${DO_AT}u + at] = ${rowV};
        st[${V_AT}u + at] = ${colV};
      }
      workgroupBarrier();
      for (var dd = 0u; dd < ${KEY_DIMS}u; dd++) { // past D or V the staged values are 0
        let ra = ty * ${LDS}u + dd;
        let rb = (ty + 16u) * ${LDS}u + dd;
        let ca = tx * ${LDS}u + dd;
        let cb = (tx + 16u) * ${LDS}u + dd;
        sc[0] += st[${Q_AT}u + ra] * st[${K_AT}u + ca];
        sc[1] += st[${Q_AT}u + ra] * st[${K_AT}u + cb];
        sc[2] += st[${Q_AT}u + rb] * st[${K_AT}u + ca];
        sc[3] += st[${Q_AT}u + rb] * st[${K_AT}u + cb];
        sp[0] += st[${DO_AT}u + ra] * st[${V_AT}u + ca];
        sp[1] += st[${DO_AT}u + ra] * st[${V_AT}u + cb];
        sp[2] += st[${DO_AT}u + rb] * st[${V_AT}u + ca];
        sp[3] += st[${DO_AT}u + rb] * st[${V_AT}u + cb];
      }
    }`
}

const inRange = (valid: string, value: string) => `select(0.0, ${value}, ${valid})`

export const attentionBlockedDqKernel: Kernel = {
  label: 'softmax_attn_bwd/dq blocked',
  entry: 'main',
  params: ATTENTION_PARAMS,
  code: `${ATTENTION_COMMON_WGSL}${ATTENTION_BWD_BINDINGS_WGSL}
@group(0) @binding(7) var<storage, read_write> dq: array<f32>;
var<workgroup> st: array<f32, ${STAGE}>;
var<workgroup> dss: array<f32, ${BLOCK_ROWS * LDS}>; // [32 queries][LDS]
${BLOCKED_ENTRY}
  let t0 = r0;
  let last = min(t0 + ${BLOCK_ROWS - 1}u, P.Tq - 1u); // the block's last query, and its last key
  var lse_r: array<f32, 2>;
  var delta_r: array<f32, 2>;
  for (var ri = 0u; ri < 2u; ri++) {
    let t = min(t0 + ty + ri * 16u, last);
    lse_r[ri] = lse[stat_index(b, h, t)];
    delta_r[ri] = delta[stat_index(b, h, t)];
  }
  var acc: array<f32, ${2 * COLS}>; // [ri][u]: columns tx + 16 u of rows ty + 16 ri
  for (var s0 = first_key(t0); s0 <= last; s0 += ${BLOCK_ROWS}u) {
    ${blockDots(
      inRange('t0 + r <= last && d < P.D', 'q[query_row(b, min(t0 + r, last), h) * P.D + min(d, P.D - 1u)]'),
      inRange('s0 + r <= last && d < P.D', 'k[key_row(b, min(s0 + r, last), h) * P.D + min(d, P.D - 1u)]'),
      inRange('t0 + r <= last && d < P.V', 'd_o[query_row(b, min(t0 + r, last), h) * P.V + min(d, P.V - 1u)]'),
      inRange('s0 + r <= last && d < P.V', 'v[key_row(b, min(s0 + r, last), h) * P.V + min(d, P.V - 1u)]'),
    )}
    for (var ri = 0u; ri < 2u; ri++) {
      let t = t0 + ty + ri * 16u;
      for (var ci = 0u; ci < 2u; ci++) {
        let s = s0 + tx + ci * 16u;
        let seen = t <= last && s <= t && s >= first_key(t);
        let p = exp(sc[ri * 2u + ci] * P.scale - lse_r[ri]);
        dss[(ty + ri * 16u) * ${LDS}u + tx + ci * 16u] = select(0.0, p * (sp[ri * 2u + ci] - delta_r[ri]), seen);
      }
    }
    // dq += ds k over the tile's keys, k staged 8 rows at a time.
    ${accumulateOverTile('dss', 'st', 'P.D', (key, c) => `select(0.0, k[key_row(b, min(${key}, last), h) * P.D + ${c}], ${key} <= last)`)}
  }
  for (var ri = 0u; ri < 2u; ri++) {
    let t = t0 + ty + ri * 16u;
    if (t <= last) {
      let row = query_row(b, t, h);
      for (var u = 0u; u < ${COLS}u; u++) {
        let c = tx + u * 16u;
        if (c < P.D) { dq[row * P.D + c] = acc[ri * ${COLS}u + u] * P.scale; }
      }
    }
  }
}
`,
}

export const attentionBlockedDkvKernel: Kernel = {
  label: 'softmax_attn_bwd/dkv blocked',
  entry: 'main',
  params: ATTENTION_PARAMS,
  code: `${ATTENTION_COMMON_WGSL}${ATTENTION_BWD_BINDINGS_WGSL}
@group(0) @binding(7) var<storage, read_write> dk: array<f32>;
@group(0) @binding(8) var<storage, read_write> dv: array<f32>;
var<workgroup> st: array<f32, ${STAGE}>;
var<workgroup> ps: array<f32, ${BLOCK_ROWS * LDS}>; // [32 keys][LDS]
var<workgroup> dss: array<f32, ${BLOCK_ROWS * LDS}>; // [32 keys][LDS]
${BLOCKED_ENTRY}
  let s0 = r0;
  let last_key = min(s0 + ${BLOCK_ROWS - 1}u, P.Tq - 1u);
  let last = last_query(last_key); // the last query that sees any of the block's keys
  var acc_k: array<f32, ${2 * COLS}>; // [ri][u]: columns tx + 16 u of keys ty + 16 ri
  var acc_v: array<f32, ${2 * COLS}>;
  for (var t0 = s0; t0 <= last; t0 += ${BLOCK_ROWS}u) {
    ${blockDots(
      inRange('s0 + r <= last_key && d < P.D', 'k[key_row(b, min(s0 + r, last_key), h) * P.D + min(d, P.D - 1u)]'),
      inRange('t0 + r <= last && d < P.D', 'q[query_row(b, min(t0 + r, last), h) * P.D + min(d, P.D - 1u)]'),
      inRange('s0 + r <= last_key && d < P.V', 'v[key_row(b, min(s0 + r, last_key), h) * P.V + min(d, P.V - 1u)]'),
      inRange('t0 + r <= last && d < P.V', 'd_o[query_row(b, min(t0 + r, last), h) * P.V + min(d, P.V - 1u)]'),
    )}
    for (var ci = 0u; ci < 2u; ci++) {
      let t = t0 + tx + ci * 16u;
      let stat = stat_index(b, h, min(t, last));
      let lse_t = lse[stat];
      let delta_t = delta[stat];
      for (var ri = 0u; ri < 2u; ri++) {
        let s = s0 + ty + ri * 16u;
        let seen = s <= last_key && t <= last && t >= s && t <= last_query(s);
        let p = exp(sc[ri * 2u + ci] * P.scale - lse_t);
        let at = (ty + ri * 16u) * ${LDS}u + tx + ci * 16u;
        ps[at] = select(0.0, p, seen);
        dss[at] = select(0.0, p * (sp[ri * 2u + ci] - delta_t), seen);
      }
    }
    // dv += p do and dk += ds q over the tile's queries, q and do staged 8 rows at a time.
    for (var q0 = 0u; q0 < ${BLOCK_ROWS}u; q0 += ${VALUE_KEYS}u) {
      workgroupBarrier(); // p and ds written; the chunks, or the previous rows, consumed
      for (var e = lid; e < ${VALUE_KEYS}u * P.D; e += 256u) {
        let t = t0 + q0 + e / P.D;
        st[e] = select(0.0, q[query_row(b, min(t, last), h) * P.D + e % P.D], t <= last);
      }
      for (var e = lid; e < ${VALUE_KEYS}u * P.V; e += 256u) {
        let t = t0 + q0 + e / P.V;
        st[${VALUE_KEYS * TILED_MAX_DIM}u + e] = select(0.0, d_o[query_row(b, min(t, last), h) * P.V + e % P.V], t <= last);
      }
      workgroupBarrier();
      for (var tt = 0u; tt < ${VALUE_KEYS}u; tt++) {
        let p0 = ps[ty * ${LDS}u + q0 + tt];
        let p1 = ps[(ty + 16u) * ${LDS}u + q0 + tt];
        let g0 = dss[ty * ${LDS}u + q0 + tt];
        let g1 = dss[(ty + 16u) * ${LDS}u + q0 + tt];
        for (var u = 0u; u < ${COLS}u; u++) {
          let c = tx + u * 16u;
          if (c < P.V) {
            let x = st[${VALUE_KEYS * TILED_MAX_DIM}u + tt * P.V + c];
            acc_v[u] += p0 * x;
            acc_v[${COLS}u + u] += p1 * x;
          }
          if (c < P.D) {
            let x = st[tt * P.D + c];
            acc_k[u] += g0 * x;
            acc_k[${COLS}u + u] += g1 * x;
          }
        }
      }
    }
  }
  for (var ri = 0u; ri < 2u; ri++) {
    let s = s0 + ty + ri * 16u;
    if (s <= last_key) {
      let row = key_row(b, s, h);
      for (var u = 0u; u < ${COLS}u; u++) {
        let c = tx + u * 16u;
        if (c < P.D) { dk[row * P.D + c] = acc_k[ri * ${COLS}u + u] * P.scale; }
        if (c < P.V) { dv[row * P.V + c] = acc_v[ri * ${COLS}u + u]; }
      }
    }
  }
}
`,
}
