// mixer_fwd / mixer_bwd in the chunked form, for the additive mixer with a
// forget gate of any shape: none, fixed, scalar or vector (per key dim); no
// input gate, no delta rule, no denominator. mixer_chunked_wrap.ts reduces the
// sigmoid and softplus input gates and the denominator 'sum' to this mixer;
// ops.ts sends the exp input gate, max1 and the delta rule to the recurrent
// kernels. The CPU's mixer_chunked.cpp computes the same function.
//
// q, k, dq, dk: (B, T, H, K)   v, o, do, dv: (B, T, H, V)   g, dg: [H] fixed, (B, T, H) scalar,
// (B, T, H, K) vector   s0, s_final, ds_final, ds0: (B, H, K, V)   per head, chunks n of C
// steps (C a multiple of 16), N = ceil(T / C) of them, the last one T - (N - 1) C long.
//
// Inside chunk n, b_i is the cumulative log decay from the chunk's start to
// step i (b_i = g_{t0} + ... + g_i <= 0, per key dim d for the vector gate:
// b_{i,d}), bL that of its last step, S_n the state entering it, q̂ = scale q:
//
//   o_i     = Σ_d e^{b_{i,d}} q̂_{i,d} S_n[d] + Σ_{j <= i} (Σ_d e^{b_{i,d} - b_{j,d}} q̂_{i,d} k_{j,d}) v_j
//   S_{n+1} = e^{bL} ⊙ S_n + Σ_j (e^{bL - b_j} ⊙ k_j) v_jᵀ
//
// Every exponent is a difference that is <= 0 (b_i - b_j with j <= i, bL - b_j,
// b_i): no e^{-b} is ever formed, so gates of -5 per step over a 128-step
// chunk (b = -640) underflow to 0 instead of overflowing to inf and NaN. The
// vector gate pays for it with one exp per multiply-add in its scores (the
// CPU's row-block rescaling would save them; correctness first).
//
// Three phases, so that the only sequential loop is over chunks:
//   1. chunkStateKernel, parallel over (head, chunk, 16 rows of K): the
//      chunk's own contribution D_n = Σ_j (e^{bL - b_j} ⊙ k_j) v_jᵀ (K x V);
//   2. chunkScanKernel, parallel over (head, element of K x V): S_{n+1} =
//      e^{bL} ⊙ S_n + D_n over the N chunks, overwriting D_n with S_n: the
//      work buffer holds N K V floats per head (the recurrent backward's T K V);
//   3. chunkAttendKernel, parallel over (head, 16 rows, 64 columns): o from
//      S_n (the inter-chunk part) plus the causal decayed scores inside the
//      chunk, each 16 x 16 block of scores through workgroup memory.
// The backward mirrors it: the same phases 1 and 2 for S_n; then phase 1
// with E_n = Σ_i (e^{b_i} ⊙ q̂_i) do_iᵀ and a reverse scan for G_n, the
// gradient of the state leaving chunk n (G_{N-1} = ds_final, G_{n-1} =
// e^{bL} ⊙ G_n + E_n, ds0 = e^{bL_0} ⊙ G_0 + E_0); then three attend launches
// with the operands' roles swapped (one kernel; switches for the direction,
// the state's layout and which operand carries the key dim), written for the
// scalar gate (the vector gate's decays go per key dim d):
//   dq_i = scale (e^{b_i} S_n do_i + Σ_{j <= i} e^{b_i - b_j} (do_i·v_j) k_j)
//   dk_j = e^{bL - b_j} G_n v_j + Σ_{i >= j} e^{b_i - b_j} (v_j·do_i) q̂_i
//   dv_j = e^{bL - b_j} G_nᵀ k_j + Σ_{i >= j} e^{b_i - b_j} (k_j·q̂_i) do_i
// and the gate's gradient from pieces the dq and dk launches leave behind
// (chunkGateGradKernel says which, and why not the shorter identity).
//
// Workgroups are 256 invocations as 16 x 16; workgroup memory stays under
// 12 KiB and a dispatch binds at most 7 storage buffers, inside WebGPU's
// default limits (16 KiB, 8 buffers). No subgroups.
import { paramsWgsl, type Kernel } from '../driver'
import { cachedKernel as cached, ELEMENTWISE_WGSL, ROW_INDEX_WGSL, WG, WORKGROUP_SUM_WGSL } from './common'

