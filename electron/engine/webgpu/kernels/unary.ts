// unary_fwd / unary_bwd: y = alpha f(x), dx = dy alpha f'(x), elementwise.
//
// x, y, dy, dx: (n). The kind is compiled in (one pipeline per kind), as the
// CPU's template switch: no branch on it in the kernel.
import { paramsWgsl, type Kernel } from '../driver'
import { ELEMENTWISE_WGSL, SAFE_MATH_WGSL, WG } from './common'

export const UNARY_KINDS = ['identity', 'silu', 'sigmoid', 'softplus', 'logsigmoid', 'exp', 'neg_exp'] as const
export type UnaryKind = (typeof UNARY_KINDS)[number]

/** f(x) and f'(x) as WGSL expressions of `x` (the CPU's formulas, training_elementwise.cpp). */
const FORMULAS: Record<UnaryKind, { value: string; grad: string }> = {
  identity: { value: 'x', grad: '1.0' },
  // 1 - sigmoid(x) is written sigmoid(-x): for large x the subtraction would cancel to a few bits
  // (x = 9: 1 - 0.99988 keeps 1e-4 of it), which a GPU's approximate exp turns into a visible error.
  silu: { value: 'x * sigmoid(x)', grad: 'sigmoid(x) * (1.0 + x * sigmoid(-x))' },
  sigmoid: { value: 'sigmoid(x)', grad: 'sigmoid(x) * sigmoid(-x)' },
  softplus: { value: 'max(x, 0.0) + log1p_exp_neg_abs(x)', grad: 'sigmoid(x)' },
  logsigmoid: { value: 'min(x, 0.0) - log1p_exp_neg_abs(x)', grad: 'sigmoid(-x)' },
  exp: { value: 'exp(x)', grad: 'exp(x)' },
  neg_exp: { value: '-exp(x)', grad: '-exp(x)' },
}

const params = [
  ['n', 'u32'],
  ['alpha', 'f32'],
] as const

const cache = new Map<string, Kernel>()

export function unaryKernel(kind: UnaryKind, backward: boolean): Kernel {
  const label = `unary_${backward ? 'bwd' : 'fwd'}/${kind}`
  let k = cache.get(label)
  if (k) return k
  const f = FORMULAS[kind]
  const bindings = backward
    ? `@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;`
    : `@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;`
  const body = backward ? `dx[i] = dy[i] * (P.alpha * (${f.grad}));` : `y[i] = P.alpha * (${f.value});`
  k = {
    label,
    entry: 'main',
    params,
    code: `${paramsWgsl(params)}${ELEMENTWISE_WGSL}${SAFE_MATH_WGSL}${bindings}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = element_index(wid, nwg, lid);
  if (i >= P.n) { return; }
  let x = xs[i];
  ${body}
}
`,
  }
  cache.set(label, k)
  return k
}
