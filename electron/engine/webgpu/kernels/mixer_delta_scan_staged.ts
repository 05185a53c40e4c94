// The delta rule's two scans (mixer_delta_chunked.ts: deltaScanKernel and
// deltaReverseScanKernel, the same bindings, parameters and results) with each
// chunk's rows staged in workgroup memory, DELTA_SLICE key dims at a time.
//
// The plain scans read a storage buffer inside every multiply-add: W's row
// (x's K part) in U = Ũ - W S_n, k's row in the state update, q, do and W's row
// in the reverse scan's G update: one global load per one or two FMAs, each
// behind the robustness clamp Dawn adds to storage accesses. Here a workgroup
// first copies the chunk's C x DELTA_SLICE block of the operand (consecutive
// invocations along the key dims: coalesced), then every invocation runs its
// sums over workgroup memory; rows past the chunk's end and dims past K are
// staged as zeros. The sums' bounds are the chunk's length and the slice's dims
// at run time, not constants: unrolled, lavapipe took 15-20 s to compile each. Per chunk, per column
// block of 16 (C = 32, a workgroup of 256): 2 outputs of U per invocation,
// then 2 of the state per slice.
//
// Workgroup memory: (KP + C) 16 + C + C DELTA_SLICE floats (forward) and
// (KP + 2 C) 16 + 2 C + 2 C DELTA_SLICE (reverse), KP = K rounded up to the
// slice: 14.5 and 20.7 KiB at K = 128, over WebGPU's default 16 KiB for the
// reverse scan; ops.ts takes these kernels only where the device allows
// (stagedScanBytes), else the plain ones. The default since they were timed on the H200
// (2.6x the plain scans there); LINEA_WEBGPU_DELTA_STAGING=0 or useDeltaStaging(false) turns them off.
import { paramsWgsl, type Kernel } from '../driver'
import { cachedKernel as cached, ROW_INDEX_WGSL, WG } from './common'
import {
  chunkStateRow,
  DELTA_CHUNK,
  DELTA_COLUMNS,
  DELTA_MAX_K,
  ENTRY,
  finalStateRow,
  gateAtWgsl,
  loadStateTile,
  reverseParams,
  SCAN_HEAD_WGSL,
  scanParams,
  storeStateTile,
  type DeltaDecay,
} from './mixer_delta_chunked'

/** Key dims per staged block. */
export const DELTA_SLICE = 32

const padded = (K: number) => Math.ceil(K / DELTA_SLICE) * DELTA_SLICE

/** Workgroup memory (bytes) of the staged scan for key dim K, forward or reverse. */
export function stagedScanBytes(K: number, reverse: boolean): number {
  const [C, CB, DS] = [DELTA_CHUNK, DELTA_COLUMNS, DELTA_SLICE]
  return 4 * (reverse ? (padded(K) + 2 * C) * CB + 2 * C + 2 * C * DS : (padded(K) + C) * CB + C + C * DS)
}

function checkK(name: string, K: number): void {
  if (!Number.isInteger(K) || K < 1 || K > DELTA_MAX_K) throw new Error(`${name}: K ${K} outside 1..${DELTA_MAX_K}`)
  // The per-invocation counts below assume these: 2 outputs of U and 2 of a slice's state per invocation.
  if (DELTA_CHUNK * DELTA_COLUMNS !== 2 * WG || DELTA_SLICE * DELTA_COLUMNS !== 2 * WG) throw new Error(`${name}: chunk and slice sizes changed`)
}

/** WGSL staging rows t0.. t0 + C - 1 (zero past L) of a (B, T, H, D) buffer, dims d0.. d0 + DS - 1 (zero past D), times a row weight. */
const stage = (dst: string, src: string, D: string, offset: string, weight = '1.0') => `
    for (var f = lid; f < ${DELTA_CHUNK * DELTA_SLICE}u; f += ${WG}u) {
      let ii = f / ${DELTA_SLICE}u;
      let d = d0 + f % ${DELTA_SLICE}u;
      var val = 0.0;
      if (ii < L && d < P.K) { val = ${src}[((b * P.T + t0 + ii) * P.H + h) * ${D} + ${offset}d] * ${weight}; }
      ${dst}[f] = val;
    }`

