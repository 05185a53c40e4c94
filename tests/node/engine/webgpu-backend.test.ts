// The WebGPU backend as a Backend: memory figures beside the CPU's for the
// same sequence, calls it refuses (with the op named), the op table's own
// errors passed through unchanged, batching and ordering of work, the
// pipeline cache, backend selection for an explicit 'webgpu', and a small
// model trained for a few steps on both backends to the same losses.
import { describe, expect, it } from 'vitest'
import { preset, PRESET_IDS } from '../../../electron/api/presets'
import { resizeModel } from '../../../electron/api/resize'
import type { Backend } from '../../../electron/engine/backend'
import { addonAccepts, chooseBackend } from '../../../electron/engine/backend-select'
import { selectRun } from '../../../electron/engine/run-backend'
import type { Tensor } from '../../../electron/engine/tensor'
import type { TracedCall } from '../../../electron/engine/trace-ops'
import { WebGpuBackend, webGpuAccepts } from '../../../electron/engine/webgpu/backend'
import { openWebGpuDevice } from '../../../electron/engine/webgpu/device'
import { useSubmitBatch, WebGpuDriver } from '../../../electron/engine/webgpu/driver'
import { BufferPool, keepWorkingSet } from '../../../electron/engine/webgpu/pool'
import { trainModel } from '../../../electron/engine/train/trainer'
import { quickTrainSpec, smallModelSpec } from '../../fixtures/runs'
import { announce, cpu, gpu, ints, normals, theGpu } from './webgpu-harness'

announce('webgpu-backend')

const f32 = (shape: number[]) => ({ shape, dtype: 'f32' as const })

