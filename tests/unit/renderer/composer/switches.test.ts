// The composer's model-wide choices are the schema's own values, each explained with its sources.
import { describe, expect, it } from 'vitest'
import { INIT_SCHEMES, OUTPUT_NORM_WEIGHTS, POSITIONS, SHORTCUTS } from '../../../../electron/api/model-spec'
import { LINEAR_CHOICES, layerChips, MODEL_CHOICES, MODEL_HELP } from '../../../../renderer/src/composer/switches'
import { glaLayer } from '../../../fixtures/specs'

describe('composer model choices', () => {
  it('offer every init scheme and position kind, with the papers they come from', () => {
    expect(MODEL_CHOICES.init.options).toEqual(INIT_SCHEMES)
    expect(MODEL_CHOICES.position.options).toEqual(POSITIONS)
    expect(MODEL_CHOICES.init.paper).toMatch(/GPT-2/)
    expect(MODEL_CHOICES.position.paper).toMatch(/RoFormer/)
    for (const field of ['init', 'position', 'max_positions'] as const) expect(MODEL_HELP[field].length).toBeGreaterThan(40)
    expect(MODEL_HELP.init).toMatch(/fan_in.*gpt2/s)
  })

  it("offer the output norm's weight, its absence shown as shared, and the D skip on either side of the norm", () => {
    const w = LINEAR_CHOICES.find((s) => s.field === 'output_norm_weight')!
    expect(w.options).toEqual(OUTPUT_NORM_WEIGHTS)
    expect(w.absent).toBe('shared')
    expect(LINEAR_CHOICES.find((s) => s.field === 'shortcut')!.options).toEqual(SHORTCUTS)
    const chips = (l: Record<string, unknown>) => layerChips(l).map((c) => c.text)
    expect(chips({ ...glaLayer() })).not.toContain('norm w/head')
    expect(chips({ ...glaLayer({ output_norm_weight: 'per_head', shortcut: 'd_skip_before_norm' }) })).toEqual(
      expect.arrayContaining(['norm w/head', 'D skip→norm']),
    )
  })
})