/** The forget gates the chunked form covers. */
export type ChunkedGate = 'none' | 'fixed' | 'scalar' | 'vector'

/** How b varies: not at all, per step (fixed and scalar gates, after the cumulative sum), per step and key dim. */
export type ChunkDecay = 'none' | 'scalar' | 'vector'

/** Rows of a block (the chunk length is a multiple of it) and output columns of a workgroup. */
export const CHUNK_ROWS = 16
export const CHUNK_COLUMNS = 64

/** b (the cumulative log decay inside the chunk) of head bh at step t and key dim d, from the work buffer (B H T GK, GK = K or 1); 0 without a gate. */
const gateAtWgsl = (decay: ChunkDecay) =>
  `fn gate_at(bh: u32, t: u32, d: u32) -> f32 { return ${decay === 'none' ? '0.0' : `work[P.bc_off + (bh * P.T + t) * P.GK${decay === 'vector' ? ' + d' : ''}]`}; }\n`

const ENTRY = `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {`

const cumsumParams = [
  ['B', 'u32'],
  ['T', 'u32'],
  ['H', 'u32'],
  ['C', 'u32'],
  ['N', 'u32'],
  ['GK', 'u32'],
  ['bc_off', 'u32'],
] as const

/**
 * b per step (B H T GK, in the work buffer at bc_off; GK = K for the vector
 * gate, else 1): the running sum of g from each chunk's start, one invocation
 * per (head, chunk, key dim).
 */
export function chunkGateCumsumKernel(gate: Exclude<ChunkedGate, 'none'>): Kernel {
  const g = gate === 'fixed' ? 'g[h]' : gate === 'scalar' ? 'g[(b * P.T + t) * P.H + h]' : 'g[((b * P.T + t) * P.H + h) * P.GK + d]'
  return cached(`mixer_chunked/gate_cumsum/${gate}`, () => ({
    entry: 'main',
    params: cumsumParams,
    code: `${paramsWgsl(cumsumParams)}${ELEMENTWISE_WGSL}
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> work: array<f32>;
${ENTRY}
  let id = element_index(wid, nwg, lid);
  if (id >= P.B * P.H * P.N * P.GK) { return; }
  let d = id % P.GK;
  let bh = id / P.GK / P.N;
  let n = (id / P.GK) % P.N;
  let b = bh / P.H;
  let h = bh % P.H;
  let t1 = min(n * P.C + P.C, P.T);
  var acc = 0.0;
  for (var t = n * P.C; t < t1; t++) {
    acc += ${g};
    work[P.bc_off + (bh * P.T + t) * P.GK + d] = acc;
  }
}
`,
  }))
}

const stateParams = [
  ['B', 'u32'],
  ['T', 'u32'],
  ['H', 'u32'],
  ['C', 'u32'],
  ['N', 'u32'],
  ['DX', 'u32'],
  ['DZ', 'u32'],
  ['GK', 'u32'],
  ['x_scale', 'f32'],
  ['bc_off', 'u32'],
  ['m_off', 'u32'],
] as const

/**
 * Phase 1: per chunk, M_n[d][c] = Σ_j w_{j,d} x_j[d] z_j[c] (DX = K by DZ = V,
 * at m_off + (bh N + n) DX DZ) with w_j = e^{bL - b_j} (`toEnd`: the forward's
 * D_n, x = k, z = v) or e^{b_j} (the backward's E_n, x = q̂, z = do). A
 * workgroup makes 16 rows by 64 columns of one chunk's M, walking the chunk 16
 * steps at a time.
 */
