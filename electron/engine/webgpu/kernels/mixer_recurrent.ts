// mixer_fwd / mixer_bwd in the recurrent form: one step at a time, the CPU's
// mixer_recurrent.cpp step for step. A head's value columns split over
// workgroups (columnBlocks; the delta rule's r and update are per column), so
// a small batch of heads still fills a large GPU: on the H200, 32 heads
// (batch 16, 2 heads) of one workgroup each left Gated DeltaNet's training at
// 0.13 of CUDA's f32 throughput (bench/gpu/gpu-webgpu-bench.json), and mLSTM
// (exp input gate, max1 denominator: one workgroup a head until 2026-12-02)
// at 0.17. The per-head scalars every column needs (z, the exp gate's
// stabilizer m) are computed by each block alike, into its own copy; the one
// sum over columns the backward needs before walking back, do_t · o_t for the
// denominator's gradient, comes from the backward's first dispatch (phase 0,
// the forward pass) as a part per block; the denominator's own gradients (dz
// and its terms in dq, dk, dg, di) are block 0's.
//
// q, k, dq, dk: (B, T, H, K)   v, o, do, dv: (B, T, H, V)   g: [H] fixed, (B, T, H) scalar,
// (B, T, H, K) vector   beta: (B, T, H)   s0, s_final, ds: (B, H, K, V)   z0, z_final, dz: (B, H, K)
//
//   S'_t = Diag(exp g_t) S_{t-1},  z'_t = Diag(exp g_t) z_{t-1}
//   additive:   S_t = S' + k vᵀ,  z_t = z' + k
//   delta rule: r = v - S'ᵀ k,  S_t = S' + β k rᵀ
//   o_t = S_tᵀ q̂ / den',  q̂ = scale q;  den' = q̂ᵀz + eps (sum), max(|q̂ᵀz|, 1) (max1)
//
// The state lives in a work buffer (`work`, offsets in the parameters): the
// forward keeps S and z per head; the backward first runs the forward
// keeping the state before every ck-th step (checkpoints, ck ≈ √T), then
// walks back a chunk of ck steps at a time: it recomputes the chunk's states
// from its checkpoint, then steps back through them with dS and dz, writing
// dq, dk, dv, dg and dbeta into the work buffer too. Memory per head is
// (T/ck + ck) K V instead of T K V (at T = 32768, 363 states, not 32768), for
// one more forward pass. The gradients go to the work buffer so a
// dispatch binds at most 7 storage buffers (WebGPU guarantees 8). The host
// copies s0, z0, ds_final, dz_final in and s_final, z_final, ds0, dz0, and
// the gradients out (copyBufferToBuffer, in batch order). Input gates follow
// the CPU's gather_head: log weights for sigmoid and softplus, the exp gate
// stabilized by m (its floor for max1); the backward's forward pass keeps each
// step's gate scalars for the walk back. The switches are compiled in.
import { paramsWgsl, type Kernel } from '../driver'
import { ROW_INDEX_WGSL, SAFE_MATH_WGSL, WG, WORKGROUP_MAX_WGSL, WORKGROUP_SUM_WGSL } from './common'

export type MixerGate = 'none' | 'fixed' | 'scalar' | 'vector'
export type MixerNormalize = 'none' | 'sum' | 'max1'
export type MixerInputGate = 'none' | 'sigmoid' | 'softplus' | 'exp'

export interface MixerSwitches {
  gate: MixerGate
  inputGate: MixerInputGate
  delta: boolean
  normalize: MixerNormalize
}

/**
 * K and V at most these (one step's vectors live in workgroup memory, 12 KiB
 * with the reductions' scratch: within WebGPU's guaranteed 16 KiB). K reaches
 * 273 with taylor2 features of 16 dims (Based).
 */
export const MAX_MIXER_K = 512
export const MAX_MIXER_V = WG