/** deltaScanKernel's function with the chunk's W and k staged by slices of key dims. */
export function deltaScanStagedKernel(decay: DeltaDecay, K: number): Kernel {
  checkK('deltaScanStagedKernel', K)
  const [C, CB, DS, KP] = [DELTA_CHUNK, DELTA_COLUMNS, DELTA_SLICE, padded(K)]
  return cached(`mixer_delta_chunked/scan/${decay}/K${K}/staged`, () => ({
    entry: 'main',
    params: scanParams,
    code: `${paramsWgsl(scanParams)}${ROW_INDEX_WGSL}
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> work: array<f32>;
@group(0) @binding(4) var<storage, read_write> u: array<f32>;
${gateAtWgsl(decay)}
var<workgroup> S: array<f32, ${KP * CB}>; // [d][column], zero past K
var<workgroup> U: array<f32, ${C * CB}>; // [step][column], zero past the chunk
var<workgroup> toEnd: array<f32, ${C}>; // e^{bL - b_j}
var<workgroup> sl: array<f32, ${C * DS}>; // [step][slice dim]: W's or k's block
${ENTRY}
${SCAN_HEAD_WGSL}
  ${loadStateTile('S', KP)}
  workgroupBarrier();
  for (var n = 0u; n < P.N; n++) {
    let t0 = n * ${C}u;
    let L = min(${C}u, P.T - t0);
    let bL = gate_at(bh, t0 + L - 1u);
    if (lid < ${C}u) { toEnd[lid] = select(0.0, exp(bL - gate_at(bh, t0 + min(lid, L - 1u))), lid < L); }
    ${storeStateTile('S', K, chunkStateRow)}
    // U = Ũ - W S_n: outputs lid and lid + ${WG} of the chunk's C x 16.
    var acc = array<f32, 2>(0.0, 0.0);
    for (var q = 0u; q < 2u; q++) {
      let e = lid + q * ${WG}u;
      let i = e / ${CB}u;
      let c = c0 + e % ${CB}u;
      if (i < L && c < P.V) { acc[q] = x[((b * P.T + t0 + i) * P.H + h) * W + c]; }
    }
    for (var d0 = 0u; d0 < P.K; d0 += ${DS}u) {
      workgroupBarrier();${stage('sl', 'x', 'W', 'P.V + ')}
      workgroupBarrier();
      let dn = min(${DS}u, P.K - d0);
      for (var q = 0u; q < 2u; q++) {
        let e = lid + q * ${WG}u;
        let i = e / ${CB}u;
        let cc = e % ${CB}u;
        var s = 0.0;
        for (var dd = 0u; dd < dn; dd++) { s += sl[i * ${DS}u + dd] * S[(d0 + dd) * ${CB}u + cc]; }
        acc[q] -= s;
      }
    }
    for (var q = 0u; q < 2u; q++) {
      let e = lid + q * ${WG}u;
      let i = e / ${CB}u;
      let c = c0 + e % ${CB}u;
      let keep = i < L && c < P.V;
      if (keep) { u[((b * P.T + t0 + i) * P.H + h) * P.V + c] = acc[q]; }
      U[e] = select(0.0, acc[q], keep);
    }
    // S_{n+1} = e^{bL} S_n + Σ_j e^{bL - b_j} k_j U_jᵀ, a slice of key dims at a time.
    let decayAll = exp(bL);
    for (var d0 = 0u; d0 < P.K; d0 += ${DS}u) {
      workgroupBarrier();${stage('sl', 'k', 'P.K', '')}
      workgroupBarrier();
      for (var q = 0u; q < 2u; q++) {
        let e = lid + q * ${WG}u;
        let dd = e / ${CB}u;
        let cc = e % ${CB}u;
        if (d0 + dd < P.K) {
          var s = S[(d0 + dd) * ${CB}u + cc] * decayAll;
          for (var j = 0u; j < L; j++) { s += sl[j * ${DS}u + dd] * toEnd[j] * U[j * ${CB}u + cc]; }
          S[(d0 + dd) * ${CB}u + cc] = s;
        }
      }
    }
    workgroupBarrier();
  }
  ${storeStateTile('S', K, finalStateRow)}
}
`,
  }))
}

