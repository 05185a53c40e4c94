// A mixer call whose largest buffer is over the device's binding limit runs
// in slices of its batch (electron/engine/webgpu/batch_slices.ts). lavapipe
// binds far more than these shapes ask for, so useBindingLimit lowers the
// limit the slicing decision reads: each call runs whole first (its largest
// buffer, unsliced, is the need), then in slices under a limit of 0.7 of the
// need (two slices: [2, 1]) and of 0.4 (three of one), and must give the
// whole call's results (the slices run the same kernels on the same rows; a
// fixed gate's dg [H] is a sum over the slices, in another order) and the
// CPU's recurrent ones. Then under 0.7 of one batch element's need: each
// element in ranges of its heads, [2, 1]. B 3, T 37: not a multiple of the
// chunk; H 3: ranges of unequal heads.
import { afterEach, describe, expect, it } from 'vitest'
import type { AttrValue, Backend } from '../../../electron/engine/backend'
import type { HostArray, Tensor } from '../../../electron/engine/tensor'
import { lastBatchSlices, useBindingLimit } from '../../../electron/engine/webgpu/batch_slices'
import { announce, cpu, gpu, normals, relRms, sizeOf, theGpu, worstRatio } from './webgpu-harness'

announce('webgpu-batch-slices')

const [B, T, H, K, V] = [3, 37, 3, 16, 16]

type Inputs = Record<string, { data: Float32Array; shape: number[] }>
const f32 = (shape: number[], seed: number, map?: (x: number) => number) => ({ data: normals(sizeOf(shape), seed, map), shape })
const logDecay = (x: number) => -Math.log1p(Math.exp(-(x + 1)))
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x))

/** Keys of unit length per row (the delta rule's stable regime). */
function unitRows(x: { data: Float32Array; shape: number[] }): { data: Float32Array; shape: number[] } {
  const data = Float32Array.from(x.data)
  for (let r = 0; r < data.length; r += K) {
    let n = 0
    for (let d = 0; d < K; d++) n += data[r + d]! ** 2
    for (let d = 0; d < K; d++) data[r + d] = data[r + d]! / Math.sqrt(n)
  }
  return { data, shape: x.shape }
}

/** The inputs of a call with these switches: every optional state in, random upstream gradients. */
function inputsFor(attrs: Record<string, AttrValue>): { forward: Inputs; backward: Inputs } {
  const gateShape = attrs.gate === 'fixed' ? [H] : attrs.gate === 'scalar' ? [B, T, H] : [B, T, H, K]
  const forward: Inputs = { q: f32([B, T, H, K], 1), k: unitRows(f32([B, T, H, K], 2)), v: f32([B, T, H, V], 3), s0: f32([B, H, K, V], 4, (x) => x / 4) }
  if (attrs.gate !== 'none') forward.g = f32(gateShape, 5, logDecay)
  if (attrs.delta) forward.beta = f32([B, T, H], 6, sigmoid)
  if (attrs.input_gate !== 'none') forward.i = f32([B, T, H], 7)
  if (attrs.normalize !== 'none') forward.z0 = f32([B, H, K], 8, (x) => 1 + Math.abs(x))
  const upstream: Inputs = { do: f32([B, T, H, V], 9), ds_final: f32([B, H, K, V], 10) }
  if (attrs.normalize !== 'none') upstream.dz_final = f32([B, H, K], 11)
  return { forward, backward: { ...forward, ...upstream } }
}

function expectClose(what: string, got: HostArray, want: HostArray, rms: number, rtol: number): void {
  let scale = 0
  for (const v of want) scale = Math.max(scale, Math.abs(v))
  expect(got.length, `${what}: length`).toBe(want.length)
  expect(relRms(got, want), `${what}: relative RMS error`).toBeLessThanOrEqual(rms)
  expect(worstRatio(got, want, rtol, Math.max(rms * scale, 1e-30)), `${what}: worst element x its tolerance`).toBeLessThanOrEqual(1)
}

const uploadTo = (backend: Backend, inputs: Inputs): Record<string, Tensor> =>
  Object.fromEntries(Object.entries(inputs).map(([name, x]) => [name, backend.upload(x.data, x.shape)]))

