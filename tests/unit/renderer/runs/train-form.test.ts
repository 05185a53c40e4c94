import { describe, expect, it } from 'vitest'
import { TrainSpecSchema } from '../../../../electron/api/train-spec'
import {
  COMMON_FIELDS,
  defaultTrainSpec,
  fieldText,
  getPath,
  parseFieldText,
  setPath,
  TASK_DEFAULTS,
  TASK_FIELDS,
  TASK_KINDS,
  templateRunCount,
  trainSpecErrors,
  withTaskKind,
} from '../../../../renderer/src/runs/train-form'

describe('train form', () => {
  it('starts from a valid MQAR spec, and every task default is valid', () => {
    expect(TrainSpecSchema.safeParse(defaultTrainSpec()).success).toBe(true)
    for (const kind of TASK_KINDS) {
      const spec = withTaskKind(defaultTrainSpec(), kind)
      expect(spec.task.kind).toBe(kind)
      // bytes needs a file path, the one field without a default
      expect(trainSpecErrors(spec, { vocab_size: 256 }).map((e) => e.path)).toEqual(kind === 'bytes' ? ['task.path'] : [])
    }
  })

  it('has a field for every field of every task, and each field path exists in the spec', () => {
    for (const kind of TASK_KINDS) {
      const taskKeys = Object.keys(TASK_DEFAULTS[kind]).filter((k) => k !== 'kind')
      expect(TASK_FIELDS[kind].map((f) => f.path.replace('task.', '')).sort()).toEqual(taskKeys.sort())
    }
    // an optional field (stop at step) starts empty, absent from the spec; the others have a value
    for (const f of COMMON_FIELDS)
      expect(getPath(defaultTrainSpec(), f.path) === undefined, f.path).toBe(f.kind === 'optional-int' || f.kind === 'optional-text')
  })

  it('sets a field by path without touching the original', () => {
    const spec = defaultTrainSpec()
    const next = setPath(spec, 'schedule.warmup_steps', 7)
    expect(next.schedule.warmup_steps).toBe(7)
    expect(spec.schedule.warmup_steps).toBe(50)
    expect(next.optimizer).toBe(spec.optimizer)
  })

  it('marks errors on their fields: warmup past steps, pairs that do not fit, an empty number', () => {
    let spec = setPath(defaultTrainSpec(), 'schedule.warmup_steps', 900)
    spec = setPath(spec, 'task.num_kv_pairs', 20)
    spec = setPath(spec, 'batch_size', parseFieldText('int', ''))
    const errors = new Map(trainSpecErrors(spec, null).map((e) => [e.path, e.message]))
    expect(errors.get('task.num_kv_pairs')).toBe('20 pairs need seq_len >= 80 (2 tokens per pair, then a query per pair), got 64')
    expect(errors.get('batch_size')).toMatch(/not a number|NaN/)
    // cross-field rules run once the fields are valid alone
    const warm = trainSpecErrors(setPath(defaultTrainSpec(), 'schedule.warmup_steps', 900), null)
    expect(warm).toEqual([{ path: 'schedule.warmup_steps', message: '900 exceeds steps 800' }])
  })

  it("checks the task's tokens against the model's vocabulary", () => {
    const spec = setPath(defaultTrainSpec(), 'task.vocab_size', 512)
    expect(trainSpecErrors(spec, { vocab_size: 256 })).toEqual([
      { path: 'task.vocab_size', message: "the task uses 512 tokens; the model's vocabulary holds 256" },
    ])
    expect(trainSpecErrors(spec, { vocab_size: 512 })).toEqual([])
    // checked even while another field is marked
    const both = trainSpecErrors(setPath(spec, 'schedule.warmup_steps', 900), { vocab_size: 256 }).map((e) => e.path)
    expect(both).toEqual(['schedule.warmup_steps', 'task.vocab_size'])
    const bytes = setPath(withTaskKind(defaultTrainSpec(), 'bytes'), 'task.path', '/tmp/a.txt')
    expect(trainSpecErrors(bytes, { vocab_size: 128 })[0]!.message).toBe("the task uses 256 tokens; the model's vocabulary holds 128")
  })

  it('reads and writes field text by kind', () => {
    expect(parseFieldText('int-list', '64, 128 256')).toEqual([64, 128, 256])
    expect(parseFieldText('nullable-number', '')).toBeNull()
    expect(parseFieldText('nullable-number', '0.9')).toBe(0.9)
    expect(fieldText('int-list', [64, 128])).toBe('64, 128')
    expect(fieldText('nullable-number', null)).toBe('')
  })

  it('has an optional GPUs field for data parallel: empty leaves devices out, a list sets it, the schema names a bad one', () => {
    const field = COMMON_FIELDS.find((f) => f.path === 'devices')!
    expect(field).toMatchObject({ label: 'GPUs (data parallel)', kind: 'optional-text' })
    expect(parseFieldText('optional-text', '  ')).toBeUndefined()
    const two = setPath(defaultTrainSpec(), 'devices', parseFieldText('optional-text', ' cuda:0,1 '))
    expect(two.devices).toBe('cuda:0,1')
    expect(trainSpecErrors(two, null)).toEqual([])
    expect(trainSpecErrors(setPath(defaultTrainSpec(), 'devices', 'gpu0'), null)).toEqual([
      { path: 'devices', message: `'gpu0' is not "all" or "cuda:" with two or more device indices, e.g. "cuda:0,1"` },
    ])
    expect('devices' in setPath(two, 'devices', parseFieldText('optional-text', ''))).toBe(false)
  })

  it("has an optional 'stop at step' field: empty leaves max_steps out, a number sets it, the schema marks one past steps", () => {
    const field = COMMON_FIELDS.find((f) => f.path === 'max_steps')!
    expect(field).toMatchObject({ label: 'stop at step', kind: 'optional-int' })
    expect(field.help).toContain('schedule still runs over steps')
    expect(parseFieldText('optional-int', ' ')).toBeUndefined()
    expect(parseFieldText('optional-int', '40')).toBe(40)
    expect(fieldText('optional-int', undefined)).toBe('')
    const stopped = setPath(defaultTrainSpec(), 'max_steps', 40)
    expect(stopped.max_steps).toBe(40)
    expect(trainSpecErrors(stopped, null)).toEqual([])
    // emptied again: the key goes, so the spec sent is the one without it
    const cleared = setPath(stopped, 'max_steps', parseFieldText('optional-int', ''))
    expect('max_steps' in cleared).toBe(false)
    expect(cleared).toEqual(defaultTrainSpec())
    expect(trainSpecErrors(setPath(defaultTrainSpec(), 'max_steps', 900), null)).toEqual([
      { path: 'max_steps', message: '900 exceeds steps 800; the schedule spans steps, so raise steps to train longer' },
    ])
    expect(trainSpecErrors(setPath(defaultTrainSpec(), 'max_steps', 2.5), null).map((e) => e.path)).toEqual(['max_steps'])
  })

  it("counts a template's runs: the product of its sweep axes", () => {
    expect(templateRunCount({ sweep: [] })).toBe(1)
    expect(templateRunCount({ sweep: [{ path: 'model.d_model', values: [64, 128] }] })).toBe(2)
    expect(
      templateRunCount({
        sweep: [
          { path: 'model.preset', values: ['gla', 'mamba2', 'transformer'] },
          { path: 'model.d_model', values: [64, 128] },
          { path: 'train.task.num_kv_pairs', values: [4, 8] },
        ],
      }),
    ).toBe(12)
  })
})
