// binary_fwd / binary_bwd: y = a + b or a * b, b optionally one [D] row
// broadcast over every row of a.
//
// a, y, dy, da: (R, D)   b, db: (R, D), or (D) with broadcast
//   add: da = dy, db = dy        mul: da = dy b, db = dy a
// With broadcast, db is a column sum over the rows (column_sum.ts); this
// kernel writes da only.
import { paramsWgsl, type Kernel } from '../driver'
import { ELEMENTWISE_WGSL, WG } from './common'

export type BinaryKind = 'add' | 'mul'

const params = [
  ['n', 'u32'],
  ['D', 'u32'],
] as const

const cache = new Map<string, Kernel>()

function kernel(label: string, bindings: string, body: string): Kernel {
  let k = cache.get(label)
  if (!k) {
    k = {
      label,
      entry: 'main',
      params,
      code: `${paramsWgsl(params)}${ELEMENTWISE_WGSL}${bindings}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = element_index(wid, nwg, lid);
  if (i >= P.n) { return; }
  ${body}
}
`,
    }
    cache.set(label, k)
  }
  return k
}

const bIndex = (broadcast: boolean): string => (broadcast ? 'i % P.D' : 'i')

export function binaryFwdKernel(kind: BinaryKind, broadcast: boolean): Kernel {
  const op = kind === 'add' ? '+' : '*'
  return kernel(
    `binary_fwd/${kind}${broadcast ? '/broadcast' : ''}`,
    `@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;`,
    `y[i] = a[i] ${op} b[${bIndex(broadcast)}];`,
  )
}

/** da, and db where it is elementwise (no broadcast). */
export function binaryBwdKernel(kind: BinaryKind, broadcast: boolean): Kernel {
  const da = kind === 'add' ? 'dy[i]' : `dy[i] * b[${bIndex(broadcast)}]`
  const db = kind === 'add' ? 'dy[i]' : 'dy[i] * a[i]'
  if (broadcast)
    return kernel(
      `binary_bwd/${kind}/broadcast`,
      `@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> da: array<f32>;`,
      `da[i] = ${da};`,
    )
  return kernel(
    `binary_bwd/${kind}`,
    `@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> da: array<f32>;
@group(0) @binding(5) var<storage, read_write> db: array<f32>;`,
    kind === 'add' ? `da[i] = ${da};\n  db[i] = ${db};` : `let dyi = dy[i];\n  da[i] = dyi * b[i];\n  db[i] = dyi * a[i];`,
  )
}
