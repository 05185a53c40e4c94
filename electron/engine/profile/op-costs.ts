// Counted work of one op call: FLOPs (multiply-adds count 2) from the shapes
// and attributes, and bytes moved with every input read once and every
// output written once (in-place ops: their updated inputs written too).
// These place each kernel on the roofline; they are counts, not timings.
//
// One entry per op of the table, typed by its signature; an op without an
// entry does not compile, and opCost refuses a name it does not know.
import type { AttrValue } from '../backend'
import { withDefaults, type OpAttrs, type OpInputs, type OpName, type OpOutputs } from '../ops/generated'
import type { Tensor } from '../tensor'

export interface OpCost {
  flops: number
  bytes: number
}

/** One call as its cost sees it: absent attributes carry the table's defaults. */
interface Call<N extends OpName> {
  inputs: OpInputs<N>
  attrs: Required<OpAttrs<N>>
  outputs: OpOutputs<N>
}

interface CostEntry<N extends OpName> {
  flops: (call: Call<N>) => number
  /** Inputs the op updates in place: their bytes are written as well as read. */
  writes?: readonly (keyof OpInputs<N>)[]
}

const size = (t: Tensor | undefined) => (t ? t.size : 0)
/** Bytes per element of each dtype the backends store. */
const ELEMENT_BYTES: Record<Tensor['dtype'], number> = { f64: 8, f32: 4, i32: 4, bf16: 2, f16: 2 }
const bytesOf = (t: Tensor | undefined) => (t ? t.size * ELEMENT_BYTES[t.dtype] : 0)
const lastDim = (t: Tensor | undefined) => (t ? t.shape[t.shape.length - 1]! : 0)
const none = () => 0

/** x (*, K) times w (K·M values): 2 FLOPs per multiply-add; the backward does it twice (dx and dw). */
function linearFlops({ x, w }: { x: Tensor; w: Tensor }, passes: number): number {
  const K = lastDim(x)
  return 2 * passes * (size(x) / K) * K * (w.size / K)
}

/** Mixer forward FLOPs for one head-sequence of T steps (shared MATH.md counts). */
function mixerForwardFlops(attrs: Required<OpAttrs<'mixer_fwd'>>, T: number, K: number, V: number): number {
  const gated = attrs.gate !== 'none'
  if (attrs.form === 'recurrent') return T * (4 * K * V + (gated ? K * V : 0) + (attrs.delta ? 4 * K * V : 0))
  const C = attrs.chunk_size
  const chunks = Math.ceil(T / C)
  let perChunk = 2 * C * C * K + 2 * C * K * V + 2 * C * C * V + 2 * K * C * V
  if (attrs.delta) perChunk += 2 * C * C * K + C * C * (K + V) + 2 * C * K * V
  return chunks * perChunk
}

function mixerFlops({ inputs, attrs }: Call<'mixer_fwd'> | Call<'mixer_bwd'>): number {
  const [B, T, H, K] = inputs.q.shape as [number, number, number, number]
  return B * H * mixerForwardFlops(attrs, T, K, lastDim(inputs.v))
}

/** Query-key pairs of causal attention over T steps, within a window when one is set. */
function softmaxFlops({ inputs, attrs }: Call<'softmax_attn_fwd'> | Call<'softmax_attn_bwd'>): number {
  const [B, T, H, D] = inputs.q.shape as [number, number, number, number]
  const w = attrs.window
  const pairs = w > 0 && w < T ? T * w - (w * (w - 1)) / 2 : (T * (T + 1)) / 2
  return 2 * B * H * pairs * (D + lastDim(inputs.v))
}