describe.skipIf(!gpu)('WebGPU backend', () => {
  it('names its adapter and limits', () => {
    const a = theGpu().adapter
    expect(a.name.length).toBeGreaterThan(0)
    expect(a.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 2 ** 20)
    expect(a.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256)
    expect(theGpu().id).toBe('webgpu')
    expect(theGpu().kind).toBe('webgpu')
  })

  it('counts bytes in use and the peak as the CPU does, for the same sequence', async () => {
    const steps = async (b: Backend): Promise<number[][]> => {
      await b.synchronize()
      const base = b.memory().bytesInUse
      b.resetPeak()
      const seen: number[][] = []
      const note = () => seen.push([b.memory().bytesInUse - base, b.memory().peakBytes - base])
      const x = b.upload(normals(100, 1), [10, 10])
      note()
      const z = b.zeros([7, 3], 'f32')
      const v = b.view(x, [100])
      note() // a view adds nothing
      const { y } = b.run('linear_fwd', { x: v.view([4, 25]), w: b.upload(normals(25 * 3, 2), [25, 3]) })
      note()
      v.dispose()
      note() // x still holds the memory
      x.dispose()
      note()
      y!.dispose()
      z.dispose()
      note()
      b.resetPeak()
      note()
      return seen
    }
    const onCpu = await steps(cpu)
    const onGpu = await steps(theGpu())
    expect(onGpu).toEqual(onCpu)
    expect(onGpu[0]).toEqual([400, 400])
  })

  it('refuses ops without a WGSL kernel and dtypes other than f32 and f16, naming the op', () => {
    const g = theGpu()
    expect(g.supports('linear_fwd', 'f32')).toBe(true)
    expect(g.supports('linear_fwd', 'f16')).toBe(true)
    expect(g.supports('linear_fwd', 'f64')).toBe(false)
    expect(g.supports('linear_fwd', 'bf16')).toBe(false)
    expect(g.supports('mixer_fwd', 'f32')).toBe(true)
    expect(g.supports('no_such_op', 'f32')).toBe(false)
    const x = g.upload(normals(2 * 3 * 1 * 4, 1), [2, 3, 1, 4])
    // A call the op table accepts and this backend does not (capability per call, not per op).
    const i = g.upload(normals(2 * 3, 2), [2, 3, 1])
    expect(() => g.run('mixer_fwd', { q: x, k: x, v: x, i }, { input_gate: 'exp', normalize: 'max1' })).toThrow(
      'backend webgpu has no kernel for mixer_fwd with input_gate exp and gate none',
    )
    expect(() => g.run('cast', { x }, { to: 'bf16' })).toThrow('backend webgpu has no kernel for cast to bf16 (f32 and f16 only)')
    expect(() => g.upload(new Float64Array(4), [4])).toThrow("upload: backend webgpu stores f32, f16 and i32, not f64; use precision 'f32' or 'f16' on WebGPU")
    expect(() => g.zeros([2], 'bf16')).toThrow('zeros: backend webgpu stores f32, f16 and i32, not bf16')
  })

  it("passes the op table's own errors through unchanged (planOp, as the CPU)", () => {
    const args = (b: Backend) => ({ x: b.upload(normals(6, 1), [2, 3]), w: b.upload(normals(8, 2), [4, 2]) })
    let cpuMessage = ''
    try {
      cpu.run('linear_fwd', args(cpu))
    } catch (err) {
      cpuMessage = (err as Error).message
    }
    expect(cpuMessage).toContain('linear_fwd: w has shape [4, 2]')
    expect(() => theGpu().run('linear_fwd', args(theGpu()))).toThrow(cpuMessage)
    expect(() => theGpu().run('norm_fwd', { x: theGpu().upload(normals(4, 1), [4]) }, { kind: 'group' })).toThrow(
      "norm_fwd: attribute kind = 'group' is not valid; valid: rms, layer",
    )
  })

  it('a disposed tensor, or one from another backend, is refused by name', () => {
    const g = theGpu()
    const x = g.upload(normals(4, 1), [4])
    x.dispose()
    x.dispose() // a second dispose is a no-op
    expect(() => g.run('unary_fwd', { x })).toThrow('unary_fwd: input x: the tensor Tensor(f32, [4], webgpu) is disposed')
    expect(() => g.run('unary_fwd', { x: cpu.upload(normals(4, 1), [4]) })).toThrow('unary_fwd: input x lives on backend cpu, the op runs on webgpu')
  })

  it('keeps the order of writes and ops, and batches many ops into few submissions', async () => {
    const g = theGpu()
    const x = g.upload(new Float32Array([1, 2, 3]), [3])
    const { y } = g.run('unary_fwd', { x }, { kind: 'identity', alpha: 2 })
    g.write(x, new Float32Array([10, 20, 30])) // after the op was encoded: the op sees 1, 2, 3
    g.fill(x, 5) // and this after the write
    expect(Array.from(await y!.read())).toEqual([2, 4, 6])
    expect(Array.from(await x.read())).toEqual([5, 5, 5])
    // A chain of 2000 dependent ops, read once at the end (more than one batch).
    let t: Tensor = g.upload(new Float32Array([1]), [1])
    for (let i = 0; i < 2000; i++) {
      const next = g.run('unary_fwd', { x: t }, { kind: 'identity', alpha: 1.001 }).y!
      t.dispose()
      t = next
    }
    expect((await t.read())[0]).toBeCloseTo(Math.pow(1.001, 2000), 2)
  })

  it('a working set larger than the free limit is recycled, not destroyed and created again each step', () => {
    // A pool whose fixed limit (64 KiB) is under one step's working set (16 buffers of 16 KiB).
    const pool = new BufferPool(theGpu().driver.gpu, {}, 64 * 1024)
    const step = () => {
      const held = Array.from({ length: 16 }, (_, i) => pool.acquire(16 * 1024, `activation ${i}`))
      for (const s of held) pool.release(s)
    }
    step()
    const first = pool.buffersCreated
    expect(first).toBe(16)
    for (let i = 0; i < 3; i++) step()
    expect(pool.buffersCreated).toBe(first)
    // The control: with the fixed limit alone, each step's end destroys what the next creates again.
    const was = keepWorkingSet(false)
    try {
      step()
      step()
      expect(pool.buffersCreated).toBeGreaterThan(first)
    } finally {
      keepWorkingSet(was)
      pool.trim(0)
    }
  })

  it('small submitted batches keep every dispatch its own parameters (the uniform chunks are rewritten per batch)', async () => {
    const g = theGpu()
    const was = useSubmitBatch(3)
    try {
      // 300 ops, each scaling by its own alpha: a parameter block rewritten before the batch that
      // used it ran would scale by another op's alpha.
      let t: Tensor = g.upload(new Float32Array([1, -2]), [2])
      let expected = 1
      for (let i = 0; i < 300; i++) {
        const alpha = 1 + ((i % 7) - 3) / 100
        expected *= alpha
        const next = g.run('unary_fwd', { x: t }, { kind: 'identity', alpha }).y!
        t.dispose()
        t = next
      }
      const got = await t.read()
      expect(got[0]).toBeCloseTo(expected, 4)
      expect(got[1]).toBeCloseTo(-2 * expected, 4)
    } finally {
      useSubmitBatch(was)
    }
    expect(useSubmitBatch(0)).toBe(was) // 0 is not a batch size: the setting stays
    expect(useSubmitBatch(was)).toBe(was)
  })

  it('a tensor larger than the adapter binds is refused with the limit and the adapter named', () => {
    const g = theGpu()
    const max = g.adapter.limits.maxStorageBufferBindingSize
    const elements = Math.floor(max / 4) + 1
    expect(() => g.zeros([elements], 'f32')).toThrow(
      `zeros: ${elements * 4} bytes is larger than this WebGPU adapter binds (maxStorageBufferBindingSize ${max}, ${g.adapter.name})`,
    )
  })

  // NVIDIA's Vulkan driver binds 2^31 - 4 bytes; a 2.07 GB tensor's size class was 2 GiB, which
  // every bind group naming it failed on. A second device records a lower limit: 790 000 bytes
  // round to a class of 917 504, over 800 000.
  it('no buffer is larger than the adapter binds, whatever its size class', async () => {
    const device = await openWebGpuDevice()
    device.info.limits.maxStorageBufferBindingSize = 800_002
    const limited = new WebGpuDriver(device)
    const near = limited.pool.acquire(790_000, 'near the limit')
    expect(near.buffer.size).toBe(800_000)
    const backend = new WebGpuBackend(limited)
    const y = backend.run('unary_fwd', { x: backend.zeros([199_000], 'f32') }, { kind: 'exp' }).y!
    expect((await y.read())[198_999]).toBe(1) // a tensor in a clamped buffer works as any other
    limited.pool.release(near)
    device.device.destroy()
  })

  // The benchmark's kernel breakdown: each dispatch in a timed pass of its own, summed per kernel.
  // linear_bwd without a bias is two products: dx = dy Wᵀ (W staged along k) and dw = xᵀ dy (x by rows).
  it('times every dispatch of an op, per kernel', async () => {
    const g = theGpu()
    expect(g.driver.canTime, 'this adapter has timestamp queries').toBe(true)
    const x = g.upload(
      Float32Array.from({ length: 70 * 33 }, (_, i) => Math.sin(i)),
      [70, 33],
    )
    const w = g.upload(
      Float32Array.from({ length: 33 * 65 }, (_, i) => Math.cos(i)),
      [33, 65],
    )
    const dy = g.upload(
      Float32Array.from({ length: 70 * 65 }, (_, i) => Math.sin(2 * i)),
      [70, 65],
    )
    let out: Record<string, Tensor | undefined> = {}
    const times = await g.driver.timeKernels(() => {
      out = g.run('linear_bwd', { x, w, dy })
    })
    expect([...times.keys()].sort()).toEqual(['matmul/a by rows', 'matmul/b by k'])
    for (const [label, t] of times) {
      expect(t.calls, label).toBe(1)
      expect(t.ms, label).toBeGreaterThan(0)
    }
    // While ops are timed (the profiler), kernels cannot be: the two share the queries.
    g.driver.beginTimedOp()
    await expect(g.driver.timeKernels(() => {})).rejects.toThrow('timeKernels: ops are being timed already')
    g.driver.endTimedOp()
    await g.driver.readTimings()
    for (const t of [x, w, dy, ...Object.values(out)]) t?.dispose()
  })

  // Dawn rounds timestamps down to 2^16 ns unless its toggle is off (device.ts: withExactTimestamps):
  // rounded, every duration below is a whole number of 65 536 ns, most of them 0 or one step.
  it('times kernels to the nanosecond, not in steps of 65.5 us', async () => {
    const g = theGpu()
    const x = g.upload(
      Float32Array.from({ length: 70 * 33 }, (_, i) => Math.sin(i)),
      [70, 33],
    )
    const w = g.upload(
      Float32Array.from({ length: 33 * 65 }, (_, i) => Math.cos(i)),
      [33, 65],
    )
    const ns: number[] = []
    for (let i = 0; i < 6; i++) {
      const times = await g.driver.timeKernels(() => {
        for (const t of Object.values(g.run('linear_fwd', { x, w }))) t?.dispose()
      })
      for (const t of times.values()) ns.push(Math.round(t.ms * 1e6))
    }
    expect(ns.length).toBe(6)
    const offStep = ns.filter((n) => n % 65536 !== 0)
    expect(offStep.length, `durations ${ns.join(', ')} ns`).toBeGreaterThan(0)
    for (const t of [x, w]) t.dispose()
  })

  it('after the device is lost every call fails with a clear error', async () => {
    const lost = new WebGpuBackend(new WebGpuDriver(await openWebGpuDevice()))
    const x = lost.upload(new Float32Array([1, 2]), [2])
    expect((await lost.run('unary_fwd', { x }, { kind: 'exp' }).y!.read())[1]).toBeCloseTo(Math.E ** 2, 5)
    lost.driver.device.destroy()
    await lost.driver.device.lost
    expect(() => lost.run('unary_fwd', { x })).toThrow(`WebGPU device lost on ${lost.adapter.name}; start a new job`)
    await expect(x.read()).rejects.toThrow('WebGPU device lost')
  })

  it('trimming the pool mid-batch submits the encoded work first and drops bind groups naming the freed buffers', async () => {
    const g = theGpu()
    const x = g.upload(new Float32Array([1, 2, 3]), [3])
    const y1 = g.run('unary_fwd', { x }, { kind: 'identity', alpha: 2 }).y!
    const scratch = g.run('unary_fwd', { x }, { kind: 'identity', alpha: 3 }).y!
    scratch.dispose() // free in the pool, and bound by encoded, unsubmitted work
    g.driver.pool.trim(0)
    // The same call again gets new buffers; a bind group cached for the destroyed one would fail validation.
    const y2 = g.run('unary_fwd', { x }, { kind: 'identity', alpha: 3 }).y!
    expect(Array.from(await y1.read())).toEqual([2, 4, 6])
    expect(Array.from(await y2.read())).toEqual([3, 6, 9])
  })

  it('compiles each kernel once', () => {
    const g = theGpu()
    const x = g.upload(normals(8, 1), [8])
    g.run('unary_fwd', { x }, { kind: 'softplus' })
    const compiled = g.driver.pipelineCount
    for (let i = 0; i < 5; i++) g.run('unary_fwd', { x }, { kind: 'softplus' }).y!.dispose()
    expect(g.driver.pipelineCount).toBe(compiled)
  })

  it("'webgpu' asked for: taken for calls it has kernels for, refused naming the op otherwise", async () => {
    const calls: TracedCall[] = [
      { op: 'linear_fwd', inputs: { x: f32([4, 8]), w: f32([8, 3]) }, attrs: {}, outputs: [] },
      { op: 'norm_fwd', inputs: { x: f32([4, 3]) }, attrs: {}, outputs: [] },
    ]
    expect(chooseBackend('webgpu', 0, ['cpu', 'webgpu'], calls, addonAccepts)).toEqual({ id: 'webgpu', reason: 'webgpu (asked for)' })
    expect(
      webGpuAccepts({ op: 'linear_fwd', inputs: { x: { shape: [4, 8], dtype: 'f64' }, w: { shape: [8, 3], dtype: 'f64' } }, attrs: {}, outputs: [] }),
    ).toBe('backend webgpu has no kernel for linear_fwd in f64 (WebGPU computes in f32 and stores f32 or f16)')
    // A run in f64: WebGPU computes in f32, and says so for every call.
    const spec = resizeModel(preset('gla'), { d_model: 16, vocab_size: 64, heads: 2 })
    await expect(selectRun(spec, quickTrainSpec({ backend: 'webgpu', precision: 'f64' }))).rejects.toThrow(
      /^backend webgpu cannot train this model: it refuses (\d+) of the model's \1 op calls \(backend webgpu has no kernel for embedding_fwd in f64 \(WebGPU computes in f32 and stores f32 or f16\)/,
    )
  })
})

