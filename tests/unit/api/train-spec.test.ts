import { describe, expect, it } from 'vitest'
import { stopStep, TrainSpecSchema } from '../../../electron/api/train-spec'
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
})
