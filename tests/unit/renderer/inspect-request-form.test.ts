// The Inspect form as a request, and the settings a cached inspection must
// share with a request to answer it.
import { describe, expect, it } from 'vitest'
import { InspectRequestSchema } from '../../../electron/api/inspect'
import { captureDifferences, DEFAULT_FORM, formFor, parseIndexList, requestFor } from '../../../renderer/src/inspect/request-form'

describe('index lists', () => {
  it('reads commas and spaces; blank means the default', () => {
    expect(parseIndexList(' 0, 2  5', 'heads')).toEqual({ values: [0, 2, 5] })
    expect(parseIndexList('  ', 'heads')).toEqual({})
  })

  it('names a token that is not a whole number', () => {
    expect(parseIndexList('0, x1', 'stateSteps').error).toEqual({
      path: 'stateSteps',
      message: "'x1' is not a whole number; write them like 0, 2, 5 (blank: the default)",
    })
    expect(parseIndexList('-1', 'heads').error?.message).toMatch(/^'-1' is not a whole number/)
  })
})

describe('requests from the form', () => {
  it('leaves out what the form leaves blank, and passes the engine schema', () => {
    const req = requestFor(DEFAULT_FORM, 'run-1', '')
    expect(req).not.toHaveProperty('heads')
    expect(req).not.toHaveProperty('checkpoint')
    expect(req.input).toEqual({ kind: 'task', example: 0 })
    expect(InspectRequestSchema.safeParse(req).success).toBe(true)
  })

  it('round-trips through a cached request: the form that asks the same question again', () => {
    const form = { ...DEFAULT_FORM, inputKind: 'text' as const, text: 'abc', heads: '1, 3', stateSteps: '2', maxAttentionT: 64, recallExamples: 32 }
    const full = InspectRequestSchema.parse(requestFor(form, 'r', 'checkpoints/step-0000010.safetensors'))
    expect(formFor(full)).toEqual({ ...form, example: 0 })
    expect(captureDifferences(requestFor(formFor(full), 'r', ''), full)).toEqual([])
  })
})

describe('a cached inspection answers only the same capture settings', () => {
  const cached = InspectRequestSchema.parse({ runId: 'r', recall: { examples: 64 } })

  it('lists each setting that differs, cached → asked', () => {
    const asked = requestFor({ ...DEFAULT_FORM, maxAttentionT: 64, heads: '0' }, 'r', '')
    expect(captureDifferences(asked, cached)).toEqual(['heads default → 0', 'maxAttentionT 256 → 64', 'recall examples 64 → 256'])
  })

  it('treats a request without recall examples as the default 256', () => {
    const plain = InspectRequestSchema.parse({ runId: 'r' })
    expect(captureDifferences(requestFor(DEFAULT_FORM, 'r', ''), plain)).toEqual([])
  })
})