const costs: { [N in OpName]: CostEntry<N> } = {
  mixer_fwd: { flops: mixerFlops },
  // the backward recomputes the forward
  mixer_bwd: { flops: (c) => 3 * mixerFlops(c) },
  feature_map_fwd: { flops: ({ inputs, outputs }) => 4 * Math.max(size(outputs.y), size(inputs.x)) },
  feature_map_bwd: { flops: ({ inputs }) => 4 * Math.max(size(inputs.dy), size(inputs.x)) },
  short_conv_fwd: { flops: ({ inputs }) => 2 * size(inputs.x) * lastDim(inputs.weight) },
  short_conv_bwd: { flops: ({ inputs }) => 4 * size(inputs.x) * lastDim(inputs.weight) },
  softmax_attn_fwd: { flops: softmaxFlops },
  softmax_attn_bwd: { flops: (c) => 2.5 * softmaxFlops(c) },
  // one query against S cached keys (the last `window` of them when set)
  softmax_attn_decode: {
    flops: ({ inputs, attrs }) => {
      const [B, S, H, D] = inputs.k.shape as [number, number, number, number]
      const keys = attrs.window > 0 && attrs.window < S ? attrs.window : S
      return 2 * B * H * keys * (D + lastDim(inputs.v))
    },
  },
  // data movement only
  embedding_fwd: { flops: none },
  embedding_bwd: { flops: none },
  norm_fwd: { flops: ({ inputs }) => 5 * size(inputs.x) },
  norm_bwd: { flops: ({ inputs }) => 10 * size(inputs.x) },
  linear_fwd: { flops: ({ inputs }) => linearFlops(inputs, 1) },
  linear_bwd: { flops: ({ inputs }) => linearFlops(inputs, 2) },
  swiglu_fwd: { flops: ({ inputs }) => 5 * size(inputs.gate) },
  swiglu_bwd: { flops: ({ inputs }) => 10 * size(inputs.gate) },
  rotary_fwd: { flops: ({ inputs }) => 5 * size(inputs.x) },
  cross_entropy_fwd: { flops: ({ inputs }) => 4 * size(inputs.logits) },
  cross_entropy_bwd: { flops: ({ inputs }) => 3 * size(inputs.logits) },
  // data movement only
  gather_rows: { flops: none },
  scatter_add_rows: { flops: none },
  unary_fwd: { flops: ({ inputs }) => size(inputs.x) },
  unary_bwd: { flops: ({ inputs }) => size(inputs.x) },
  binary_fwd: { flops: ({ inputs }) => size(inputs.a) },
  binary_bwd: { flops: ({ inputs }) => size(inputs.a) },
  sum_squares: { flops: ({ inputs }) => 2 * size(inputs.x) },
  accumulate: { flops: ({ inputs }) => size(inputs.dst), writes: ['dst'] },
  cast: { flops: none },
  adamw_step: { flops: ({ inputs }) => 12 * size(inputs.param), writes: ['param', 'm', 'v'] },
}

export class UnknownOpCostError extends Error {}

/** The ops with a cost. */
export const costedOps = Object.keys(costs) as OpName[]

export function opCost(
  op: string,
  inputs: Record<string, Tensor | undefined>,
  attrs: Record<string, AttrValue | undefined>,
  outputs: Record<string, Tensor>,
): OpCost {
  if (!Object.hasOwn(costs, op)) throw new UnknownOpCostError(`opCost: no cost for op '${op}'; ops with costs: ${costedOps.join(', ')}`)
  return costOf(op as OpName, inputs, attrs, outputs)
}

function costOf<N extends OpName>(
  op: N,
  inputs: Record<string, Tensor | undefined>,
  attrs: Record<string, AttrValue | undefined>,
  outputs: Record<string, Tensor>,
): OpCost {
  const entry = costs[op] as CostEntry<N>
  let bytes = 0
  for (const t of Object.values(inputs)) bytes += bytesOf(t)
  for (const t of Object.values(outputs)) bytes += bytesOf(t)
  for (const name of entry.writes ?? []) bytes += bytesOf(inputs[name as string])
  const call = { inputs, attrs: withDefaults(op, attrs as OpAttrs<N>), outputs } as Call<N>
  return { flops: entry.flops(call), bytes }
}
