// mixer_fwd and mixer_bwd in the chunked form for the delta rule (DeltaNet,
// Gated DeltaNet): no input gate, no denominator, forget gate none, fixed or
// scalar (ops.ts: webGpuMixerForm). The CPU's mixer_chunked.cpp computes the
// same function.
//
// Per head, S'_t = e^{g_t} S_{t-1}, S_t = S'_t + β_t k_t (v_t - S'_tᵀ k_t)ᵀ,
// o_t = scale S_tᵀ q_t, by chunks of C = DELTA_CHUNK steps. Inside chunk n
// (b_i the cumulative log decay from its start, S_n the state entering it) the
// product of the steps' (I - β k kᵀ) and decays is the WY form:
//
//   A_ij = Σ_d k_{i,d} k_{j,d} e^{b_i - b_j}  (j < i)      T = I + diag(β) A
//   [Ũ | W] = X = T⁻¹ diag(β) [V | diag(e^b) K]          U = Ũ - W S_n (the new values)
//   o       = scale (diag(e^b) Q S_n + P U),  P_ij = (q_i·k_j) e^{b_i - b_j}, j <= i
//   S_{n+1} = e^{bL} S_n + Σ_j e^{bL - b_j} k_j U_jᵀ
//
// so the delta rule becomes the additive recurrence with values U, and o is
// mixer_chunked.ts's attend phase with U for v. Three launches:
//   1. deltaWyKernel, parallel over (head, chunk): A in workgroup memory, then
//      X by forward substitution, one invocation per column of [V | K];
//   2. deltaScanKernel, parallel over (head, 16 columns of V), sequential over
//      chunks: S_n out (for phase 3), U = Ũ - W S_n, then S_{n+1}; the state
//      tile (K x 16) and U (C x 16) stay in workgroup memory;
//   3. chunkAttendKernel (mixer_chunked.ts) with U for v.
// Every exponent is a difference <= 0, so strong gates underflow, never overflow.
// The backward (below) recomputes these, then runs a reverse scan and the WY
// form's own gradients. Workgroup memory: (K + C) 16 floats in the scans, at
// most 2 C C + 2 C + 3·17 C (wy_grad, 14 976 bytes) or C C + 2 C + 17 C + 8 C +
// 9 K (wy_bwd) in the per-chunk kernels; K up to DELTA_MAX_K keeps it under
// WebGPU's default 16 KiB, and no dispatch binds more than 8 storage buffers.
import { paramsWgsl, type Kernel } from '../driver'
import { cachedKernel as cached, ELEMENTWISE_WGSL, ROW_INDEX_WGSL, WG } from './common'

/** The chunk length of the delta rule's chunked form (the WY solve's A is C x C in workgroup memory). */
export const DELTA_CHUNK = 32
/** Columns of V per scan workgroup. */
export const DELTA_COLUMNS = 16
/** Key dims per tile of the per-chunk kernels' K Kᵀ (CHUNK_WGSL). */
const CHUNK_KEY_TILE = 16
/** The largest key dim the scan's state tile (K x 16 floats) fits for. */
export const DELTA_MAX_K = 192

/** How b varies: not at all (no gate) or per step (fixed and scalar gates, after the cumulative sum). */
export type DeltaDecay = 'none' | 'scalar'

export const gateAtWgsl = (decay: DeltaDecay) =>
  `fn gate_at(bh: u32, t: u32) -> f32 { return ${decay === 'none' ? '0.0' : 'work[P.bc_off + bh * P.T + t]'}; }\n`

export const ENTRY = `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {`

const wyParams = [
  ['B', 'u32'],
  ['T', 'u32'],
  ['H', 'u32'],
  ['K', 'u32'],
  ['V', 'u32'],
  ['N', 'u32'],
  ['bc_off', 'u32'],
] as const

/**
 * The per-chunk kernels' shared WGSL (workgroup (head, chunk) of a rowGrid(1, B H N)
 * launch): which chunk, its steps' b and β in workgroup memory (bs, betas; β = 0
 * past T), and A_ij = (k_i·k_j) e^{b_i - b_j} (j < i, else 0) into A: K Kᵀ through
 * tiles of CHUNK_KEY_TILE key dims of the chunk's rows (one tile serves both sides),
 * where each entry read its two rows of k from storage before. The module declares
 * k, beta, P (B, T, H, K, N) and gate_at.
 */
