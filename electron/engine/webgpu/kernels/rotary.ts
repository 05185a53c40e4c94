// rotary_fwd: rotary position embedding ("rotate half", GPT-NeoX / Llama).
//
// x, y: (B, T, H, D), D even, half = D / 2   cos, sin: (T, half), from the host
//
//   y_i        = x_i cos(theta) - x_{i+half} sin(theta)
//   y_{i+half} = x_{i+half} cos(theta) + x_i sin(theta)
//   theta[t, i] = (offset + t) base^(-2i / D); inverse negates sin
//
// cos and sin come from a table the host computes in double (rotaryTable):
// Vulkan allows sin and cos an absolute error of 2^-11, and theta reaches
// thousands of radians. One invocation per (row, i < half).
import { paramsWgsl, type Kernel } from '../driver'
import { ELEMENTWISE_WGSL, WG } from './common'

const params = [
  ['rows', 'u32'],
  ['T', 'u32'],
  ['H', 'u32'],
  ['half', 'u32'],
] as const

export const rotaryKernel: Kernel = {
  label: 'rotary_fwd',
  entry: 'main',
  params,
  code: `${paramsWgsl(params)}${ELEMENTWISE_WGSL}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> cos_table: array<f32>;
@group(0) @binding(3) var<storage, read> sin_table: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let k = element_index(wid, nwg, lid);
  if (k >= P.rows * P.half) { return; }
  let row = k / P.half;
  let i = k % P.half;
  let t = (row / P.H) % P.T; // row = (b T + t) H + h
  let cs = cos_table[t * P.half + i];
  let sn = sin_table[t * P.half + i];
  let lo = x[row * 2u * P.half + i];
  let hi = x[row * 2u * P.half + i + P.half];
  y[row * 2u * P.half + i] = lo * cs - hi * sn;
  y[row * 2u * P.half + i + P.half] = hi * cs + lo * sn;
}
`,
}

/** cos and sin of theta[t, i] for t < T, i < D / 2, computed in double (sin negated for the inverse). */
export function rotaryTable(T: number, D: number, base: number, offset: number, inverse: boolean): { cos: Float32Array; sin: Float32Array } {
  const half = D / 2
  const cos = new Float32Array(T * half)
  const sin = new Float32Array(T * half)
  for (let i = 0; i < half; i++) {
    const invFreq = Math.pow(base, (-2 * i) / D)
    for (let t = 0; t < T; t++) {
      const theta = (offset + t) * invFreq
      cos[t * half + i] = Math.cos(theta)
      sin[t * half + i] = (inverse ? -1 : 1) * Math.sin(theta)
    }
  }
  return { cos, sin }
}