/**
 * An MLP classifier (embedding, RMSNorm, linear + bias, SwiGLU, linear,
 * cross-entropy over labelled positions) trained with AdamW and the global
 * norm clip: the losses of `steps` steps on `b`.
 */
async function trainMlp(b: Backend, steps: number): Promise<number[]> {
  const [V, D, Hd, N] = [33, 16, 24, 65]
  const up = (data: Float32Array, shape: number[]) => b.upload(data, shape)
  const params: Record<string, Tensor> = {
    table: up(
      normals(V * D, 1, (x) => 0.5 * x),
      [V, D],
    ),
    norm: up(
      normals(D, 2, (x) => 1 + 0.1 * x),
      [D],
    ),
    w1: up(
      normals(D * 2 * Hd, 3, (x) => x / 4),
      [D, 2 * Hd],
    ),
    b1: up(
      normals(2 * Hd, 4, (x) => 0.1 * x),
      [2 * Hd],
    ),
    w2: up(
      normals(Hd * V, 5, (x) => x / 5),
      [V, Hd],
    ), // used as W^T (trans_w)
  }
  const state = Object.fromEntries(Object.entries(params).map(([k, p]) => [k, { m: b.zeros(p.shape, 'f32'), v: b.zeros(p.shape, 'f32') }]))
  const ids = b.upload(ints(N, 6, 0, V), [N])
  const labelData = ints(N, 7, 0, V)
  for (let i = 0; i < N; i += 5) labelData[i] = -1
  const labels = b.upload(labelData, [N])
  const losses: number[] = []
  for (let step = 1; step <= steps; step++) {
    const { y: e } = b.run('embedding_fwd', { ids, table: params.table })
    const { y: h, rstd } = b.run('norm_fwd', { x: e, weight: params.norm })
    const { y: gu } = b.run('linear_fwd', { x: h, w: params.w1, bias: params.b1 })
    const both = await gu!.read() // split gate | up on the host: no slice op in this set
    const gateData = new Float32Array(N * Hd)
    const upData = new Float32Array(N * Hd)
    for (let n = 0; n < N; n++) {
      gateData.set(both.subarray(n * 2 * Hd, n * 2 * Hd + Hd) as Float32Array, n * Hd)
      upData.set(both.subarray(n * 2 * Hd + Hd, (n + 1) * 2 * Hd) as Float32Array, n * Hd)
    }
    const gate = up(gateData, [N, Hd])
    const upT = up(upData, [N, Hd])
    const { y: a } = b.run('swiglu_fwd', { gate, up: upT })
    const { y: logits } = b.run('linear_fwd', { x: a, w: params.w2 }, { trans_w: true })
    const { nll, lse } = b.run('cross_entropy_fwd', { logits, labels })
    const counted = Array.from(labelData).filter((l) => l !== -1).length
    losses.push(Array.from(await nll!.read()).reduce((s, x) => s + x, 0) / counted)
    const { dlogits } = b.run('cross_entropy_bwd', { logits, labels, lse }, { scale: 1 / counted })
    const { dx: da, dw: dw2 } = b.run('linear_bwd', { x: a, w: params.w2, dy: dlogits }, { trans_w: true })
    const { dgate, dup } = b.run('swiglu_bwd', { gate, up: upT, dy: da })
    const [dg, du] = [await dgate!.read(), await dup!.read()]
    const dguData = new Float32Array(N * 2 * Hd)
    for (let n = 0; n < N; n++) {
      dguData.set(dg.subarray(n * Hd, (n + 1) * Hd) as Float32Array, n * 2 * Hd)
      dguData.set(du.subarray(n * Hd, (n + 1) * Hd) as Float32Array, n * 2 * Hd + Hd)
    }
    const dgu = up(dguData, [N, 2 * Hd])
    const { dx: dh, dw: dw1, dbias: db1 } = b.run('linear_bwd', { x: h, w: params.w1, bias: params.b1, dy: dgu })
    const { dx: de, dweight: dnorm } = b.run('norm_bwd', { x: e, weight: params.norm, rstd, dy: dh })
    const { dtable } = b.run('embedding_bwd', { ids, table: params.table, dy: de })
    const grads: Record<string, Tensor> = { table: dtable!, norm: dnorm!, w1: dw1!, b1: db1!, w2: dw2! }
    // The global norm: sum of every gradient's sum of squares.
    const sq = b.zeros([1], 'f32')
    for (const g of Object.values(grads)) b.run('accumulate', { dst: sq, src: b.run('sum_squares', { x: g }).y })
    for (const [k, p] of Object.entries(params))
      b.run('adamw_step', { param: p, grad: grads[k], m: state[k]!.m, v: state[k]!.v, grad_sq_sum: sq }, { lr: 1e-2, weight_decay: 0.1, step, max_norm: 1 })
  }
  return losses
}

