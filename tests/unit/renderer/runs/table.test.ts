import { describe, expect, it } from 'vitest'
import { RUN_FORMAT, type RunRecord } from '../../../../electron/api/runs'
import { backendShort, filterRuns, modelLabel, nextSort, runSeconds, sortRuns, taskLabel } from '../../../../renderer/src/runs/table'
import { modelSpec, trainSpec } from '../../../fixtures/specs'

function run(id: string, over: Partial<RunRecord> = {}): RunRecord {
  return {
    format: RUN_FORMAT,
    id,
    name: id,
    modelSpec: modelSpec({ name: `model ${id}` }),
    trainSpec: trainSpec(),
    status: 'completed',
    createdMs: 1000,
    steps: 10,
    ...over,
  }
}

const runs = [
  run('a', {
    name: 'gla 64',
    params: 2_000_000,
    createdMs: 1,
    bestAccuracy: 0.5,
    backend: 'cpu (asked for)',
    status: 'completed',
    startedMs: 0,
    endedMs: 30_000,
  }),
  run('b', {
    name: 'mamba2 128',
    params: 5_000_000,
    specName: 'my mamba',
    createdMs: 2,
    bestAccuracy: 0.9,
    backend: 'cuda:0 (auto)',
    status: 'failed',
    startedMs: 0,
    endedMs: 5_000,
  }),
  run('c', { name: 'transformer 64', createdMs: 3, status: 'queued' }),
  run('d', {
    name: 'deltanet parity',
    createdMs: 4,
    status: 'running',
    startedMs: 0,
    trainSpec: trainSpec({ task: { kind: 'parity', seq_len: 32, eval_seq_lens: [64] } }),
  }),
]
const ids = (rs: RunRecord[]) => rs.map((r) => r.id)

describe('runs table', () => {
  it('sorts by a column either way, missing values last in both directions', () => {
    expect(ids(sortRuns(runs, { column: 'bestAccuracy', dir: 'desc' }))).toEqual(['b', 'a', 'd', 'c'])
    expect(ids(sortRuns(runs, { column: 'bestAccuracy', dir: 'asc' }))).toEqual(['a', 'b', 'd', 'c'])
    expect(ids(sortRuns(runs, { column: 'name', dir: 'asc' }))).toEqual(['d', 'a', 'b', 'c'])
    expect(ids(sortRuns(runs, { column: 'created', dir: 'desc' }))).toEqual(['d', 'c', 'b', 'a'])
  })

  it('sorts by status with what needs attention first, and by time with running runs timed to now', () => {
    expect(ids(sortRuns(runs, { column: 'status', dir: 'asc' }))).toEqual(['d', 'c', 'b', 'a'])
    // d has run 60 s at now = 60 000; a 30 s; b 5 s; c never started
    expect(ids(sortRuns(runs, { column: 'time', dir: 'desc' }, 60_000))).toEqual(['d', 'a', 'b', 'c'])
    expect(runSeconds(runs[3]!, 60_000)).toBe(60)
    expect(runSeconds(runs[2]!, 60_000)).toBeUndefined()
  })

  it('shows the model (the saved spec, else the spec name) and its parameters, sortable; the backend compact', () => {
    expect(modelLabel(runs[0]!)).toBe('model a')
    expect(modelLabel(runs[1]!)).toBe('my mamba')
    expect(ids(sortRuns(runs, { column: 'params', dir: 'desc' }))).toEqual(['b', 'a', 'd', 'c'])
    expect(ids(sortRuns(runs, { column: 'model', dir: 'asc' }))).toEqual(['a', 'c', 'd', 'b'])
    expect(ids(filterRuns(runs, 'my mamba'))).toEqual(['b'])
    expect([backendShort(runs[0]!), backendShort(runs[1]!), backendShort(runs[2]!)]).toEqual(['cpu', 'cuda:0', '—'])
    const line = (backend: string) => backendShort({ ...runs[0]!, backend })
    expect(line('auto picked cuda:0: it accepts all 41 of the model’s op calls; precision auto: bf16 on the GPU')).toBe('cuda:0 bf16')
    expect(line('auto picked cpu: no CUDA device; precision auto: f32')).toBe('cpu f32')
    expect(line('cpu (asked for); precision f64')).toBe('cpu f64')
  })

  it('does not reorder the input', () => {
    const before = ids(runs)
    sortRuns(runs, { column: 'name', dir: 'desc' })
    expect(ids(runs)).toEqual(before)
  })

  it('filters by every term, in name, status, task and backend, ignoring case', () => {
    expect(ids(filterRuns(runs, 'GLA'))).toEqual(['a'])
    expect(ids(filterRuns(runs, '64'))).toEqual(['a', 'c'])
    expect(ids(filterRuns(runs, 'parity'))).toEqual(['d'])
    expect(ids(filterRuns(runs, 'cuda failed'))).toEqual(['b'])
    expect(ids(filterRuns(runs, 'cuda completed'))).toEqual([])
    expect(ids(filterRuns(runs, '  '))).toEqual(['a', 'b', 'c', 'd'])
  })

  it('flips direction on the same column; a new column starts ascending, numbers descending', () => {
    expect(nextSort({ column: 'name', dir: 'asc' }, 'name')).toEqual({ column: 'name', dir: 'desc' })
    expect(nextSort({ column: 'name', dir: 'desc' }, 'status')).toEqual({ column: 'status', dir: 'asc' })
    expect(nextSort({ column: 'name', dir: 'asc' }, 'bestAccuracy')).toEqual({ column: 'bestAccuracy', dir: 'desc' })
  })

  it('labels tasks with their sizes', () => {
    expect(taskLabel(trainSpec().task)).toBe('mqar T=256, 16 pairs')
    expect(taskLabel({ kind: 'permutation', group: 's5', seq_len: 32, eval_seq_lens: [] })).toBe('permutation s5 T=32')
  })
})
