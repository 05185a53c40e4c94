// accumulate: dst += alpha * src, in place.
//
// dst, src: (n). When src is dst's own memory it is bound once (WebGPU
// forbids one buffer bound both read-only and writable in a dispatch).
import { paramsWgsl, type Kernel } from '../driver'
import { ELEMENTWISE_WGSL, WG } from './common'

const params = [
  ['n', 'u32'],
  ['alpha', 'f32'],
] as const

function accumulate(selfSource: boolean): Kernel {
  const bindings = selfSource
    ? `@group(0) @binding(1) var<storage, read_write> dst: array<f32>;\n`
    : `@group(0) @binding(1) var<storage, read_write> dst: array<f32>;\n@group(0) @binding(2) var<storage, read> src: array<f32>;\n`
  return {
    label: selfSource ? 'accumulate/self' : 'accumulate',
    entry: 'main',
    params,
    code: `${paramsWgsl(params)}${ELEMENTWISE_WGSL}${bindings}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = element_index(wid, nwg, lid);
  if (i < P.n) { dst[i] = dst[i] + P.alpha * ${selfSource ? 'dst' : 'src'}[i]; }
}
`,
  }
}

export const accumulateKernel = accumulate(false)
export const accumulateSelfKernel = accumulate(true)
