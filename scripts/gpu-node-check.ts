// The cross-backend check through Node, on the GPU box: every preset's
// training step (forward, loss, backward, gradient norm) through the
// TypeScript engine and the addon on cuda:0 against the same step on the CPU,
// same seed, same batch, in f32 and in mixed precision (bf16 passes over f32
// weights). Prints one line per preset: the loss on each backend, the largest
// normwise relative gradient error over parameters in f32 and in bf16, and
// whether both are within tolerance; exits 1 when one is not. Without a CUDA
// backend it says so and exits 0 (CI has no GPU).
//
// The bf16 control: the same step on the CPU with every float tensor an op
// takes or gives rounded to bf16 (Bf16RoundingBackend) measures how far bf16
// storage alone moves each gradient; a parameter's bf16 error passes when it
// is within BF16_TOLERANCE or within BF16_CONTROL_FACTOR times the control's.
// LINEA_CHECK_CONTROL_ONLY=1 prints the control alone (no GPU needed).
//
// Bundled with esbuild and run by native/tools/gpu-check.sh:
//   npx esbuild scripts/gpu-node-check.ts --bundle --platform=node --format=esm --outfile=.device/gpu-node-check.mjs
import { preset, PRESET_IDS } from '../electron/api/presets'
import { loadAddon } from '../electron/engine/addon'
import { Ctx, type ComputeDType } from '../electron/engine/autograd/context'
import { Model } from '../electron/engine/model/model'
import type { Backend } from '../electron/engine/backend'
import { Bf16RoundingBackend } from '../electron/engine/bf16-rounding'
import { NativeBackend } from '../electron/engine/native-backend'
import type { Batch } from '../electron/engine/tasks/types'
import { toDevice } from '../electron/engine/train/device-batch'

// The backend checked against the CPU (LINEA_CHECK_BACKEND=cpu runs the check against itself, to try the script).
const TARGET = process.env.LINEA_CHECK_BACKEND ?? 'cuda:0'
const TOLERANCE = 1e-3 // f32 through a whole model: a few hundred roundings per output compounded over layers
// bf16 activations (8 bits of mantissa, 4e-3 per rounding) through a whole model, against f32 on the CPU
const BF16_TOLERANCE = 5e-2
// The GPU kernels also keep some intermediate states in bf16, which the control does not model.
const BF16_CONTROL_FACTOR = 3

interface StepResult {
  loss: number
  grads: Map<string, Float64Array>
}

async function step(backendId: string | Backend, presetId: string, batch: Batch, compute: ComputeDType = 'f32'): Promise<StepResult> {
  const spec = preset(presetId)
  const backend = typeof backendId === 'string' ? new NativeBackend(backendId) : backendId
  const model = new Model(spec, backend, 'f32', 0)
  const ctx = new Ctx(backend, compute, true)
  const out = model.loss(ctx, toDevice(backend, batch))
  ctx.backward([])
  const nll = await out.nll.read()
  const grads = new Map<string, Float64Array>()
  for (const [name, t] of ctx.gradsByName(model.params.trainable())) grads.set(name, Float64Array.from(await t.read()))
  let loss = 0
  for (const x of nll) loss += x
  return { loss, grads }
}

/**
 * The largest gradient error over parameters, its parameter, and whether every
 * parameter and the loss are within `tolerance`, or within `factor` times
 * the control's error for that parameter (and loss) when a control is given.
 */
function compare(
  got: StepResult,
  ref: StepResult,
  tolerance: number,
  control?: StepResult,
  factor = 1,
): { worst: number; name: string; ok: boolean; controlOfWorst: number; failing: string[] } {
  let worst = 0
  let name = ''
  let controlOfWorst = NaN
  const failing: string[] = []
  for (const [param, r] of ref.grads) {
    const g = got.grads.get(param)
    const err = g ? relError(g, r) : Infinity
    const c = control?.grads.get(param)
    const controlErr = c ? relError(c, r) : NaN
    if (!(err <= tolerance || err <= factor * controlErr)) failing.push(param)
    if (err > worst || Number.isNaN(err)) [worst, name, controlOfWorst] = [err, param, controlErr]
  }
  const lossErr = Math.abs(got.loss - ref.loss) / Math.abs(ref.loss)
  const controlLossErr = control ? Math.abs(control.loss - ref.loss) / Math.abs(ref.loss) : NaN
  if (!(lossErr <= tolerance || lossErr <= factor * controlLossErr)) failing.push('loss')
  return { worst, name, ok: failing.length === 0, controlOfWorst, failing }
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

/** The bf16 control alone, on the CPU: per preset, its worst gradient error against f32 and where. */
async function controlOnly(): Promise<void> {
  console.log('preset                     control: worst bf16-rounded gradient error (parameter)')
  for (const id of PRESET_IDS()) {
    const batch = randomBatch(preset(id).vocab_size, 2, 100)
    const cpu = await step('cpu', id, batch)
    const rounded = await step(new Bf16RoundingBackend(new NativeBackend('cpu')), id, batch)
    const c = compare(rounded, cpu, BF16_TOLERANCE)
    console.log(`${id.padEnd(26)} ${c.worst.toExponential(2)} (${c.name})`)
  }
}

async function main(): Promise<void> {
  if (process.env.LINEA_CHECK_CONTROL_ONLY === '1') return controlOnly()
  const names = loadAddon().backends()
  if (!names.includes(TARGET)) {
    console.log(`gpu-node-check: no ${TARGET} (backends: ${names.join(', ')}): skipped`)
    return
  }
  let failed = 0
  console.log(
    `preset                     loss cpu     loss ${TARGET.padEnd(7)} grad error f32  loss bf16    grad error bf16  control  ok (bf16: within ${BF16_TOLERANCE} or ${BF16_CONTROL_FACTOR}x the control)`,
  )
  for (const id of PRESET_IDS()) {
    const batch = randomBatch(preset(id).vocab_size, 2, 100) // T = 100: not a multiple of any chunk
    try {
      const cpu = await step('cpu', id, batch)
      const gpu = await step(TARGET, id, batch)
      const bf16 = await step(TARGET, id, batch, 'bf16')
      const control = await step(new Bf16RoundingBackend(new NativeBackend('cpu')), id, batch)
      const f32 = compare(gpu, cpu, TOLERANCE)
      const mixed = compare(bf16, cpu, BF16_TOLERANCE, control, BF16_CONTROL_FACTOR)
      const ok = f32.ok && mixed.ok
      if (!ok) failed++
      console.log(
        `${id.padEnd(26)} ${cpu.loss.toFixed(4).padStart(11)} ${gpu.loss.toFixed(4).padStart(11)}   ${f32.worst.toExponential(2)}   ` +
          `${bf16.loss.toFixed(4).padStart(11)}   ${mixed.worst.toExponential(2)}         ${mixed.controlOfWorst.toExponential(2)}  ` +
          `${ok ? 'ok' : `FAIL (${[...(f32.ok ? [] : [`f32: ${f32.failing.join(', ')}`]), ...(mixed.ok ? [] : [`bf16: ${mixed.failing.join(', ')}`])].join('; ')})`}`,
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