const CHUNK_WGSL = (C: number) => `
var<workgroup> A: array<f32, ${C * C}>; // [i][j], strictly lower
var<workgroup> bs: array<f32, ${C}>;
var<workgroup> betas: array<f32, ${C}>;
var<workgroup> kt: array<f32, ${C * (CHUNK_KEY_TILE + 1)}>; // [i][key dim] of a tile of the chunk's keys, rows padded
struct Chunk { bh: u32, n: u32, b: u32, h: u32, t0: u32, L: u32 }
fn chunk_of(idx: u32) -> Chunk {
  let bh = idx / P.N;
  let n = idx % P.N;
  let t0 = n * ${C}u;
  return Chunk(bh, n, bh / P.H, bh % P.H, t0, min(${C}u, P.T - t0));
}
// bs, betas and then A; from uniform control flow (it has barriers).
fn chunk_setup(lid: u32, c: Chunk) {
  if (lid < ${C}u) {
    let t = c.t0 + min(lid, c.L - 1u);
    bs[lid] = gate_at(c.bh, t);
    betas[lid] = select(0.0, beta[(c.b * P.T + t) * P.H + c.h], lid < c.L);
  }
  workgroupBarrier();
  // entry e = lid + WG m of A is (e / C, e % C)
  var acc: array<f32, ${Math.ceil((C * C) / WG)}>;
  for (var d0 = 0u; d0 < P.K; d0 += ${CHUNK_KEY_TILE}u) {
    for (var e = lid; e < ${C * CHUNK_KEY_TILE}u; e += ${WG}u) {
      let i = e / ${CHUNK_KEY_TILE}u;
      let d = d0 + e % ${CHUNK_KEY_TILE}u;
      let r = ((c.b * P.T + c.t0 + min(i, c.L - 1u)) * P.H + c.h) * P.K + min(d, P.K - 1u);
      kt[i * ${CHUNK_KEY_TILE + 1}u + e % ${CHUNK_KEY_TILE}u] = select(0.0, k[r], i < c.L && d < P.K);
    }
    workgroupBarrier();
    for (var m = 0u; m < ${Math.ceil((C * C) / WG)}u; m++) {
      let e = min(lid + m * ${WG}u, ${C * C - 1}u);
      let i = e / ${C}u;
      let j = e % ${C}u;
      var s = acc[m];
      for (var dd = 0u; dd < ${CHUNK_KEY_TILE}u; dd++) { s += kt[i * ${CHUNK_KEY_TILE + 1}u + dd] * kt[j * ${CHUNK_KEY_TILE + 1}u + dd]; }
      acc[m] = s;
    }
    workgroupBarrier();
  }
  for (var m = 0u; m < ${Math.ceil((C * C) / WG)}u; m++) {
    let e = lid + m * ${WG}u;
    let i = e / ${C}u;
    let j = e % ${C}u;
    if (e < ${C * C}u) { A[e] = select(0.0, acc[m] * exp(bs[i] - bs[min(j, i)]), j < i && i < c.L); }
  }
  workgroupBarrier();
}
`

/**
 * X = [Ũ | W] (rows x (V + K), row (b T + t) H + h) of every chunk: workgroup
 * (head, chunk), grid rowGrid(1, B H N). Rows past T are not written.
 */
export function deltaWyKernel(decay: DeltaDecay): Kernel {
  const C = DELTA_CHUNK
  return cached(`mixer_delta_chunked/wy/${decay}`, () => ({
    entry: 'main',
    params: wyParams,
    code: `${paramsWgsl(wyParams)}${ROW_INDEX_WGSL}
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read> work: array<f32>;
@group(0) @binding(5) var<storage, read_write> x: array<f32>;
${gateAtWgsl(decay)}
${CHUNK_WGSL(C)}
${ENTRY}
  let idx = row_index(wid, nwg);
  if (idx >= P.B * P.H * P.N) { return; }
  let ch = chunk_of(idx);
  let b = ch.b;
  let h = ch.h;
  let t0 = ch.t0;
  let L = ch.L;
  chunk_setup(lid, ch);
  // Forward substitution, one column of [V | K] per invocation: X_i = β_i (Y_i - Σ_{j<i} A_ij X_j).
  let W = P.V + P.K;
  for (var col = lid; col < W; col += ${WG}u) {
    var xs: array<f32, ${C}>;
    for (var i = 0u; i < L; i++) {
      let r = (b * P.T + t0 + i) * P.H + h;
      var y = 0.0;
      if (col < P.V) { y = v[r * P.V + col]; } else { y = k[r * P.K + col - P.V] * exp(bs[i]); }
      var s = 0.0;
      for (var j = 0u; j < i; j++) { s += A[i * ${C}u + j] * xs[j]; }
      xs[i] = betas[i] * (y - s);
      x[r * W + col] = xs[i];
    }
  }
}
`,
  }))
}

