// mixer_fwd in the chunked form for the delta rule (DeltaNet, Gated DeltaNet):
// no input gate, no denominator, forget gate none, fixed or scalar. The CPU's
// mixer_chunked.cpp computes the same function; the backward stays recurrent
// (ops.ts: webGpuMixerForm).
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
// Workgroup memory: (K + C) 16 floats in the scan, C C + 2 C in the WY kernel;
// K up to DELTA_MAX_K keeps it under WebGPU's default 16 KiB.
import { paramsWgsl, type Kernel } from '../driver'
import { cachedKernel as cached, ROW_INDEX_WGSL, WG } from './common'

/** The chunk length of the delta rule's chunked form (the WY solve's A is C x C in workgroup memory). */
export const DELTA_CHUNK = 32
/** Columns of V per scan workgroup. */
export const DELTA_COLUMNS = 16
/** The largest key dim the scan's state tile (K x 16 floats) fits for. */
export const DELTA_MAX_K = 192

/** How b varies: not at all (no gate) or per step (fixed and scalar gates, after the cumulative sum). */
export type DeltaDecay = 'none' | 'scalar'

const gateAtWgsl = (decay: DeltaDecay) => `fn gate_at(bh: u32, t: u32) -> f32 { return ${decay === 'none' ? '0.0' : 'work[P.bc_off + bh * P.T + t]'}; }\n`

const ENTRY = `@compute @workgroup_size(${WG})
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
var<workgroup> A: array<f32, ${C * C}>; // [i][j], strictly lower
var<workgroup> bs: array<f32, ${C}>;
var<workgroup> betas: array<f32, ${C}>;
${ENTRY}
  let idx = row_index(wid, nwg);
  if (idx >= P.B * P.H * P.N) { return; }
  let bh = idx / P.N;
  let n = idx % P.N;
  let b = bh / P.H;
  let h = bh % P.H;
  let t0 = n * ${C}u;
  let L = min(${C}u, P.T - t0);
  if (lid < ${C}u) {
    let t = t0 + min(lid, L - 1u);
    bs[lid] = gate_at(bh, t);
    betas[lid] = select(0.0, beta[(b * P.T + t) * P.H + h], lid < L);
  }
  workgroupBarrier();
  for (var e = lid; e < ${C * C}u; e += ${WG}u) {
    let i = e / ${C}u;
    let j = e % ${C}u;
    var s = 0.0;
    if (j < i && i < L) {
      let ri = ((b * P.T + t0 + i) * P.H + h) * P.K;
      let rj = ((b * P.T + t0 + j) * P.H + h) * P.K;
      for (var d = 0u; d < P.K; d++) { s += k[ri + d] * k[rj + d]; }
      s *= exp(bs[i] - bs[j]);
    }
    A[e] = s;
  }
  workgroupBarrier();
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

const scanParams = [
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
  let bh = row_index(wid, nwg);
  if (bh >= P.B * P.H) { return; }
  let b = bh / P.H;
  let h = bh % P.H;
  let c0 = wid.x * ${CB}u;
  let W = P.V + P.K;
  for (var e = lid; e < ${K * CB}u; e += ${WG}u) {
    let c = c0 + e % ${CB}u;
    S[e] = select(0.0, work[P.init_off + (bh * P.K + e / ${CB}u) * P.V + min(c, P.V - 1u)], c < P.V);
  }
  workgroupBarrier();
  for (var n = 0u; n < P.N; n++) {
    let t0 = n * ${C}u;
    let L = min(${C}u, P.T - t0);
    let bL = gate_at(bh, t0 + L - 1u);
    if (lid < ${C}u) { toEnd[lid] = select(0.0, exp(bL - gate_at(bh, t0 + min(lid, L - 1u))), lid < L); }
    for (var e = lid; e < ${K * CB}u; e += ${WG}u) {
      let c = c0 + e % ${CB}u;
      if (c < P.V) { work[P.m_off + ((bh * P.N + n) * P.K + e / ${CB}u) * P.V + c] = S[e]; }
    }
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
  for (var e = lid; e < ${K * CB}u; e += ${WG}u) {
    let c = c0 + e % ${CB}u;
    if (c < P.V) { work[P.final_off + (bh * P.K + e / ${CB}u) * P.V + c] = S[e]; }
  }
}
`,
  }))
}
