// How many sequences the inspector evaluates per forward pass. A pass that
// records nothing still keeps every intermediate until its context is
// disposed, so its memory grows with sequences × T × d_model × layers. We
// measured about 26 float values per d_model per layer per token (hybrid GLA,
// d_model 128, 4 layers: 850 MB for 32 sequences of 512 tokens); 32 leaves
// room for wider MLPs. The budget keeps an inspection of a large model, or of
// long sequences, from taking the machine's memory.
import type { ModelSpec } from '../../api/model-spec'
import type { FloatDType } from '../tensor'

/** Activation bytes one evaluation pass may hold. */
export const PASS_BUDGET_BYTES = 256 * 2 ** 20
const VALUES_PER_WIDTH_LAYER_TOKEN = 32

/** Sequences of length T per pass: as many as the budget holds, at least 1, at most `wanted`. */
export function sequencesPerPass(spec: Pick<ModelSpec, 'd_model' | 'layers'>, dtype: FloatDType, T: number, wanted: number): number {
  const bytesPerToken = VALUES_PER_WIDTH_LAYER_TOKEN * spec.d_model * Math.max(1, spec.layers.length) * (dtype === 'f64' ? 8 : 4)
  const tokens = Math.floor(PASS_BUDGET_BYTES / bytesPerToken)
  return Math.max(1, Math.min(wanted, Math.floor(tokens / T)))
}
