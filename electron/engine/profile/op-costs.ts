// Counted work of one op call: FLOPs (multiply-adds count 2) from the shapes
// and attributes, and bytes moved with every input read once and every
// output written once (in-place ops: their updated inputs written too).
// These place each kernel on the roofline; they are counts, not timings.
import type { AttrValue } from '../backend'
import type { Tensor } from '../tensor'

export interface OpCost {
  flops: number
  bytes: number
}

const size = (t: Tensor | undefined) => (t ? t.size : 0)
const bytesOf = (t: Tensor | undefined) => (t ? t.size * (t.dtype === 'f64' ? 8 : 4) : 0)
const lastDim = (t: Tensor | undefined) => (t ? t.shape[t.shape.length - 1]! : 0)

/** Mixer forward FLOPs for one head-sequence of T steps (shared MATH.md counts). */
function mixerForwardFlops(attrs: Record<string, AttrValue | undefined>, T: number, K: number, V: number): number {
  const delta = attrs.delta === true
  const gated = attrs.gate !== undefined && attrs.gate !== 'none'
  if (attrs.form === 'recurrent') return T * (4 * K * V + (gated ? K * V : 0) + (delta ? 4 * K * V : 0))
  const C = Number(attrs.chunk_size ?? 64)
  const chunks = Math.ceil(T / C)
  let perChunk = 2 * C * C * K + 2 * C * K * V + 2 * C * C * V + 2 * K * C * V
  if (delta) perChunk += 2 * C * C * K + C * C * (K + V) + 2 * C * K * V
  return chunks * perChunk
}

export function opCost(op: string, inputs: Record<string, Tensor | undefined>, attrs: Record<string, AttrValue | undefined>, outputs: Record<string, Tensor>): OpCost {
  let bytes = 0
  for (const t of Object.values(inputs)) bytes += bytesOf(t)
  for (const t of Object.values(outputs)) bytes += bytesOf(t)
  const x = inputs.x ?? inputs.a ?? inputs.q ?? inputs.logits ?? inputs.gate ?? inputs.param
  let flops = 0
  switch (op) {
    case 'linear_fwd':
    case 'linear_bwd': {
      const w = inputs.w!
      const K = lastDim(inputs.x)
      const M = w.size / K
      const rows = size(inputs.x) / K
      flops = (op === 'linear_fwd' ? 2 : 4) * rows * K * M
      break
    }
    case 'mixer_fwd':
    case 'mixer_bwd': {
      const q = inputs.q!
      const [B, T, H, K] = q.shape as [number, number, number, number]
      const V = lastDim(inputs.v)
      const fwd = B * H * mixerForwardFlops(attrs, T, K, V)
      flops = op === 'mixer_fwd' ? fwd : 3 * fwd // the backward recomputes the forward
      break
    }
    case 'softmax_attn_fwd':
    case 'softmax_attn_bwd': {
      const q = inputs.q!
      const [B, T, H, D] = q.shape as [number, number, number, number]
      const V = lastDim(inputs.v)
      const w = Number(attrs.window ?? 0)
      const pairs = w > 0 && w < T ? T * w - (w * (w - 1)) / 2 : (T * (T + 1)) / 2
      const fwd = 2 * B * H * pairs * (D + V)
      flops = op === 'softmax_attn_fwd' ? fwd : 2.5 * fwd
      break
    }
    case 'short_conv_fwd':
    case 'short_conv_bwd':
      flops = (op === 'short_conv_fwd' ? 2 : 4) * size(inputs.x) * lastDim(inputs.weight)
      break
    case 'feature_map_fwd':
    case 'feature_map_bwd':
      flops = 4 * Math.max(size(outputs.y), size(inputs.dy), size(x))
      break
    case 'cross_entropy_fwd':
      flops = 4 * size(inputs.logits)
      break
    case 'cross_entropy_bwd':
      flops = 3 * size(inputs.logits)
      break
    case 'norm_fwd':
    case 'swiglu_fwd':
    case 'rotary_fwd':
      flops = 5 * size(x)
      break
    case 'norm_bwd':
    case 'swiglu_bwd':
      flops = 10 * size(x)
      break
    case 'adamw_step':
      flops = 12 * size(inputs.param)
      bytes += bytesOf(inputs.param) + bytesOf(inputs.m) + bytesOf(inputs.v) // written in place
      break
    case 'accumulate':
      flops = size(inputs.dst)
      bytes += bytesOf(inputs.dst)
      break
    case 'sum_squares':
      flops = 2 * size(x)
      break
    case 'unary_fwd':
    case 'unary_bwd':
    case 'binary_fwd':
    case 'binary_bwd':
      flops = size(x)
      break
    default:
      flops = 0 // gathers, embeddings: data movement only
  }
  return { flops, bytes }
}
