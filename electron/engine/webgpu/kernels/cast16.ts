// cast between f32 and f16 storage. f16 tensors are stored two to a 32-bit
// word (element 2i in the low half), so these kernels need no shader-f16:
// the conversions are integer code with the CPU's rounding (to nearest, ties
// to even; past 65504 to infinity, below 2^-14 to subnormals, NaN stays NaN;
// native/src/core/tensor.cpp), exact and the same on every adapter, where
// WGSL's own f32 -> f16 conversion leaves out-of-range values indeterminate
// (a loss scaler must see the infinity).
//
// to f16:   x: (n) f32        y: (ceil(n / 2)) words, one invocation per word
// from f16: x: (ceil(n / 2)) words   y: (n) f32, one invocation per element
import { paramsWgsl, type Kernel } from '../driver'
import { ELEMENTWISE_WGSL, WG } from './common'

/**
 * WGSL: the f16 pattern nearest to an f32 (in the low 16 bits), the f32 value of a pattern; two
 * values packed into a word (the first in the low half), and element i of an f16 array from its
 * word i / 2.
 */
export const F16_BITS_WGSL = `
fn f16_bits(v: f32) -> u32 {
  let bits = bitcast<u32>(v);
  let sign = (bits >> 16u) & 0x8000u;
  let mag = bits & 0x7fffffffu;
  if (mag > 0x7f800000u) { return sign | 0x7e00u; }
  if (mag >= 0x477ff000u) { return sign | 0x7c00u; }
  if (mag < 0x38800000u) { return sign | u32(round(bitcast<f32>(mag) * 16777216.0)); }
  var r = mag - 0x38000000u;
  r = r + 0x0fffu + ((r >> 13u) & 1u);
  return sign | (r >> 13u);
}
fn f16_value(h: u32) -> f32 {
  let sign = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 0u) { return bitcast<f32>(sign | bitcast<u32>(f32(m) * 5.9604644775390625e-8)); }
  if (e == 31u) { return bitcast<f32>(sign | 0x7f800000u | (m << 13u)); }
  return bitcast<f32>(sign | ((e + 112u) << 23u) | (m << 13u));
}
fn f16_pair(lo: f32, hi: f32) -> u32 { return f16_bits(lo) | (f16_bits(hi) << 16u); }
fn f16_element(word: u32, i: u32) -> f32 { return f16_value((word >> ((i & 1u) << 4u)) & 0xffffu); }
`

const params = [['n', 'u32']] as const

export const castToF16Kernel: Kernel = {
  label: 'cast/f32 to f16',
  entry: 'main',
  params,
  code: `${paramsWgsl(params)}${ELEMENTWISE_WGSL}${F16_BITS_WGSL}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<u32>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let w = element_index(wid, nwg, lid);
  let i = 2u * w;
  if (i >= P.n) { return; }
  // The last word of an odd n keeps 0 in its high half.
  if (i + 1u < P.n) { y[w] = f16_pair(x[i], x[i + 1u]); } else { y[w] = f16_bits(x[i]); }
}
`,
}

export const castFromF16Kernel: Kernel = {
  label: 'cast/f16 to f32',
  entry: 'main',
  params,
  code: `${paramsWgsl(params)}${ELEMENTWISE_WGSL}${F16_BITS_WGSL}
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = element_index(wid, nwg, lid);
  if (i >= P.n) { return; }
  y[i] = f16_element(x[i >> 1u], i);
}
`,
}
