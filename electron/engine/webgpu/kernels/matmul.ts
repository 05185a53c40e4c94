// matmul: C (n, p) = A (n, q) B (q, p) [+ bias (p)], with A and B read
// through strides so one kernel covers linear_fwd (x W), dx (dy W^T) and dw
// (x^T dy, or dy^T x under trans_w) without transposed copies:
//
//   A(i, r) = a[i * sa0 + r * sa1]      B(r, j) = b[r * sb0 + j * sb1]
//
// The portable path (no subgroups): a workgroup of 16 x 16 invocations owns
// a tile x tile block of C; tiles of A and B are staged in workgroup memory,
// zero past the edges, so any n, p, q work. Both are stored k-major as vec4
// ([DEPTH][tile / 4]: A transposed), so each step of the inner loop reads
// vec4s of A and of B and multiplies every pair. Two sizes:
//   tile 64:  each invocation a 4 x 4 block, 2 vec4 reads per 16 FMAs;
//   tile 128: each invocation 8 x 8 (rows lid.y and 16 + lid.y of the tile's
//             32 row quads, columns likewise), 4 vec4 reads per 64 FMAs: half
//             the workgroup-memory reads per FMA, for the large products where
//             the GPU has enough tiles to fill it.
// Staging follows the operands' layout, so that consecutive invocations read
// consecutive addresses: A by k when its rows are contiguous (sa1 = 1: x W,
// dy W^T), by row quads when its columns are (sa0 = 1: x^T dy); B by column
// quads when its rows are contiguous (sb1 = 1), by k when its columns are
// (sb0 = 1: W^T). The backward's products read one operand transposed: staged
// the other way, a warp's loads touched a different row per invocation.
// Pipelined (useMatmulPipeline): two buffers of each tile in workgroup memory;
// each step loads the next slice of q into registers before it multiplies the
// current one, then stores them into the other buffer, so the global loads'
// latency hides behind the multiply-adds and a step needs one barrier, not two.
// Sums run in f32 over q, in the same order whatever the tile, staging and pipeline.
// f16 operands (MatmulHalf: precision f16's products): A, B and the bias read
// as f16 pairs in 32-bit words and widened on staging; C written as f16 pairs,
// which needs p even (each invocation writes its four columns as two words).
import { paramsWgsl, type Kernel } from '../driver'
import { F16_BITS_WGSL } from './cast16'
import { ELEMENTWISE_WGSL, WG } from './common'

/** Rows and columns of C per workgroup (the default tile and the large one); DEPTH: the q-slice staged per step. */
export const TILE = 64
export const LARGE_TILE = 128
export type MatmulTile = typeof TILE | typeof LARGE_TILE
const DEPTH = 16
const THREADS = 16

/** The product's parameters, shared by every matmul kernel (kernels/matmul_subgroup_matrix.ts too). */
export const MATMUL_PARAMS = [
  ['n', 'u32'],
  ['p', 'u32'],
  ['q', 'u32'],
  ['sa0', 'u32'],
  ['sa1', 'u32'],
  ['sb0', 'u32'],
  ['sb1', 'u32'],
  ['k_split', 'u32'], // rows of q per split (workgroups in z): q when not split
] as const

/** How a workgroup stages a tile: consecutive invocations along k, or along the rows (A) / columns (B). */
export interface MatmulStaging {
  /** A(i, r) with sa0 = 1: consecutive invocations take consecutive row quads at one k. */
  aByRows: boolean
  /** B(r, j) with sb0 = 1: consecutive invocations take consecutive k at one column quad. */
  bByK: boolean
}

/** Which operands are f16 (two to a 32-bit word): A, B and the bias together, and C on its own (a split sum's partials stay f32). */
export interface MatmulHalf {
  inputs: boolean
  output: boolean
}
const F32: MatmulHalf = { inputs: false, output: false }

/** The staging whose reads are coalesced for these strides (the default where neither stride is 1). */
export function stagingFor(s: { sa0: number; sa1: number; sb0: number; sb1: number }): MatmulStaging {
  return { aByRows: s.sa0 === 1 && s.sa1 !== 1, bByK: s.sb0 === 1 && s.sb1 !== 1 }
}