export const scanParams = [
  ['B', 'u32'],
  ['T', 'u32'],
  ['H', 'u32'],
  ['K', 'u32'],
  ['V', 'u32'],
  ['N', 'u32'],
  ['bc_off', 'u32'],
  ['m_off', 'u32'],
  ['init_off', 'u32'],
  ['final_off', 'u32'],
] as const

/**
 * WGSL shared by the scans (plain and staged, forward and reverse): the workgroup's head (bh, b, h),
 * its first value column c0 and the row width W of X = [Ũ | W].
 */
export const SCAN_HEAD_WGSL = `  let bh = row_index(wid, nwg);
  if (bh >= P.B * P.H) { return; }
  let b = bh / P.H;
  let h = bh % P.H;
  let c0 = wid.x * ${DELTA_COLUMNS}u;
  let W = P.V + P.K;`

/** WGSL: the state tile `tile` ([d][column], `rows` >= K rows, zero past K and V) loaded from work at init_off. */
export function loadStateTile(tile: string, rows: number): string {
  const CB = DELTA_COLUMNS
  return `for (var e = lid; e < ${rows * CB}u; e += ${WG}u) {
    let c = c0 + e % ${CB}u;
    let d = e / ${CB}u;
    ${tile}[e] = select(0.0, work[P.init_off + (bh * P.K + min(d, P.K - 1u)) * P.V + min(c, P.V - 1u)], c < P.V && d < P.K);
  }`
}

/** WGSL: the state tile's K rows stored into work: row d at `at.offset + (at.row(d)) V`, plus the column. */
export function storeStateTile(tile: string, K: number, at: { offset: string; row: (d: string) => string }): string {
  const CB = DELTA_COLUMNS
  return `for (var e = lid; e < ${K * CB}u; e += ${WG}u) {
      let c = c0 + e % ${CB}u;
      if (c < P.V) { work[${at.offset} + (${at.row(`e / ${CB}u`)}) * P.V + c] = ${tile}[e]; }
    }`
}

/** Where row d of the state entering chunk n goes in work, and of the final state. */
export const chunkStateRow = { offset: 'P.m_off', row: (d: string) => `(bh * P.N + n) * P.K + ${d}` }
export const finalStateRow = { offset: 'P.final_off', row: (d: string) => `bh * P.K + ${d}` }

/**
 * Along the chunks of one head, DELTA_COLUMNS columns of V per workgroup
 * (grid rowGrid(ceil(V / 16), B H)): the state entering chunk n into work at
 * m_off + (bh N + n) K V, the new values U (rows x V) into u, and the final
 * state at final_off; the initial one is read at init_off (both bh K V).
 * Workgroup memory holds the K x 16 state tile and U's C x 16 block; the
 * kernel is made per K (DELTA_MAX_K at most).
 */
export function deltaScanKernel(decay: DeltaDecay, K: number): Kernel {
  if (!Number.isInteger(K) || K < 1 || K > DELTA_MAX_K) throw new Error(`deltaScanKernel: K ${K} outside 1..${DELTA_MAX_K}`)
  const [C, CB] = [DELTA_CHUNK, DELTA_COLUMNS]
  return cached(`mixer_delta_chunked/scan/${decay}/K${K}`, () => ({
    entry: 'main',
    params: scanParams,
    code: `${paramsWgsl(scanParams)}${ROW_INDEX_WGSL}
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> work: array<f32>;
@group(0) @binding(4) var<storage, read_write> u: array<f32>;
${gateAtWgsl(decay)}
var<workgroup> S: array<f32, ${K * CB}>; // [d][column]
var<workgroup> U: array<f32, ${C * CB}>; // [step][column]
var<workgroup> toEnd: array<f32, ${C}>; // e^{bL - b_j}
${ENTRY}
${SCAN_HEAD_WGSL}
  ${loadStateTile('S', K)}
  workgroupBarrier();
  for (var n = 0u; n < P.N; n++) {
    let t0 = n * ${C}u;
    let L = min(${C}u, P.T - t0);
    let bL = gate_at(bh, t0 + L - 1u);
    if (lid < ${C}u) { toEnd[lid] = select(0.0, exp(bL - gate_at(bh, t0 + min(lid, L - 1u))), lid < L); }
    ${storeStateTile('S', K, chunkStateRow)}
    // U = Ũ - W S_n
    for (var e = lid; e < ${C * CB}u; e += ${WG}u) {
      let i = e / ${CB}u;
      let c = c0 + e % ${CB}u;
      var val = 0.0;
      if (i < L && c < P.V) {
        let r = (b * P.T + t0 + i) * P.H + h;
        val = x[r * W + c];
        for (var d = 0u; d < P.K; d++) { val -= x[r * W + P.V + d] * S[d * ${CB}u + e % ${CB}u]; }
        u[r * P.V + c] = val;
      }
      U[e] = val;
    }
    workgroupBarrier();
    // S_{n+1} = e^{bL} S_n + Σ_j e^{bL - b_j} k_j U_jᵀ
    let decayAll = exp(bL);
    for (var e = lid; e < ${K * CB}u; e += ${WG}u) {
      let d = e / ${CB}u;
      let c = e % ${CB}u;
      var s = S[e] * decayAll;
      for (var j = 0u; j < L; j++) { s += k[((b * P.T + t0 + j) * P.H + h) * P.K + d] * toEnd[j] * U[j * ${CB}u + c]; }
      S[e] = s;
    }
    workgroupBarrier();
  }
  ${storeStateTile('S', K, finalStateRow)}
}
`,
  }))
}

