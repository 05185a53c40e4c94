// Where an inspection runs (engine/inspect/inspect-backend.ts): the whole
// inspection of a real checkpoint traced on shapes alone, then cuda:0 when it
// accepts every call. The CUDA device is a stand-in `accepts` (CI has no GPU);
// the checkpoint, the inspection code and the tracing are the real ones.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { InspectRequestSchema } from '../../../electron/api/inspect'
import { preset } from '../../../electron/api/presets'
import { resizeModel } from '../../../electron/api/resize'
import { saveCheckpoint } from '../../../electron/engine/checkpoint/checkpoint'
import { chooseInspectBackend } from '../../../electron/engine/inspect/inspect-backend'
import { inspectCheckpoint } from '../../../electron/engine/inspect/inspect-checkpoint'
import { Model } from '../../../electron/engine/model/model'
import { nativeBackend } from '../../../electron/engine/native-backend'
import type { TracedCall } from '../../../electron/engine/trace-ops'
import { tinyMqarTrainSpec } from '../../fixtures/runs'

async function checkpoint(presetId: string): Promise<string> {
  const path = join(mkdtempSync(join(tmpdir(), 'linea-inspect-backend-')), 'step-0000001.safetensors')
  const model = new Model(resizeModel(preset(presetId), { d_model: 32, vocab_size: 64, heads: 2 }), nativeBackend('cpu'), 'f32', 1)
  await saveCheckpoint(path, model, undefined, tinyMqarTrainSpec(), 1)
  model.dispose()
  return path
}

const inspection = (path: string) => (backend: Parameters<typeof inspectCheckpoint>[1]) =>
  inspectCheckpoint(
    {
      checkpointPath: path,
      checkpoint: 'checkpoints/step-0000001.safetensors',
      runId: 'r',
      runName: 'r',
      name: 'n',
      request: InspectRequestSchema.parse({ runId: 'r', recall: { examples: 8 } }),
    },
    backend,
  )

describe('chooseInspectBackend', () => {
  it('without a CUDA device: the CPU, nothing traced', async () => {
    expect(await chooseInspectBackend(async () => expect.fail('traced without a GPU'), ['cpu'])).toEqual({ id: 'cpu', reason: 'cpu: no CUDA device' })
  })

  it('traces the whole inspection of a checkpoint; a device that takes every call gets it', async () => {
    const seen: TracedCall[] = []
    const choice = await chooseInspectBackend(inspection(await checkpoint('hybrid-gla')), ['cpu', 'cuda:0'], (_id, call) => (seen.push(call), null))
    expect(choice.id).toBe('cuda:0')
    expect(choice.reason).toMatch(/^cuda:0: it accepts all \d+ of the inspection's op calls$/)
    // the capture, the recall grid and the softmax layer's maps all went through the tracer
    const ops = new Set(seen.map((c) => c.op))
    for (const op of ['embedding_fwd', 'mixer_fwd', 'softmax_attn_fwd', 'linear_fwd']) expect(ops, op).toContain(op)
  })

  it('a device that refuses a call: the CPU, naming the refusal', async () => {
    const choice = await chooseInspectBackend(inspection(await checkpoint('gla')), ['cpu', 'cuda:0'], (id, call) =>
      call.op === 'mixer_fwd' ? `backend ${id} has no kernel for mixer_fwd in f32` : null,
    )
    expect(choice.id).toBe('cpu')
    expect(choice.reason).toContain('cpu: cuda:0 refuses')
    expect(choice.reason).toContain('backend cuda:0 has no kernel for mixer_fwd in f32')
  })
})
