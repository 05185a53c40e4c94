// The preset ModelSpecs (the published architectures as switch settings),
// validated when loaded so a broken preset file fails loudly.
import { ModelSpecSchema, type ModelSpec } from '../model-spec'
import { formatErrors, validateWith } from '../validate'
import based from './based.json'
import deltanetNegativeEigen from './deltanet-negative-eigen.json'
import deltanet from './deltanet.json'
import gatedDeltanet from './gated-deltanet.json'
import gla from './gla.json'
import hybridGatedDeltanet from './hybrid-gated-deltanet.json'
import hybridGla from './hybrid-gla.json'
import linearTransformer from './linear-transformer.json'
import mamba2 from './mamba2.json'
import mlstm from './mlstm.json'
import retnet from './retnet.json'
import transformer from './transformer.json'
import transnormer from './transnormer.json'

const RAW: unknown[] = [
  linearTransformer,
  retnet,
  transnormer,
  gla,
  mamba2,
  deltanet,
  gatedDeltanet,
  deltanetNegativeEigen,
  based,
  mlstm,
  transformer,
  hybridGla,
  hybridGatedDeltanet,
]

let cached: ModelSpec[] | undefined

export function presets(): ModelSpec[] {
  if (cached) return cached
  cached = RAW.map((raw) => {
    const r = validateWith(ModelSpecSchema, raw)
    if (!r.ok) throw new Error(`preset ${(raw as { preset?: string }).preset} is invalid:\n${formatErrors(r.errors)}`)
    return r.value
  })
  return cached
}

export const PRESET_IDS = () => presets().map((p) => p.preset!)

export function preset(id: string): ModelSpec {
  const p = presets().find((s) => s.preset === id)
  if (!p) throw new Error(`unknown preset '${id}'; valid: ${PRESET_IDS().join(', ')}`)
  return structuredClone(p)
}
