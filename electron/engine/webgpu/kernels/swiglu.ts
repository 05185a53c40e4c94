// swiglu_fwd / swiglu_bwd: y = silu(gate) * up, elementwise.
//
// gate, up, y, dy, dgate, dup: (n)
//   s = sigmoid(gate);  y = gate s up
//   dgate = dy up s (1 + gate (1 - s));  dup = dy gate s
import { paramsWgsl, type Kernel } from '../driver'
import { ELEMENTWISE_WGSL, SAFE_MATH_WGSL, WG } from './common'

const params = [['n', 'u32']] as const
const HEADER = `${paramsWgsl(params)}${ELEMENTWISE_WGSL}${SAFE_MATH_WGSL}`
const ENTRY = `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = element_index(wid, nwg, lid);
  if (i >= P.n) { return; }`

export const swigluFwdKernel: Kernel = {
  label: 'swiglu_fwd',
  entry: 'main',
  params,
  code: `${HEADER}
@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
${ENTRY}
  let g = gate[i];
  y[i] = g * sigmoid(g) * up[i];
}
`,
}

export const swigluBwdKernel: Kernel = {
  label: 'swiglu_bwd',
  entry: 'main',
  params,
  code: `${HEADER}
@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgate: array<f32>;
@group(0) @binding(5) var<storage, read_write> dup: array<f32>;
${ENTRY}
  let g = gate[i];
  let s = sigmoid(g);
  let d = dy[i];
  dgate[i] = d * up[i] * s * (1.0 + g * sigmoid(-g)); // 1 - s would cancel for large g
  dup[i] = d * g * s;
}
`,
}