const params = [
  ['B', 'u32'],
  ['T', 'u32'],
  ['H', 'u32'],
  ['K', 'u32'],
  ['V', 'u32'],
  ['scale', 'f32'],
  ['eps', 'f32'],
  // Offsets (in f32 elements) of the regions of the work buffer.
  // Per-block regions (`blk`, below) hold a copy per column block of a head's per-step scalars,
  // which every block computes alike (z, the exp gate's stabilizer, the kept gate scalars).
  ['s_off', 'u32'], // S (B H K V): the running state (forward), S_0 (backward)
  ['z_off', 'u32'], // z (NVB B H K), per block
  // backward: per head, the state before every ck-th step (nck of them), then one chunk's states (ck)
  ['states_off', 'u32'], // (B H (nck + ck) K V)
  ['zs_off', 'u32'], // (NVB B H (nck + ck) K), per block
  ['ck', 'u32'], // steps per checkpoint
  ['nck', 'u32'], // checkpoints: ceil(T / ck)
  ['ds_off', 'u32'], // backward: dS (B H K V), ds_final in, ds0 out
  ['dz_off', 'u32'], // backward: dz (B H K), kept by block 0 alone
  ['dq_off', 'u32'], // backward: dq, dk (B T H K), dv (B T H V), dg, dbeta, as the outputs lay out
  ['dk_off', 'u32'],
  ['dv_off', 'u32'],
  ['dg_off', 'u32'], // scalar: (B T H); vector: (B T H K); fixed: (B H) partial sums
  ['dbeta_off', 'u32'],
  ['m_off', 'u32'], // exp input gate: the stabilizer m (NVB B H), per block, m0 in, m_final out (block 0's)
  ['gates_off', 'u32'], // backward with an input gate: per (block, b, h, t) the step's log write weight, floor and shift (3 each)
  ['di_off', 'u32'], // backward: di (NVB B T H), a slice per block
  ['dot_off', 'u32'], // backward with a denominator: per (block, b, t, h) the block's part of do_t · o_t
  ['phase', 'u32'], // backward: 0 the forward pass (checkpoints, gate scalars, dot parts), 1 the walk back
  // Value columns per workgroup and workgroups per head, and the backward's partial-sum slice sizes.
  ['VB', 'u32'],
  ['NVB', 'u32'],
  ['dqk_slice', 'u32'], // B T H K
  ['row_slice', 'u32'], // B T H
  ['dg_slice', 'u32'], // the gate's gradient: B T H K (vector), B T H (scalar), B H (fixed)
] as const

/** The gate's log decay for key dim `a` at input row `row` (head h), as WGSL. */
function gateWgsl(gate: MixerGate): string {
  if (gate === 'fixed') return 'g[h]'
  if (gate === 'scalar') return 'g[row]'
  if (gate === 'vector') return 'g[row * P.K + a]'
  return '0.0'
}

/** WGSL writing di (the input gate's gradient) from dlw, the gradient of the log write weight. */
function diWgsl(s: MixerSwitches): string {
  if (s.inputGate === 'none') return ''
  const pre = 'ig[row]'
  const di =
    s.inputGate === 'exp'
      ? 'dlw'
      : s.inputGate === 'sigmoid'
        ? `dlw * sigmoid(-(${pre}))`
        : // d log(softplus(x)) / dx = sigmoid(x) / softplus(x)
          `dlw * select(sigmoid(${pre}) / (max(${pre}, 0.0) + log1p_exp_neg_abs(${pre})), 1.0, ${pre} < -20.0)`
  return `if (lid == 0u) { work[P.di_off + vb * P.row_slice + row] = ${di}; }`
}

/**
 * WGSL computing step_scalars for step t (the CPU's gather_head): sigmoid and
 * softplus give log sigmoid(i) and log softplus(i); exp stabilizes with
 * m_t = max(max_a g_t + m_{t-1}, i_t): shift = m_{t-1} - m_t, log weight
 * i_t - m_t, floor e^-m_t. Without an input gate: weight 1, floor 1, no shift.
 */
