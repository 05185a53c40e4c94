import { describe, expect, it } from 'vitest'
import { softmaxPositions } from '../../../electron/api/hybrid'
import { ModelSpecSchema, type ModelSpec } from '../../../electron/api/model-spec'
import { validateWith } from '../../../electron/api/validate'
import {
  applyToAll,
  deleteLayer,
  diffAgainstPreset,
  duplicateLayer,
  moveLayer,
  setHybrid,
  setLayerCount,
  setLayerField,
  setLayerKind,
  setModelField,
  DEFAULT_MAX_POSITIONS,
} from '../../../electron/api/spec-edit'
import { glaLayer, modelSpec, softmaxLayer } from '../../fixtures/specs'

const kinds = (s: ModelSpec) => s.layers.map((l) => (l.kind === 'softmax' ? 'S' : 'L')).join('')
const valid = (s: ModelSpec) => validateWith(ModelSpecSchema, s).ok

describe('composer spec edits', () => {
  it('places softmax layers by every rule and ratio, and the result validates', () => {
    const base = modelSpec({ layers: Array.from({ length: 8 }, () => glaLayer()) })
    for (const placement of ['interleave', 'first', 'last'] as const)
      for (const ratio of [0, 0.125, 0.25, 0.5, 0.75, 1]) {
        const s = setHybrid(base, ratio, placement)
        const expected = softmaxPositions(8, ratio, placement)
        expect(
          s.layers.flatMap((l, i) => (l.kind === 'softmax' ? [i] : [])),
          `${placement} ${ratio}`,
        ).toEqual(expected)
        expect(valid(s), `${placement} ${ratio}`).toBe(true)
      }
    expect(kinds(setHybrid(base, 0.25, 'interleave'))).toBe('LLLSLLLS')
  })

  it('keeps a layer’s switches when its kind stays, and copies a template when it changes', () => {
    let s = setLayerField(modelSpec({ layers: Array.from({ length: 4 }, () => glaLayer()) }), 1, 'delta_rule', 'on')
    s = setLayerField(s, 1, 'forget_gate', 'scalar')
    s = setHybrid(s, 0.25, 'interleave') // layer 3 becomes softmax
    expect(s.layers[1]).toMatchObject({ kind: 'linear', delta_rule: 'on', forget_gate: 'scalar' })
    expect(s.layers[3]!.kind).toBe('softmax')
    s = setHybrid(s, 0, 'interleave')
    expect(s.layers[3]).toEqual(s.layers[0]) // back to the first linear layer's settings
  })

  it('changes the layer count by the placement rule', () => {
    const s = setLayerCount(setHybrid(modelSpec({ layers: [glaLayer(), glaLayer()] }), 0.25, 'interleave'), 8)
    expect(kinds(s)).toBe('LLLSLLLS')
    expect(valid(s)).toBe(true)
    expect(setLayerCount(s, 0).layers).toHaveLength(1)
  })

  it('applies a switch to every layer of the same kind only', () => {
    let s = modelSpec({ layers: [glaLayer(), glaLayer(), glaLayer(), softmaxLayer()], hybrid: { ratio: 0.25, placement: 'interleave' } })
    s = setLayerField(s, 0, 'short_conv', 4)
    s = applyToAll(s, 0, 'short_conv')
    expect(s.layers.slice(0, 3).map((l) => (l as { short_conv: number }).short_conv)).toEqual([4, 4, 4])
    expect(s.layers[3]).toEqual(softmaxLayer())
    s = setLayerField(s, 0, 'dk', 16)
    s = setLayerField(applyToAll(s, 0, 'dk'), 0, 'dk', undefined)
    expect('dk' in s.layers[0]!).toBe(false)
    expect((s.layers[1] as { dk?: number }).dk).toBe(16)
  })

  it('moves, duplicates and deletes layers, switching to manual placement', () => {
    const s = modelSpec({ layers: [glaLayer(), glaLayer(), glaLayer(), softmaxLayer()], hybrid: { ratio: 0.25, placement: 'interleave' } })
    const moved = moveLayer(s, 3, 0)
    expect(kinds(moved)).toBe('SLLL')
    expect(moved.hybrid).toEqual({ ratio: 0.25, placement: 'manual' })
    expect(valid(moved)).toBe(true)
    expect(kinds(duplicateLayer(s, 3))).toBe('LLLSS')
    expect(duplicateLayer(s, 3).hybrid.ratio).toBe(0.4)
    expect(kinds(deleteLayer(s, 0))).toBe('LLS')
    expect(deleteLayer(modelSpec({ layers: [glaLayer()] }), 0).layers).toHaveLength(1)
    expect(kinds(setLayerKind(s, 0, 'softmax'))).toBe('SLLS')
  })

  it('a mamba block drops the MLP and a transformer block brings it back', () => {
    const m = setModelField(modelSpec(), 'block', 'mamba')
    expect(m.mlp_expansion).toBe(0)
    expect(valid(m)).toBe(true)
    expect(setModelField(m, 'block', 'transformer').mlp_expansion).toBe(4)
  })

  it('marks where a spec differs from its preset, per model field and per layer switch', () => {
    const preset = modelSpec({ layers: [glaLayer(), glaLayer()] })
    expect(diffAgainstPreset(preset, preset)).toEqual({ model: [], layers: [[], []] })
    let s = setLayerCount(preset, 4)
    s = setLayerField(s, 1, 'delta_rule', 'on')
    s = setModelField(s, 'd_model', 256)
    const d = diffAgainstPreset(s, preset)
    expect(d.model).toEqual(['d_model', 'layers'])
    expect(d.layers).toEqual([[], ['delta_rule'], [], []])
  })

  it("compares the output norm's weight as it takes effect: absent and 'shared' are the same", () => {
    const preset = modelSpec({ layers: [glaLayer(), glaLayer()] })
    expect(diffAgainstPreset(setLayerField(preset, 0, 'output_norm_weight', 'shared'), preset).layers).toEqual([[], []])
    const per = setLayerField(preset, 1, 'output_norm_weight', 'per_head')
    expect(diffAgainstPreset(per, preset).layers).toEqual([[], ['output_norm_weight']])
    expect(validateWith(ModelSpecSchema, per).ok).toBe(true)
    // the composer's "shared" removes the field: the spec is the preset's again, byte for byte
    expect(JSON.stringify(setLayerField(per, 1, 'output_norm_weight', undefined))).toBe(JSON.stringify(preset))
  })

  it('sets init and position; learned positions bring a max_positions and others drop it', () => {
    const preset = modelSpec()
    let s = setModelField(preset, 'init', 'gpt2')
    s = setModelField(s, 'position', 'learned')
    expect(s).toMatchObject({ init: 'gpt2', position: 'learned', max_positions: DEFAULT_MAX_POSITIONS })
    expect(validateWith(ModelSpecSchema, s).ok).toBe(true)
    expect(diffAgainstPreset(s, preset).model).toEqual(['max_positions', 'init', 'position'])
    s = setModelField(s, 'max_positions', 128)
    s = setModelField(s, 'position', 'none')
    expect(s.max_positions).toBeUndefined()
    expect('max_positions' in s).toBe(false)
    // an explicit value equal to the default is no difference
    expect(diffAgainstPreset(setModelField(setModelField(s, 'init', 'fan_in'), 'position', 'none'), preset).model).toEqual([])
  })

  it('never adds a field the schema does not know', () => {
    let s = modelSpec()
    s = setHybrid(setLayerCount(s, 6), 0.5, 'first')
    s = applyToAll(setLayerField(s, 4, 'output_gate', 'none'), 4, 'output_gate')
    expect(validateWith(ModelSpecSchema, s)).toEqual({ ok: true, value: s })
    expect(JSON.parse(JSON.stringify(s))).toEqual(s) // round-trips through JSON exactly
  })
})
