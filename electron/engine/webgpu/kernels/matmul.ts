// matmul: C (n, p) = A (n, q) B (q, p) [+ bias (p)], with A and B read
// through strides so one kernel covers linear_fwd (x W), dx (dy W^T) and dw
// (x^T dy, or dy^T x under trans_w) without transposed copies:
//
//   A(i, r) = a[i * sa0 + r * sa1]      B(r, j) = b[r * sb0 + j * sb1]
//
// The portable path (no subgroups): a workgroup of 16 x 16 invocations owns
// a TILE x TILE block of C, each invocation a 4 x 4 sub-block; tiles of A
// and B are staged in workgroup memory, zero past the edges, so any n, p, q
// work. Both are stored k-major as vec4 ([DEPTH][TILE / 4]: A transposed), so
// each step of the inner loop reads one vec4 of A and one of B for 16 FMAs
// (the scalar layout read 8 values for them). Sums run in f32 over q, in the
// same order whatever the layout.
import { paramsWgsl, type Kernel } from '../driver'

/** Rows and columns of C per workgroup; DEPTH: the q-slice staged per step. */
export const TILE = 64
const DEPTH = 16
const THREADS = 16
const PER = TILE / THREADS // 4 x 4 outputs per invocation

const params = [
  ['n', 'u32'],
  ['p', 'u32'],
  ['q', 'u32'],
  ['sa0', 'u32'],
  ['sa1', 'u32'],
  ['sb0', 'u32'],
  ['sb1', 'u32'],
] as const

function matmul(hasBias: boolean): Kernel {
  const bias = hasBias ? `@group(0) @binding(4) var<storage, read> bias: array<f32>;\n` : ''
  return {
    label: hasBias ? 'matmul/bias' : 'matmul',
    entry: 'main',
    params,
    code: `${paramsWgsl(params)}
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
${bias}
var<workgroup> tile_a: array<vec4<f32>, ${(DEPTH * TILE) / 4}>; // [DEPTH][TILE / 4]: A transposed
var<workgroup> tile_b: array<vec4<f32>, ${(DEPTH * TILE) / 4}>; // [DEPTH][TILE / 4]

@compute @workgroup_size(${THREADS}, ${THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) flat: u32) {
  let row0 = wid.y * ${TILE}u;
  let col0 = wid.x * ${TILE}u;
  var acc: array<vec4<f32>, ${PER}>; // acc[u]: row lid.y * PER + u, columns lid.x * PER ..
  for (var u = 0u; u < ${PER}u; u++) { acc[u] = vec4<f32>(0.0); }
  for (var k0 = 0u; k0 < P.q; k0 += ${DEPTH}u) {
    // Each invocation stages one vec4 of each tile: 4 rows of A at one k
    // (consecutive invocations take consecutive k, so reads of a row-major A
    // stay coalesced) and 4 consecutive columns of B at one k.
    for (var t = 0u; t < ${(TILE * DEPTH) / (THREADS * THREADS * 4)}u; t++) {
      let e = flat + t * ${THREADS * THREADS}u;
      let ar = k0 + e % ${DEPTH}u;
      let ai = row0 + (e / ${DEPTH}u) * 4u;
      var va = vec4<f32>(0.0);
      if (ar < P.q) {
        for (var m = 0u; m < 4u; m++) {
          if (ai + m < P.n) { va[m] = a[(ai + m) * P.sa0 + ar * P.sa1]; }
        }
      }
      tile_a[(e % ${DEPTH}u) * ${TILE / 4}u + e / ${DEPTH}u] = va;
      let br = k0 + e / ${TILE / 4}u;
      let bj = col0 + (e % ${TILE / 4}u) * 4u;
      var vb = vec4<f32>(0.0);
      if (br < P.q) {
        for (var m = 0u; m < 4u; m++) {
          if (bj + m < P.p) { vb[m] = b[br * P.sb0 + (bj + m) * P.sb1]; }
        }
      }
      tile_b[e] = vb;
    }
    workgroupBarrier();
    for (var r = 0u; r < ${DEPTH}u; r++) {
      let fa = tile_a[r * ${TILE / 4}u + lid.y];
      let fb = tile_b[r * ${TILE / 4}u + lid.x];
      for (var u = 0u; u < ${PER}u; u++) { acc[u] += fa[u] * fb; }
    }
    workgroupBarrier();
  }
  for (var u = 0u; u < ${PER}u; u++) {
    let i = row0 + lid.y * ${PER}u + u;
    if (i >= P.n) { continue; }
    for (var v = 0u; v < ${PER}u; v++) {
      let j = col0 + lid.x * ${PER}u + v;
      if (j < P.p) { c[i * P.p + j] = acc[u][v]${hasBias ? ' + bias[j]' : ''}; }
    }
  }
}
`,
  }
}

export const matmulKernel = matmul(false)
export const matmulBiasKernel = matmul(true)