export function chunkStateKernel(decay: ChunkDecay, toEnd: boolean): Kernel {
  return cached(`mixer_chunked/state/${decay}/${toEnd ? 'to_end' : 'from_start'}`, () => ({
    entry: 'main',
    params: stateParams,
    code: `${paramsWgsl(stateParams)}${ROW_INDEX_WGSL}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> z: array<f32>;
@group(0) @binding(3) var<storage, read_write> work: array<f32>;
${gateAtWgsl(decay)}
var<workgroup> xs: array<f32, 256>; // [step][row of M], weighted
var<workgroup> zs: array<f32, 1024>; // [step][column of M]
${ENTRY}
  let dblocks = (P.DX + 15u) / 16u;
  let idx = row_index(wid, nwg);
  if (idx >= P.B * P.H * P.N * dblocks) { return; }
  let db = idx % dblocks;
  let bh = (idx / dblocks) / P.N;
  let n = (idx / dblocks) % P.N;
  let b = bh / P.H;
  let h = bh % P.H;
  let t0 = n * P.C;
  let t1 = min(t0 + P.C, P.T);
  let r = lid / 16u;
  let cg = lid % 16u;
  let c0 = wid.x * 64u;
  let bL = gate_at(bh, t1 - 1u, min(db * 16u + cg, P.DX - 1u));
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  for (var j0 = t0; j0 < t1; j0 += 16u) {
    // Invocation (r, cg) loads x[j0 + r][16 db + cg]; the weights' exponents are <= 0.
    let j = j0 + r;
    let d = db * 16u + cg;
    var xv = 0.0;
    if (j < t1 && d < P.DX) {
      let bj = gate_at(bh, j, d);
      xv = x[((b * P.T + j) * P.H + h) * P.DX + d] * P.x_scale * exp(${toEnd ? 'bL - bj' : 'bj'});
    }
    xs[lid] = xv;
    for (var e = lid; e < 1024u; e += 256u) {
      let jj = j0 + e / 64u;
      let c = c0 + e % 64u;
      zs[e] = select(0.0, z[((b * P.T + min(jj, P.T - 1u)) * P.H + h) * P.DZ + min(c, P.DZ - 1u)], jj < t1 && c < P.DZ);
    }
    workgroupBarrier();
    for (var jj = 0u; jj < 16u; jj++) {
      let xr = xs[jj * 16u + r];
      for (var u = 0u; u < 4u; u++) { acc[u] += xr * zs[jj * 64u + cg + 16u * u]; }
    }
    workgroupBarrier();
  }
  let d = db * 16u + r;
  if (d < P.DX) {
    let base = P.m_off + ((bh * P.N + n) * P.DX + d) * P.DZ;
    for (var u = 0u; u < 4u; u++) {
      let c = c0 + cg + 16u * u;
      if (c < P.DZ) { work[base + c] = acc[u]; }
    }
  }
}
`,
  }))
}

const scanParams = [
  ['BH', 'u32'],
  ['T', 'u32'],
  ['C', 'u32'],
  ['N', 'u32'],
  ['KV', 'u32'],
  ['V', 'u32'],
  ['GK', 'u32'],
  ['bc_off', 'u32'],
  ['m_off', 'u32'],
  ['init_off', 'u32'],
  ['final_off', 'u32'],
] as const

/**
 * Phase 2, one invocation per (head, element of the K x V state): carry =
 * init; per chunk (from the last with `reverse`) M_n ← carry, carry ← e^{bL_n}
 * carry + M_n (bL of the element's key dim); final ← carry. Forward: D_n in, S_n out, s_final. Reverse: E_n
 * in, G_n out, ds0.
 */