function matmul(hasBias: boolean, tile: MatmulTile, staging: MatmulStaging, pipelined: boolean, half: MatmulHalf): Kernel {
  const S = tile / (4 * THREADS) // row (and column) quads per invocation: 1 or 2
  const quads = tile / 4
  const bias = hasBias ? `@group(0) @binding(4) var<storage, read> bias: array<${half.inputs ? 'u32' : 'f32'}>;\n` : ''
  // An element of an f16 operand: half (i & 1) of word i / 2, widened.
  const element = (array: string, index: string) => (half.inputs ? `f16_element(${array}[(${index}) >> 1u], ${index})` : `${array}[${index}]`)
  const seq = (n: number) => [...Array(n).keys()]
  // acc[(sa * 4 + u) * S + sb]: row (sa * 16 + lid.y) * 4 + u of the tile, columns (sb * 16 + lid.x) * 4 ..
  const accIndex = (sa: number, u: number, sb: number) => (sa * 4 + u) * S + sb
  const inner = [
    ...seq(S).map((sa) => `      let fa${sa} = tile_a[base + r * ${quads}u + ${sa * THREADS}u + lid.y];`),
    ...seq(S).map((sb) => `      let fb${sb} = tile_b[base + r * ${quads}u + ${sb * THREADS}u + lid.x];`),
    ...seq(S).flatMap((sa) => seq(4).flatMap((u) => seq(S).map((sb) => `      acc[${accIndex(sa, u, sb)}] += fa${sa}[${u}] * fb${sb};`))),
  ].join('\n')
  const store = seq(S)
    .flatMap((sa) =>
      seq(4).map(
        (u) => `  {
    let i = row0 + (${sa * THREADS}u + lid.y) * 4u + ${u}u;
    if (i < P.n) {
${seq(S)
  .map((sb) =>
    half.output
      ? // Columns j0 .. j0 + 3 as two words (p even: j0 + 1 and j0 + 3 are inside whenever j0 and j0 + 2 are).
        `      {
        let j0 = col0 + (${sb * THREADS}u + lid.x) * 4u;
        let r = acc[${accIndex(sa, u, sb)}]${hasBias ? ` + vec4<f32>(${[0, 1, 2, 3].map((v) => element('bias', `min(j0 + ${v}u, P.p - 1u)`)).join(', ')})` : ''};
        let w0 = (out0 + i * P.p + j0) >> 1u;
        if (j0 < P.p) { c[w0] = f16_pair(r[0], r[1]); }
        if (j0 + 2u < P.p) { c[w0 + 1u] = f16_pair(r[2], r[3]); }
      }`
      : `      for (var v = 0u; v < 4u; v++) {
        let j = col0 + (${sb * THREADS}u + lid.x) * 4u + v;
        if (j < P.p) { c[out0 + i * P.p + j] = acc[${accIndex(sa, u, sb)}][v]${hasBias ? ' + bias[j]' : ''}; }
      }`,
  )
  .join('\n')}
    }
  }`,
      ),
    )
    .join('\n')
  // (k, quad) of the element e an invocation stages: along k, or along the quads.
  const aIndex = staging.aByRows ? `let a_k = e / ${quads}u;\n      let a_q = e % ${quads}u;` : `let a_k = e % ${DEPTH}u;\n      let a_q = e / ${DEPTH}u;`
  const bIndex = staging.bByK ? `let b_k = e % ${DEPTH}u;\n      let b_q = e / ${DEPTH}u;` : `let b_k = e / ${quads}u;\n      let b_q = e % ${quads}u;`
  const loads = (tile * DEPTH) / (THREADS * THREADS * 4) // vec4 of each tile an invocation stages per step
  const slice = DEPTH * quads // vec4 in one buffer of a tile
  // Each invocation stages ${loads} vec4 of each tile per step: 4 rows of A at one k (consecutive
  // invocations take consecutive k, so reads of a row-major A stay coalesced, or consecutive row
  // quads when A's columns are contiguous) and 4 consecutive columns of B at one k (or the reverse).
  const load = (k: string) => `    for (var t = 0u; t < ${loads}u; t++) {
      let e = flat + t * ${THREADS * THREADS}u;
      ${aIndex}
      let ar = ${k} + a_k;
      let ai = row0 + a_q * 4u;
      var va = vec4<f32>(0.0);
      if (ar < k_end) {
        for (var m = 0u; m < 4u; m++) {
          if (ai + m < P.n) { va[m] = ${element('a', '(ai + m) * P.sa0 + ar * P.sa1')}; }
        }
      }
      ra[t] = va;
      ${bIndex}
      let br = ${k} + b_k;
      let bj = col0 + b_q * 4u;
      var vb = vec4<f32>(0.0);
      if (br < k_end) {
        for (var m = 0u; m < 4u; m++) {
          if (bj + m < P.p) { vb[m] = ${element('b', 'br * P.sb0 + (bj + m) * P.sb1')}; }
        }
      }
      rb[t] = vb;
    }`
  const stage = (buffer: string) => `    for (var t = 0u; t < ${loads}u; t++) {
      let e = flat + t * ${THREADS * THREADS}u;
      {
        ${aIndex}
        tile_a[${buffer} + a_k * ${quads}u + a_q] = ra[t];
      }
      ${bIndex}
      tile_b[${buffer} + b_k * ${quads}u + b_q] = rb[t];
    }`
  const steps = pipelined
    ? `${load('k_begin')}
${stage('0u')}
  workgroupBarrier();
  var buffer = 0u;
  for (var k0 = k_begin; k0 < k_end; k0 += ${DEPTH}u) {
    let more = k0 + ${DEPTH}u < k_end;
    if (more) {
  ${load(`k0 + ${DEPTH}u`)}
    }
    let base = buffer * ${slice}u;
    for (var r = 0u; r < ${DEPTH}u; r++) {
${inner}
    }
    // The other buffer was last read before the previous barrier: no one reads it now.
    if (more) {
  ${stage(`(1u - buffer) * ${slice}u`)}
    }
    workgroupBarrier();
    buffer = 1u - buffer;
  }`
    : `  for (var k0 = k_begin; k0 < k_end; k0 += ${DEPTH}u) {
${load('k0')}
${stage('0u')}
    workgroupBarrier();
    let base = 0u;
    for (var r = 0u; r < ${DEPTH}u; r++) {
${inner}
    }
    workgroupBarrier();
  }`
  return {
    label: `matmul${tile === TILE ? '' : `/${tile}`}${hasBias ? '/bias' : ''}${staging.aByRows ? '/a by rows' : ''}${staging.bByK ? '/b by k' : ''}${pipelined ? '/pipelined' : ''}${half.inputs ? '/f16 in' : ''}${half.output ? '/f16 out' : ''}`,
    entry: 'main',
    params: MATMUL_PARAMS,
    code: `${paramsWgsl(MATMUL_PARAMS)}${half.inputs || half.output ? F16_BITS_WGSL : ''}
@group(0) @binding(1) var<storage, read> a: array<${half.inputs ? 'u32' : 'f32'}>;
@group(0) @binding(2) var<storage, read> b: array<${half.inputs ? 'u32' : 'f32'}>;
@group(0) @binding(3) var<storage, read_write> c: array<${half.output ? 'u32' : 'f32'}>;
${bias}
var<workgroup> tile_a: array<vec4<f32>, ${(pipelined ? 2 : 1) * slice}>; // [buffer][DEPTH][tile / 4]: A transposed
var<workgroup> tile_b: array<vec4<f32>, ${(pipelined ? 2 : 1) * slice}>; // [buffer][DEPTH][tile / 4]

@compute @workgroup_size(${THREADS}, ${THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) flat: u32) {
  let row0 = wid.y * ${tile}u;
  let col0 = wid.x * ${tile}u;
  var acc: array<vec4<f32>, ${4 * S * S}>;
  for (var u = 0u; u < ${4 * S * S}u; u++) { acc[u] = vec4<f32>(0.0); }
  // Split over q (workgroups in z): this split's rows of q, and its partial C in c at split * n * p.
  let k_begin = wid.z * P.k_split;
  let k_end = min(P.q, k_begin + P.k_split);
  let out0 = wid.z * P.n * P.p;
  var ra: array<vec4<f32>, ${loads}>;
  var rb: array<vec4<f32>, ${loads}>;
${steps}
${store}
}
`,
  }
}