function inputGateWgsl(s: MixerSwitches): string {
  const scalars = (lw: string, floor: string, shift: string) =>
    `if (lid == 0u) { step_scalars[0] = ${lw}; step_scalars[1] = ${floor}; step_scalars[2] = ${shift}; }
  sync();`
  if (s.inputGate === 'none') return scalars('0.0', '1.0', '0.0')
  const pre = 'ig[(b * P.T + t) * P.H + h]'
  if (s.inputGate === 'sigmoid')
    return `let pre = ${pre};
  ${scalars('min(pre, 0.0) - log1p_exp_neg_abs(pre)', '1.0', '0.0')}`
  if (s.inputGate === 'softplus')
    return `let pre = ${pre};
  ${scalars('log_softplus(pre)', '1.0', '0.0')}`
  const row = '(b * P.T + t) * P.H + h'
  const gmax =
    s.gate === 'vector'
      ? `var part = -3.0e38;
  for (var a = lid; a < P.K; a += ${WG}u) { part = max(part, g[(${row}) * P.K + a]); }
  let gmax = workgroup_max(lid, part);`
      : `let gmax = ${s.gate === 'fixed' ? 'g[h]' : s.gate === 'scalar' ? `g[${row}]` : '0.0'};`
  return `let pre = ${pre};
  ${gmax}
  let m_prev = work[m];
  let m_new = max(gmax + m_prev, pre);
  workgroupBarrier();
  if (lid == 0u) { work[m] = m_new; }
  ${scalars('pre - m_new', 'exp(-m_new)', 'm_prev - m_new')}`
}

function header(s: MixerSwitches): string {
  const den = s.normalize !== 'none'
  return `${paramsWgsl(params)}${ROW_INDEX_WGSL}${SAFE_MATH_WGSL}${WORKGROUP_SUM_WGSL}${WORKGROUP_MAX_WGSL}
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> work: array<f32>;
${s.gate !== 'none' ? '@group(0) @binding(5) var<storage, read> g: array<f32>;' : ''}
${s.delta ? '@group(0) @binding(6) var<storage, read> beta: array<f32>;' : ''}
${s.inputGate !== 'none' ? '@group(0) @binding(8) var<storage, read> ig: array<f32>;' : ''}
var<workgroup> qs: array<f32, ${MAX_MIXER_K}>;
var<workgroup> ks: array<f32, ${MAX_MIXER_K}>;
var<workgroup> vs: array<f32, ${MAX_MIXER_V}>;
var<workgroup> fs: array<f32, ${MAX_MIXER_K}>; // exp(gate) per key dim
var<workgroup> rs: array<f32, ${WG}>;
var<workgroup> us: array<f32, ${WG}>;
var<workgroup> step_scalars: array<f32, 3>; // the step's log write weight, max1 floor and stabilizer shift
fn sync() { storageBarrier(); workgroupBarrier(); }
// This workgroup's value columns [c0, c1) of S (block vb of NVB): columns of the state are
// independent given the step's q, k, gate and β, so a head's columns split over workgroups; the
// sums over columns (dq, dk, dβ, dg) go to slice vb of their region and are added up after.
var<private> c0: u32;
var<private> c1: u32;
// This block's copy of a head's per-block regions: vb B H + b H + h.
var<private> blk: u32;
// The flat index (a V + c) of the i-th element of this block's K x (c1 - c0) part of a state.
fn block_element(i: u32) -> u32 { let n = c1 - c0; return (i / n) * P.V + c0 + i % n; }
const INPUT_GATE = ${s.inputGate !== 'none'};
fn log_softplus(x: f32) -> f32 {
  if (x > 20.0) { return log(x + log1p_exp_neg_abs(x)); }
  if (x < -20.0) { return x; }
  return log(max(x, 0.0) + log1p_exp_neg_abs(x));
}
// The step's input gate from its pre-activation (forward in time: the exp gate's stabilizer
// m is carried in work[m]): step_scalars = (log write weight, floor, shift of the log decay).
fn step_gates(lid: u32, b: u32, h: u32, t: u32, m: u32) {
  ${inputGateWgsl(s)}
}
const HAS_GATE = ${s.gate !== 'none'};
const DELTA = ${s.delta};
const DEN = ${den};
// Loads step t's q (scaled), k, v and decay factors into workgroup memory.
fn load_step(lid: u32, b: u32, h: u32, t: u32) {
  let row = (b * P.T + t) * P.H + h;
  for (var a = lid; a < P.K; a += ${WG}u) {
    qs[a] = q[row * P.K + a] * P.scale;
    ks[a] = k[row * P.K + a];
    fs[a] = exp(${gateWgsl(s.gate)} + step_scalars[2]);
  }
  for (var c = c0 + lid; c < c1; c += ${WG}u) { vs[c] = v[row * P.V + c]; }
}
// q̂ᵀz, the raw denominator of the step loaded in qs against the z at \`z\` (uniform control flow).
fn q_dot_z(lid: u32, z: u32) -> f32 {
  var part = 0.0;
  for (var a = lid; a < P.K; a += ${WG}u) { part += qs[a] * work[z + a]; }
  return workgroup_sum(lid, part);
}
// q̂ᵀS[:, c], column c's numerator of the step loaded in qs, for the state at \`S\`.
fn numerator(S: u32, c: u32) -> f32 {
  var num = 0.0;
  for (var a = 0u; a < P.K; a++) { num += qs[a] * work[S + a * P.V + c]; }
  return num;
}
// den' from the raw denominator.
fn denominator(den: f32) -> f32 {
  ${s.normalize === 'sum' ? 'return den + P.eps;' : 'return max(abs(den), step_scalars[1]);'}
}
// One forward step from the state at prev (S) and zprev (z) into next and znext (may be the same memory).
fn step_state(lid: u32, b: u32, h: u32, t: u32, prev: u32, zprev: u32, next: u32, znext: u32) {
  let row = (b * P.T + t) * P.H + h;
  if (DELTA) {
    // r = v - S'ᵀk with S' = Diag(f) S_{t-1}
    for (var c = c0 + lid; c < c1; c += ${WG}u) {
      var acc = vs[c];
      for (var a = 0u; a < P.K; a++) { acc -= fs[a] * work[prev + a * P.V + c] * ks[a]; }
      rs[c] = acc;
    }
    workgroupBarrier();
  }
  for (var i = lid; i < P.K * (c1 - c0); i += ${WG}u) {
    let e = block_element(i);
    let a = e / P.V;
    let c = e % P.V;
    ${s.delta ? 'work[next + e] = fs[a] * work[prev + e] + beta[row] * ks[a] * rs[c];' : 'work[next + e] = fs[a] * work[prev + e] + exp(step_scalars[0]) * ks[a] * vs[c];'}
  }
  if (DEN) {
    for (var a = lid; a < P.K; a += ${WG}u) { work[znext + a] = fs[a] * work[zprev + a]${s.delta ? '' : ' + exp(step_scalars[0]) * ks[a]'}; }
  }
  sync();
}
`
}