// A cold shader cache (CI) makes lavapipe compile every kernel a preset uses with LLVM first.
describe.skipIf(!gpu)('training parity', { timeout: 240_000 }, () => {
  // Every preset (Based's softmax layers have a window of 64: longer sequences, so the window bites).
  for (const id of PRESET_IDS())
    it(`the ${id} preset trains on WebGPU through the trainer, to the CPU losses (relative 1e-4 over 6 steps)`, async () => {
      const model = smallModelSpec(id)
      const task = { kind: 'mqar' as const, seq_len: id === 'based' ? 80 : 32, num_kv_pairs: 4, power_a: 0.01, vocab_size: 64 }
      const train = quickTrainSpec({ task, backend: 'webgpu', precision: 'f32', steps: 6, eval: { every: 3, batches: 1 }, checkpoint_every: 0 })
      const choice = await selectRun(model, train)
      expect(choice.backend).toBe(theGpu())
      expect(choice.reason).toBe('webgpu (asked for); precision f32')
      const run = async (backend: Backend) => {
        const losses: number[] = []
        const summary = await trainModel({ modelSpec: model, trainSpec: train, backend, precision: 'f32', events: { onStep: (p) => losses.push(p.loss) } })
        return { losses, accuracy: summary.lastEval?.sets[0]?.accuracy }
      }
      const onCpu = await run(cpu)
      const onGpu = await run(theGpu())
      const worst = Math.max(...onGpu.losses.map((x, i) => Math.abs(x - onCpu.losses[i]!) / onCpu.losses[i]!))
      console.log(`${id}: CPU losses ${onCpu.losses.map((x) => x.toFixed(5)).join(' ')}; max relative difference on WebGPU ${worst.toExponential(2)}`)
      expect(onGpu.losses).toHaveLength(6)
      for (let i = 0; i < 6; i++)
        expect(Math.abs(onGpu.losses[i]! - onCpu.losses[i]!) / onCpu.losses[i]!, `step ${i + 1}: ${onGpu.losses[i]} vs ${onCpu.losses[i]}`).toBeLessThan(1e-4)
      expect(onGpu.accuracy).toBeCloseTo(onCpu.accuracy!, 2)
    })

  it('an MLP classifier trains to the same losses on WebGPU and on the CPU (relative 1e-4 over 8 steps)', async () => {
    const onCpu = await trainMlp(cpu, 8)
    const onGpu = await trainMlp(theGpu(), 8)
    expect(onCpu[7]!).toBeLessThan(onCpu[0]! - 0.05) // it learns
    for (let i = 0; i < 8; i++) expect(Math.abs(onGpu[i]! - onCpu[i]!) / onCpu[i]!, `step ${i + 1}: ${onGpu[i]} vs ${onCpu[i]}`).toBeLessThan(1e-4)
  })
})