// ---- the backward ------------------------------------------------------------------
//
// With G_n the gradient of the state leaving chunk n (G_{N-1} = ds_final) and the
// forward's S_n, U, X recomputed, per chunk:
//   dU      = scale Pᵀ dO + diag(e^{bL - b}) K G_n             (C x V)
//   G_{n-1} = e^{bL} G_n + scale Σ_i e^{b_i} q_i dO_iᵀ - Wᵀ dU   (K x V), ds0 = G_{-1}
// (deltaReverseScanKernel, sequential over chunks; scale Pᵀ dO comes first from the
// additive attend kernel with zero states). dq and the additive part of dk and of
// the gate's gradient are the additive mixer's with U for v (mixer_chunked.ts). The
// WY form's share, with dX = [dU | -dU S_nᵀ] and dY = T⁻ᵀ dX (back substitution):
//   dv_i = β_i dY_{V,i}      dβ_i = dY_{V,i}·v_i + e^{b_i} dY_{K,i}·k_i + Σ_{j<i} dT_ij A_ij
//   dT = -dY Xᵀ (j < i),  dA_ij = β_i dT_ij
//   dk_i += β_i e^{b_i} dY_{K,i} + Σ_{j<i} dA_ij e^{b_i - b_j} k_j + Σ_{j>i} dA_ji e^{b_j - b_i} k_j
//   db_i  = β_i e^{b_i} dY_{K,i}·k_i + Σ_{j<i} dA_ij A_ij - Σ_{j>i} dA_ji A_ji
// and dg adds db's reverse cumulative sum inside each chunk (deltaGateAddKernel).

export const reverseParams = [...scanParams, ['scale', 'f32']] as const

/**
 * Along the chunks of one head in reverse, DELTA_COLUMNS columns of V per
 * workgroup (grid rowGrid(ceil(V / 16), B H)): G_n into work at m_off + (bh N + n) K V,
 * dU (rows x V) into du, ds0 at final_off; ds_final is read at init_off. pdo
 * holds scale Pᵀ dO (rows x V); x the forward's [Ũ | W].
 */
