// A range of heads of one batch element, copied out of a tensor into a compact
// buffer (gather) or back into place (scatter): batch_slices.ts's head slices.
//
// The tensor, per batch element: (outer, H, inner), e.g. q (T, H, K): outer T,
// inner K; s0 (H, K, V): outer 1, inner K V; the fixed gate's g (H): outer 1,
// inner 1. The compact buffer: (outer, nh, inner), heads h0 .. h0 + nh - 1.
//   full index = base + (o H + h0 + j) inner + r,  compact index = (o nh + j) inner + r
// base: the element's first entry in the full tensor (b times its size).
import { paramsWgsl, type Kernel } from '../driver'
import { ELEMENTWISE_WGSL, WG } from './common'

const params = [
  ['n', 'u32'], // compact entries: outer nh inner
  ['H', 'u32'],
  ['h0', 'u32'],
  ['nh', 'u32'],
  ['inner', 'u32'],
  ['base', 'u32'],
] as const

function headSlice(scatter: boolean): Kernel {
  return {
    label: scatter ? 'head_slice/scatter' : 'head_slice/gather',
    entry: 'main',
    params,
    code: `${paramsWgsl(params)}${ELEMENTWISE_WGSL}
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = element_index(wid, nwg, lid);
  if (i >= P.n) { return; }
  let row = P.nh * P.inner;
  let full = P.base + ((i / row) * P.H + P.h0) * P.inner + i % row;
  ${scatter ? 'dst[full] = src[i];' : 'dst[i] = src[full];'}
}
`,
  }
}

/** src: the whole tensor; dst: the compact heads. */
export const headGatherKernel = headSlice(false)
/** src: the compact heads; dst: the whole tensor, those heads of that element written. */
export const headScatterKernel = headSlice(true)
