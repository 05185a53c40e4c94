// Learned absolute positions: the first block's input is the token row plus
// the position row; an input longer than the table is refused, by the model
// and, before training, by the run checks. (Gradients: model-gradcheck.test.ts.)
import { describe, expect, it } from 'vitest'
import type { ModelSpec } from '../../../electron/api/model-spec'
import { SpecValidationError } from '../../../electron/api/validate'
import { Ctx } from '../../../electron/engine/autograd/context'
import { nativeBackend } from '../../../electron/engine/native-backend'
import { Model, PositionRangeError } from '../../../electron/engine/model/model'
import { Rng } from '../../../electron/engine/random'
import { trainModel } from '../../../electron/engine/train/trainer'
import { quickTrainSpec, smallModelSpec } from '../../fixtures/runs'

const cpu = nativeBackend('cpu')
const [B, T, D, VOCAB, MAX] = [3, 10, 32, 64, 16]

function learned(overrides: Partial<ModelSpec> = {}): ModelSpec {
  return { ...smallModelSpec('gated-deltanet'), position: 'learned', max_positions: MAX, ...overrides }
}

function ids(batch: number, length: number): { host: Int32Array; tensor: ReturnType<typeof cpu.upload> } {
  const rng = new Rng(9)
  const host = Int32Array.from({ length: batch * length }, () => rng.int(VOCAB))
  return { host, tensor: cpu.upload(host, [batch, length]) }
}

async function embedded(model: Model, input: ReturnType<typeof ids>['tensor']): Promise<Float64Array> {
  const ctx = new Ctx(cpu, 'f64', false)
  try {
    return (await model.embedTokens(ctx, input).read()) as Float64Array
  } finally {
    ctx.dispose()
  }
}

describe('learned positions', () => {
  it('add position row t to the token row at every (b, t)', async () => {
    const model = new Model(learned(), cpu, 'f64', 2)
    const input = ids(B, T)
    const out = await embedded(model, input.tensor)
    const table = (await model.params.get('embed.weight').tensor.read()) as Float64Array
    const positions = (await model.params.get('pos_embed.weight').tensor.read()) as Float64Array
    expect(model.params.get('pos_embed.weight').tensor.shape).toEqual([MAX, D])
    let worst = 0
    for (let b = 0; b < B; b++)
      for (let t = 0; t < T; t++)
        for (let d = 0; d < D; d++) {
          const expected = table[input.host[b * T + t]! * D + d]! + positions[t * D + d]!
          worst = Math.max(worst, Math.abs(out[(b * T + t) * D + d]! - expected))
        }
    expect(worst).toBeLessThan(1e-15)
    input.tensor.dispose()
    model.dispose()
  })

  it('are absent without position learned: the first block reads the token rows alone', async () => {
    const model = new Model(smallModelSpec('gated-deltanet'), cpu, 'f64', 2)
    expect(model.params.list().some((p) => p.name === 'pos_embed.weight')).toBe(false)
    const input = ids(1, T)
    const out = await embedded(model, input.tensor)
    const table = (await model.params.get('embed.weight').tensor.read()) as Float64Array
    expect(Array.from(out.subarray(0, D))).toEqual(Array.from(table.subarray(input.host[0]! * D, input.host[0]! * D + D)))
    input.tensor.dispose()
    model.dispose()
  })

  it('refuse an input longer than the table, saying how long it may be', async () => {
    const model = new Model(learned(), cpu, 'f64', 2)
    const atMax = ids(1, MAX)
    await expect(embedded(model, atMax.tensor)).resolves.toHaveLength(MAX * D)
    const longer = ids(1, MAX + 1)
    await expect(embedded(model, longer.tensor)).rejects.toThrow(PositionRangeError)
    await expect(embedded(model, longer.tensor)).rejects.toThrow(
      `an input of ${MAX + 1} tokens is longer than the ${MAX} learned positions of this model (max_positions ${MAX})`,
    )
    atMax.tensor.dispose()
    longer.tensor.dispose()
    model.dispose()
  })

  it('a run whose task is longer than the table is refused before training, naming max_positions', async () => {
    // quickTrainSpec's MQAR sequences are 32 long.
    const run = trainModel({ modelSpec: learned(), trainSpec: quickTrainSpec({ steps: 2 }), backend: cpu })
    await expect(run).rejects.toThrow(SpecValidationError)
    await expect(trainModel({ modelSpec: learned(), trainSpec: quickTrainSpec({ steps: 2 }), backend: cpu })).rejects.toThrow(
      'model.max_positions: 16 is shorter than the longest sequence the task makes (32)',
    )
    const ok = await trainModel({ modelSpec: learned({ max_positions: 32 }), trainSpec: quickTrainSpec({ steps: 2 }), backend: cpu })
    expect(ok.status).toBe('completed')
  })
})