export function deltaReverseScanKernel(decay: DeltaDecay, K: number): Kernel {
  if (!Number.isInteger(K) || K < 1 || K > DELTA_MAX_K) throw new Error(`deltaReverseScanKernel: K ${K} outside 1..${DELTA_MAX_K}`)
  const [C, CB] = [DELTA_CHUNK, DELTA_COLUMNS]
  return cached(`mixer_delta_chunked/reverse_scan/${decay}/K${K}`, () => ({
    entry: 'main',
    params: reverseParams,
    code: `${paramsWgsl(reverseParams)}${ROW_INDEX_WGSL}
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> d_o: array<f32>;
@group(0) @binding(4) var<storage, read> x: array<f32>;
@group(0) @binding(5) var<storage, read> pdo: array<f32>;
@group(0) @binding(6) var<storage, read_write> work: array<f32>;
@group(0) @binding(7) var<storage, read_write> du: array<f32>;
${gateAtWgsl(decay)}
var<workgroup> G: array<f32, ${K * CB}>; // [d][column]
var<workgroup> dU: array<f32, ${C * CB}>; // [step][column]
var<workgroup> toEnd: array<f32, ${C}>; // e^{bL - b_i}
var<workgroup> fromStart: array<f32, ${C}>; // e^{b_i}
${ENTRY}
${SCAN_HEAD_WGSL}
  ${loadStateTile('G', K)}
  workgroupBarrier();
  for (var nn = 0u; nn < P.N; nn++) {
    let n = P.N - 1u - nn;
    let t0 = n * ${C}u;
    let L = min(${C}u, P.T - t0);
    let bL = gate_at(bh, t0 + L - 1u);
    if (lid < ${C}u) {
      let bi = gate_at(bh, t0 + min(lid, L - 1u));
      toEnd[lid] = select(0.0, exp(bL - bi), lid < L);
      fromStart[lid] = select(0.0, exp(bi), lid < L);
    }
    ${storeStateTile('G', K, chunkStateRow)}
    workgroupBarrier();
    // dU = scale Pᵀ dO + e^{bL - b_i} k_i G
    for (var e = lid; e < ${C * CB}u; e += ${WG}u) {
      let i = e / ${CB}u;
      let cc = e % ${CB}u;
      let c = c0 + cc;
      var val = 0.0;
      if (i < L && c < P.V) {
        let r = (b * P.T + t0 + i) * P.H + h;
        var s = 0.0;
        for (var d = 0u; d < P.K; d++) { s += k[r * P.K + d] * G[d * ${CB}u + cc]; }
        val = pdo[r * P.V + c] + toEnd[i] * s;
        du[r * P.V + c] = val;
      }
      dU[e] = val;
    }
    workgroupBarrier();
    // G <- e^{bL} G + Σ_i (scale e^{b_i} q_i dO_iᵀ - W_i dU_iᵀ)
    let decayAll = exp(bL);
    for (var e = lid; e < ${K * CB}u; e += ${WG}u) {
      let d = e / ${CB}u;
      let cc = e % ${CB}u;
      let c = min(c0 + cc, P.V - 1u);
      var s = G[e] * decayAll;
      for (var i = 0u; i < L; i++) {
        let r = (b * P.T + t0 + i) * P.H + h;
        s += P.scale * fromStart[i] * q[r * P.K + d] * d_o[r * P.V + c] - x[r * W + P.V + d] * dU[i * ${CB}u + cc];
      }
      G[e] = select(0.0, s, c0 + cc < P.V);
    }
    workgroupBarrier();
  }
  ${storeStateTile('G', K, finalStateRow)}
}
`,
  }))
}

const wyBwdParams = [...wyParams, ['s_off', 'u32']] as const

/** Columns of V per step of wy_bwd's dU Sₙᵀ product (its tiles: C x 8 of dU, K x 8 of Sₙ). */
const WY_BWD_TILE = 8

/**
 * dY = T⁻ᵀ [dU | -dU S_nᵀ] per chunk (rows x (V + K) into dy): workgroup (head,
 * chunk), grid rowGrid(1, B H N); S_n at s_off + (bh N + n) K V. -dU S_nᵀ (C x K)
 * is a tiled product first, written into dy's K columns, which the back
 * substitution then reads as its right-hand side: each invocation's reads of
 * S_n along its own row of K were strided by V and repeated for every step, the
 * kernel's whole cost. Made per K (the accumulators per invocation).
 */
