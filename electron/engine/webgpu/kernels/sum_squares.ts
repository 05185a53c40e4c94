// sum_squares: y[0] = sum_i x_i^2 (the global gradient norm for AdamW's clip).
//
// x: (n)   partial: (groups)   y: (1)
// Two passes of one kernel: `groups` workgroups each sum a contiguous range
// of x's squares into partial[g]; then one workgroup sums the partials
// (squared = false). Each invocation keeps a compensated (Kahan) sum over
// its strided elements; workgroup_sum combines them in a fixed order.
import { paramsWgsl, type Kernel } from '../driver'
import { ROW_INDEX_WGSL, WG, WORKGROUP_SUM_WGSL } from './common'

/** Workgroups of the first pass (at most). */
export const SUM_GROUPS = 256

const params = [
  ['n', 'u32'],
  ['per_group', 'u32'],
] as const

function sumKernel(squared: boolean): Kernel {
  return {
    label: squared ? 'sum_squares/partial' : 'sum_squares/total',
    entry: 'main',
    params,
    code: `${paramsWgsl(params)}${ROW_INDEX_WGSL}${WORKGROUP_SUM_WGSL}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = row_index(wid, nwg);
  let first = g * P.per_group;
  let end = min(P.n, first + P.per_group);
  var s = 0.0;
  var comp = 0.0;
  for (var i = first + lid; i < end; i += ${WG}u) {
    let v = x[i];
    let term = ${squared ? 'v * v' : 'v'} - comp;
    let t = s + term;
    comp = (t - s) - term;
    s = t;
  }
  let total = workgroup_sum(lid, s);
  if (lid == 0u) { out[g] = total; }
}
`,
  }
}

export const sumSquaresPartialKernel = sumKernel(true)
export const sumTotalKernel = sumKernel(false)