export function chunkScanKernel(decay: ChunkDecay, reverse: boolean): Kernel {
  return cached(`mixer_chunked/scan/${decay}/${reverse ? 'reverse' : 'forward'}`, () => ({
    entry: 'main',
    params: scanParams,
    code: `${paramsWgsl(scanParams)}${ELEMENTWISE_WGSL}
@group(0) @binding(1) var<storage, read_write> work: array<f32>;
${gateAtWgsl(decay)}
${ENTRY}
  let id = element_index(wid, nwg, lid);
  if (id >= P.BH * P.KV) { return; }
  let bh = id / P.KV;
  let e = id % P.KV;
  var carry = work[P.init_off + id];
  for (var s = 0u; s < P.N; s++) {
    let n = ${reverse ? 'P.N - 1u - s' : 's'};
    let at = P.m_off + (bh * P.N + n) * P.KV + e;
    let local = work[at];
    work[at] = carry;
    ${decay !== 'none' ? 'carry = exp(gate_at(bh, min(n * P.C + P.C, P.T) - 1u, e / P.V)) * carry + local;' : 'carry += local;'}
  }
  work[P.final_off + id] = carry;
}
`,
  }))
}

const attendParams = [
  ['B', 'u32'],
  ['T', 'u32'],
  ['H', 'u32'],
  ['C', 'u32'],
  ['N', 'u32'],
  ['DX', 'u32'],
  ['DZ', 'u32'],
  ['GK', 'u32'],
  ['x_scale', 'f32'],
  ['y_scale', 'f32'],
  ['z_scale', 'f32'],
  ['bc_off', 'u32'],
  ['m_off', 'u32'],
  ['dots_off', 'u32'],
] as const

/** Which way an attend launch looks inside the chunk, and how it reads the chunk's state. */
export interface AttendSwitches {
  decay: ChunkDecay
  /** j <= i with e^{b_i - b_j} and row weight e^{b_i} (o, dq); else j >= i with e^{b_j - b_i} and e^{bL - b_i} (dk, dv). */
  causal: boolean
  /**
   * M_n stored as [DZ][DX] (read transposed: dq from S_n, dk from G_n); else
   * [DX][DZ]. The key dim, and with it the vector gate's decay, is then z's
   * and out's (dq, dk), else x's and y's (o, dv).
   */
  transposed: boolean
  /**
   * Also the gate gradient's pieces (dq, dk): a partner row (q for dq, k for
   * dk) times out's state part and times its part from the other steps
   * (j != i), into dots at dots_off: summed per row and 64-column tile
   * (tiles, B T H, 2) for a per-step decay, per element (B T H, K, 2) for the
   * vector gate.
   */
  dots: boolean
}

/**
 * Phase 3: out_i (DZ) = w_i ⊙ M_nᵀ x_i + Σ_j (x_i·y_j) decay_ij ⊙ z_j over j
 * in i's chunk (x, y: DX wide; z, out: DZ wide; rows (B, T, H); the vector
 * gate's decays sit inside the dot when the key dim is x's). A workgroup
 * makes 16 rows by 64 columns of out: first the state part through 16 x 64
 * tiles of M_n, then per 16-step block j of the chunk the 16 x 16 scores
 * (x_i·y_j over DX in tiles of 16) masked and decayed, times z's 16 x 64 tile.
 */
