// accumulate: dst += alpha * src, in place.
//
// dst, src: (n), f32 or f16. When src is dst's own memory it is bound once (WebGPU
// forbids one buffer bound both read-only and writable in a dispatch).
import type { Kernel } from '../driver'
import { elementwiseKernel } from './elementwise'

const params = [
  ['n', 'u32'],
  ['alpha', 'f32'],
] as const

/** dst += alpha src over f32 or f16 tensors (kernels/elementwise.ts); selfSource: src is dst's own memory. */
export function accumulateKernel(selfSource: boolean, half = false): Kernel {
  return elementwiseKernel(
    {
      label: selfSource ? 'accumulate/self' : 'accumulate',
      params,
      reads: selfSource ? ['dst'] : ['dst', 'src'],
      writes: ['dst'],
      element: (read) => ({ values: { dst: `${read('dst')} + P.alpha * ${read(selfSource ? 'dst' : 'src')}` } }),
    },
    half,
  )
}