const ENTRY = `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let block = row_index(wid, nwg);
  if (block >= P.B * P.H * P.NVB) { return; }
  let bh = block / P.NVB;
  let vb = block % P.NVB;
  c0 = vb * P.VB;
  c1 = min(c0 + P.VB, P.V);
  blk = vb * P.B * P.H + bh;
  let b = bh / P.H;
  let h = bh % P.H;
  let KV = P.K * P.V;`

const cache = new Map<string, Kernel>()
const key = (s: MixerSwitches) => `${s.gate}/${s.inputGate}/${s.delta ? 'delta' : 'additive'}/${s.normalize}`

/** Forward: o, and the final S and z in the work buffer (s_off, z_off), which start as S_0 and z_0. */
export function mixerFwdKernel(s: MixerSwitches): Kernel {
  const label = `mixer_fwd/recurrent/${key(s)}`
  let k = cache.get(label)
  if (!k) {
    k = {
      label,
      entry: 'main',
      params,
      code: `${header(s)}
@group(0) @binding(7) var<storage, read_write> o: array<f32>;
${ENTRY}
  let S = P.s_off + bh * KV;
  let z = P.z_off + blk * P.K;
  for (var t = 0u; t < P.T; t++) {
    step_gates(lid, b, h, t, P.m_off + blk);
    load_step(lid, b, h, t);
    workgroupBarrier();
    step_state(lid, b, h, t, S, z, S, z);
    var dn = 1.0;
    if (DEN) { dn = denominator(q_dot_z(lid, z)); }
    let row = (b * P.T + t) * P.H + h;
    for (var c = c0 + lid; c < c1; c += ${WG}u) { o[row * P.V + c] = numerator(S, c) / dn; }
    sync();
  }
}
`,
    }
    cache.set(label, k)
  }
  return k
}

