// binary_fwd / binary_bwd: y = a + b or a * b, b optionally one [D] row
// broadcast over every row of a.
//
// a, y, dy, da: (R, D)   b, db: (R, D), or (D) with broadcast; f32 or f16
//   add: da = dy, db = dy        mul: da = dy b, db = dy a
// With broadcast, db is a column sum over the rows (column_sum.ts); this
// kernel writes da only.
import type { Kernel } from '../driver'
import { elementwiseKernel, type ElementwiseSpec } from './elementwise'

export type BinaryKind = 'add' | 'mul'

const params = [
  ['n', 'u32'],
  ['D', 'u32'],
] as const

const kernel = (spec: Omit<ElementwiseSpec, 'params'>, half: boolean): Kernel => elementwiseKernel({ ...spec, params }, half)

const bIndex = (broadcast: boolean): string => (broadcast ? 'i % P.D' : 'i')

export function binaryFwdKernel(kind: BinaryKind, broadcast: boolean, half = false): Kernel {
  const op = kind === 'add' ? '+' : '*'
  return kernel(
    {
      label: `binary_fwd/${kind}${broadcast ? '/broadcast' : ''}`,
      reads: ['a', 'b'],
      writes: ['y'],
      element: (read) => ({ values: { y: `${read('a')} ${op} ${read('b', bIndex(broadcast))}` } }),
    },
    half,
  )
}

/** da, and db where it is elementwise (no broadcast). */
export function binaryBwdKernel(kind: BinaryKind, broadcast: boolean, half = false): Kernel {
  if (broadcast)
    return kernel(
      {
        label: `binary_bwd/${kind}/broadcast`,
        reads: ['b', 'dy'],
        writes: ['da'],
        element: (read) => ({ values: { da: kind === 'add' ? read('dy') : `${read('dy')} * ${read('b', bIndex(true))}` } }),
      },
      half,
    )
  return kernel(
    {
      label: `binary_bwd/${kind}`,
      reads: ['a', 'b', 'dy'],
      writes: ['da', 'db'],
      element: (read) =>
        kind === 'add'
          ? { values: { da: read('dy'), db: read('dy') } }
          : { lets: `let dyi = ${read('dy')};`, values: { da: `dyi * ${read('b')}`, db: `dyi * ${read('a')}` } },
    },
    half,
  )
}