export function chunkAttendKernel(s: AttendSwitches): Kernel {
  const { causal, decay } = s
  const onX = decay === 'vector' && !s.transposed
  const onZ = decay === 'vector' && s.transposed
  // The exponent of a pair: b(out row) - b(partner) causal, b(partner) - b(out row) anti-causal; <= 0 when kept.
  const pair = (out: string, partner: string) => (causal ? `${out} - ${partner}` : `${partner} - ${out}`)
  // The state part's weight exponent of out row t (clamped into the chunk) at key dim d.
  const stateExp = (t: string, d: string) => (causal ? `gate_at(bh, ${t}, ${d})` : `gate_at(bh, t1 - 1u, ${d}) - gate_at(bh, ${t}, ${d})`)
  const label = `mixer_chunked/attend/${decay}/${causal ? 'causal' : 'anticausal'}/${s.transposed ? 'transposed' : 'plain'}${s.dots ? '/dots' : ''}`
  return cached(label, () => ({
    entry: 'main',
    params: attendParams,
    code: `${paramsWgsl(attendParams)}${ROW_INDEX_WGSL}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> z: array<f32>;
@group(0) @binding(4) var<storage, read> work: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
${s.dots ? '@group(0) @binding(6) var<storage, read> partner: array<f32>;\n@group(0) @binding(7) var<storage, read_write> dots: array<f32>;' : ''}
${gateAtWgsl(decay)}
var<workgroup> xs: array<f32, 256>; // [row][16 of DX]
var<workgroup> ys: array<f32, 256>; // [step j][16 of DX]
var<workgroup> ps: array<f32, 256>; // [row][step j]: decayed, masked scores
var<workgroup> ms: array<f32, 1024>; // [16 of DX][64 columns] of M_n, or [step j][64 columns] of z
var<workgroup> brow: array<f32, 16>; // b of the block's rows (per-step decay)
var<workgroup> bcol: array<f32, 16>; // b of the steps j (per-step decay)
${onX ? 'var<workgroup> bxs: array<f32, 256>; // b of xs\nvar<workgroup> bys: array<f32, 256>; // b of ys' : ''}
${onZ ? 'var<workgroup> bzs: array<f32, 1024>; // b of the z tile' : ''}
// Row t's element d of a (B, T, H, D) tensor, 0 past the ends.
fn at_x(b: u32, h: u32, t: u32, d: u32) -> f32 {
  if (t >= P.T || d >= P.DX) { return 0.0; }
  return x[((b * P.T + t) * P.H + h) * P.DX + d] * P.x_scale;
}
fn at_y(b: u32, h: u32, t: u32, d: u32) -> f32 {
  if (t >= P.T || d >= P.DX) { return 0.0; }
  return y[((b * P.T + t) * P.H + h) * P.DX + d] * P.y_scale;
}
fn at_z(b: u32, h: u32, t: u32, c: u32) -> f32 {
  if (t >= P.T || c >= P.DZ) { return 0.0; }
  return z[((b * P.T + t) * P.H + h) * P.DZ + c] * P.z_scale;
}
${ENTRY}
  let blocks = (P.T + 15u) / 16u;
  let idx = row_index(wid, nwg);
  if (idx >= P.B * P.H * blocks) { return; }
  let bh = idx / blocks;
  let b = bh / P.H;
  let h = bh % P.H;
  let r0 = (idx % blocks) * 16u;
  // The block lies inside one chunk (C is a multiple of 16).
  let n = r0 / P.C;
  let t0 = n * P.C;
  let t1 = min(t0 + P.C, P.T);
  let r = lid / 16u;
  let cg = lid % 16u;
  let i = r0 + r;
  let ic = min(i, t1 - 1u); // i inside the chunk, for its gates
  let c0 = wid.x * 64u;
  if (lid < 16u) { brow[lid] = gate_at(bh, min(r0 + lid, t1 - 1u), 0u); }
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  // The state part: M_nᵀ x_i, by 16-wide slices of DX.
  let mbase = P.m_off + (bh * P.N + n) * P.DX * P.DZ;
  for (var d0 = 0u; d0 < P.DX; d0 += 16u) {
    xs[lid] = at_x(b, h, i, d0 + cg)${onX ? ` * exp(${stateExp('ic', 'min(d0 + cg, P.DX - 1u)')})` : ''};
    for (var e = lid; e < 1024u; e += 256u) {
      let d = d0 + e / 64u;
      let c = c0 + e % 64u;
      var m = 0.0;
      if (d < P.DX && c < P.DZ) { m = work[mbase + ${s.transposed ? 'c * P.DX + d' : 'd * P.DZ + c'}]; }
      ms[e] = m;
    }
    workgroupBarrier();
    for (var dd = 0u; dd < 16u; dd++) {
      let xv = xs[r * 16u + dd];
      for (var u = 0u; u < 4u; u++) { acc[u] += xv * ms[dd * 64u + cg + 16u * u]; }
    }
    workgroupBarrier();
  }
  ${
    onZ
      ? `// b of this invocation's out columns (key dims).
  var bout = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  for (var u = 0u; u < 4u; u++) {
    let cc = min(c0 + cg + 16u * u, P.DZ - 1u);
    bout[u] = gate_at(bh, ic, cc);
    acc[u] *= exp(${stateExp('ic', 'cc')});
  }`
      : onX
        ? ''
        : `let w = exp(${causal ? 'brow[r]' : 'gate_at(bh, t1 - 1u, 0u) - brow[r]'});
  for (var u = 0u; u < 4u; u++) { acc[u] *= w; }`
  }
  let state = acc;
  var others = array<f32, 4>(0.0, 0.0, 0.0, 0.0); // the steps j != i only (dots)
  // The chunk's own steps: blocks of 16 up to (causal) or from (anti-causal) this one.
  for (var j0 = ${causal ? 't0; j0 <= r0' : 'r0; j0 < t1'}; j0 += 16u) {
    if (lid < 16u) { bcol[lid] = gate_at(bh, min(j0 + lid, t1 - 1u), 0u); }
    let j = j0 + cg;
    let keep = j < t1 && ${causal ? 'j <= i' : 'j >= i'};
    var score = 0.0; // (x_i·y_j) for row r, step j
    for (var d0 = 0u; d0 < P.DX; d0 += 16u) {
      xs[lid] = at_x(b, h, i, d0 + cg);
      ys[lid] = at_y(b, h, j0 + r, d0 + cg);
      ${onX ? 'bxs[lid] = gate_at(bh, ic, min(d0 + cg, P.DX - 1u));\n      bys[lid] = gate_at(bh, min(j0 + r, t1 - 1u), min(d0 + cg, P.DX - 1u));' : ''}
      workgroupBarrier();
      for (var dd = 0u; dd < 16u; dd++) {
        score += xs[r * 16u + dd] * ys[cg * 16u + dd]${onX ? ` * exp(select(0.0, ${pair('bxs[r * 16u + dd]', 'bys[cg * 16u + dd]')}, keep))` : ''};
      }
      workgroupBarrier();
    }
    // Kept pairs have an exponent <= 0 (for gates <= 0); masked ones take 0, not an exponent that may overflow.
    ps[lid] = select(0.0, score${decay === 'scalar' ? ` * exp(select(0.0, ${pair('brow[r]', 'bcol[cg]')}, keep))` : ''}, keep);
    for (var e = lid; e < 1024u; e += 256u) {
      ms[e] = at_z(b, h, j0 + e / 64u, c0 + e % 64u);
      ${onZ ? 'bzs[e] = gate_at(bh, min(j0 + e / 64u, t1 - 1u), min(c0 + e % 64u, P.DZ - 1u));' : ''}
    }
    workgroupBarrier();
    for (var jj = 0u; jj < 16u; jj++) {
      let p = ps[r * 16u + jj];
      let off_diagonal = select(p, 0.0, j0 + jj == i);
      ${onZ ? `let kept = j0 + jj < t1 && ${causal ? 'j0 + jj <= i' : 'j0 + jj >= i'};` : ''}
      for (var u = 0u; u < 4u; u++) {
        let zv = ms[jj * 64u + cg + 16u * u]${onZ ? ` * exp(select(0.0, ${pair('bout[u]', 'bzs[jj * 64u + cg + 16u * u]')}, kept))` : ''};
        acc[u] += p * zv;
        ${s.dots ? 'others[u] += off_diagonal * zv;' : ''}
      }
    }
    workgroupBarrier();
  }
  let row = (b * P.T + i) * P.H + h;
  var state_dot = 0.0;
  var others_dot = 0.0;
  if (i < P.T) {
    for (var u = 0u; u < 4u; u++) {
      let c = c0 + cg + 16u * u;
      if (c < P.DZ) {
        out[row * P.DZ + c] = acc[u];
        ${s.dots && onZ ? 'dots[P.dots_off + (row * P.DZ + c) * 2u] = partner[row * P.DZ + c] * state[u];' : ''}
        ${s.dots && onZ ? 'dots[P.dots_off + (row * P.DZ + c) * 2u + 1u] = partner[row * P.DZ + c] * others[u];' : ''}
        ${s.dots && !onZ ? 'state_dot += partner[row * P.DZ + c] * state[u];' : ''}
        ${s.dots && !onZ ? 'others_dot += partner[row * P.DZ + c] * others[u];' : ''}
      }
    }
  }
  ${
    s.dots && !onZ
      ? `// The row's 16 invocations' partial dots, summed by the first.
  xs[lid] = state_dot;
  ys[lid] = others_dot;
  workgroupBarrier();
  if (cg == 0u && i < P.T) {
    var sd = 0.0;
    var od = 0.0;
    for (var m = 0u; m < 16u; m++) {
      sd += xs[r * 16u + m];
      od += ys[r * 16u + m];
    }
    let at = P.dots_off + (wid.x * P.B * P.T * P.H + row) * 2u;
    dots[at] = sd;
    dots[at + 1u] = od;
  }`
      : ''
  }
}
`,
  }))
}

