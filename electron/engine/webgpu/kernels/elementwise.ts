// Elementwise kernels from one description, in f32 and in f16 (precision f16's activations,
// two values to a 32-bit word): unary, binary, swiglu and accumulate write their math once, as
// the value of element i of each output from elements of the inputs.
//
// f32: an invocation per element i.
// f16: an invocation per word w, elements 2w and 2w + 1: each read widened to f32
//      (f16_element), the math in f32, each output rounded once and written as a pair (f16_pair:
//      the CPU's rounding), so a fused f16 call gives what the f32 kernel on converted copies
//      gave, without the conversions' dispatches. An odd count's last word keeps its high half
//      where the output is also read (in place), else gets zero there.
import { paramsWgsl, type Kernel } from '../driver'
import { F16_BITS_WGSL } from './cast16'
import { ELEMENTWISE_WGSL, WG } from './common'

export interface ElementwiseSpec {
  label: string
  /** The kernel's parameters; the first is n, the element count. */
  params: Kernel['params']
  /** WGSL the math needs (helper functions). */
  header?: string
  /** Tensors read, then tensors written (read_write; a name in both is read and written in place), in binding order. */
  reads: string[]
  writes: string[]
  /**
   * Element i's outputs: `read(name, index)` is the value of element `index` (default i) of a
   * tensor, as an f32 expression; `lets` are statements before the values.
   */
  element(read: (name: string, index?: string) => string): { lets?: string; values: Record<string, string> }
}

/** Workgroups for an elementwise kernel over n elements: one invocation per element (f32) or per pair (f16). */
export function elementwiseInvocations(n: number, half: boolean): number {
  return half ? Math.ceil(n / 2) : n
}

const cache = new Map<string, Kernel>()

/** The kernel for a description (its label names it: one per label, f32 or f16, generated once). */
export function elementwiseKernel(spec: ElementwiseSpec, half: boolean): Kernel {
  const key = `${spec.label} ${half}`
  let k = cache.get(key)
  if (!k) cache.set(key, (k = generate(spec, half)))
  return k
}

function generate(spec: ElementwiseSpec, half: boolean): Kernel {
  const names = [...spec.reads, ...spec.writes.filter((w) => !spec.reads.includes(w))]
  const bindings = names
    .map(
      (name, b) => `@group(0) @binding(${b + 1}) var<storage, ${spec.writes.includes(name) ? 'read_write' : 'read'}> ${name}: array<${half ? 'u32' : 'f32'}>;`,
    )
    .join('\n')
  const read = (name: string, index = 'i') => (half ? `f16_element(${name}[(${index}) >> 1u], ${index})` : `${name}[${index}]`)
  const { lets, values } = spec.element(read)
  const header = `${paramsWgsl(spec.params)}${ELEMENTWISE_WGSL}${half ? F16_BITS_WGSL : ''}${spec.header ?? ''}${bindings}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {`
  const indent = (s: string | undefined, pad: string) =>
    s
      ? s
          .split('\n')
          .map((l) => pad + l.trim())
          .join('\n') + '\n'
      : ''
  if (!half)
    return {
      label: spec.label,
      entry: 'main',
      params: spec.params,
      code: `${header}
  let i = element_index(wid, nwg, lid);
  if (i >= P.n) { return; }
${indent(lets, '  ')}${Object.entries(values)
        .map(([out, v]) => `  ${out}[i] = ${v};`)
        .join('\n')}
}
`,
    }
  const outs = Object.keys(values)
  return {
    label: `${spec.label}/f16`,
    entry: 'main',
    params: spec.params,
    code: `${header}
  let w = element_index(wid, nwg, lid);
  let i0 = 2u * w;
  if (i0 >= P.n) { return; }
${outs.map((o) => `  var v_${o} = vec2<f32>(0.0);`).join('\n')}
  for (var j = 0u; j < 2u; j++) {
    let i = i0 + j;
    if (i < P.n) {
${indent(lets, '      ')}${outs.map((o) => `      v_${o}[j] = ${values[o]};`).join('\n')}
    }
  }
  let pair = i0 + 1u < P.n;
${outs
  .map((o) =>
    spec.reads.includes(o)
      ? `  ${o}[w] = select((${o}[w] & 0xffff0000u) | f16_bits(v_${o}.x), f16_pair(v_${o}.x, v_${o}.y), pair);`
      : `  ${o}[w] = select(f16_bits(v_${o}.x), f16_pair(v_${o}.x, v_${o}.y), pair);`,
  )
  .join('\n')}
}
`,
  }
}
