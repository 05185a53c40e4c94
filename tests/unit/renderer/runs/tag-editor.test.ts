// The Runs table's inline tag editor checks a typed tag before calling the
// LabApi: the API's own rule, the tag limit, and a tag the run has already.
import { describe, expect, it } from 'vitest'
import { MAX_RUN_TAGS, RUN_TAG_RULE } from '../../../../electron/api/runs'
import { checkAddedTag } from '../../../../renderer/src/runs/table'

describe('checkAddedTag', () => {
  it('accepts a new tag, trimmed', () => {
    expect(checkAddedTag('  sweep 3 ', ['baseline'])).toEqual({ tag: 'sweep 3' })
  })

  it('refuses a tag the run already has, naming it', () => {
    expect(checkAddedTag(' baseline', ['baseline'])).toEqual({ error: 'the run is already tagged "baseline"' })
    // tags are case-sensitive, as the API stores them
    expect(checkAddedTag('Baseline', ['baseline'])).toEqual({ tag: 'Baseline' })
  })

  it('refuses what the LabApi would, with its rule and the value', () => {
    expect(checkAddedTag('', [])).toEqual({ error: `"" ${RUN_TAG_RULE}` })
    expect(checkAddedTag('a\u0000b', [])).toEqual({ error: `"a\\u0000b" ${RUN_TAG_RULE}` })
    expect(checkAddedTag('y'.repeat(50), [])).toEqual({ error: `"${'y'.repeat(40)}…" ${RUN_TAG_RULE}` })
  })

  it('refuses a tag past the limit, but says "already" for one it has', () => {
    const full = Array.from({ length: MAX_RUN_TAGS }, (_, i) => `t${i}`)
    expect(checkAddedTag('new', full)).toEqual({ error: `a run has at most ${MAX_RUN_TAGS} tags; remove one first` })
    expect(checkAddedTag('t3', full)).toEqual({ error: 'the run is already tagged "t3"' })
  })
})
