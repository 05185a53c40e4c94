// column_sum: out[d] = sum over rows r of x[r, d] (or x[r, d] * w[r, d]):
// the broadcast gradient of binary_bwd and linear_bwd's dbias.
//
// x, w: (R, D)   out: (D)
// A workgroup takes 64 columns; its 4 row lanes stride over the rows and
// their partial sums are added in lane order, so the result is deterministic.
import { paramsWgsl, type Kernel } from '../driver'

/** Columns per workgroup, and row lanes: COLUMNS x LANES invocations. */
export const COLUMNS = 64
const LANES = 4

const params = [
  ['R', 'u32'],
  ['D', 'u32'],
] as const

function columnSum(product: boolean): Kernel {
  const bindings = product
    ? `@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;`
    : `@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;`
  const term = product ? 'x[r * P.D + d] * w[r * P.D + d]' : 'x[r * P.D + d]'
  return {
    label: product ? 'column_sum/product' : 'column_sum',
    entry: 'main',
    params,
    code: `${paramsWgsl(params)}${bindings}
var<workgroup> partial: array<f32, ${COLUMNS * LANES}>;
@compute @workgroup_size(${COLUMNS}, ${LANES})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let d = wid.x * ${COLUMNS}u + lid.x;
  var acc = 0.0;
  if (d < P.D) {
    for (var r = lid.y; r < P.R; r += ${LANES}u) { acc += ${term}; }
  }
  partial[lid.y * ${COLUMNS}u + lid.x] = acc;
  workgroupBarrier();
  if (lid.y == 0u && d < P.D) {
    var total = 0.0;
    for (var lane = 0u; lane < ${LANES}u; lane++) { total += partial[lane * ${COLUMNS}u + lid.x]; }
    out[d] = total;
  }
}
`,
  }
}

export const columnSumKernel = columnSum(false)
export const columnSumProductKernel = columnSum(true)