/** c[e] = the splits' partial sums of C added in order: part (splits, n p). */
const splitSumParams = [
  ['count', 'u32'],
  ['splits', 'u32'],
] as const
export const splitSumKernel: Kernel = {
  label: 'matmul/split sum',
  entry: 'main',
  params: splitSumParams,
  code: `${paramsWgsl(splitSumParams)}${ELEMENTWISE_WGSL}
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let e = element_index(wid, nwg, lid);
  if (e >= P.count) { return; }
  var s = 0.0;
  for (var z = 0u; z < P.splits; z++) { s += part[z * P.count + e]; }
  c[e] = s;
}
`,
}

/** The split sum into an f16 C: a word (two elements) per invocation; count is even (p is). */
export const splitSumHalfKernel: Kernel = {
  label: 'matmul/split sum/f16 out',
  entry: 'main',
  params: splitSumParams,
  code: `${paramsWgsl(splitSumParams)}${ELEMENTWISE_WGSL}${F16_BITS_WGSL}
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<u32>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let w = element_index(wid, nwg, lid);
  let e = 2u * w;
  if (e >= P.count) { return; }
  var s0 = 0.0;
  var s1 = 0.0;
  for (var z = 0u; z < P.splits; z++) {
    s0 += part[z * P.count + e];
    s1 += part[z * P.count + e + 1u];
  }
  c[w] = f16_pair(s0, s1);
}
`,
}

const kernels = new Map<string, Kernel>()
/** The matmul kernel for a tile, a bias or none, a staging, pipelined or not, f16 operands or not (built once each). */
export function matmulKernel(tile: MatmulTile, hasBias: boolean, staging: MatmulStaging, pipelined = false, half: MatmulHalf = F32): Kernel {
  const key = `${tile} ${hasBias} ${staging.aByRows} ${staging.bByK} ${pipelined} ${half.inputs} ${half.output}`
  let k = kernels.get(key)
  if (!k) kernels.set(key, (k = matmul(hasBias, tile, staging, pipelined, half)))
  return k
}