export function deltaWyBwdKernel(decay: DeltaDecay, K: number): Kernel {
  if (!Number.isInteger(K) || K < 1 || K > DELTA_MAX_K) throw new Error(`deltaWyBwdKernel: K ${K} outside 1..${DELTA_MAX_K}`)
  const [C, TV] = [DELTA_CHUNK, WY_BWD_TILE]
  const M = Math.ceil((C * K) / WG) // outputs (i, d) of -dU S_nᵀ per invocation: e = lid + WG m, i = e / K, d = e % K
  return cached(`mixer_delta_chunked/wy_bwd/${decay}/K${K}`, () => ({
    entry: 'main',
    params: wyBwdParams,
    code: `${paramsWgsl(wyBwdParams)}${ROW_INDEX_WGSL}
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> beta: array<f32>;
@group(0) @binding(3) var<storage, read> du: array<f32>;
@group(0) @binding(4) var<storage, read> work: array<f32>;
@group(0) @binding(5) var<storage, read_write> dy: array<f32>;
${gateAtWgsl(decay)}
${CHUNK_WGSL(C)}
var<workgroup> dUt: array<f32, ${C * TV}>; // [i][column]
var<workgroup> St: array<f32, ${K * (TV + 1)}>; // [d][column], rows padded against bank conflicts
${ENTRY}
  let idx = row_index(wid, nwg);
  if (idx >= P.B * P.H * P.N) { return; }
  let ch = chunk_of(idx);
  let bh = ch.bh;
  let n = ch.n;
  let b = ch.b;
  let h = ch.h;
  let t0 = ch.t0;
  let L = ch.L;
  chunk_setup(lid, ch);
  let W = P.V + P.K;
  let sbase = P.s_off + (bh * P.N + n) * P.K * P.V;
  // -dU S_nᵀ by tiles of ${TV} columns of V.
  var acc: array<f32, ${M}>;
  for (var c0 = 0u; c0 < P.V; c0 += ${TV}u) {
    for (var e = lid; e < ${C * TV}u; e += ${WG}u) {
      let i = e / ${TV}u;
      let c = c0 + e % ${TV}u;
      let r = (b * P.T + t0 + min(i, L - 1u)) * P.H + h;
      dUt[e] = select(0.0, du[r * P.V + min(c, P.V - 1u)], i < L && c < P.V);
    }
    for (var e = lid; e < ${K * TV}u; e += ${WG}u) {
      let d = e / ${TV}u;
      let c = c0 + e % ${TV}u;
      St[d * ${TV + 1}u + e % ${TV}u] = select(0.0, work[sbase + d * P.V + min(c, P.V - 1u)], c < P.V);
    }
    workgroupBarrier();
    for (var m = 0u; m < ${M}u; m++) {
      let e = lid + m * ${WG}u;
      if (e < ${C * K}u) {
        let i = e / ${K}u;
        let d = e % ${K}u;
        var s = acc[m];
        for (var cc = 0u; cc < ${TV}u; cc++) { s += dUt[i * ${TV}u + cc] * St[d * ${TV + 1}u + cc]; }
        acc[m] = s;
      }
    }
    workgroupBarrier();
  }
  for (var m = 0u; m < ${M}u; m++) {
    let e = lid + m * ${WG}u;
    let i = e / ${K}u;
    if (e < ${C * K}u && i < L) { dy[((b * P.T + t0 + i) * P.H + h) * W + P.V + e % ${K}u] = -acc[m]; }
  }
  storageBarrier();
  // Back substitution, one column of [V | K] per invocation: dY_i = dX_i - Σ_{j>i} β_j A_ji dY_j.
  for (var col = lid; col < W; col += ${WG}u) {
    var ys: array<f32, ${C}>;
    for (var ii = 0u; ii < L; ii++) {
      let i = L - 1u - ii;
      let r = (b * P.T + t0 + i) * P.H + h;
      var dx = 0.0;
      if (col < P.V) { dx = du[r * P.V + col]; } else { dx = dy[r * W + col]; }
      for (var j = i + 1u; j < L; j++) { dx -= betas[j] * A[j * ${C}u + i] * ys[j]; }
      ys[i] = dx;
      dy[r * W + col] = dx;
    }
  }
}
`,
  }))
}

/** Columns of [V | K] per step of wy_grad's dY Xᵀ product (tiles of C x 16 of each). */
const WY_GRAD_TILE = 16

/**
 * From dY: dk (rows x K, added to), and per row [dβ, db] into rowgrads (rows x 2):
 * workgroup (head, chunk), grid rowGrid(1, B H N).
 */
