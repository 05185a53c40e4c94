// Host overhead per op (issue 16: the engine must keep a GPU fed): the time
// the host spends per op call of a training step, measured where kernels
// cost next to nothing, so what is left is the host's own work:
//   - native: a whole training step (forward, backward, the device-side sum
//     of squared gradients, AdamW, the step's one read) of a tiny model
//     (d_model 8, 4 layers, batch 1 x 8 tokens) on the CPU backend, per op:
//     tape bookkeeping, N-API call, planning (validation, shapes) and a
//     near-empty kernel;
//   - tracing: the same step on the tracing backend (trace-ops.ts: shapes
//     only, no kernel, no memory; it still plans every call through the
//     addon and builds a key per call), for comparison;
//   - one call: `accumulate` on a [1] tensor, called 20000 times: one N-API
//     call with its planning and dispatch, nothing else.
// Method (../shared/BENCHMARKS.md): warm-up, then the median of repeats;
// machine and versions recorded. Writes bench/host-overhead.json.
import { writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { preset } from '../electron/api/presets'
import { resizeModel } from '../electron/api/resize'
import { Ctx } from '../electron/engine/autograd/context'
import type { Backend } from '../electron/engine/backend'
import { loadAddon } from '../electron/engine/addon'
import { Model } from '../electron/engine/model/model'
import { nativeBackend } from '../electron/engine/native-backend'
import { TracingBackend } from '../electron/engine/trace-ops'
import { disposeBatch, toDevice } from '../electron/engine/train/device-batch'
import { AdamW } from '../electron/engine/train/optimizer'
import { projectRoot } from '../electron/platform/project-root'

const PRESETS = ['gla', 'gated-deltanet', 'hybrid-gla', 'mamba2']
const WARMUP = 5
const REPEATS = 30
const CALLS = 20000

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** One training step on `backend`; returns its wall time in ms. */
async function step(model: Model, optimizer: AdamW, backend: Backend): Promise<number> {
  const ids = Int32Array.from({ length: 8 }, (_, n) => (3 * n + 1) % 16)
  const t0 = performance.now()
  const batch = toDevice(backend, { batchSize: 1, seqLen: 8, inputs: ids, labels: ids, tags: {} })
  const ctx = new Ctx(backend, 'f32', true)
  try {
    const { nll } = model.loss(ctx, batch)
    ctx.backward([])
    const grads = ctx.gradsByName(model.params.trainable())
    const gradSqSum = optimizer.gradSqSum(grads)
    optimizer.step(grads, 1e-3, 1, { gradSqSum, maxNorm: 1 })
    await nll.read()
    gradSqSum.dispose()
  } finally {
    ctx.dispose()
    disposeBatch(batch)
  }
  return performance.now() - t0
}

async function perStep(backend: Backend, presetId: string): Promise<{ ms: number; ops: number }> {
  const spec = resizeModel(preset(presetId), { d_model: 8, vocab_size: 16, heads: 2, n_layers: 4 })
  const model = new Model(spec, backend, 'f32', 0, backend.id !== 'trace')
  const optimizer = new AdamW(backend, model.params.trainable(), { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 })
  try {
    let ops = 0
    backend.observe((_op) => ops++)
    await step(model, optimizer, backend)
    backend.observe(undefined)
    if (backend.id === 'trace') ops = 0 // the tracing backend does not observe: count with the CPU's figure
    for (let i = 0; i < WARMUP; i++) await step(model, optimizer, backend)
    const times: number[] = []
    for (let i = 0; i < REPEATS; i++) times.push(await step(model, optimizer, backend))
    return { ms: median(times), ops }
  } finally {
    optimizer.dispose()
    model.dispose()
  }
}

function oneCall(): number {
  const cpu = nativeBackend('cpu')
  const dst = cpu.zeros([1], 'f32')
  const src = cpu.zeros([1], 'f32')
  const rounds: number[] = []
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now()
    for (let i = 0; i < CALLS; i++) cpu.run('accumulate', { dst, src }, { alpha: 1 })
    rounds.push(((performance.now() - t0) * 1000) / CALLS)
  }
  dst.dispose()
  src.dispose()
  return median(rounds)
}

async function main(): Promise<void> {
  const cpu = nativeBackend('cpu')
  const rows = []
  for (const id of PRESETS) {
    const native = await perStep(cpu, id)
    const tape = await perStep(new TracingBackend(), id)
    const row = {
      preset: id,
      ops_per_step: native.ops,
      step_ms_native: native.ms,
      step_ms_tracing: tape.ms,
      us_per_op_native: (1000 * native.ms) / native.ops,
      us_per_op_tracing: (1000 * tape.ms) / native.ops,
    }
    rows.push(row)
    console.log(
      `${id.padEnd(16)} ${String(row.ops_per_step).padStart(4)} ops/step  step ${row.step_ms_native.toFixed(2)} ms  ` +
        `${row.us_per_op_native.toFixed(1)} µs/op (tracing backend ${row.us_per_op_tracing.toFixed(1)} µs/op)`,
    )
  }
  const call = oneCall()
  console.log(`one native call (accumulate on [1], N-API + planning + dispatch): ${call.toFixed(2)} µs`)
  const info = loadAddon().info()
  const out = {
    machine: { cpu: cpus()[0]?.model, threads: info.cpuThreads, node: process.versions.node, engine: info.version },
    method: `median of ${REPEATS} steps after ${WARMUP} warm-ups; one call: median of 5 rounds of ${CALLS}`,
    rows,
    us_per_native_call: call,
  }
  writeFileSync(join(projectRoot(), 'bench', 'host-overhead.json'), JSON.stringify(out, null, 1) + '\n')
}

void main()
