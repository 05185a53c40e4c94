// f16 on WebGPU (precision 'f16', issue 19): what it saves in memory, and
// what its conversions cost, beside f32 on the same adapter and model.
// For each preset (d_model 128, 2 layers, T = 256, batch 8, vocab 512), one
// training step's forward and backward (AdamW included) after a warm-up step:
//   - heldBytes: what the tensors hold once the forward has run (the weights,
//     the optimizer's moments, the batch and every activation the backward
//     keeps), from the backend's own count (pool.ts: bytes the tensors hold);
//   - peakBytes: the step's peak;
//   - ms: the step's wall time, median of REPEATS. On a software adapter
//     (lavapipe: the CPU runs the shaders) this says how the conversions
//     weigh against the kernels there, not what a GPU does.
// Writes bench/webgpu-f16-memory.json. Needs a WebGPU adapter (CI's lavapipe).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { preset } from '../electron/api/presets'
import { resizeModel } from '../electron/api/resize'
import { Ctx, type ComputeDType } from '../electron/engine/autograd/context'
import { Model } from '../electron/engine/model/model'
import { createTask } from '../electron/engine/tasks'
import { disposeBatch, toDevice } from '../electron/engine/train/device-batch'
import { AdamW } from '../electron/engine/train/optimizer'
import { probeWebGpu, webGpuBackend } from '../electron/engine/webgpu/backend'
import { projectRoot } from '../electron/platform/project-root'

const PRESETS = ['transformer', 'gla', 'gated-deltanet', 'hybrid-gla']
const REPEATS = 3
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

async function main(): Promise<void> {
  const probe = await probeWebGpu()
  if (!probe.adapter) {
    console.log(`webgpu-f16-memory: no WebGPU adapter: ${probe.reason}`)
    process.exit(1)
  }
  const gpu = await webGpuBackend()
  const task = createTask({ kind: 'mqar', seq_len: 256, num_kv_pairs: 16, power_a: 0.01, vocab_size: 512 }, 0)
  const rows: unknown[] = []
  for (const id of PRESETS) {
    const spec = resizeModel(preset(id), { d_model: 128, n_layers: 2, vocab_size: 512 })
    const row: Record<string, unknown> = { preset: id, d_model: 128, layers: 2, seq_len: 256, batch: 8 }
    for (const dtype of ['f32', 'f16'] as ComputeDType[]) {
      const model = new Model(spec, gpu, 'f32', 0)
      const optimizer = new AdamW(gpu, model.params.trainable(), { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 })
      const times: number[] = []
      let held = 0
      let peak = 0
      for (let r = 0; r <= REPEATS; r++) {
        const batch = toDevice(gpu, task.trainBatch(r, 8))
        await gpu.synchronize()
        gpu.resetPeak()
        const t0 = performance.now()
        const ctx = new Ctx(gpu, dtype, true, dtype === 'f16' ? 1024 : 1)
        try {
          const { nll } = model.loss(ctx, batch)
          held = gpu.memory().bytesInUse
          ctx.backward([])
          const grads = ctx.gradsByName(model.params.trainable())
          const gradSqSum = optimizer.gradSqSum(grads)
          optimizer.step(grads, 1e-4, r + 1, { gradSqSum, maxNorm: 1024, gradScale: dtype === 'f16' ? 1 / 1024 : 1 })
          await nll.read()
          gradSqSum.dispose()
        } finally {
          ctx.dispose()
          disposeBatch(batch)
        }
        await gpu.synchronize()
        if (r > 0) times.push(performance.now() - t0) // r = 0: warm-up (pipelines compiled)
        peak = gpu.memory().peakBytes
      }
      row[dtype] = { heldBytes: held, peakBytes: peak, ms: median(times) }
      optimizer.dispose()
      model.dispose()
    }
    const f32 = row.f32 as { heldBytes: number; peakBytes: number; ms: number }
    const f16 = row.f16 as { heldBytes: number; peakBytes: number; ms: number }
    row.f16_over_f32 = { held: f16.heldBytes / f32.heldBytes, peak: f16.peakBytes / f32.peakBytes, ms: f16.ms / f32.ms }
    const mib = (b: number) => (b / 2 ** 20).toFixed(1)
    console.log(
      `${id.padEnd(16)} held f32 ${mib(f32.heldBytes)} MiB, f16 ${mib(f16.heldBytes)} MiB; peak f32 ${mib(f32.peakBytes)}, f16 ${mib(f16.peakBytes)} MiB; ` +
        `step f32 ${f32.ms.toFixed(0)} ms, f16 ${f16.ms.toFixed(0)} ms`,
    )
    rows.push(row)
  }
  const out = { benchmark: 'webgpu-f16-memory', adapter: gpu.adapter.name, date: new Date().toISOString(), node: process.version, rows }
  writeFileSync(join(projectRoot(), 'bench', 'webgpu-f16-memory.json'), JSON.stringify(out, null, 1) + '\n')
  process.exit(0)
}

void main()
