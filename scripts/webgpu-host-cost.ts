// The WebGPU backend's host cost per training step: a preset at the benchmark's width
// (d_model 256, 4 layers) trained on tiny batches (B = 1, T = 32 by default), so that the
// device's share of the step is small and the step's wall time is mostly the engine's and the
// driver's JavaScript (encoding, planning, bookkeeping). Prints ms per
// step and buffers created per step (0 once the pool has warmed); run under `node --cpu-prof`
// to see where the host time goes.
//   node --import tsx scripts/webgpu-host-cost.ts [preset] [steps]
import { preset } from '../electron/api/presets'
import { resizeModel } from '../electron/api/resize'
import type { TrainSpec } from '../electron/api/train-spec'
import { trainModel } from '../electron/engine/train/trainer'
import { webGpuBackend } from '../electron/engine/webgpu/backend'

const id = process.argv[2] ?? 'gla'
const steps = Number(process.argv[3] ?? 30)
const SEQ = Number(process.env.HOST_COST_SEQ ?? 32)
const BATCH = Number(process.env.HOST_COST_BATCH ?? 1)

async function main(): Promise<void> {
  const backend = await webGpuBackend()
  const spec = resizeModel(preset(id), { d_model: 256, n_layers: 4, vocab_size: 512 })
  const trainSpec: TrainSpec = {
    format: 'linea.train/1',
    task: { kind: 'mqar', seq_len: SEQ, num_kv_pairs: Math.min(32, SEQ / 4), power_a: 0.01, vocab_size: 512 },
    steps,
    batch_size: BATCH,
    optimizer: { kind: 'adamw', lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1, grad_clip: 1 },
    schedule: { warmup_steps: 1, decay: 'constant', min_lr_ratio: 1 },
    seed: 0,
    backend: 'webgpu',
    device: 0,
    precision: 'f32',
    eval: { every: steps, batches: 1 },
    early_stop_accuracy: null,
    checkpoint_every: 0,
  }
  const ends: number[] = []
  const created: number[] = []
  const onStep = () => {
    ends.push(performance.now())
    created.push(backend.driver.pool.buffersCreated)
  }
  await trainModel({ modelSpec: spec, trainSpec, backend, precision: 'f32', events: { onStep } })
  const warm = Math.min(5, ends.length - 2)
  const ms = (ends[ends.length - 1]! - ends[warm]!) / (ends.length - 1 - warm)
  const perStep = (created[created.length - 1]! - created[warm]!) / (created.length - 1 - warm)
  console.log(`${id}: ${ms.toFixed(2)} ms per step over ${ends.length - 1 - warm} steps (B ${BATCH}, T ${SEQ}); buffers created per step ${perStep.toFixed(1)}`)
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err)
    process.exit(1)
  },
)