const gateGradParams = [
  ['B', 'u32'],
  ['T', 'u32'],
  ['H', 'u32'],
  ['C', 'u32'],
  ['N', 'u32'],
  ['K', 'u32'],
  ['V', 'u32'],
  ['GK', 'u32'],
  ['tiles', 'u32'],
  ['bc_off', 'u32'],
  ['s_off', 'u32'],
  ['g_off', 'u32'],
  ['dq_dots', 'u32'],
  ['dk_dots', 'u32'],
  ['fixed_off', 'u32'],
] as const

/**
 * The gate's gradient, a workgroup per chunk of a head (and key dim d, vector
 * gate; grid B H GK N), or per head walking its chunks (fixed gate; grid B H).
 * For step s of chunk n, every path through g_s is a
 * product that spans s:
 *
 *   dg_s = e^{bL} <S_n, G_n>                      the chunk's decay of its state
 *        + Σ_{i >= s} (q_i·dq_i)° - Σ_{i >= s} k_i·dk_i^{j != i}   outputs, and the pairs j < s <= i
 *        + Σ_{j < s} k_j·(e^{bL - b_j} G_n v_j)    writes before s carried to the chunk's end
 *
 * with (q_i·dq_i)° the dot of q_i with dq_i less its j = i term (the attend
 * launches' dots: [state part, other steps]); for the vector gate each dot is
 * the one product of key dim d, and <S_n, G_n> the one row d. The shorter
 * identity dg_s = Σ_{t >= s} (q_t·dq_t - k_t·dk_t) + <ds_final, s_final> is
 * exact too, but subtracts O(1) terms (the diagonal q_t·k_t v_t·do_t) to get a
 * result that strong gates make small: in f32 it lost 1e-4 relative at g ≈ -5.
 * Scalar: dg (B, T, H); vector: dg (B, T, H, K); fixed: the head's Σ_s dg_s at
 * dots[fixed_off + bh], summed over b by mixer_recurrent's sliceSumKernel.
 */
