// fill: out[i] = value for i < n (zeros, fill, and the poisoning of outputs in tests).
//
// out: (n) f32 or i32 bits; `value` is stored as its f32 bits.
import { paramsWgsl, type Kernel } from '../driver'
import { ELEMENTWISE_WGSL, WG } from './common'

const params = [
  ['n', 'u32'],
  ['bits', 'u32'],
] as const

export const fillKernel: Kernel = {
  label: 'fill',
  entry: 'main',
  params,
  code: `${paramsWgsl(params)}${ELEMENTWISE_WGSL}
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = element_index(wid, nwg, lid);
  if (i < P.n) { out[i] = P.bits; }
}
`,
}