export function deltaWyGradKernel(decay: DeltaDecay): Kernel {
  const [C, TW] = [DELTA_CHUNK, WY_GRAD_TILE]
  const M = Math.ceil((C * C) / WG) // dT's entries per invocation
  const PARTS = WG / C // invocations per row's dots
  if (!Number.isInteger(PARTS) || WG > C * (TW + 1)) throw new Error(`deltaWyGradKernel: WG ${WG} must be a multiple of C ${C} and fit a tile`)
  return cached(`mixer_delta_chunked/wy_grad/${decay}`, () => ({
    entry: 'main',
    params: wyParams,
    code: `${paramsWgsl(wyParams)}${ROW_INDEX_WGSL}
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read> x: array<f32>;
@group(0) @binding(5) var<storage, read> dy: array<f32>;
@group(0) @binding(6) var<storage, read> work: array<f32>;
@group(0) @binding(7) var<storage, read_write> dk: array<f32>;
@group(0) @binding(8) var<storage, read_write> rowgrads: array<f32>;
${gateAtWgsl(decay)}
var<workgroup> dT: array<f32, ${C * C}>; // -dY_i·X_j, j < i (dA_ij = β_i dT_ij)
var<workgroup> dYt: array<f32, ${C * (TW + 1)}>; // [i][column] of a tile of dY, rows padded
var<workgroup> Xt: array<f32, ${C * (TW + 1)}>; // [j][column] of a tile of X
${CHUNK_WGSL(C)}
${ENTRY}
  let idx = row_index(wid, nwg);
  if (idx >= P.B * P.H * P.N) { return; }
  let ch = chunk_of(idx);
  let b = ch.b;
  let h = ch.h;
  let t0 = ch.t0;
  let L = ch.L;
  chunk_setup(lid, ch);
  let W = P.V + P.K;
  // dT_ij = -dY_i·X_j (j < i), by tiles of ${TW} of the V + K columns: output e = lid + WG m is (e / C, e % C).
  var acc: array<f32, ${M}>;
  for (var c0 = 0u; c0 < W; c0 += ${TW}u) {
    for (var e = lid; e < ${C * TW}u; e += ${WG}u) {
      let i = e / ${TW}u;
      let c = c0 + e % ${TW}u;
      let r = ((b * P.T + t0 + min(i, L - 1u)) * P.H + h) * W + min(c, W - 1u);
      let inside = i < L && c < W;
      dYt[i * ${TW + 1}u + e % ${TW}u] = select(0.0, dy[r], inside);
      Xt[i * ${TW + 1}u + e % ${TW}u] = select(0.0, x[r], inside);
    }
    workgroupBarrier();
    for (var m = 0u; m < ${M}u; m++) {
      let e = min(lid + m * ${WG}u, ${C * C - 1}u);
      let i = e / ${C}u;
      let j = e % ${C}u;
      var s = acc[m];
      for (var cc = 0u; cc < ${TW}u; cc++) { s -= dYt[i * ${TW + 1}u + cc] * Xt[j * ${TW + 1}u + cc]; }
      acc[m] = s;
    }
    workgroupBarrier();
  }
  for (var m = 0u; m < ${M}u; m++) {
    let e = lid + m * ${WG}u;
    if (e < ${C * C}u) { dT[e] = select(0.0, acc[m], e % ${C}u < e / ${C}u && e / ${C}u < L); }
  }
  workgroupBarrier();
  // Per row: dβ_i and db_i. The dots dY_V,i·v_i and dY_K,i·k_i first, each over ${PARTS} invocations
  // (lid = ${PARTS} i + part, consecutive invocations on consecutive columns), their parts through the
  // tiles' memory, which the dT product is done with.
  {
    let i = lid / ${PARTS}u;
    let part = lid % ${PARTS}u;
    var dyv = 0.0;
    var dyk = 0.0;
    if (i < L) {
      let r = (b * P.T + t0 + i) * P.H + h;
      for (var c = part; c < P.V; c += ${PARTS}u) { dyv += dy[r * W + c] * v[r * P.V + c]; }
      for (var d = part; d < P.K; d += ${PARTS}u) { dyk += dy[r * W + P.V + d] * k[r * P.K + d]; }
    }
    dYt[lid] = dyv;
    Xt[lid] = dyk;
  }
  workgroupBarrier();
  if (lid < L) {
    let i = lid;
    let r = (b * P.T + t0 + i) * P.H + h;
    let ebi = exp(bs[i]);
    var dyv = 0.0;
    var dyk = 0.0;
    for (var part = 0u; part < ${PARTS}u; part++) {
      dyv += dYt[${PARTS}u * i + part];
      dyk += Xt[${PARTS}u * i + part];
    }
    var dbeta = dyv + ebi * dyk;
    var db = betas[i] * ebi * dyk;
    for (var j = 0u; j < i; j++) {
      let t = dT[i * ${C}u + j] * A[i * ${C}u + j];
      dbeta += t;
      db += betas[i] * t;
    }
    for (var j = i + 1u; j < L; j++) { db -= betas[j] * dT[j * ${C}u + i] * A[j * ${C}u + i]; }
    rowgrads[r * 2u] = dbeta;
    rowgrads[r * 2u + 1u] = db;
  }
  // dT becomes E_ij = dA_ij e^{b_i - b_j} = β_i dT_ij e^{b_i - b_j} (j < i), once per entry rather than
  // once per key dim in the sums below.
  workgroupBarrier();
  for (var e = lid; e < ${C * C}u; e += ${WG}u) {
    let i = e / ${C}u;
    let j = e % ${C}u;
    dT[e] = select(0.0, betas[i] * dT[e] * exp(bs[i] - bs[j]), j < i && i < L);
  }
  workgroupBarrier();
  // dk_i += β_i e^{b_i} dY_{K,i} + Σ_{j<i} E_ij k_j + Σ_{j>i} E_ji k_j
  for (var e = lid; e < ${C}u * P.K; e += ${WG}u) {
    let i = e / P.K;
    let d = e % P.K;
    if (i < L) {
      let r = (b * P.T + t0 + i) * P.H + h;
      var s = betas[i] * exp(bs[i]) * dy[r * W + P.V + d];
      for (var j = 0u; j < i; j++) { s += dT[i * ${C}u + j] * k[((b * P.T + t0 + j) * P.H + h) * P.K + d]; }
      for (var j = i + 1u; j < L; j++) { s += dT[j * ${C}u + i] * k[((b * P.T + t0 + j) * P.H + h) * P.K + d]; }
      dk[r * P.K + d] += s;
    }
  }
}
`,
  }))
}

