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
//   - scalar forget gates (Mamba2, Gated DeltaNet, mLSTM: g = −A·dt) start
//     remembering: every head at the slow end of Mamba2's ranges, A = 1 and
//     dt = dt_min = 1e-3 (a decay of e^−0.001 per step), so the layer starts
//     as its ungated counterpart and learns to forget, as a forget-gate bias
//     does (Gers et al. 2000; Jozefowicz et al. 2015). Mamba2's random draw
//     (A ∈ [1, 16], dt log-uniform in [1e-3, 0.1] per head) counts on many
//     heads for some to be slow; with the 2 to 4 heads of a small model every
//     head can start forgetting within a few tokens (Gated DeltaNet at
//     d_model 64, seed 0: A·dt of 0.11 and 0.44, half-lives under 7 steps),
//     and MQAR stayed on its plateau for 1500 steps (0.10); started slow it
//     reached 0.99 at step 800, as DeltaNet does.
// gpt2 (Radford et al. 2019; Megatron-LM, Shoeybi et al. 2019): every matrix
//   and embedding N(0, 0.02), the residual stream's output projections
//   (mixer o_proj, MLP down) N(0, 0.02/√(2·layers)). Right for wide models
//   (0.02 ≈ 1/√(3·d) at d ≈ 830); too small at d_model 64. Scalar forget
//   gates keep Mamba2's random draw per head (many heads at that width).
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

/** Mamba2's ranges (Dao & Gu 2024): A ∈ [1, 16], dt ∈ [1e-3, 0.1], dt stored as softplus⁻¹(dt). */
export const A_RANGE = [1, 16] as const
export const DT_RANGE = [1e-3, 1e-1] as const

const softplusInverse = (y: number) => y + Math.log(-Math.expm1(-y))

/**
 * A_log and dt_bias of a layer's scalar forget gate g = −exp(A_log)·softplus(x W + dt_bias).
 * fan_in: every head at the slow end (A = 1, dt = 1e-3); gpt2: Mamba2's draw per head.
 * A layer with the softplus input gate but no scalar forget gate (dt only as the
 * write strength) keeps Mamba2's dt draw in both schemes.
 */
export function gateInit(scheme: InitScheme, scalarForgetGate: boolean): { aLog: Init; dtBias: Init } {
  if (scheme === 'fan_in' && scalarForgetGate) return { aLog: init.constant(Math.log(A_RANGE[0])), dtBias: init.constant(softplusInverse(DT_RANGE[0])) }
  return {
    aLog: init.uniform(A_RANGE[0], A_RANGE[1], Math.log),
    dtBias: init.uniform(Math.log(DT_RANGE[0]), Math.log(DT_RANGE[1]), (u) => softplusInverse(Math.exp(u))),
  }
}
