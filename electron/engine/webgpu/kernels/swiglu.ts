// swiglu_fwd / swiglu_bwd: y = silu(gate) * up, elementwise.
//
// gate, up, y, dy, dgate, dup: (n), f32 or f16
//   s = sigmoid(gate);  y = gate s up
//   dgate = dy up s (1 + gate (1 - s));  dup = dy gate s
import type { Kernel } from '../driver'
import { SAFE_MATH_WGSL } from './common'
import { elementwiseKernel } from './elementwise'

const params = [['n', 'u32']] as const

/** swiglu_fwd or swiglu_bwd over f32 or f16 tensors (kernels/elementwise.ts). */
export function swigluKernel(backward: boolean, half = false): Kernel {
  return elementwiseKernel(
    backward
      ? {
          label: 'swiglu_bwd',
          params,
          header: SAFE_MATH_WGSL,
          reads: ['gate', 'up', 'dy'],
          writes: ['dgate', 'dup'],
          element: (read) => ({
            lets: `let g = ${read('gate')};\nlet s = sigmoid(g);\nlet d = ${read('dy')};`,
            // 1 - s would cancel for large g: sigmoid(-g).
            values: { dgate: `d * ${read('up')} * s * (1.0 + g * sigmoid(-g))`, dup: 'd * g * s' },
          }),
        }
      : {
          label: 'swiglu_fwd',
          params,
          header: SAFE_MATH_WGSL,
          reads: ['gate', 'up'],
          writes: ['y'],
          element: (read) => ({ lets: `let g = ${read('gate')};`, values: { y: `g * sigmoid(g) * ${read('up')}` } }),
        },
    half,
  )
}