/** Backward: every gradient into the work buffer (see the offsets); dS and dz start as ds_final and dz_final. */
export function mixerBwdKernel(s: MixerSwitches): Kernel {
  const label = `mixer_bwd/recurrent/${key(s)}`
  let k = cache.get(label)
  if (k) return k
  const gradOfGate = s.gate === 'vector' ? 'work[P.dg_off + vb * P.dg_slice + row * P.K + a] = acc;' : s.gate !== 'none' ? 'gate_part += acc;' : ''
  k = {
    label,
    entry: 'main',
    params,
    code: `${header(s)}
@group(0) @binding(7) var<storage, read> d_o: array<f32>;
var<workgroup> dnum: array<f32, ${WG}>;
${ENTRY}
  let S0 = P.s_off + bh * KV;
  let z0 = P.z_off + blk * P.K;
  let dS = P.ds_off + bh * KV;
  let dz = P.dz_off + bh * P.K;
  // The denominator's gradients are block 0's (dz is one per head).
  let own_den = DEN && vb == 0u;
  // Checkpoint j: the state before step j ck; then one chunk's states, the one after step t at t - t0.
  let ckpts = P.states_off + bh * (P.nck + P.ck) * KV;
  let zckpts = P.zs_off + blk * (P.nck + P.ck) * P.K;
  let chunk = ckpts + P.nck * KV;
  let zchunk = zckpts + P.nck * P.K;
  let gates = P.gates_off + blk * P.T * 3u;
  if (P.phase == 0u) {
  // Forward in place on S_0 (its copy is checkpoint 0), keeping the checkpoints, the gate scalars and,
  // with a denominator, this block's part of do_t · o_t.
  for (var t = 0u; t < P.T; t++) {
    if (t % P.ck == 0u) {
      let j = t / P.ck;
      for (var i = lid; i < P.K * (c1 - c0); i += ${WG}u) { let e = block_element(i); work[ckpts + j * KV + e] = work[S0 + e]; }
      if (DEN) { for (var a = lid; a < P.K; a += ${WG}u) { work[zckpts + j * P.K + a] = work[z0 + a]; } }
      sync();
    }
    step_gates(lid, b, h, t, P.m_off + blk);
    if (INPUT_GATE && lid == 0u) {
      for (var j = 0u; j < 3u; j++) { work[gates + t * 3u + j] = step_scalars[j]; }
    }
    load_step(lid, b, h, t);
    workgroupBarrier();
    step_state(lid, b, h, t, S0, z0, S0, z0);
    if (DEN) {
      let dn = denominator(q_dot_z(lid, z0));
      let row = (b * P.T + t) * P.H + h;
      var part = 0.0;
      for (var c = c0 + lid; c < c1; c += ${WG}u) { part += d_o[row * P.V + c] * (numerator(S0, c) / dn); }
      let dot = workgroup_sum(lid, part);
      if (lid == 0u) { work[P.dot_off + vb * P.row_slice + row] = dot; }
      sync();
    }
  }
  return;
  }
  var fixed_sum = 0.0;
  for (var jj = 0u; jj < P.nck; jj++) {
    let j = P.nck - 1u - jj;
    let t0 = j * P.ck;
    let t1 = min(t0 + P.ck, P.T);
    // The chunk's states again, from its checkpoint.
    for (var t = t0; t < t1; t++) {
      sync();
      if (lid == 0u) {
        for (var n = 0u; n < 3u; n++) { step_scalars[n] = select(f32(n == 1u), work[gates + t * 3u + n], INPUT_GATE); }
      }
      workgroupBarrier();
      load_step(lid, b, h, t);
      workgroupBarrier();
      let prev = select(chunk + (t - t0 - 1u) * KV, ckpts + j * KV, t == t0);
      let zprev = select(zchunk + (t - t0 - 1u) * P.K, zckpts + j * P.K, t == t0);
      step_state(lid, b, h, t, prev, zprev, chunk + (t - t0) * KV, zchunk + (t - t0) * P.K);
    }
  for (var i = t0; i < t1; i++) {
    let t = t1 - 1u - (i - t0);
    let row = (b * P.T + t) * P.H + h;
    sync();
    if (lid == 0u) {
      for (var j = 0u; j < 3u; j++) { step_scalars[j] = select(f32(j == 1u), work[gates + t * 3u + j], INPUT_GATE); }
    }
    workgroupBarrier();
    load_step(lid, b, h, t);
    workgroupBarrier();
    let w = exp(step_scalars[0]);
    let St = chunk + (t - t0) * KV;
    let zt = zchunk + (t - t0) * P.K;
    let Sp = select(chunk + (t - t0 - 1u) * KV, ckpts + j * KV, t == t0); // S_{t-1}; S' = Diag(f) S_{t-1}
    let zp = select(zchunk + (t - t0 - 1u) * P.K, zckpts + j * P.K, t == t0);
    // o_t = num / den'
    var dden = 0.0;
    if (DEN) {
      let den = q_dot_z(lid, zt);
      let dn = denominator(den);
      for (var c = c0 + lid; c < c1; c += ${WG}u) { dnum[c] = d_o[row * P.V + c] / dn; }
      // do_t · o_t over every column: the blocks' parts from phase 0.
      var dot = 0.0;
      for (var s = 0u; s < P.NVB; s++) { dot += work[P.dot_off + s * P.row_slice + row]; }
      let d_dn = -dot / dn;
      ${s.normalize === 'sum' ? 'dden = d_dn;' : 'dden = select(0.0, select(-d_dn, d_dn, den >= 0.0), abs(den) > step_scalars[1]);'}
    } else {
      for (var c = c0 + lid; c < c1; c += ${WG}u) { dnum[c] = d_o[row * P.V + c]; }
    }
    workgroupBarrier();
    for (var a = lid; a < P.K; a += ${WG}u) {
      var acc = 0.0;
      for (var c = c0; c < c1; c++) { acc += work[St + a * P.V + c] * dnum[c]; }
      if (own_den) { acc += work[zt + a] * dden; }
      work[P.dq_off + vb * P.dqk_slice + row * P.K + a] = acc * P.scale;
      if (own_den) { work[dz + a] += qs[a] * dden; }
    }
    for (var i = lid; i < P.K * (c1 - c0); i += ${WG}u) { let e = block_element(i); work[dS + e] += qs[e / P.V] * dnum[e % P.V]; }
    sync();
    if (DELTA) {
      // r = v - S'ᵀk; du = dSᵀk
      for (var c = c0 + lid; c < c1; c += ${WG}u) {
        var r = vs[c];
        var du = 0.0;
        for (var a = 0u; a < P.K; a++) {
          r -= fs[a] * work[Sp + a * P.V + c] * ks[a];
          du += work[dS + a * P.V + c] * ks[a];
        }
        rs[c] = r;
        us[c] = du;
      }
      workgroupBarrier();
      ${
        s.delta
          ? `let bt = beta[row];
      var part = 0.0;
      for (var c = c0 + lid; c < c1; c += ${WG}u) {
        part += us[c] * rs[c];
        work[P.dv_off + row * P.V + c] = bt * us[c];
      }
      let dbeta = workgroup_sum(lid, part);
      if (lid == 0u) { work[P.dbeta_off + vb * P.row_slice + row] = dbeta; }
      // dk = β dS r - S' dr, dr = β du
      for (var a = lid; a < P.K; a += ${WG}u) {
        var acc = 0.0;
        for (var c = c0; c < c1; c++) { acc += work[dS + a * P.V + c] * rs[c] * bt - fs[a] * work[Sp + a * P.V + c] * bt * us[c]; }
        work[P.dk_off + vb * P.dqk_slice + row * P.K + a] = acc;
      }
      sync();
      for (var i = lid; i < P.K * (c1 - c0); i += ${WG}u) { let e = block_element(i); work[dS + e] -= ks[e / P.V] * bt * us[e % P.V]; }
      sync();`
          : ''
      }
    } else {
      // S_t = S' + w k vᵀ, z_t = z' + w k
      for (var c = c0 + lid; c < c1; c += ${WG}u) {
        var acc = 0.0;
        for (var a = 0u; a < P.K; a++) { acc += work[dS + a * P.V + c] * ks[a]; }
        work[P.dv_off + row * P.V + c] = acc * w;
      }
      var dw = 0.0;
      for (var a = lid; a < P.K; a += ${WG}u) {
        var acc = 0.0;
        for (var c = c0; c < c1; c++) { acc += work[dS + a * P.V + c] * vs[c]; }
        if (own_den) { acc += work[dz + a]; }
        work[P.dk_off + vb * P.dqk_slice + row * P.K + a] = acc * w;
        dw += ks[a] * acc;
      }
      if (INPUT_GATE) {
        let dlw = w * workgroup_sum(lid, dw);
        ${diWgsl(s)}
      }
      sync();
    }
    if (HAS_GATE) {
      var gate_part = 0.0;
      for (var a = lid; a < P.K; a += ${WG}u) {
        var acc = 0.0;
        for (var c = c0; c < c1; c++) { acc += work[dS + a * P.V + c] * fs[a] * work[Sp + a * P.V + c]; }
        if (own_den) { acc += work[dz + a] * fs[a] * work[zp + a]; }
        ${gradOfGate}
      }
      ${s.gate === 'scalar' || s.gate === 'fixed' ? 'let gsum = workgroup_sum(lid, gate_part);' : ''}
      ${s.gate === 'scalar' ? 'if (lid == 0u) { work[P.dg_off + vb * P.dg_slice + row] = gsum; }' : ''}
      ${s.gate === 'fixed' ? 'fixed_sum += gsum;' : ''}
      sync();
      for (var i = lid; i < P.K * (c1 - c0); i += ${WG}u) { let e = block_element(i); work[dS + e] *= fs[e / P.V]; }
      if (own_den) { for (var a = lid; a < P.K; a += ${WG}u) { work[dz + a] *= fs[a]; } }
      sync();
    }
  }
  }
  ${s.gate === 'fixed' ? 'if (lid == 0u) { work[P.dg_off + vb * P.dg_slice + bh] = fixed_sum; }' : ''}
}
`,
  }
  cache.set(label, k)
  return k
}

