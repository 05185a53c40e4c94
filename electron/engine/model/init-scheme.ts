// How a model's weights start: the ModelSpec's `init` scheme, one formula per
// weight kind, written once. Every layer asks here for its matrices; the
// parameters an architecture defines for itself (Mamba2's A_log and dt_bias,
// GLA's low-rank gate, RetNet's decays, short-conv kernels, norms, D) keep
// their published inits in both schemes, in the layer that owns them.
//
// fan_in (the default): PyTorch's defaults, which the reference
//   implementations of the small recall experiments train with.
//   - projections (q, k, v, gates, MLP, output, an untied LM head):
//     nn.Linear's kaiming_uniform(a=√5) = U(−1/√fan_in, 1/√fan_in),
//     std 1/√(3·fan_in): 0.072 at d_model 64, 0.018 at 1024. No depth
//     shrink: at small width it leaves the residual stream too quiet to
//     learn recall (an MQAR Transformer at d_model 64 went from 0.13 to 0.99
//     accuracy when only its output projections stopped shrinking).
//   - token and position embeddings: nn.Embedding's N(0, 1); with a tied LM
//     head N(0, 1/√d_model) instead, so the head's logits start at unit scale
//     as an untied head's would (N(0, 1) rows would give logits of std √d).
// gpt2 (Radford et al. 2019; Megatron-LM, Shoeybi et al. 2019): every matrix
//   and embedding N(0, 0.02), the residual stream's output projections
//   (mixer o_proj, MLP down) N(0, 0.02/√(2·layers)). Right for wide models
//   (0.02 ≈ 1/√(3·d) at d ≈ 830); too small at d_model 64.
import type { InitScheme } from '../../api/model-spec'
import { init, type Init } from './params'

/** What a matrix is, which decides its scale. */
export type WeightKind =
  /** Token embedding table (vocab, d_model); also the LM head when tied. */
  | 'embedding'
  /** Learned absolute positions (max_positions, d_model). */
  | 'position'
  /** An untied LM head (vocab, d_model). */
  | 'head'
  /** A projection read from the block input or inside a mixer (q, k, v, gates, MLP gate/up). */
  | 'proj'
  /** A projection written into the residual stream (mixer o_proj, MLP down). */
  | 'out_proj'

export interface InitContext {
  scheme: InitScheme
  dModel: number
  nLayers: number
  /** The LM head is the embedding table. */
  tied: boolean
}

const GPT2_STD = 0.02

/** The standard deviation a weight of this kind starts with (fan_in = the matrix's input size). */
export function weightStd(c: InitContext, kind: WeightKind, fanIn: number): number {
  if (c.scheme === 'gpt2') return kind === 'out_proj' ? GPT2_STD / Math.sqrt(2 * c.nLayers) : GPT2_STD
  switch (kind) {
    case 'embedding':
    case 'position':
      return c.tied ? 1 / Math.sqrt(c.dModel) : 1
    default:
      return 1 / Math.sqrt(3 * fanIn)
  }
}

/** The initializer of a weight: normal for embeddings and for gpt2, uniform (PyTorch's nn.Linear) for fan_in matrices. */
export function weightInit(c: InitContext, kind: WeightKind, fanIn: number): Init {
  const std = weightStd(c, kind, fanIn)
  if (c.scheme === 'fan_in' && kind !== 'embedding' && kind !== 'position') {
    const bound = std * Math.sqrt(3)
    return init.uniform(-bound, bound)
  }
  return init.normal(std)
}