const rowsParams = [
  ['rows', 'u32'],
  ['V', 'u32'],
  ['K', 'u32'],
] as const

/** dv_i = β_i dY_{V,i} (rows x V, from dy's first V columns) and dβ from rowgrads: grid(rows V, WG). */
export const deltaDvKernel: Kernel = {
  label: 'mixer_delta_chunked/dv',
  entry: 'main',
  params: rowsParams,
  code: `${paramsWgsl(rowsParams)}${ELEMENTWISE_WGSL}
@group(0) @binding(1) var<storage, read> beta: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> rowgrads: array<f32>;
@group(0) @binding(4) var<storage, read_write> dv: array<f32>;
@group(0) @binding(5) var<storage, read_write> dbeta: array<f32>;
${ENTRY}
  let id = element_index(wid, nwg, lid);
  if (id >= P.rows * P.V) { return; }
  let r = id / P.V;
  let c = id % P.V;
  dv[id] = beta[r] * dy[r * (P.V + P.K) + c];
  if (c == 0u) { dbeta[r] = rowgrads[r * 2u]; }
}
`,
}

const gateAddParams = [
  ['B', 'u32'],
  ['T', 'u32'],
  ['H', 'u32'],
  ['N', 'u32'],
  ['fixed_off', 'u32'],
] as const

/**
 * The WY form's share of the gate's gradient: db's reverse cumulative sum inside
 * each chunk, added to dg (B, T, H) for the scalar gate (an invocation per chunk,
 * grid(B H N, WG)), or its total added to the head's sum at dots[fixed_off + bh]
 * for the fixed gate (an invocation per head walking its chunks, grid(B H, WG);
 * summed over b after).
 */
export function deltaGateAddKernel(gate: 'fixed' | 'scalar'): Kernel {
  const C = DELTA_CHUNK
  return cached(`mixer_delta_chunked/gate_add/${gate}`, () => ({
    entry: 'main',
    params: gateAddParams,
    code: `${paramsWgsl(gateAddParams)}${ELEMENTWISE_WGSL}
@group(0) @binding(1) var<storage, read> rowgrads: array<f32>;
@group(0) @binding(2) var<storage, read_write> ${gate === 'fixed' ? 'dots' : 'dg'}: array<f32>;
${ENTRY}
  let id = element_index(wid, nwg, lid);
  if (id >= P.B * P.H${gate === 'fixed' ? '' : ' * P.N'}) { return; }
  let bh = id${gate === 'fixed' ? '' : ' / P.N'};
  let b = bh / P.H;
  let h = bh % P.H;
  var head = 0.0;
  let n_first = ${gate === 'fixed' ? '0u' : 'id % P.N'};
  let n_end = ${gate === 'fixed' ? 'P.N' : 'n_first + 1u'};
  for (var n = n_first; n < n_end; n++) {
    let t0 = n * ${C}u;
    var run = 0.0;
    for (var t = min(t0 + ${C}u, P.T); t > t0; t--) {
      let r = (b * P.T + t - 1u) * P.H + h;
      run += rowgrads[r * 2u + 1u];
      ${gate === 'fixed' ? 'head += run;' : 'dg[r] += run;'}
    }
  }
  ${gate === 'fixed' ? 'dots[P.fixed_off + bh] += head;' : ''}
}
`,
  }))
}