/**
 * How a head's value columns split over workgroups: about 512 workgroups in all (a few per
 * compute unit of a large GPU; a head alone leaves most of one idle at small batch), no more than
 * ⌈V/16⌉ blocks a head, whatever the switches (each block keeps its own copy of the per-head scalars).
 */
export function columnBlocks(heads: number, V: number): { VB: number; NVB: number } {
  const wanted = Math.max(1, Math.min(Math.ceil(V / 16), Math.ceil(512 / heads)))
  const VB = Math.ceil(V / wanted)
  return { VB, NVB: Math.ceil(V / VB) }
}

const sliceParams = [
  ['n', 'u32'],
  ['slices', 'u32'],
  ['first', 'u32'],
] as const

/**
 * out[i] = sum over s < slices of work[first + s n + i]: partial sums added up, written to the
 * output. The column blocks' dq, dk, dβ and dg (a slice per block), and the fixed gate's dg[h]
 * (a slice of H per batch row, then per block).
 */
export const sliceSumKernel: Kernel = {
  label: 'mixer_bwd/slice_sum',
  entry: 'main',
  params: sliceParams,
  code: `${paramsWgsl(sliceParams)}
@group(0) @binding(1) var<storage, read> work: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * ${WG}u + lid;
  if (i >= P.n) { return; }
  var sum = 0.0;
  for (var s = 0u; s < P.slices; s++) { sum += work[P.first + s * P.n + i]; }
  out[i] = sum;
}
`,
}
