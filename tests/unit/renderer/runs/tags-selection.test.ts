// The Runs table's tag filter, archived runs, the tag check as typed, and
// the compared runs as a URL query (issue 17). Pure functions, no screen.
import { describe, expect, it } from 'vitest'
import { MAX_RUN_TAGS, RUN_FORMAT, type RunRecord } from '../../../../electron/api/runs'
import { formatCompared, MAX_COMPARED, parseCompared } from '../../../../renderer/src/runs/selection-url'
import { allTags, checkTag, filterRuns, viewRuns } from '../../../../renderer/src/runs/table'
import { modelSpec, trainSpec } from '../../../fixtures/specs'

function run(id: string, over: Partial<RunRecord> = {}): RunRecord {
  return { format: RUN_FORMAT, id, name: id, modelSpec: modelSpec(), trainSpec: trainSpec(), status: 'completed', createdMs: 1, steps: 1, ...over }
}

const runs = [run('a', { tags: ['baseline', 'd64'] }), run('b', { tags: ['D64'], archived: true }), run('c')]
const ids = (rs: RunRecord[]) => rs.map((r) => r.id)

describe('runs table: tags and archived runs', () => {
  it('hides archived runs unless asked, and filters by one tag exactly', () => {
    expect(ids(viewRuns(runs, '', { showArchived: false, tag: '' }))).toEqual(['a', 'c'])
    expect(ids(viewRuns(runs, '', { showArchived: true, tag: '' }))).toEqual(['a', 'b', 'c'])
    expect(ids(viewRuns(runs, '', { showArchived: true, tag: 'd64' }))).toEqual(['a'])
    expect(ids(viewRuns(runs, '', { showArchived: false, tag: 'D64' }))).toEqual([])
    expect(ids(viewRuns(runs, '', { showArchived: true, tag: 'D64' }))).toEqual(['b'])
    // the text filter looks in tags too
    expect(ids(filterRuns(runs, 'baseline'))).toEqual(['a'])
  })

  it('lists every tag once, sorted without regard to case', () => {
    expect(allTags(runs)).toEqual(['baseline', 'd64', 'D64'].sort((x, y) => x.toLowerCase().localeCompare(y.toLowerCase()) || (x < y ? -1 : 1)))
    expect(allTags([run('x')])).toEqual([])
  })

  it('checks a typed tag with the LabApi rule, trimmed, naming a bad one', () => {
    expect(checkTag('  best run ')).toEqual({ tag: 'best run' })
    expect(checkTag('ünï 😀')).toEqual({ tag: 'ünï 😀' })
    for (const bad of ['', '   ', 'x'.repeat(33), 'tab\there', 'bell\u0007', 'zero\u200bwidth'])
      expect(checkTag(bad)).toEqual({ error: expect.stringContaining('is not a valid tag: 1 to 32 characters, no control characters') })
    expect(checkTag('bell\u0007')).toEqual({ error: expect.stringMatching(/^"bell\\u0007" is not a valid tag/) })
    const full = Array.from({ length: MAX_RUN_TAGS }, (_, i) => `t${i}`)
    expect(checkTag('one more', full)).toEqual({ error: `a run has at most ${MAX_RUN_TAGS} tags; remove one first` })
    expect(checkTag('t0', full)).toEqual({ tag: 't0' })
  })
})

describe('compared runs in the URL', () => {
  it('reads run ids from a query value, each once, dropping what is not an id', () => {
    expect(parseCompared('a,b,a')).toEqual(['a', 'b'])
    expect(parseCompared(['a,b', 'c'])).toEqual(['a', 'b', 'c'])
    expect(parseCompared('../x,,<script>, ok-1 ,_no')).toEqual(['ok-1'])
    expect(parseCompared(undefined)).toEqual([])
    expect(parseCompared(null)).toEqual([])
    expect(parseCompared(Array.from({ length: 80 }, (_, i) => `r${i}`).join(','))).toHaveLength(MAX_COMPARED)
  })

  it('writes the ids back as one value, or none for an empty selection', () => {
    expect(formatCompared(['a', 'b'])).toBe('a,b')
    expect(formatCompared([])).toBeUndefined()
    expect(parseCompared(formatCompared(['20260101T000000-gla-64', 'x_y'])!)).toEqual(['20260101T000000-gla-64', 'x_y'])
  })
})
