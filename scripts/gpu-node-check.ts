// The cross-backend check through Node, on the GPU box: every preset's
// training step (forward, loss, backward, gradient norm) through the
// TypeScript engine and the addon on cuda:0 against the same step on the CPU,
// same seed, same batch, f32. Prints one line per preset: the loss on each
// backend, the largest normwise relative gradient error over parameters, and
// whether it is within tolerance; exits 1 when one is not. Without a CUDA
// backend it says so and exits 0 (CI has no GPU).
//
// Bundled with esbuild and run by native/tools/gpu-check.sh:
//   npx esbuild scripts/gpu-node-check.ts --bundle --platform=node --format=esm --outfile=.device/gpu-node-check.mjs
import { preset, PRESET_IDS } from '../electron/api/presets'
import { loadAddon } from '../electron/engine/addon'
import { Ctx } from '../electron/engine/autograd/context'
import { Model } from '../electron/engine/model/model'
import { NativeBackend } from '../electron/engine/native-backend'
import type { Batch } from '../electron/engine/tasks/types'
import { toDevice } from '../electron/engine/train/device-batch'

// The backend checked against the CPU (LINEA_CHECK_BACKEND=cpu runs the check against itself, to try the script).
const TARGET = process.env.LINEA_CHECK_BACKEND ?? 'cuda:0'
const TOLERANCE = 1e-3 // f32 through a whole model: a few hundred roundings per output compounded over layers

interface StepResult {
  loss: number
  grads: Map<string, Float64Array>
}

async function step(backendId: string, presetId: string, batch: Batch): Promise<StepResult> {
  const spec = preset(presetId)
  const backend = new NativeBackend(backendId)
  const model = new Model(spec, backend, 'f32', 0)
  const ctx = new Ctx(backend, 'f32', true)
  const out = model.loss(ctx, toDevice(backend, batch))
  ctx.backward([])
  const nll = await out.nll.read()
  const grads = new Map<string, Float64Array>()
  for (const [name, t] of ctx.gradsByName(model.params.trainable())) grads.set(name, Float64Array.from(await t.read()))
  let loss = 0
  for (const x of nll) loss += x
  return { loss, grads }
}

function relError(got: Float64Array, ref: Float64Array): number {
  let num = 0
  let den = 0
  ref.forEach((r, i) => {
    num += ((got[i] ?? NaN) - r) ** 2
    den += r ** 2
  })
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-6 * Math.sqrt(ref.length))
}

function randomBatch(vocab: number, batchSize: number, seqLen: number): Batch {
  let state = 12345
  const next = () => {
    state = (state * 1103515245 + 12345) % 2147483648
    return state
  }
  const inputs = new Int32Array(batchSize * seqLen).map(() => next() % vocab)
  const labels = new Int32Array(batchSize * seqLen).map(() => next() % vocab)
  return { batchSize, seqLen, inputs, labels, tags: {} }
}

async function main(): Promise<void> {
  const names = loadAddon().backends()
  if (!names.includes(TARGET)) {
    console.log(`gpu-node-check: no ${TARGET} (backends: ${names.join(', ')}): skipped`)
    return
  }
  let failed = 0
  console.log(`preset                     loss cpu     loss ${TARGET.padEnd(7)} max grad error  ok`)
  for (const id of PRESET_IDS()) {
    const batch = randomBatch(preset(id).vocab_size, 2, 100) // T = 100: not a multiple of any chunk
    try {
      const cpu = await step('cpu', id, batch)
      const gpu = await step(TARGET, id, batch)
      let worst = 0
      let worstName = ''
      for (const [name, ref] of cpu.grads) {
        const got = gpu.grads.get(name)
        const err = got ? relError(got, ref) : Infinity
        if (err > worst || Number.isNaN(err)) [worst, worstName] = [err, name]
      }
      const lossErr = Math.abs(gpu.loss - cpu.loss) / Math.abs(cpu.loss)
      const ok = worst <= TOLERANCE && lossErr <= TOLERANCE
      if (!ok) failed++
      console.log(
        `${id.padEnd(26)} ${cpu.loss.toFixed(4).padStart(11)} ${gpu.loss.toFixed(4).padStart(11)}   ${worst.toExponential(2)} ${ok ? 'ok' : `FAIL (${worstName})`}`,
      )
    } catch (err) {
      failed++
      console.log(`${id.padEnd(26)} FAIL: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
  console.log(`gpu-node-check: ${PRESET_IDS().length - failed} of ${PRESET_IDS().length} presets match the CPU`)
  if (failed) process.exitCode = 1
}

void main()
