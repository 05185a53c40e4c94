// The composer's model-wide choices are the schema's own values, each explained with its sources.
import { describe, expect, it } from 'vitest'
import { INIT_SCHEMES, POSITIONS } from '../../../../electron/api/model-spec'
import { MODEL_CHOICES, MODEL_HELP } from '../../../../renderer/src/composer/switches'

describe('composer model choices', () => {
  it('offer every init scheme and position kind, with the papers they come from', () => {
    expect(MODEL_CHOICES.init.options).toEqual(INIT_SCHEMES)
    expect(MODEL_CHOICES.position.options).toEqual(POSITIONS)
    expect(MODEL_CHOICES.init.paper).toMatch(/GPT-2/)
    expect(MODEL_CHOICES.position.paper).toMatch(/RoFormer/)
    for (const field of ['init', 'position', 'max_positions'] as const) expect(MODEL_HELP[field].length).toBeGreaterThan(40)
    expect(MODEL_HELP.init).toMatch(/fan_in.*gpt2/s)
  })
})
