// adamw_step: one in-place AdamW update of param, m and v.
//
// param, grad, m, v: (n), four different buffers   grad_sq_sum: (1), optional
//
//   clip = 1, or with grad_sq_sum: 0 when its root is not finite (the step is
//          skipped, nothing written), max_norm / norm when max_norm > 0 < norm - max_norm
//   g = grad * grad_scale * clip
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
//   param = param (1 - lr wd) - lr (m / bc1) / (sqrt(v / bc2) + eps)
//
// bc1 = 1 - beta1^step and bc2 = 1 - beta2^step come from the host (in
// double, then rounded), as does the decay 1 - lr wd. f32 throughout.
import { paramsWgsl, type Kernel } from '../driver'
import { ELEMENTWISE_WGSL, FLOAT_BITS_WGSL, WG } from './common'

const params = [
  ['n', 'u32'],
  ['lr', 'f32'],
  ['beta1', 'f32'],
  ['beta2', 'f32'],
  ['eps', 'f32'],
  ['decay', 'f32'],
  ['bc1', 'f32'],
  ['bc2', 'f32'],
  ['grad_scale', 'f32'],
  ['max_norm', 'f32'],
] as const

function adamw(clipped: boolean): Kernel {
  const clip = clipped
    ? `let norm = sqrt(grad_sq_sum[0]);
  if (!is_finite(norm)) { return; }
  var clip = 1.0;
  if (P.max_norm > 0.0 && norm > P.max_norm) { clip = P.max_norm / norm; }`
    : 'let clip = 1.0;'
  return {
    label: clipped ? 'adamw_step/clipped' : 'adamw_step',
    entry: 'main',
    params,
    code: `${paramsWgsl(params)}${ELEMENTWISE_WGSL}${FLOAT_BITS_WGSL}
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
${clipped ? '@group(0) @binding(5) var<storage, read> grad_sq_sum: array<f32>;' : ''}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = element_index(wid, nwg, lid);
  if (i >= P.n) { return; }
  ${clip}
  let g = grad[i] * (P.grad_scale * clip);
  let mi = P.beta1 * m[i] + (1.0 - P.beta1) * g;
  let vi = P.beta2 * v[i] + (1.0 - P.beta2) * g * g;
  let m_hat = mi / P.bc1;
  let v_hat = vi / P.bc2;
  param[i] = param[i] * P.decay - P.lr * m_hat / (sqrt(v_hat) + P.eps);
  m[i] = mi;
  v[i] = vi;
}
`,
  }
}

export const adamwKernel = adamw(false)
export const adamwClippedKernel = adamw(true)
