import { describe, expect, it } from 'vitest'
import { dataParallelDevices, stopStep, TrainSpecSchema } from '../../../electron/api/train-spec'
import { formatErrors, validateWith } from '../../../electron/api/validate'
import { trainSpec } from '../../fixtures/specs'

function errorsOf(spec: unknown): string[] {
  const r = validateWith(TrainSpecSchema, spec)
  return r.ok ? [] : formatErrors(r.errors).split('\n')
}

describe('TrainSpec validation', () => {
  it("says what to type for a form's empty number box (NaN), not 'NaN is not a number'", () => {
    const spec = trainSpec()
    const r = validateWith(TrainSpecSchema, { ...spec, optimizer: { ...spec.optimizer, lr: Number.NaN } })
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.errors).toEqual([{ path: 'optimizer.lr', message: 'empty or not a number: enter a number' }])
  })

  it('accepts a valid spec', () => {
    expect(errorsOf(trainSpec())).toEqual([])
  })

  it('names an unknown task kind with the valid ones', () => {
    const spec = trainSpec({ task: { kind: 'recall' } as never })
    expect(errorsOf(spec)).toEqual([
      "task.kind: 'recall' is not valid; valid: mqar, parity, modular_addition, permutation, selective_copy, induction_heads, bytes",
    ])
  })

  it('checks that MQAR pairs fit the sequence and the vocabulary', () => {
    const spec = trainSpec({ task: { kind: 'mqar', seq_len: 64, num_kv_pairs: 32, power_a: 0.01, vocab_size: 32 } })
    expect(errorsOf(spec)).toEqual([
      'task.num_kv_pairs: 32 pairs need seq_len >= 128 (2 tokens per pair, then a query per pair), got 64',
      'task.num_kv_pairs: 32 distinct keys do not fit in the 15 keys of vocab_size 32 (1 .. vocab_size/2 − 1)',
    ])
  })

  it('refuses bf16 on the CPU backend and warmup beyond the run', () => {
    const spec = trainSpec({ backend: 'cpu', precision: 'bf16', steps: 10 })
    expect(errorsOf(spec)).toEqual([
      'schedule.warmup_steps: 100 exceeds steps 10',
      "precision: 'bf16' needs a GPU backend; the CPU backend computes in 'f32' or 'f64'",
    ])
  })

  it("takes f16 on backend 'webgpu' only, naming where mixed precision runs elsewhere", () => {
    expect(errorsOf(trainSpec({ backend: 'webgpu', precision: 'f16' }))).toEqual([])
    for (const backend of ['auto', 'cpu', 'cuda'] as const)
      expect(errorsOf(trainSpec({ backend, precision: 'f16' }))).toEqual([
        `precision: 'f16' runs on backend 'webgpu' (backend is '${backend}'); CUDA's mixed precision is 'bf16', the CPU computes in 'f32' or 'f64'`,
      ])
  })

  it('takes max_steps up to steps: a run stopped early on the schedule of steps', () => {
    expect(errorsOf(trainSpec({ steps: 1000, max_steps: 300 }))).toEqual([])
    expect(stopStep(trainSpec({ steps: 1000, max_steps: 300 }))).toBe(300)
    expect(stopStep(trainSpec({ steps: 1000 }))).toBe(1000)
    expect(errorsOf(trainSpec({ steps: 1000, max_steps: 1001 }))).toEqual([
      'max_steps: 1001 exceeds steps 1000; the schedule spans steps, so raise steps to train longer',
    ])
    expect(errorsOf(trainSpec({ max_steps: 0 }))).toEqual(['max_steps: 0 is too small; valid: >= 1'])
  })

  it('validates state-tracking tasks with evaluation lengths', () => {
    expect(errorsOf(trainSpec({ task: { kind: 'permutation', group: 's5', seq_len: 64, eval_seq_lens: [128, 256] } }))).toEqual([])
    expect(errorsOf(trainSpec({ task: { kind: 'permutation', group: 's4', seq_len: 64, eval_seq_lens: [] } as never }))).toEqual([
      "task.group: 's4' is not valid; valid: s3, s5",
    ])
  })

  it('takes devices for data parallel on CUDA: a list or "all", each index on the machine once', () => {
    expect(errorsOf(trainSpec({ devices: 'cuda:0,1', batch_size: 8 }))).toEqual([])
    expect(errorsOf(trainSpec({ devices: 'all' }))).toEqual([])
    expect(errorsOf(trainSpec({ devices: 'gpu0,1' }))).toEqual(['devices: \'gpu0,1\' is not "all" or "cuda:" with two or more device indices, e.g. "cuda:0,1"'])
    expect(errorsOf(trainSpec({ devices: 'cuda:0' }))).toEqual(['devices: \'cuda:0\' is not "all" or "cuda:" with two or more device indices, e.g. "cuda:0,1"'])
    expect(errorsOf(trainSpec({ devices: 'cuda:0,1', backend: 'cpu' }))).toEqual([
      "devices: data parallel runs on CUDA devices; backend is 'cpu' (use 'auto' or 'cuda')",
    ])
    expect(errorsOf(trainSpec({ devices: 'cuda:0,1,2', batch_size: 2 }))).toEqual(['batch_size: 2 cannot be split over the 3 devices of devices "cuda:0,1,2"'])
    expect(dataParallelDevices(undefined, 4)).toBeUndefined()
    expect(dataParallelDevices('all', 4)).toEqual([0, 1, 2, 3])
    expect(dataParallelDevices('cuda:1,3', 4)).toEqual([1, 3])
    expect(() => dataParallelDevices('cuda:0,4', 4)).toThrow('cuda:4 is not on this machine (it has 4 CUDA devices)')
    expect(() => dataParallelDevices('cuda:1,1', 4)).toThrow('names a device twice')
    expect(() => dataParallelDevices('all', 1)).toThrow('data parallel needs 2 or more CUDA devices, this machine has 1')
  })
})