/** Runs `op` on the GPU whole, then in slices under 0.7 and 0.4 of its need, against the whole call and the CPU. */
async function compareSliced(op: string, inputs: Inputs, attrs: Record<string, AttrValue>, outputs: string[]): Promise<void> {
  const g = theGpu()
  const onGpu = uploadTo(g, inputs)
  const whole = g.run(op, onGpu, attrs, outputs)
  const { largest, slices } = lastBatchSlices()
  expect(slices, `${op}: whole under the device's limit`).toEqual([B])
  const want = cpu.run(op, uploadTo(cpu, inputs), { ...attrs, form: 'recurrent' }, outputs)
  // [fraction of the whole call's need, batch slices, head ranges]
  for (const [fraction, expected, heads] of [
    [0.7, [2, 1], [H]],
    [0.4, [1, 1, 1], [H]],
    [0.7 / B, [1, 1, 1], [2, 1]],
  ] as const) {
    useBindingLimit(Math.floor(largest * fraction))
    const sliced = g.run(op, onGpu, attrs, outputs)
    useBindingLimit(undefined)
    expect(lastBatchSlices().slices, `${op}: slices under ${fraction} of ${largest} bytes`).toEqual(expected)
    expect(lastBatchSlices().heads, `${op}: head ranges under ${fraction} of ${largest} bytes`).toEqual(heads)
    expect(Object.keys(sliced).sort(), `${op}: outputs`).toEqual(Object.keys(whole).sort())
    for (const name of Object.keys(whole)) {
      const what = `${op} ${name} in ${expected.length} slices of ${heads.length} head ranges`
      expect(sliced[name]!.shape, `${what}: shape`).toEqual(whole[name]!.shape)
      const got = await sliced[name]!.read()
      expectClose(`${what} against the whole call`, got, await whole[name]!.read(), 1e-6, 1e-5)
      // f32 against the CPU's doubles; a denominator q·z near 0 (normalize sum) amplifies rounding.
      expectClose(`${what} against the CPU`, got, await want[name]!.read(), 5e-4, 5e-3)
      sliced[name]!.dispose()
    }
  }
  for (const t of [...Object.values(onGpu), ...Object.values(whole)]) t.dispose()
}

describe.skipIf(!gpu)('WebGPU mixer calls in batch slices', { timeout: 240_000 }, () => {
  afterEach(() => void useBindingLimit(undefined))

  // Both forms of the delta rule's chunked kernels' gates, the additive chunked kernels with the
  // denominator (z0, z_final, dz0) or a per-key gate and an input gate (di), and the recurrent form.
  const cases: [string, Record<string, AttrValue>][] = [
    ['delta, gate none', { delta: true, gate: 'none' }],
    ['delta, gate scalar', { delta: true, gate: 'scalar' }],
    ['delta, gate fixed (dg summed over slices)', { delta: true, gate: 'fixed' }],
    ['additive, gate fixed, normalize sum', { gate: 'fixed', normalize: 'sum', chunk_size: 16 }],
    ['additive, gate vector, input gate sigmoid', { gate: 'vector', input_gate: 'sigmoid', chunk_size: 32 }],
    ['recurrent form, gate scalar', { form: 'recurrent', gate: 'scalar' }],
  ]
  for (const [name, given] of cases) {
    it(`${name}: forward and backward, states in and out`, async () => {
      const attrs = { form: 'chunked', delta: false, gate: 'none', input_gate: 'none', normalize: 'none', ...given }
      const { forward, backward } = inputsFor(attrs)
      const sum = attrs.normalize !== 'none'
      await compareSliced('mixer_fwd', forward, attrs, ['s_final', ...(sum ? ['z_final'] : [])])
      await compareSliced('mixer_bwd', backward, attrs, [...(attrs.gate === 'fixed' ? ['dg'] : []), 'ds0', ...(sum ? ['dz0'] : [])])
    })
  }

  it('a call one head of one batch element of which is over the limit is an error naming the op, the shape and the limit', () => {
    const g = theGpu()
    const attrs = { form: 'chunked', delta: true, gate: 'scalar' }
    const inputs = uploadTo(g, inputsFor({ ...attrs, input_gate: 'none', normalize: 'none' }).backward)
    for (const t of Object.values(g.run('mixer_bwd', inputs, attrs))) t?.dispose()
    const { largest } = lastBatchSlices()
    const limit = Math.floor(largest / B / H / 2)
    useBindingLimit(limit)
    expect(() => g.run('mixer_bwd', inputs, attrs)).toThrow(
      new RegExp(
        `^mixer_bwd at B ${B}, H ${H}, K ${K}, T ${T}, V ${V}: one batch element alone needs \\d+ bytes for mixer_bwd delta states .*and one head, \\d+ bytes, over the ${limit} bytes`,
      ),
    )
    for (const t of Object.values(inputs)) t.dispose()
  })
})
