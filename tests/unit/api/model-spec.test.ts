import { describe, expect, it } from 'vitest'
import { headDims, modelInit, modelPosition, ModelSpecSchema, outputNormWeight } from '../../../electron/api/model-spec'
import { formatErrors, validateWith } from '../../../electron/api/validate'
import { glaLayer, modelSpec, softmaxLayer } from '../../fixtures/specs'

function errorsOf(spec: unknown): string[] {
  const r = validateWith(ModelSpecSchema, spec)
  if (r.ok) return []
  return formatErrors(r.errors).split('\n')
}

describe('ModelSpec validation', () => {
  it('accepts a valid spec and returns it unchanged', () => {
    const spec = modelSpec()
    const r = validateWith(ModelSpecSchema, spec)
    expect(r.ok).toBe(true)
    if (r.ok) expect(r.value).toEqual(spec)
  })

  it('names the field, the value and the rule when heads do not divide d_model', () => {
    const spec = modelSpec({ layers: [glaLayer(), glaLayer(), glaLayer({ heads: 3 })] })
    expect(errorsOf(spec)).toContain('layers[2].heads: 3 does not divide d_model 128')
  })

  it('allows heads that do not divide d_model when dk and dv are explicit', () => {
    expect(errorsOf(modelSpec({ layers: [glaLayer({ heads: 3, dk: 40, dv: 50 })] }))).toEqual([])
  })

  it('lists the valid values of an enum', () => {
    const spec = modelSpec({ layers: [glaLayer({ feature_map: 'elu' as never })] })
    expect(errorsOf(spec)).toEqual(["layers[0].feature_map: 'elu' is not valid; valid: identity, elu1, relu, silu, l2norm, taylor2, hedgehog"])
  })

  it('reports unknown fields (typos) instead of dropping them', () => {
    const spec = { ...modelSpec(), d_modle: 64 }
    expect(errorsOf(spec)).toEqual(["unknown field 'd_modle'"])
  })

  it('reports a wrong layer kind at the kind field', () => {
    const spec = modelSpec({ layers: [{ ...glaLayer(), kind: 'mamba' } as never] })
    expect(errorsOf(spec)).toEqual(["layers[0].kind: 'mamba' is not valid; valid: linear, softmax"])
  })

  it('refuses switch combinations the recurrence does not define', () => {
    const spec = modelSpec({ layers: [glaLayer({ delta_rule: 'on', denominator: 'sum', input_gate: 'sigmoid' })] })
    const errors = errorsOf(spec)
    expect(errors).toContain("layers[0].denominator: 'sum' is for additive writes only; with delta_rule 'on' use 'none'")
    expect(errors).toContain("layers[0].input_gate: 'sigmoid' does not combine with the delta rule (β is its write strength); use 'none'")
  })

  it('requires the max1 denominator with the exp input gate', () => {
    expect(errorsOf(modelSpec({ layers: [glaLayer({ input_gate: 'exp', denominator: 'sum' })] }))).toEqual([
      "layers[0].denominator: 'sum' cannot carry the exp input gate's stabilizer; input_gate 'exp' needs 'max1' (mLSTM)",
    ])
    expect(errorsOf(modelSpec({ layers: [glaLayer({ input_gate: 'exp', denominator: 'max1' })] }))).toEqual([])
  })

  it("takes the output norm's weight per head or shared (absent = shared), and the D skip before the norm only with a norm", () => {
    expect(outputNormWeight(glaLayer())).toBe('shared')
    expect(outputNormWeight(glaLayer({ output_norm_weight: 'per_head' }))).toBe('per_head')
    expect(errorsOf(modelSpec({ layers: [glaLayer({ output_norm_weight: 'per_head' })] }))).toEqual([])
    expect(errorsOf(modelSpec({ layers: [glaLayer({ output_norm_weight: 'shared' })] }))).toEqual([])
    expect(errorsOf(modelSpec({ layers: [glaLayer({ output_norm_weight: 'per_channel' as never })] }))).toEqual([
      "layers[0].output_norm_weight: 'per_channel' is not valid; valid: shared, per_head",
    ])
    expect(errorsOf(modelSpec({ layers: [glaLayer({ output_norm: 'none', output_norm_weight: 'per_head' })] }))).toEqual([
      "layers[0].output_norm_weight: 'per_head' needs an output norm to weigh (output_norm is 'none'); use 'shared', or output_norm rmsnorm or groupnorm",
    ])
    expect(errorsOf(modelSpec({ layers: [glaLayer({ shortcut: 'd_skip_before_norm' })] }))).toEqual([])
    expect(errorsOf(modelSpec({ layers: [glaLayer({ output_norm: 'none', shortcut: 'd_skip_before_norm' })] }))).toEqual([
      "layers[0].shortcut: 'd_skip_before_norm' needs an output norm to come before (output_norm is 'none'); use 'd_skip'",
    ])
  })

  it('refuses an MLP in mamba blocks', () => {
    expect(errorsOf(modelSpec({ block: 'mamba', mlp_expansion: 4 }))).toEqual(["mlp_expansion: 4 is not allowed with block 'mamba' (no separate MLP); use 0"])
  })

  it('checks that the layers follow the hybrid placement rule', () => {
    const layers = [glaLayer(), glaLayer(), glaLayer(), softmaxLayer(), glaLayer(), glaLayer(), glaLayer(), softmaxLayer()]
    expect(errorsOf(modelSpec({ layers, hybrid: { ratio: 0.25, placement: 'interleave' } }))).toEqual([])
    const wrong = errorsOf(modelSpec({ layers, hybrid: { ratio: 0.25, placement: 'first' } }))
    expect(wrong).toEqual([
      "hybrid: ratio 0.25 with placement 'first' puts softmax layers at [0, 1], but layers has them at [3, 7]; re-place the layers or use placement 'manual'",
    ])
    expect(errorsOf(modelSpec({ layers, hybrid: { ratio: 0.9, placement: 'manual' } }))).toEqual([])
  })

  it('reports out-of-range numbers with the bound', () => {
    expect(errorsOf(modelSpec({ d_model: 0 }))).toEqual(['d_model: 0 is too small; valid: >= 1'])
    expect(errorsOf(modelSpec({ layers: [glaLayer({ short_conv: 1 })] }))).toEqual([
      'layers[0].short_conv: 1 is not a useful kernel size; valid: 0 (off) or 2 to 64',
    ])
    expect(errorsOf(modelSpec({ vocab_size: 2.5 }))).toEqual(['vocab_size: 2.5 is not an integer'])
  })

  it('reports a missing field as missing', () => {
    const { vocab_size: _, ...rest } = modelSpec()
    expect(errorsOf(rest)).toEqual(['vocab_size: missing; expected a number'])
  })

  it('derives head dims from d_model unless given', () => {
    expect(headDims({ d_model: 128 }, glaLayer({ heads: 4 }))).toEqual({ dk: 32, dv: 32 })
    expect(headDims({ d_model: 128 }, glaLayer({ heads: 4, dk: 16, dv: 64 }))).toEqual({ dk: 16, dv: 64 })
    expect(headDims({ d_model: 128 }, softmaxLayer({ heads: 2 }))).toEqual({ dk: 64, dv: 64 })
  })

  it('takes init and position as optional fields whose defaults are applied in one place', () => {
    // A spec saved before the fields existed: fan_in, and rotary exactly when a softmax layer rotates.
    expect(errorsOf(modelSpec())).toEqual([])
    expect(modelInit(modelSpec())).toBe('fan_in')
    expect(modelInit(modelSpec({ init: 'gpt2' }))).toBe('gpt2')
    expect(modelPosition(modelSpec())).toBe('none')
    const hybrid = modelSpec({ layers: [glaLayer(), softmaxLayer()], hybrid: { ratio: 0.5, placement: 'interleave' } })
    expect(modelPosition(hybrid)).toBe('rotary')
    expect(modelPosition({ ...hybrid, layers: [glaLayer(), softmaxLayer({ rotary: false })] })).toBe('none')
    expect(errorsOf(modelSpec({ init: 'xavier' as never }))).toEqual(["init: 'xavier' is not valid; valid: fan_in, gpt2"])
  })

  it('needs max_positions with learned positions, and only then', () => {
    expect(errorsOf(modelSpec({ position: 'learned', max_positions: 128 }))).toEqual([])
    expect(errorsOf(modelSpec({ position: 'learned' }))).toEqual([
      "max_positions: missing; position 'learned' needs the longest input it will see (e.g. the task's seq_len)",
    ])
    expect(errorsOf(modelSpec({ position: 'none', max_positions: 128 }))).toEqual([
      "max_positions: 128 is only used with position 'learned' (this spec has 'none'); remove it",
    ])
  })

  it('keeps position and the softmax layers rotary switches consistent', () => {
    const hybrid = (rotary: boolean, position?: 'none' | 'learned' | 'rotary') =>
      modelSpec({
        layers: [glaLayer(), softmaxLayer({ rotary })],
        hybrid: { ratio: 0.5, placement: 'interleave' },
        position,
        max_positions: position === 'learned' ? 64 : undefined,
      })
    expect(errorsOf(hybrid(true, 'rotary'))).toEqual([])
    expect(errorsOf(hybrid(true, 'learned'))).toEqual([])
    expect(errorsOf(hybrid(false, 'none'))).toEqual([])
    expect(errorsOf(hybrid(false, 'rotary'))).toEqual([
      "position: 'rotary' needs a layer with rotary on (a softmax layer, or a linear one as in RetNet); valid here: none, learned",
    ])
    expect(errorsOf(hybrid(true, 'none'))).toEqual(["position: 'none', but layers [1] rotate q and k; use 'rotary' (or 'learned'), or turn their rotary off"])
  })

  it('lets linear layers rotate q and k (RetNet), with an even key dim, and counts them for position', () => {
    const retention = (rotary: boolean | undefined, extra: Record<string, unknown> = {}) =>
      modelSpec({ layers: [glaLayer({ forget_gate: 'fixed', rotary, ...extra })], ...extra })
    expect(errorsOf(retention(true))).toEqual([])
    expect(modelPosition(retention(true))).toBe('rotary')
    expect(modelPosition(retention(undefined))).toBe('none')
    expect(errorsOf(modelSpec({ layers: [glaLayer({ rotary: true, dk: 7, dv: 8 })] }))).toEqual([
      'layers[0].rotary: needs an even key dim (pairs of channels rotate together); dk is 7: set an even dk, or turn rotary off',
    ])
    expect(errorsOf(modelSpec({ position: 'none', layers: [glaLayer({ rotary: true })] }))).toEqual([
      "position: 'none', but layers [0] rotate q and k; use 'rotary' (or 'learned'), or turn their rotary off",
    ])
  })
})