export function chunkGateGradKernel(gate: Exclude<ChunkedGate, 'none'>): Kernel {
  const vector = gate === 'vector'
  // A workgroup per chunk for the scalar and vector gates (their chunks are independent); the fixed
  // gate's workgroup walks its head's chunks for the head's sum. One workgroup per head left most of
  // a large GPU idle: 32 workgroups at the training shape, 0.5 ms of the gated delta rule's backward.
  const perChunk = gate !== 'fixed'
  return cached(`mixer_chunked/gate_grad/${gate}`, () => ({
    entry: 'main',
    params: gateGradParams,
    code: `${paramsWgsl(gateGradParams)}${ROW_INDEX_WGSL}${WORKGROUP_SUM_WGSL}
@group(0) @binding(1) var<storage, read> work: array<f32>;
@group(0) @binding(2) var<storage, read_write> dots: array<f32>;
${gate !== 'fixed' ? '@group(0) @binding(3) var<storage, read_write> dg: array<f32>;' : ''}
${gateAtWgsl(vector ? 'vector' : 'scalar')}
var<workgroup> after: array<f32, ${WG}>; // per step: Σ over the steps from it to the chunk's end
var<workgroup> before: array<f32, ${WG}>; // per step: Σ over the chunk's steps up to it
${ENTRY}
  let idx = row_index(wid, nwg);
  if (idx >= P.B * P.H * P.GK${perChunk ? ' * P.N' : ''}) { return; }
  let head = idx${perChunk ? ' / P.N' : ''};
  let bh = head / P.GK;
  let d = head % P.GK;
  let b = bh / P.H;
  let h = bh % P.H;
  let rows = P.B * P.T * P.H;
  let KV = P.K * P.V;
  // The state elements whose decay is this workgroup's: all K x V, or row d.
  let first = ${vector ? 'd * P.V' : '0u'};
  let count = ${vector ? 'P.V' : 'KV'};
  var head_sum = 0.0;
  let n_first = ${perChunk ? 'idx % P.N' : '0u'};
  let n_end = ${perChunk ? 'n_first + 1u' : 'P.N'};
  for (var n = n_first; n < n_end; n++) {
    let t0 = n * P.C;
    let t1 = min(t0 + P.C, P.T);
    var part = 0.0;
    let m = (bh * P.N + n) * KV + first;
    for (var e = lid; e < count; e += ${WG}u) { part += work[P.s_off + m + e] * work[P.g_off + m + e]; }
    let chunk_decay = exp(gate_at(bh, t1 - 1u, d)) * workgroup_sum(lid, part);
    let t = t0 + lid;
    let row = (b * P.T + t) * P.H + h;
    var reverse_part = 0.0;
    var forward_part = 0.0;
    if (t < t1) {
      ${
        vector
          ? `let at = (row * P.GK + d) * 2u;
      reverse_part = dots[P.dq_dots + at] + dots[P.dq_dots + at + 1u] - dots[P.dk_dots + at + 1u];
      forward_part = dots[P.dk_dots + at];`
          : `for (var tile = 0u; tile < P.tiles; tile++) {
        let at = (tile * rows + row) * 2u;
        reverse_part += dots[P.dq_dots + at] + dots[P.dq_dots + at + 1u] - dots[P.dk_dots + at + 1u];
        forward_part += dots[P.dk_dots + at];
      }`
      }
    }
    after[lid] = reverse_part;
    before[lid] = forward_part;
    workgroupBarrier();
    // Inclusive scans over the workgroup (steps past the chunk hold 0).
    for (var off = 1u; off < ${WG}u; off <<= 1u) {
      var a = after[lid];
      if (lid + off < ${WG}u) { a += after[lid + off]; }
      var c = before[lid];
      if (lid >= off) { c += before[lid - off]; }
      workgroupBarrier();
      after[lid] = a;
      before[lid] = c;
      workgroupBarrier();
    }
    if (t < t1) {
      let grad = chunk_decay + after[lid] + select(0.0, before[max(lid, 1u) - 1u], lid > 0u);
      ${gate === 'fixed' ? 'head_sum += grad;' : vector ? 'dg[row * P.GK + d] = grad;' : 'dg[row] = grad;'}
    }
    workgroupBarrier();
  }
  ${gate === 'fixed' ? 'let total = workgroup_sum(lid, head_sum);\n  if (lid == 0u) { dots[P.fixed_off + bh] = total; }' : ''}
}
`,
  }))
}
