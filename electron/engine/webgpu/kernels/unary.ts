// unary_fwd / unary_bwd: y = alpha f(x), dx = dy alpha f'(x), elementwise.
//
// x, y, dy, dx: (n), f32 or f16. The kind is compiled in (one pipeline per kind), as the
// CPU's template switch: no branch on it in the kernel.
import type { Kernel } from '../driver'
import { SAFE_MATH_WGSL } from './common'
import { elementwiseKernel } from './elementwise'

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

/** The kernel of a kind, forward or backward, over f32 or f16 tensors (kernels/elementwise.ts). */
export function unaryKernel(kind: UnaryKind, backward: boolean, half = false): Kernel {
  const f = FORMULAS[kind]
  return elementwiseKernel(
    {
      label: `unary_${backward ? 'bwd' : 'fwd'}/${kind}`,
      params,
      header: SAFE_MATH_WGSL,
      reads: backward ? ['xs', 'dy'] : ['xs'],
      writes: backward ? ['dx'] : ['y'],
      element: (read) => {
        const values: Record<string, string> = backward ? { dx: `${read('dy')} * (P.alpha * (${f.grad}))` } : { y: `P.alpha * (${f.value})` }
        return { lets: `let x = ${read('xs')};`, values }
      },
    },
    half,
  )
}
