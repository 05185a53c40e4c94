// The memory a training run needs, estimated before it starts: parameters,
// gradients, AdamW's moments and the activations of batch × seq_len. A spec
// that needs petabytes is refused with the numbers; what Linea ships fits.
import { describe, expect, it } from 'vitest'
import { resizeModel } from '../../../electron/api/resize'
import { estimateModel } from '../../../electron/engine/estimate'
import { preset } from '../../../electron/api/presets'
import { estimateTrainingMemory, formatBytes, memoryProblem, trainingShape } from '../../../electron/engine/train-memory'
import { expandTemplate, loadTemplates } from '../../../electron/workspace/templates'
import { modelSpec, trainSpec } from '../../fixtures/specs'

const GiB = 1024 ** 3

describe('training memory estimate', () => {
  it('refuses a spec that needs petabytes, with its parts and what to lower', () => {
    const model = resizeModel(preset('gla'), { d_model: 8192, n_layers: 64, vocab_size: 256, heads: 64 })
    const train = trainSpec({ task: { kind: 'bytes', path: '/x.txt', seq_len: 65536, valid_fraction: 0.1 }, batch_size: 4096 })
    const m = estimateTrainingMemory(model, trainingShape(train))
    expect(m.totalBytes).toBeGreaterThan(1024 ** 5)
    const problem = memoryProblem(m, 'cpu', 64 * GiB)!
    expect(problem).toMatch(
      /^this run needs about \d+(\.\d)? (PiB|EiB) on cpu \(parameters .+, gradients .+, AdamW state .+, activations .+ for batch 4096 × seq_len 65536\); the machine has 64 GiB; lower batch_size, seq_len, d_model or the layer count, or pass allowOverMemory: true to start it anyway$/,
    )
    expect(memoryProblem(m, 'cuda:0', 80 * GiB)).toContain('; cuda:0 has 80 GiB;')
  })

  it('passes a small run, and counts parameters, gradients and AdamW as 1 + 1 + 2 copies', () => {
    const model = modelSpec()
    const m = estimateTrainingMemory(model, trainingShape(trainSpec({ batch_size: 8 })))
    expect(memoryProblem(m, 'cpu', 1 * GiB)).toBeUndefined()
    const params = estimateModel(model, 256).totalParams
    expect(m.trainableParams).toBe(params)
    expect(m.parametersBytes).toBe(4 * m.params)
    expect(m.gradientsBytes).toBe(4 * params)
    expect(m.optimizerBytes).toBe(8 * params)
    expect(m.totalBytes).toBe(m.parametersBytes + m.gradientsBytes + m.optimizerBytes + m.activationsBytes)
  })

  it('grows linearly with batch × seq_len and doubles in f64', () => {
    const model = modelSpec()
    const task = (T: number) => ({ kind: 'parity' as const, seq_len: T, eval_seq_lens: [] })
    const at = (B: number, T: number, precision: 'f32' | 'f64' = 'f32') =>
      estimateTrainingMemory(model, trainingShape(trainSpec({ batch_size: B, task: task(T), precision }))).activationsBytes
    expect(at(16, 256)).toBeCloseTo(2 * at(8, 256), -3)
    expect(at(8, 512)).toBeCloseTo(2 * at(8, 256), -3)
    expect(at(8, 256, 'f64')).toBe(2 * at(8, 256))
  })

  it('counts the LM head at labelled rows only (MQAR: its queries)', () => {
    const model = modelSpec({ vocab_size: 1 << 16 })
    const mqar = trainSpec({ batch_size: 8, task: { kind: 'mqar', seq_len: 256, num_kv_pairs: 16, power_a: 0.01, vocab_size: 256 } })
    const bytes = trainSpec({ batch_size: 8, task: { kind: 'bytes', path: '/x.txt', seq_len: 256, valid_fraction: 0.1 } })
    const a = estimateTrainingMemory(model, trainingShape(mqar)).activationsBytes
    const b = estimateTrainingMemory(model, trainingShape(bytes)).activationsBytes
    // logits and their gradient: 2 · rows · vocab · 4 bytes, 8 · 16 rows against 8 · 256
    expect(b - a).toBeGreaterThan(2 * 8 * (256 - 16) * (1 << 16) * 4)
  })

  it('evaluation at a longer length counts when it is the peak', () => {
    const model = modelSpec()
    const short = trainSpec({ batch_size: 8, task: { kind: 'parity', seq_len: 64, eval_seq_lens: [] } })
    const long = trainSpec({ batch_size: 8, task: { kind: 'parity', seq_len: 64, eval_seq_lens: [4096] } })
    expect(estimateTrainingMemory(model, trainingShape(long)).activationsBytes).toBeGreaterThan(
      10 * estimateTrainingMemory(model, trainingShape(short)).activationsBytes,
    )
  })

  it('every run of every shipped template fits in 4 GiB, or 8 GiB for those sized for a GPU', () => {
    for (const t of loadTemplates()) {
      const inputs = Object.fromEntries(t.inputs.map((i) => [i.path, '/some/text.txt']))
      // mqar-zoology-gpu trains with Zoology's batch of 256 at vocabulary 8192: a GPU's memory
      const limit = t.id.endsWith('-gpu') ? 8 * GiB : 4 * GiB
      for (const r of expandTemplate(t, inputs)) {
        const m = estimateTrainingMemory(r.modelSpec, trainingShape(r.trainSpec))
        expect(m.totalBytes, `${t.id} ${r.name}: ${formatBytes(m.totalBytes)}`).toBeLessThan(limit)
      }
    }
  })

  it('formats sizes as a person reads them', () => {
    expect(formatBytes(512)).toBe('512 bytes')
    expect(formatBytes(1536)).toBe('1.5 KiB')
    expect(formatBytes(64 * GiB)).toBe('64 GiB')
    expect(formatBytes(3.2 * 1024 ** 5)).toBe('3.2 PiB')
  })
})