/** deltaReverseScanKernel's function with the chunk's k, q, W and do staged. */
export function deltaReverseScanStagedKernel(decay: DeltaDecay, K: number): Kernel {
  checkK('deltaReverseScanStagedKernel', K)
  const [C, CB, DS, KP] = [DELTA_CHUNK, DELTA_COLUMNS, DELTA_SLICE, padded(K)]
  return cached(`mixer_delta_chunked/reverse_scan/${decay}/K${K}/staged`, () => ({
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
var<workgroup> G: array<f32, ${KP * CB}>; // [d][column], zero past K
var<workgroup> dU: array<f32, ${C * CB}>; // [step][column]
var<workgroup> dos: array<f32, ${C * CB}>; // [step][column]: scale e^{b_i} do_i
var<workgroup> toEnd: array<f32, ${C}>; // e^{bL - b_i}
var<workgroup> fromStart: array<f32, ${C}>; // e^{b_i}
var<workgroup> sa: array<f32, ${C * DS}>; // [step][slice dim]: k's block, then q's
var<workgroup> sw: array<f32, ${C * DS}>; // [step][slice dim]: W's block
${ENTRY}
${SCAN_HEAD_WGSL}
  ${loadStateTile('G', KP)}
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
    for (var e = lid; e < ${C * CB}u; e += ${WG}u) {
      let i = e / ${CB}u;
      let c = c0 + e % ${CB}u;
      var val = 0.0;
      if (i < L && c < P.V) { val = P.scale * fromStart[i] * d_o[((b * P.T + t0 + i) * P.H + h) * P.V + c]; }
      dos[e] = val;
    }
    // dU = scale Pᵀ dO + e^{bL - b_i} k_i G: outputs lid and lid + ${WG}.
    var acc = array<f32, 2>(0.0, 0.0);
    for (var d0 = 0u; d0 < P.K; d0 += ${DS}u) {
      workgroupBarrier();${stage('sa', 'k', 'P.K', '')}
      workgroupBarrier();
      let dn = min(${DS}u, P.K - d0);
      for (var r = 0u; r < 2u; r++) {
        let e = lid + r * ${WG}u;
        let i = e / ${CB}u;
        let cc = e % ${CB}u;
        var s = 0.0;
        for (var dd = 0u; dd < dn; dd++) { s += sa[i * ${DS}u + dd] * G[(d0 + dd) * ${CB}u + cc]; }
        acc[r] += s;
      }
    }
    for (var r = 0u; r < 2u; r++) {
      let e = lid + r * ${WG}u;
      let i = e / ${CB}u;
      let c = c0 + e % ${CB}u;
      var val = 0.0;
      if (i < L && c < P.V) {
        let row = (b * P.T + t0 + i) * P.H + h;
        val = pdo[row * P.V + c] + toEnd[i] * acc[r];
        du[row * P.V + c] = val;
      }
      dU[e] = val;
    }
    // G <- e^{bL} G + Σ_i (scale e^{b_i} q_i dO_iᵀ - W_i dU_iᵀ), a slice of key dims at a time.
    let decayAll = exp(bL);
    for (var d0 = 0u; d0 < P.K; d0 += ${DS}u) {
      workgroupBarrier();${stage('sa', 'q', 'P.K', '')}${stage('sw', 'x', 'W', 'P.V + ')}
      workgroupBarrier();
      for (var r = 0u; r < 2u; r++) {
        let e = lid + r * ${WG}u;
        let dd = e / ${CB}u;
        let cc = e % ${CB}u;
        if (d0 + dd < P.K) {
          var s = G[(d0 + dd) * ${CB}u + cc] * decayAll;
          for (var i = 0u; i < L; i++) {
            s += sa[i * ${DS}u + dd] * dos[i * ${CB}u + cc] - sw[i * ${DS}u + dd] * dU[i * ${CB}u + cc];
          }
          G[(d0 + dd) * ${CB}u + cc] = select(0.0, s, c0 + cc < P.V);
        }
      }
    }
    workgroupBarrier();
  }
  ${storeStateTile('G', K, finalStateRow)}
}
`,
  }))
}
