// Every op the WebGPU backend has a kernel for, against the CPU backend (the
// oracle) on the same seeded inputs: forward and backward, random upstream
// gradients, awkward sizes (1, 7, 33, 65, 300: not multiples of the 64-wide
// tiles or the 256-wide workgroups), GPU outputs poisoned with NaN before
// each kernel so an element a kernel forgets shows.
//
// Tolerances (relative RMS over a tensor, and elementwise |gpu - cpu| <=
// atol + rtol |cpu|): elementwise math 2e-6 / 1e-5 (a wrong formula is off
// by far more); reductions in f32 over up to a few hundred terms (matmul,
// norms, cross-entropy, column sums) 1e-5 / 1e-4 elementwise with an atol
// of 1e-6 of the tensor's scale. The CPU sums in double, the GPU in f32.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AttrValue } from '../../../electron/engine/backend'
import type { HostArray, Tensor } from '../../../electron/engine/tensor'
import { loadAddon } from '../../../electron/engine/addon'
import { DELTA_CHUNK, DELTA_COLUMNS, DELTA_MAX_K } from '../../../electron/engine/webgpu/kernels/mixer_delta_chunked'
import { WebGpuBackend } from '../../../electron/engine/webgpu/backend'
import { openWebGpuDevice } from '../../../electron/engine/webgpu/device'
import { WebGpuDriver } from '../../../electron/engine/webgpu/driver'
import { BLOCKED_BWD_BYTES, BLOCKED_FWD_BYTES } from '../../../electron/engine/webgpu/kernels/softmax_attention_blocked'
import {
  useAttentionBlocks,
  useDeltaStaging,
  useLayoutStaging,
  useMatmulPipeline,
  useMatmulTile,
  WEBGPU_OPS,
  webGpuMixerForm,
} from '../../../electron/engine/webgpu/ops'
import { announce, cpu, gpu, ints, normals, relRms, sizeOf, theGpu, worstRatio } from './webgpu-harness'

announce('webgpu-ops')

interface Input {
  data: HostArray
  shape: number[]
}

interface Tolerance {
  /** Largest relative RMS error per tensor. */
  rms: number
  /** Elementwise: |gpu - cpu| <= atol * (largest |cpu| of the tensor) + rtol |cpu|. */
  rtol: number
  atol: number
  /**
   * An absolute floor for results that cancel to nearly 0 (RMSNorm's dx at
   * D = 1 is rstd g eps / (x^2 + eps)): elementwise only, no RMS check.
   */
  floor?: number
}

const ELEMENTWISE: Tolerance = { rms: 2e-6, rtol: 1e-5, atol: 1e-7 }
const REDUCTION: Tolerance = { rms: 1e-5, rtol: 1e-4, atol: 1e-6 }

const f32 = (shape: number[], seed: number, map?: (x: number) => number): Input => ({ data: normals(sizeOf(shape), seed, map), shape })
const i32 = (shape: number[], seed: number, lo: number, hi: number): Input => ({ data: ints(sizeOf(shape), seed, lo, hi), shape })

function upload(backend: typeof cpu | NonNullable<typeof gpu>, inputs: Record<string, Input | undefined>): Record<string, Tensor | undefined> {
  const out: Record<string, Tensor | undefined> = {}
  for (const [name, input] of Object.entries(inputs)) out[name] = input && backend.upload(input.data, input.shape)
  return out
}

function expectClose(what: string, got: HostArray, want: HostArray, tol: Tolerance): void {
  let scale = 0
  for (const v of want) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v))
  const rms = relRms(got, want)
  const worst = worstRatio(got, want, tol.rtol, Math.max(tol.atol * scale, tol.floor ?? 0, 1e-30))
  expect(got.length, `${what}: length`).toBe(want.length)
  if (tol.floor === undefined) expect(rms, `${what}: relative RMS error ${rms} > ${tol.rms}`).toBeLessThanOrEqual(tol.rms)
  expect(worst, `${what}: worst element ${worst} x its tolerance`).toBeLessThanOrEqual(1)
}

/**
 * Runs `op` on the CPU and on the GPU with the same inputs and compares
 * every output, and the inputs named in `inPlace` (updated by the op).
 */
async function compare(
  op: string,
  inputs: Record<string, Input | undefined>,
  attrs: Record<string, AttrValue> = {},
  tol: Tolerance = ELEMENTWISE,
  options: { outputs?: string[]; inPlace?: string[]; alias?: Record<string, string> } = {},
): Promise<void> {
  const onCpu = upload(cpu, inputs)
  const onGpu = upload(theGpu(), inputs)
  for (const [name, same] of Object.entries(options.alias ?? {})) {
    onCpu[name] = onCpu[same]
    onGpu[name] = onGpu[same]
  }
  compared.add(op)
  const want = cpu.run(op, onCpu, attrs, options.outputs ?? [])
  const got = theGpu().run(op, onGpu, attrs, options.outputs ?? [])
  expect(Object.keys(got).sort(), `${op}: outputs`).toEqual(Object.keys(want).sort())
  for (const name of Object.keys(want)) {
    expect(got[name]!.shape, `${op} ${name}: shape`).toEqual(want[name]!.shape)
    expectClose(`${op} ${name}`, await got[name]!.read(), await want[name]!.read(), tol)
  }
  for (const name of options.inPlace ?? []) expectClose(`${op} ${name} (in place)`, await onGpu[name]!.read(), await onCpu[name]!.read(), tol)
  for (const t of [...Object.values(onGpu), ...Object.values(got)]) if (t && !(t.handle as { disposed: boolean }).disposed) t.dispose()
}

/** The ops compare() has held against the CPU in this file's run. */
const compared = new Set<string>()

const UNARY_KINDS = ['identity', 'silu', 'sigmoid', 'softplus', 'logsigmoid', 'exp', 'neg_exp'] as const

/** Normals times 4, with the extremes that break naive formulas (overflow, cancellation) at the front. */
const wide = (n: number, seed: number): Input => {
  const data = normals(n, seed, (x) => 4 * x)
  const extremes = [-30, -20, -9, 9, 20, 30, 0, -1e-4, 1e-4]
  for (let i = 0; i < Math.min(n, extremes.length); i++) data[i] = extremes[i]!
  return { data, shape: [n] }
}

describe.skipIf(!gpu)('WebGPU ops against the CPU', () => {
  beforeAll(() => theGpu().setPoisonOutputs(true))
  afterAll(() => theGpu().setPoisonOutputs(false))

  describe('unary', () => {
    for (const kind of UNARY_KINDS)
      for (const n of [1, 7, 300])
        it(`${kind}, n = ${n}, forward and backward`, async () => {
          const x = wide(n, n)
          for (const alpha of [1, -0.7]) {
            await compare('unary_fwd', { x }, { kind, alpha })
            await compare('unary_bwd', { x, dy: f32([n], 99) }, { kind, alpha })
          }
        })
  })

  it('unary results near 0 keep their relative accuracy (log1p and expm1 as series, not log and exp)', async () => {
    const x: Input = { data: new Float32Array([-30, -20, -9, -3, -1e-4, 1e-4, 3, 9, 20, 30]), shape: [10] }
    for (const kind of ['silu', 'sigmoid', 'softplus', 'logsigmoid', 'exp'] as const)
      for (const op of ['unary_fwd', 'unary_bwd']) {
        const inputs = op === 'unary_fwd' ? { x } : { x, dy: { data: new Float32Array(10).fill(1), shape: [10] } }
        const want = await cpu.run(op, upload(cpu, inputs), { kind }).y?.read()
        const wantDx = await cpu.run(op, upload(cpu, inputs), { kind }).dx?.read()
        const got = theGpu().run(op, upload(theGpu(), inputs), { kind })
        const [g, w] = op === 'unary_fwd' ? [await got.y!.read(), want!] : [await got.dx!.read(), wantDx!]
        expect(worstRatio(g, w, 1e-5, 1e-38), `${op} ${kind}: ${Array.from(g)} vs ${Array.from(w)}`).toBeLessThanOrEqual(1)
      }
  })

  describe('binary', () => {
    for (const kind of ['add', 'mul'] as const)
      for (const broadcast of [false, true])
        for (const shape of [
          [1, 1],
          [7, 33],
          [65, 7],
          [3, 5, 65],
        ])
          it(`${kind}${broadcast ? ' broadcast' : ''} ${JSON.stringify(shape)}`, async () => {
            const D = shape[shape.length - 1]!
            const a = f32(shape, 1)
            const b = f32(broadcast ? [D] : shape, 2)
            await compare('binary_fwd', { a, b }, { kind, broadcast })
            // The broadcast db is a sum over rows: a reduction's tolerance.
            await compare('binary_bwd', { a, b, dy: f32(shape, 3) }, { kind, broadcast }, broadcast ? REDUCTION : ELEMENTWISE)
          })
  })

  it('swiglu forward and backward, n = 1, 33, 1000', async () => {
    for (const n of [1, 33, 1000]) {
      const gate = wide(n, 4)
      await compare('swiglu_fwd', { gate, up: f32([n], 5) })
      await compare('swiglu_bwd', { gate, up: f32([n], 5), dy: f32([n], 6) })
    }
  })

  it('accumulate: dst += alpha src, also with src the same memory as dst', async () => {
    for (const n of [1, 7, 1000])
      for (const alpha of [1, -0.37]) {
        await compare('accumulate', { dst: f32([n], 7), src: f32([n], 8) }, { alpha }, ELEMENTWISE, { inPlace: ['dst'] })
        await compare('accumulate', { dst: f32([n], 7) }, { alpha }, ELEMENTWISE, { inPlace: ['dst'], alias: { src: 'dst' } })
      }
  })

  it('cast f32 to f32 is a copy', async () => {
    await compare('cast', { x: f32([3, 33], 9) }, { to: 'f32' })
  })

  describe('feature maps', () => {
    for (const kind of ['identity', 'elu1', 'relu', 'silu', 'l2norm', 'silu_l2norm', 'taylor2'] as const)
      for (const shape of [
        [1, 1, 1, 1],
        [2, 7, 3, 5],
        [1, 33, 2, 16],
        [2, 9, 2, 64],
        [1, 3, 1, 300],
      ])
        it(`${kind} x ${JSON.stringify(shape)}: forward and backward`, async () => {
          if (kind === 'taylor2' && shape[3]! > 16) return // E = 1 + D + D^2: the large Ds are for the l2 norms' row groups
          const x = f32(shape, 30)
          const attrs = { kind, eps: 1e-6 }
          const E = kind === 'taylor2' ? 1 + shape[3]! + shape[3]! ** 2 : shape[3]!
          const tol = kind === 'taylor2' || kind.endsWith('l2norm') ? REDUCTION : ELEMENTWISE
          await compare('feature_map_fwd', { x }, attrs, tol)
          const dy = f32([...shape.slice(0, 3), E], 31)
          // The l2 norms at D = 1: y = +-1 and the exact dx cancels to about |dy| eps / |u|^3; judged against |dy u'| / |u|.
          const x0 = x.data[0]!
          const silu = (v: number) => v / (1 + Math.exp(-v))
          const u = kind === 'silu_l2norm' ? silu(x0) : x0
          const du = kind === 'silu_l2norm' ? (silu(x0 + 1e-4) - silu(x0 - 1e-4)) / 2e-4 : 1
          const floor = kind.endsWith('l2norm') && shape[3] === 1 ? (1e-5 * Math.abs(dy.data[0]! * du)) / Math.abs(u) : undefined
          await compare('feature_map_bwd', { x, dy }, attrs, { ...tol, floor })
        })
  })

  describe('short conv', () => {
    for (const activation of ['none', 'silu'] as const)
      for (const bias of [false, true])
        for (const [B, T, C, W] of [
          [1, 1, 1, 1],
          [2, 7, 33, 4],
          [1, 65, 5, 3],
        ] as const)
          it(`${activation}${bias ? ' bias' : ''} B ${B} T ${T} C ${C} W ${W}: forward and backward`, async () => {
            const x = f32([B, T, C], 32)
            const weight = f32([C, W], 33, (v) => v / 2)
            const b = bias ? f32([C], 34) : undefined
            await compare('short_conv_fwd', { x, weight, bias: b }, { activation }, REDUCTION)
            await compare('short_conv_bwd', { x, weight, bias: b, dy: f32([B, T, C], 35) }, { activation }, REDUCTION)
          })
  })

  it('rotary forward and inverse, offsets, long positions', async () => {
    for (const [B, T, H, D] of [
      [1, 1, 1, 2],
      [2, 33, 3, 8],
      [1, 7, 2, 66],
    ] as const)
      for (const attrs of [{}, { offset: 5000, base: 500 }, { inverse: true, offset: 3 }] as Record<string, AttrValue>[])
        await compare('rotary_fwd', { x: f32([B, T, H, D], 36) }, attrs)
  })

  describe('softmax attention', () => {
    // [B, T, H, D, V, window]
    const shapes = [
      [1, 1, 1, 1, 1, 0],
      [2, 7, 3, 5, 4, 0],
      [1, 33, 2, 16, 16, 5],
      [1, 300, 1, 8, 12, 0], // more keys than one tile of 256
      [1, 300, 1, 4, 4, 270],
      // The widest heads the blocked and tiled kernels take (D, V up to 128); T past one block of
      // 32 and not a multiple of it.
      [1, 70, 2, 128, 96, 0],
      [2, 45, 1, 128, 128, 17],
      [1, 100, 2, 64, 128, 40],
      [2, 67, 1, 32, 16, 0],
      // Heads over 128 take the one-row-per-workgroup kernels.
      [1, 20, 2, 160, 8, 6],
    ] as const
    /** The forward against the CPU, then the backward from the CPU's o and lse with a random upstream gradient. */
    async function compareAttention(B: number, T: number, H: number, D: number, V: number, window: number): Promise<void> {
      const [q, k, v] = [f32([B, T, H, D], 40), f32([B, T, H, D], 41), f32([B, T, H, V], 42)]
      const attrs = { window, scale: D === 5 ? 0.3 : 0 }
      await compare('softmax_attn_fwd', { q, k, v }, attrs, REDUCTION)
      const fwd = cpu.run('softmax_attn_fwd', upload(cpu, { q, k, v }), attrs)
      const o: Input = { data: await fwd.o!.read(), shape: [B, T, H, V] }
      const lse: Input = { data: await fwd.lse!.read(), shape: [B, H, T] }
      await compare('softmax_attn_bwd', { q, k, v, o, lse, do: f32([B, T, H, V], 43) }, attrs, REDUCTION)
    }
    for (const [B, T, H, D, V, window] of shapes)
      it(`B ${B} T ${T} H ${H} D ${D} V ${V} window ${window}: forward and backward`, () => compareAttention(B, T, H, D, V, window))

    // The default is the blocked kernels (32 x 32, 2 x 2 scores per invocation) where the adapter has
    // their workgroup memory; the 16 x 16 tiles are their control: every shape above against the CPU
    // under the tiles, and the kernels each setting dispatches.
    it('the tiled kernels (the control) against the CPU, and the kernels each setting dispatches', async () => {
      const dispatched = async (): Promise<string[]> => {
        const g = theGpu()
        const [B, T, H, D] = [1, 70, 2, 32]
        const inputs = upload(g, { q: f32([B, T, H, D], 44), k: f32([B, T, H, D], 45), v: f32([B, T, H, D], 46), do: f32([B, T, H, D], 47) })
        const { do: dO, ...qkv } = inputs
        const outs: Record<string, { dispose(): void } | undefined>[] = []
        const times = await g.driver.timeKernels(() => {
          const f = g.run('softmax_attn_fwd', qkv)
          outs.push(f, g.run('softmax_attn_bwd', { ...qkv, o: f.o, lse: f.lse, do: dO }))
        })
        for (const t of [...Object.values(inputs), ...outs.flatMap((x) => Object.values(x))]) t?.dispose()
        return [...times.keys()].filter((l) => l.startsWith('softmax_attn_') && !l.endsWith('/delta')).sort()
      }
      const limit = theGpu().driver.gpu.info.limits.maxComputeWorkgroupStorageSize
      const tiled = ['softmax_attn_bwd/dkv tiled', 'softmax_attn_bwd/dq tiled', 'softmax_attn_fwd/tiled']
      expect(await dispatched()).toEqual([
        ...(limit >= BLOCKED_BWD_BYTES ? ['softmax_attn_bwd/dkv blocked', 'softmax_attn_bwd/dq blocked'] : tiled.slice(0, 2)),
        limit >= BLOCKED_FWD_BYTES ? 'softmax_attn_fwd/blocked' : 'softmax_attn_fwd/tiled',
      ])
      const was = useAttentionBlocks(false)
      try {
        for (const [B, T, H, D, V, window] of shapes) await compareAttention(B, T, H, D, V, window)
        expect(await dispatched()).toEqual(tiled)
      } finally {
        useAttentionBlocks(was)
      }
    })

    it('decode: one query against 1, 7 and 300 cached keys, with and without a window', async () => {
      for (const [B, S, H, D, V] of [
        [1, 1, 1, 2, 3],
        [2, 7, 3, 8, 5],
        [1, 300, 2, 16, 8],
      ] as const)
        for (const window of [0, 4])
          await compare('softmax_attn_decode', { q: f32([B, H, D], 44), k: f32([B, S, H, D], 45), v: f32([B, S, H, V], 46) }, { window }, REDUCTION)
    })
  })

  // Minutes, not seconds, the first time: lavapipe compiles each mixer variant with LLVM (cold shader cache in CI).
  describe('mixer (recurrent form)', { timeout: 240_000 }, () => {
    const logSigmoid = (v: number) => (v >= 0 ? -Math.log1p(Math.exp(-v)) : v - Math.log1p(Math.exp(v)))
    const gateShape = (gate: string, [B, T, H, K]: number[]) => (gate === 'fixed' ? [H!] : gate === 'scalar' ? [B!, T!, H!] : [B!, T!, H!, K!])
    // [B, T, H, K, V]
    const shapes = [
      [1, 1, 1, 1, 1],
      [2, 33, 2, 8, 6],
      [1, 65, 1, 16, 33], // value columns in 3 workgroups of 11 (kernels/mixer_recurrent.ts columnBlocks)
      [1, 20, 2, 8, 37], // 3 blocks, the last one short (13, 13, 11)
      [1, 9, 1, 300, 5], // K past one workgroup's width (taylor2 features reach 273)
    ] as const
    for (const gate of ['none', 'fixed', 'scalar', 'vector'] as const)
      for (const delta of [false, true])
        for (const normalize of delta ? (['none'] as const) : (['none', 'sum', 'max1'] as const))
          it(`gate ${gate}${delta ? ' delta' : ''} normalize ${normalize}: forward and backward, with states in and out`, async () => {
            for (const [B, T, H, K, V] of shapes) {
              const inputs: Record<string, Input | undefined> = {
                q: f32([B, T, H, K], 60),
                // Positive keys keep q·z away from 0 for the denominators; l2-scaled for the delta rule.
                k: f32([B, T, H, K], 61, (x) => (normalize === 'none' ? x : Math.abs(x) + 0.1) / Math.sqrt(K)),
                v: f32([B, T, H, V], 62),
                g: gate === 'none' ? undefined : f32(gateShape(gate, [B, T, H, K]), 63, (x) => Math.max(logSigmoid(x + 1), -5)),
                beta: delta ? f32([B, T, H], 64, (x) => 1 / (1 + Math.exp(-x))) : undefined,
                s0: f32([B, H, K, V], 65, (x) => x / 4),
                z0: normalize === 'none' ? undefined : f32([B, H, K], 66, (x) => Math.abs(x) + 0.5),
              }
              // At K = 300 the CPU's own chunked form is 3e-3 from its recurrent one in the fixed gate's
              // dg (one scalar summing T K terms of both signs): there the recurrent form is the reference.
              for (const form of K > 256 ? (['recurrent'] as const) : (['recurrent', 'chunked'] as const)) {
                const attrs = { form, chunk_size: 16, gate, delta, normalize, scale: K === 8 ? 0.4 : 0 }
                const finals = normalize === 'none' ? ['s_final'] : ['s_final', 'z_final']
                // The CPU's own f32 chunked == recurrent tolerance is 1e-4 (ops.test.ts): the same here;
                // elementwise, gradients that cancel to near 0 (dg, dz0 with a denominator) get 1e-5 of the scale.
                const MIXER = { ...REDUCTION, rms: 1e-4, rtol: 1e-3, atol: 1e-5 }
                await compare('mixer_fwd', inputs, attrs, MIXER, { outputs: finals })
                const upstream = { do: f32([B, T, H, V], 67), ds_final: f32([B, H, K, V], 68), dz_final: normalize === 'none' ? undefined : f32([B, H, K], 69) }
                const wanted = [...(gate === 'fixed' ? ['dg'] : []), 'ds0', ...(normalize === 'none' ? [] : ['dz0'])]
                // With a denominator and K = 1, o = S q / (q z) does not depend on q: dq is rounding noise around 0.
                const floor = normalize !== 'none' && K === 1 ? 1e-5 : undefined
                await compare('mixer_bwd', { ...inputs, ...upstream }, attrs, { ...MIXER, floor }, { outputs: wanted })
              }
            }
          })

    // [input gate, forget gate, normalize]: Mamba2 (softplus, scalar), mLSTM (exp, scalar, max1), and the others.
    const gated = [
      ['sigmoid', 'none', 'none'],
      ['sigmoid', 'scalar', 'sum'],
      ['softplus', 'scalar', 'none'],
      ['softplus', 'vector', 'max1'],
      ['exp', 'scalar', 'max1'],
      ['exp', 'vector', 'max1'],
      ['exp', 'fixed', 'max1'],
    ] as const
    for (const [input_gate, gate, normalize] of gated)
      it(`input gate ${input_gate}, gate ${gate}, normalize ${normalize}: forward and backward, with states in and out`, async () => {
        for (const [B, T, H, K, V] of shapes) {
          const inputs: Record<string, Input | undefined> = {
            q: f32([B, T, H, K], 70),
            k: f32([B, T, H, K], 71, (x) => (normalize === 'none' ? x : Math.abs(x) + 0.1) / Math.sqrt(K)),
            v: f32([B, T, H, V], 72),
            g: gate === 'none' ? undefined : f32(gateShape(gate, [B, T, H, K]), 73, (x) => Math.max(logSigmoid(x + 1), -5)),
            i: f32([B, T, H], 74, (x) => 2 * x),
            s0: f32([B, H, K, V], 75, (x) => x / 4),
            z0: normalize === 'none' ? undefined : f32([B, H, K], 76, (x) => Math.abs(x) + 0.5),
            m0: input_gate === 'exp' ? f32([B, H], 77, (x) => x / 2) : undefined,
          }
          const MIXER = { ...REDUCTION, rms: 1e-4, rtol: 1e-3, atol: 1e-5 }
          for (const form of K > 256 ? (['recurrent'] as const) : (['recurrent', 'chunked'] as const)) {
            const attrs = { form, chunk_size: 16, gate, input_gate, normalize }
            const finals = ['s_final', ...(normalize === 'none' ? [] : ['z_final']), ...(input_gate === 'exp' ? ['m_final'] : [])]
            await compare('mixer_fwd', inputs, attrs, MIXER, { outputs: finals })
            const upstream = { do: f32([B, T, H, V], 78), ds_final: f32([B, H, K, V], 79), dz_final: normalize === 'none' ? undefined : f32([B, H, K], 80) }
            const wanted = [...(gate === 'fixed' ? ['dg'] : []), 'ds0', ...(normalize === 'none' ? [] : ['dz0'])]
            const floor = normalize !== 'none' && K === 1 ? 1e-5 : undefined
            await compare('mixer_bwd', { ...inputs, ...upstream }, attrs, { ...MIXER, floor }, { outputs: wanted })
          }
        }
      })

    it('the backward keeps √T states, not T: the delta rule at T = 128, H = 16, dk = dv = 128', async () => {
      // Keeping every S_t took 140 MB here, past lavapipe's 128 MiB binding limit (the call was refused);
      // checkpoints every 12 steps and one chunk's states take 24 of the 128 states.
      const [B, T, H, K, V] = [1, 128, 16, 128, 128]
      const inputs: Record<string, Input | undefined> = {
        q: f32([B, T, H, K], 90),
        k: f32([B, T, H, K], 91, (x) => x / Math.sqrt(K)),
        v: f32([B, T, H, V], 92),
        g: f32([B, T, H], 93, (x) => Math.max(logSigmoid(x + 2), -5)),
        beta: f32([B, T, H], 94, (x) => 1 / (1 + Math.exp(-x))),
        do: f32([B, T, H, V], 95),
      }
      const MIXER = { ...REDUCTION, rms: 1e-4, rtol: 1e-3, atol: 1e-5 }
      await compare('mixer_bwd', inputs, { form: 'recurrent', gate: 'scalar', delta: true }, MIXER)
    })

    it('refuses the exp input gate without a forget gate, by name, as a capability', () => {
      const g = theGpu()
      const x = g.upload(normals(8, 1), [1, 2, 1, 4])
      const i = g.upload(normals(2, 2), [1, 2, 1])
      expect(() => g.run('mixer_fwd', { q: x, k: x, v: x, i }, { input_gate: 'exp', normalize: 'max1' })).toThrow(
        'backend webgpu has no kernel for mixer_fwd with input_gate exp and gate none',
      )
    })
  })

  // The chunked kernels (kernels/mixer_chunked.ts) against the CPU's recurrent form, the reference:
  // T around the chunk (1, 63, 64, 65, 130 with C = 64; 130 with C = 32 and 128), K and V off the
  // 16-row and 64-column tiles and unequal, gates down to -5 per step (b near -320 at a 64-step chunk's end),
  // with and without s0 and s_final, random upstream gradients on o and s_final.
  describe('mixer (chunked form)', { timeout: 240_000 }, () => {
    const addon = loadAddon()
    const desc = (shape: number[]) => ({ shape, dtype: 'f32' as const })
    /** The addon's plan of a call with these shapes (do for the backward, i for an input gate). */
    const planOf = (op: string, attrs: Record<string, AttrValue>, [B, T, H, K, V]: readonly number[], g?: number[]) => {
      const [qk, rows] = [desc([B!, T!, H!, K!]), desc([B!, T!, H!, V!])]
      const i = attrs.input_gate && attrs.input_gate !== 'none' ? desc([B!, T!, H!]) : undefined
      const beta = attrs.delta === true ? desc([B!, T!, H!]) : undefined
      return addon.planOp(op, { q: qk, k: qk, v: rows, g: g && desc(g), i, beta, do: op === 'mixer_bwd' ? rows : undefined }, attrs)
    }
    const gateShape = (gate: string, [B, T, H, K]: readonly number[]) => (gate === 'fixed' ? [H!] : gate === 'scalar' ? [B!, T!, H!] : [B!, T!, H!, K!])
    const MIXER = { ...REDUCTION, rms: 1e-4, rtol: 1e-3, atol: 1e-5 }

    /** Runs `op` chunked on the GPU and recurrent on the CPU; compares every output. */
    async function againstRecurrent(op: string, inputs: Record<string, Input | undefined>, attrs: Record<string, AttrValue>, outputs: string[]): Promise<void> {
      const onCpu = upload(cpu, inputs)
      const onGpu = upload(theGpu(), inputs)
      const want = cpu.run(op, onCpu, { ...attrs, form: 'recurrent' }, outputs)
      const got = theGpu().run(op, onGpu, { ...attrs, form: 'chunked' }, outputs)
      expect(Object.keys(got).sort(), `${op}: outputs`).toEqual(Object.keys(want).sort())
      for (const name of Object.keys(want)) expectClose(`${op} ${name}`, await got[name]!.read(), await want[name]!.read(), MIXER)
      for (const t of [...Object.values(onGpu), ...Object.values(got)]) t?.dispose()
    }

    it('takes the chunked kernels exactly for the switches they cover', () => {
      const shape = [1, 8, 2, 4, 4]
      const form = (attrs: Record<string, AttrValue>, g?: number[]) => webGpuMixerForm(planOf('mixer_fwd', attrs, shape, g))
      expect(form({})).toBe('chunked') // the op table's default form
      expect(form({ gate: 'fixed' }, [2])).toBe('chunked')
      expect(form({ gate: 'scalar' }, [1, 8, 2])).toBe('chunked')
      expect(form({ form: 'recurrent' })).toBe('recurrent')
      expect(form({ form: 'recurrent', gate: 'scalar' }, [1, 8, 2])).toBe('recurrent')
      expect(form({ gate: 'vector' }, [1, 8, 2, 4])).toBe('chunked')
      expect(form({ normalize: 'sum' })).toBe('chunked')
      expect(form({ normalize: 'sum', form: 'recurrent' })).toBe('recurrent')
      expect(form({ normalize: 'max1' })).toBe('recurrent')
      expect(form({ input_gate: 'sigmoid' })).toBe('chunked')
      expect(form({ input_gate: 'softplus', gate: 'scalar', normalize: 'sum' }, [1, 8, 2])).toBe('chunked')
      expect(form({ input_gate: 'exp', gate: 'scalar', normalize: 'max1' }, [1, 8, 2])).toBe('recurrent')
      expect(webGpuMixerForm({ attrs: { ...planOf('mixer_fwd', {}, shape).attrs, delta: true } })).toBe('recurrent')
    })

    it("takes the delta rule's WY kernels, forward and backward, without a vector gate or a key dim past DELTA_MAX_K", () => {
      const shape = [1, 8, 2, 4, 4]
      const form = (op: string, attrs: Record<string, AttrValue>, g?: number[], at = shape) => webGpuMixerForm(planOf(op, { delta: true, ...attrs }, at, g))
      expect(form('mixer_fwd', {})).toBe('chunked')
      expect(form('mixer_fwd', { gate: 'fixed' }, [2])).toBe('chunked')
      expect(form('mixer_fwd', { gate: 'scalar' }, [1, 8, 2])).toBe('chunked')
      expect(form('mixer_fwd', { gate: 'scalar' }, [1, 8, 2], [1, 8, 2, DELTA_MAX_K, 4])).toBe('chunked')
      expect(form('mixer_fwd', { gate: 'scalar' }, [1, 8, 2], [1, 8, 2, DELTA_MAX_K + 1, 4])).toBe('recurrent')
      expect(form('mixer_bwd', { gate: 'scalar' }, [1, 8, 2])).toBe('chunked')
      expect(form('mixer_bwd', { gate: 'scalar' }, [1, 8, 2], [1, 8, 2, DELTA_MAX_K + 1, 4])).toBe('recurrent')
      expect(form('mixer_fwd', { gate: 'vector' }, [1, 8, 2, 4])).toBe('recurrent')
      expect(form('mixer_fwd', { form: 'recurrent', gate: 'scalar' }, [1, 8, 2])).toBe('recurrent')
    })

    // The delta rule's WY forward (kernels/mixer_delta_chunked.ts, chunks of DELTA_CHUNK steps, DELTA_COLUMNS
    // columns of V per scan workgroup) against the CPU's recurrent form. Keys l2-normalized per row as
    // DeltaNet's are; β up to 1 or up to 2 (negative eigenvalues). [B, T, H, K, V, states, strong gates, β max]
    const deltaCases = [
      [1, 1, 1, 16, 16, true, false, 1],
      [1, DELTA_CHUNK - 1, 2, 48, 40, false, true, 2],
      [2, DELTA_CHUNK, 1, 64, 64, true, true, 1],
      [1, DELTA_CHUNK + 1, 1, 128, 72, true, false, 2],
      [1, 4 * DELTA_CHUNK + 2, 2, 16, 8 * DELTA_COLUMNS + 2, true, true, 2],
      [1, 65, 1, DELTA_MAX_K, 24, false, false, 1],
    ] as const
    const l2Rows = (x: Input, K: number): Input => {
      const data = Float32Array.from(x.data)
      for (let r = 0; r < data.length; r += K) {
        let n = 0
        for (let d = 0; d < K; d++) n += data[r + d]! ** 2
        for (let d = 0; d < K; d++) data[r + d] = data[r + d]! / (Math.sqrt(n) + 1e-6)
      }
      return { data, shape: x.shape }
    }
    // One gate's cases against the recurrent form (the staged scans: kernels/mixer_delta_scan_staged.ts, opt-in).
    async function deltaAgainstRecurrent(gate: 'none' | 'fixed' | 'scalar', cases: readonly (typeof deltaCases)[number][]): Promise<void> {
      for (const [B, T, H, K, V, states, strong, betaMax] of cases) {
        const shape = [B, T, H, K, V]
        const g = gate === 'none' ? undefined : f32(gateShape(gate, shape), 120, (x) => (strong ? Math.min(-5 + 0.3 * x, 0) : -Math.log1p(Math.exp(-(x + 1)))))
        if (g && gate === 'fixed' && strong) g.data[H - 1] = -0.05
        const inputs: Record<string, Input | undefined> = {
          q: f32([B, T, H, K], 121),
          k: l2Rows(f32([B, T, H, K], 122), K),
          v: f32([B, T, H, V], 123),
          g,
          beta: f32([B, T, H], 124, (x) => betaMax / (1 + Math.exp(-x))),
          s0: states ? f32([B, H, K, V], 125, (x) => x / 4) : undefined,
        }
        const attrs = { gate, delta: true }
        expect(webGpuMixerForm(planOf('mixer_fwd', attrs, shape, g?.shape)), `B ${B} T ${T} H ${H} K ${K} V ${V}`).toBe('chunked')
        expect(webGpuMixerForm(planOf('mixer_bwd', attrs, shape, g?.shape)), `B ${B} T ${T} H ${H} K ${K} V ${V}`).toBe('chunked')
        await againstRecurrent('mixer_fwd', inputs, attrs, states ? ['s_final'] : [])
        const upstream = { do: f32([B, T, H, V], 126), ds_final: states ? f32([B, H, K, V], 127) : undefined }
        await againstRecurrent('mixer_bwd', { ...inputs, ...upstream }, attrs, [...(gate === 'fixed' ? ['dg'] : []), ...(states ? ['ds0'] : [])])
      }
    }
    for (const gate of ['none', 'fixed', 'scalar'] as const)
      it(`delta rule, gate ${gate}: the WY form forward and backward against the recurrent form, T around the chunk, β up to 2`, async () => {
        await deltaAgainstRecurrent(gate, deltaCases)
      })
    // The plain scans (the staged ones are the default where the device has the workgroup memory)
    // on the cases whose key dims are not a whole number of slices, 128 and the largest; the fixed
    // gate shares the scalar gate's scans. (lavapipe takes seconds to compile each.)
    for (const gate of ['none', 'scalar'] as const)
      it(`delta rule, gate ${gate}, plain scans: the WY form forward and backward against the recurrent form`, async () => {
        const was = useDeltaStaging(false)
        try {
          await deltaAgainstRecurrent(
            gate,
            deltaCases.filter((c) => c[3] === 48 || c[3] === 128 || c[3] === DELTA_MAX_K),
          )
        } finally {
          useDeltaStaging(was)
        }
      })

    // The switch takes the staged scans (not a silent fallback to the plain ones): the kernels a
    // forward and backward dispatch, by label.
    it('the staged delta scans are the ones dispatched when switched on', async () => {
      const [B, T, H, K, V] = [1, 40, 1, 48, 20]
      const inputs = upload(theGpu(), {
        q: f32([B, T, H, K], 131),
        k: l2Rows(f32([B, T, H, K], 132), K),
        v: f32([B, T, H, V], 133),
        g: f32([B, T, H], 134, (x) => -Math.log1p(Math.exp(-(x + 1)))),
        beta: f32([B, T, H], 135, (x) => 1 / (1 + Math.exp(-x))),
        do: f32([B, T, H, V], 136),
      })
      const attrs = { gate: 'scalar', delta: true, form: 'chunked' }
      const labels = async (staged: boolean) => {
        const was = useDeltaStaging(staged)
        const outs: Record<string, { dispose(): void } | undefined>[] = []
        try {
          const { do: _do, ...forward } = inputs
          const times = await theGpu().driver.timeKernels(() => {
            outs.push(theGpu().run('mixer_fwd', forward, attrs), theGpu().run('mixer_bwd', inputs, attrs))
          })
          return [...times.keys()].filter((l) => l.includes('scan/')).sort()
        } finally {
          useDeltaStaging(was)
          for (const o of outs) for (const t of Object.values(o)) t?.dispose()
        }
      }
      expect(await labels(true)).toEqual(['mixer_delta_chunked/reverse_scan/scalar/K48/staged', 'mixer_delta_chunked/scan/scalar/K48/staged'])
      expect(await labels(false)).toEqual(['mixer_delta_chunked/reverse_scan/scalar/K48', 'mixer_delta_chunked/scan/scalar/K48'])
      for (const t of Object.values(inputs)) t?.dispose()
    })

    it("the delta rule's WY kernels write every element of their NaN-poisoned outputs", async () => {
      const g = theGpu()
      // T past a whole number of chunks, V past a whole number of scan column blocks, gates strong enough to underflow.
      const [B, T, H, K, V] = [2, 3 * DELTA_CHUNK + 5, 3, 48, 4 * DELTA_COLUMNS + 8]
      const up = (shape: number[], seed: number, map?: (x: number) => number) => g.upload(normals(sizeOf(shape), seed, map), shape)
      const inputs = {
        q: up([B, T, H, K], 130),
        k: up([B, T, H, K], 131, (x) => x / Math.sqrt(K)),
        v: up([B, T, H, V], 132),
        g: up([B, T, H], 133, (x) => Math.min(-5 + 0.3 * x, 0)),
        beta: up([B, T, H], 134, (x) => 1 / (1 + Math.exp(-x))),
        s0: up([B, H, K, V], 135),
      }
      const attrs = { gate: 'scalar', delta: true }
      expect(webGpuMixerForm(planOf('mixer_fwd', attrs, [B, T, H, K, V], [B, T, H]))).toBe('chunked')
      expect(webGpuMixerForm(planOf('mixer_bwd', attrs, [B, T, H, K, V], [B, T, H]))).toBe('chunked')
      const fwd = g.run('mixer_fwd', inputs, attrs, ['s_final'])
      const upstream = { do: up([B, T, H, V], 136), ds_final: up([B, H, K, V], 137) }
      const bwd = g.run('mixer_bwd', { ...inputs, ...upstream }, attrs, ['ds0'])
      for (const [name, t] of Object.entries({ ...fwd, ...bwd })) {
        const data = await t!.read()
        const unwritten = data.findIndex((x) => !Number.isFinite(x))
        expect(unwritten, `${name}: element ${unwritten} of ${data.length} is ${data[unwritten]}`).toBe(-1)
        t!.dispose()
      }
      for (const t of [...Object.values(inputs), ...Object.values(upstream)]) t.dispose()
    })

    // NVIDIA's Vulkan driver binds 2 GiB, less than the delta rule's backward asks for at B·T = 32k, H = 16,
    // dk = dv = 128 (2.2 GB of chunk states). Here a second device records a lower limit, which its pool
    // enforces: the backward's chunk states are 394 016 bytes per batch element at this shape (H ⌈T/32⌉ K V
    // floats for the states and as many for their gradients, plus the call's states), so 800 000 bytes
    // hold two batch elements but not three, and every tensor (at most 307 200 bytes). The call must run in
    // slices of its batch (two, then one) and give the whole call's results.
    it('a mixer call whose chunk states are over the binding limit runs in slices of its batch, with the same results', async () => {
      const [B, T, H, K, V] = [3, 100, 2, 64, 64]
      const device = await openWebGpuDevice()
      device.info.limits.maxStorageBufferBindingSize = 800_000
      const limited = new WebGpuBackend(new WebGpuDriver(device))
      for (const gate of ['fixed', 'scalar'] as const) {
        const shape = [B, T, H, K, V]
        const inputs: Record<string, Input | undefined> = {
          q: f32([B, T, H, K], 141),
          k: l2Rows(f32([B, T, H, K], 142), K),
          v: f32([B, T, H, V], 143),
          g: f32(gateShape(gate, shape), 144, (x) => -Math.log1p(Math.exp(-(x + 1)))),
          beta: f32([B, T, H], 145, (x) => 2 / (1 + Math.exp(-x))),
          s0: f32([B, H, K, V], 146, (x) => x / 4),
          do: f32([B, T, H, V], 147),
          ds_final: f32([B, H, K, V], 148),
        }
        const attrs = { gate, delta: true, form: 'chunked' }
        const { do: _do, ds_final: _dsf, ...forward } = inputs
        for (const [op, outputs, given] of [
          ['mixer_fwd', ['s_final'], forward],
          ['mixer_bwd', [...(gate === 'fixed' ? ['dg'] : []), 'ds0'], inputs],
        ] as const) {
          const whole = theGpu().run(op, upload(theGpu(), given), attrs, [...outputs])
          const sliced = limited.run(op, upload(limited, given), attrs, [...outputs])
          expect(Object.keys(sliced).sort(), `${op}: outputs`).toEqual(Object.keys(whole).sort())
          for (const name of Object.keys(whole))
            expectClose(`${op} ${name}, gate ${gate}, in slices`, await sliced[name]!.read(), await whole[name]!.read(), { ...MIXER, rms: 1e-6, rtol: 1e-5 })
        }
      }
      device.device.destroy()
    })

    // [B, T, H, K, V, chunk_size, states in and out, strong gates]
    const cases = [
      [1, 1, 1, 16, 16, 64, true, false],
      [1, 63, 2, 48, 40, 64, false, true],
      [2, 64, 1, 64, 64, 64, true, true],
      [1, 65, 1, 128, 72, 64, true, false],
      [1, 130, 2, 16, 130, 32, true, true],
      [1, 130, 1, 48, 100, 64, true, true],
      [1, 130, 1, 40, 24, 128, false, false],
    ] as const
    for (const gate of ['none', 'fixed', 'scalar', 'vector'] as const)
      it(`gate ${gate}: forward and backward against the recurrent form, T around the chunk, strong gates`, async () => {
        for (const [B, T, H, K, V, chunk_size, states, strong] of cases) {
          const shape = [B, T, H, K, V]
          // Strong: g near -5 per step, else logsigmoid-like gates in [-2, 0].
          const g = gate === 'none' ? undefined : f32(gateShape(gate, shape), 90, (x) => (strong ? Math.min(-5 + 0.3 * x, 0) : -Math.log1p(Math.exp(-(x + 1)))))
          // Strong gates everywhere would leave little inside a chunk: one head (fixed), every other key dim (vector) mild.
          if (g && gate === 'fixed' && strong) g.data[H - 1] = -0.05
          if (g && gate === 'vector' && strong) for (let n = 1; n < g.data.length; n += 2) g.data[n] = -0.05
          const inputs: Record<string, Input | undefined> = {
            q: f32([B, T, H, K], 91),
            k: f32([B, T, H, K], 92, (x) => x / Math.sqrt(K)),
            v: f32([B, T, H, V], 93),
            g,
            s0: states ? f32([B, H, K, V], 94, (x) => x / 4) : undefined,
          }
          const attrs = { chunk_size, gate }
          const at = `B ${B} T ${T} H ${H} K ${K} V ${V} C ${chunk_size}`
          expect(webGpuMixerForm(planOf('mixer_fwd', attrs, shape, g?.shape)), at).toBe('chunked')
          expect(webGpuMixerForm(planOf('mixer_bwd', attrs, shape, g?.shape)), at).toBe('chunked')
          await againstRecurrent('mixer_fwd', inputs, attrs, states ? ['s_final'] : [])
          const upstream = { do: f32([B, T, H, V], 95), ds_final: states ? f32([B, H, K, V], 96) : undefined }
          await againstRecurrent('mixer_bwd', { ...inputs, ...upstream }, attrs, [...(gate === 'fixed' ? ['dg'] : []), ...(states ? ['ds0'] : [])])
        }
      })

    // The denominator ('sum', an extra value column of ones) and the sigmoid and softplus input gates
    // (folded into k): [input gate, forget gate, normalize], over the same shapes, with z0 / z_final and
    // dz_final / dz0 beside s0 / s_final, and di. Positive q and k (elu+1-like features) keep the
    // denominator away from 0, as the presets that use it do; input gate pre-activations reach ±25.
    const wrapped = [
      ['none', 'none', 'sum'],
      ['none', 'fixed', 'sum'],
      ['sigmoid', 'vector', 'none'],
      ['softplus', 'scalar', 'none'],
      ['softplus', 'vector', 'sum'],
      ['sigmoid', 'none', 'sum'],
    ] as const
    for (const [input_gate, gate, normalize] of wrapped)
      it(`input gate ${input_gate}, gate ${gate}, normalize ${normalize}: forward and backward against the recurrent form`, async () => {
        const sum = normalize === 'sum'
        for (const [B, T, H, K, V, chunk_size, states, strong] of cases) {
          const shape = [B, T, H, K, V]
          const g =
            gate === 'none' ? undefined : f32(gateShape(gate, shape), 110, (x) => (strong ? Math.min(-5 + 0.3 * x, 0) : -Math.log1p(Math.exp(-(x + 1)))))
          if (g && gate === 'fixed' && strong) g.data[H - 1] = -0.05
          if (g && gate === 'vector' && strong) for (let n = 1; n < g.data.length; n += 2) g.data[n] = -0.05
          const i = input_gate === 'none' ? undefined : f32([B, T, H], 111, (x) => 3 * x)
          if (i) for (const [n, x] of [-25, 25, -21, 0.5].entries()) if (n < i.data.length) i.data[n] = x
          const positive = (x: number) => (sum ? Math.abs(x) + 0.1 : x)
          const inputs: Record<string, Input | undefined> = {
            q: f32([B, T, H, K], 112, positive),
            k: f32([B, T, H, K], 113, (x) => positive(x) / Math.sqrt(K)),
            v: f32([B, T, H, V], 114),
            g,
            i,
            s0: states ? f32([B, H, K, V], 115, (x) => x / 4) : undefined,
            z0: states && sum ? f32([B, H, K], 116, (x) => Math.abs(x) + 0.5) : undefined,
          }
          const attrs = { chunk_size, gate, input_gate, normalize }
          const at = `B ${B} T ${T} H ${H} K ${K} V ${V} C ${chunk_size}`
          expect(webGpuMixerForm(planOf('mixer_fwd', attrs, shape, g?.shape)), at).toBe('chunked')
          expect(webGpuMixerForm(planOf('mixer_bwd', attrs, shape, g?.shape)), at).toBe('chunked')
          const finals = states ? ['s_final', ...(sum ? ['z_final'] : [])] : []
          await againstRecurrent('mixer_fwd', inputs, attrs, finals)
          const upstream = {
            do: f32([B, T, H, V], 117),
            ds_final: states ? f32([B, H, K, V], 118) : undefined,
            dz_final: states && sum ? f32([B, H, K], 119) : undefined,
          }
          const wanted = [...(gate === 'fixed' ? ['dg'] : []), ...(states ? ['ds0', ...(sum ? ['dz0'] : [])] : [])]
          await againstRecurrent('mixer_bwd', { ...inputs, ...upstream }, attrs, wanted)
        }
      })

    // The describe's poisoning fills every output with NaN before its kernels run: a tile edge or a
    // row past T that a kernel skips stays NaN. Outputs here: o, s_final, z_final, dq, dk, dv, dg, di, ds0, dz0.
    it('writes every element of its NaN-poisoned outputs, with gates strong enough to underflow', async () => {
      const g = theGpu()
      const [B, T, H, K, V] = [2, 130, 3, 48, 72]
      const up = (shape: number[], seed: number, map?: (x: number) => number) => g.upload(normals(sizeOf(shape), seed, map), shape)
      // [forget gate, input gate, normalize]: the last adds di, z_final and dz0.
      const variants = [
        ['scalar', 'none', 'none'],
        ['vector', 'none', 'none'],
        ['scalar', 'softplus', 'sum'],
      ] as const
      for (const [gate, input_gate, normalize] of variants) {
        const gShape = gateShape(gate, [B, T, H, K])
        const sum = normalize === 'sum'
        const inputs = {
          q: up([B, T, H, K], 97, sum ? (x) => Math.abs(x) + 0.1 : undefined),
          k: up([B, T, H, K], 98, sum ? (x) => Math.abs(x) + 0.1 : undefined),
          v: up([B, T, H, V], 99),
          g: up(gShape, 100, (x) => Math.min(-5 + 0.3 * x, 0)),
          s0: up([B, H, K, V], 101),
          ...(input_gate === 'none' ? {} : { i: up([B, T, H], 104) }),
          ...(sum ? { z0: up([B, H, K], 105, (x) => Math.abs(x) + 0.5) } : {}),
        }
        const attrs = { gate, input_gate, normalize }
        expect(webGpuMixerForm(planOf('mixer_bwd', attrs, [B, T, H, K, V], gShape))).toBe('chunked')
        const fwd = g.run('mixer_fwd', inputs, attrs, ['s_final', ...(sum ? ['z_final'] : [])])
        const upstream = { do: up([B, T, H, V], 102), ds_final: up([B, H, K, V], 103), ...(sum ? { dz_final: up([B, H, K], 106) } : {}) }
        const bwd = g.run('mixer_bwd', { ...inputs, ...upstream }, attrs, ['ds0', ...(sum ? ['dz0'] : [])])
        for (const [name, t] of Object.entries({ ...fwd, ...bwd })) {
          const data = await t!.read()
          const unwritten = data.findIndex((x) => !Number.isFinite(x))
          expect(
            unwritten,
            `gate ${gate} input gate ${input_gate} normalize ${normalize} ${name}: element ${unwritten} of ${data.length} is ${data[unwritten]}`,
          ).toBe(-1)
          t!.dispose()
        }
        for (const t of Object.values(inputs)) t.dispose()
      }
    })
  })

  describe('linear', () => {
    // [leading dims of x, K, M]
    const shapes: [number[], number, number][] = [
      [[1], 1, 1],
      [[7], 33, 65],
      [[65], 7, 33],
      [[2, 33], 17, 64],
      [[130], 70, 1],
      [[3], 129, 5],
    ]
    for (const [lead, K, M] of shapes)
      for (const trans_w of [false, true])
        for (const bias of [false, true])
          it(`x ${JSON.stringify([...lead, K])} M ${M}${trans_w ? ' trans_w' : ''}${bias ? ' bias' : ''}: forward and backward`, async () => {
            const x = f32([...lead, K], 10)
            const w = f32(trans_w ? [M, K] : [K, M], 11, (v) => v / Math.sqrt(K))
            const b = bias ? f32([M], 12) : undefined
            await compare('linear_fwd', { x, w, bias: b }, { trans_w }, REDUCTION)
            await compare('linear_bwd', { x, w, bias: b, dy: f32([...lead, M], 13) }, { trans_w }, REDUCTION)
          })

    // A weight's gradient with few tiles and a long sum (dw = x^T dy over 2100 rows, 2 x 2 tiles of C):
    // the sum in 4 splits of 528 rows (the last 516), added in order.
    for (const trans_w of [false, true])
      it(`split sums: x [2100, 70] M 90${trans_w ? ' trans_w' : ''}: backward`, async () => {
        const [R, K, M] = [2100, 70, 90]
        const x = f32([R, K], 30)
        const w = f32(trans_w ? [M, K] : [K, M], 31, (v) => v / Math.sqrt(K))
        await compare('linear_bwd', { x, w, bias: f32([M], 32), dy: f32([R, M], 33) }, { trans_w }, REDUCTION)
      })

    // Staging along k only (the benchmark's control for staging that follows the layout): the backward's
    // transposed operands read the old way still give the same products.
    for (const trans_w of [false, true])
      it(`staged along k only: x [2, 65, 33] M 70${trans_w ? ' trans_w' : ''}: backward`, async () => {
        const was = useLayoutStaging(false)
        try {
          const [K, M] = [33, 70]
          const w = f32(trans_w ? [M, K] : [K, M], 41, (v) => v / Math.sqrt(K))
          await compare('linear_bwd', { x: f32([2, 65, K], 40), w, dy: f32([2, 65, M], 42) }, { trans_w }, REDUCTION)
        } finally {
          useLayoutStaging(was)
        }
      })

    // Pipelined products (opt-in until timed: two buffers of each tile, the next slice of q loaded
    // while the current one is multiplied): q of 1, of one step, of steps and a part, at both tiles,
    // with split sums (the splits' own ranges of q) and every staging the products use.
    for (const tile of [64, 128] as const)
      it(`pipelined, tile ${tile}: forward and backward over q of 1, 16, 33 and a split sum`, async () => {
        const wasPipeline = useMatmulPipeline(true)
        const wasTile = useMatmulTile(tile)
        try {
          for (const [R, K, M] of [
            [3, 1, 5],
            [20, 16, 9],
            [67, 33, 70],
            [2100, 70, 90],
          ] as const)
            for (const trans_w of [false, true]) {
              const w = f32(trans_w ? [M, K] : [K, M], 51, (v) => v / Math.sqrt(K))
              const inputs = { x: f32([R, K], 50), w, bias: f32([M], 52) }
              await compare('linear_fwd', inputs, { trans_w }, REDUCTION)
              await compare('linear_bwd', { ...inputs, dy: f32([R, M], 53) }, { trans_w }, REDUCTION)
            }
          // The 128 tile takes products of at least 64 of its tiles: 9 x 9 here.
          if (tile === 128) {
            const [R, K, M] = [1027, 75, 1031]
            const inputs = { x: f32([R, K], 54), w: f32([K, M], 55, (v) => v / Math.sqrt(K)) }
            await compare('linear_fwd', inputs, {}, REDUCTION)
            await compare('linear_bwd', { ...inputs, dy: f32([R, M], 56, (v) => v / Math.sqrt(M)) }, {}, REDUCTION)
          }
        } finally {
          useMatmulTile(wasTile)
          useMatmulPipeline(wasPipeline)
        }
      })

    // The 128 x 128 tile (8 x 8 outputs per invocation) takes products of at least 64 such tiles once
    // chosen: here y = x W, dx = dy Wᵀ and dw = xᵀ dy are all 9 x 9 tiles, none a whole number of
    // tiles, with q not a multiple of the 16 staged per step.
    for (const trans_w of [false, true])
      it(`the 128 tile: x [1027, 1029] M 1031${trans_w ? ' trans_w' : ''} bias: forward and backward`, async () => {
        const was = useMatmulTile(128)
        try {
          const [R, K, M] = [1027, 1029, 1031]
          const w = f32(trans_w ? [M, K] : [K, M], 21, (v) => v / Math.sqrt(K))
          const inputs = { x: f32([R, K], 20), w, bias: f32([M], 22) }
          await compare('linear_fwd', inputs, { trans_w }, REDUCTION)
          await compare('linear_bwd', { ...inputs, dy: f32([R, M], 23, (v) => v / Math.sqrt(M)) }, { trans_w }, REDUCTION)
        } finally {
          useMatmulTile(was)
        }
      })
  })

  describe('rows', () => {
    for (const [R, D] of [
      [1, 1],
      [7, 33],
      [65, 65],
      [300, 7],
    ] as const)
      it(`embedding and gather/scatter, R ${R} D ${D}`, async () => {
        // 33 ids, and 350: more than the 256 ids the scatter stages per step.
        for (const lead of [
          [3, 11],
          [5, 70],
        ]) {
          const ids = i32(lead, R + D, 0, R)
          await compare('embedding_fwd', { ids, table: f32([R, D], 14) })
          await compare('embedding_bwd', { ids, table: f32([R, D], 14), dy: f32([...lead, D], 15) }, {}, REDUCTION)
        }
        const idx = i32([33], R * 3, 0, R)
        await compare('gather_rows', { x: f32([R, D], 16), idx })
        await compare('scatter_add_rows', { idx, dy: f32([33, D], 17), x: f32([R, D], 16) })
      })
  })

  describe('norm', () => {
    for (const kind of ['rms', 'layer'] as const)
      for (const weight of [false, true])
        for (const [N, D] of [
          [1, 1],
          [7, 33],
          [9, 64],
          [65, 300],
        ] as const)
          it(`${kind}${weight ? ' with weight' : ''}, ${N} rows of ${D}: forward and backward`, async () => {
            const x = f32([N, D], 18, (v) => 3 * v + 0.5)
            const w = weight ? f32([D], 19, (v) => 1 + 0.2 * v) : undefined
            const eps = 1e-5
            await compare('norm_fwd', { x, weight: w }, { kind, eps }, REDUCTION)
            const onCpu = cpu.run('norm_fwd', upload(cpu, { x, weight: w }), { kind, eps })
            const rstd: Input = { data: await onCpu.rstd!.read(), shape: [N] }
            const dy = f32([N, D], 20)
            // At D = 1 the exact dx cancels to about rstd |dy| eps / x^2: judged against rstd |dy|.
            const floor = D === 1 ? 1e-5 * Math.max(...rstd.data) * Math.max(...Array.from(dy.data, Math.abs)) : undefined
            await compare('norm_bwd', { x, weight: w, rstd, dy }, { kind, eps }, { ...REDUCTION, floor })
          })
  })

  describe('cross_entropy', () => {
    for (const [N, C] of [
      [1, 1],
      [7, 7],
      [65, 33],
      [9, 300],
    ] as const)
      it(`${N} rows of ${C} classes, ignored rows, a confident row, tied maxima`, async () => {
        const logits = f32([N, C], 21, (v) => 2 * v)
        const labels = i32([N], 22, -1, C)
        if (N > 2) {
          labels.data[1] = -1
          labels.data[2] = 0
          logits.data[2 * C] = 14 // p(label) near 1: dlogits there is -(1 - p), which needs expm1
        }
        if (N > 3 && C > 2) {
          labels.data[3] = 1
          logits.data[3 * C] = 9
          logits.data[3 * C + 1] = 9 // a tie: the lower index is the argmax
        }
        await compare('cross_entropy_fwd', { logits, labels }, {}, REDUCTION)
        const lse: Input = { data: await cpu.run('cross_entropy_fwd', upload(cpu, { logits, labels })).lse!.read(), shape: [N] }
        for (const scale of [1, 0.37]) await compare('cross_entropy_bwd', { logits, labels, lse }, { scale }, REDUCTION)
        if (N > 2 && C > 1) {
          // The confident row's label entry, small beside the tensor's scale: its own relative check.
          const run = (b: typeof cpu | NonNullable<typeof gpu>) => b.run('cross_entropy_bwd', upload(b, { logits, labels, lse })).dlogits!.read()
          const [want, got] = [(await run(cpu))[2 * C]!, (await run(theGpu()))[2 * C]!]
          expect(want).toBeLessThan(0)
          expect(want).toBeGreaterThan(-0.05)
          expect(Math.abs(got - want) / Math.abs(want), `dlogits at the confident label: ${got} vs ${want}`).toBeLessThan(1e-5)
          const nll = async (b: typeof cpu | NonNullable<typeof gpu>) => (await b.run('cross_entropy_fwd', upload(b, { logits, labels })).nll!.read())[2]!
          const [wantNll, gotNll] = [await nll(cpu), await nll(theGpu())]
          expect(Math.abs(gotNll - wantNll) / wantNll, `nll of the confident row: ${gotNll} vs ${wantNll}`).toBeLessThan(1e-4)
        }
      })

    it('a row with a NaN or no finite maximum gives NaN, as on the CPU', async () => {
      const C = 5
      const logits = f32([3, C], 23)
      logits.data[2] = Number.NaN
      for (let c = 0; c < C; c++) logits.data[C + c] = Number.NEGATIVE_INFINITY
      const labels: Input = { data: new Int32Array([1, 2, 3]), shape: [3] }
      await compare('cross_entropy_fwd', { logits, labels }, {}, REDUCTION)
    })
  })

  it('sum_squares over 1, 7, 1000 and 300000 values', async () => {
    for (const n of [1, 7, 1000, 300_000]) await compare('sum_squares', { x: f32([n], n) }, {}, REDUCTION)
  })

  describe('adamw_step', () => {
    const n = 1000
    const state = (): Record<string, Input> => ({
      param: f32([n], 24),
      grad: f32([n], 25, (v) => 0.1 * v),
      m: f32([n], 26, (v) => 0.01 * v),
      v: f32([n], 27, (v) => 0.001 * v * v),
    })
    const inPlace = ['param', 'm', 'v']

    it('steps 1 and 10, weight decay, grad scale', async () => {
      for (const step of [1, 10])
        await compare('adamw_step', state(), { lr: 3e-3, weight_decay: 0.1, step, grad_scale: 0.5, beta1: 0.9, beta2: 0.95 }, ELEMENTWISE, { inPlace })
    })

    it('clipped by the global norm, not clipped, and skipped when the norm is not finite', async () => {
      for (const [sq, max_norm] of [
        [400, 2], // norm 20 > 2: grads scaled by 0.1
        [1, 2], // norm 1 < 2: not clipped
        [Number.POSITIVE_INFINITY, 2], // skipped: nothing changes
      ] as const) {
        const grad_sq_sum: Input = { data: new Float32Array([sq]), shape: [1] }
        await compare('adamw_step', { ...state(), grad_sq_sum }, { lr: 1e-3, max_norm, step: 3 }, ELEMENTWISE, { inPlace })
      }
    })

    it('refuses param, grad, m or v sharing memory, as the CPU does', () => {
      const g = theGpu()
      const p = g.upload(normals(4, 1), [4])
      const grad = g.upload(normals(4, 2), [4])
      expect(() => g.run('adamw_step', { param: p, grad, m: p, v: g.zeros([4], 'f32') })).toThrow(
        'adamw_step: param and m are the same memory; param, grad, m and v must be four different tensors',
      )
    })
  })

  it('an id outside the table is an error at the next read, naming the position and the valid range', async () => {
    const g = theGpu()
    const table = g.upload(normals(14, 1), [7, 2])
    const ids = g.upload(new Int32Array([0, 6, 3, 7, 2, -1]), [6])
    const { y } = g.run('embedding_fwd', { ids, table })
    await expect(y!.read()).rejects.toThrow("embedding_fwd: ids[3] is outside the table's rows 0..6")
    const labels = g.upload(new Int32Array([0, 5]), [2])
    g.run('cross_entropy_fwd', { logits: g.upload(normals(6, 2), [2, 3]), labels })
    await expect(g.synchronize()).rejects.toThrow('cross_entropy_fwd: labels[1] is outside -1..2 (-1 = ignored)')
    // The error is reported once; the backend goes on working.
    expect(Array.from(await g.upload(new Float32Array([1, 2]), [2]).read())).toEqual([1, 2])
    // Found while nobody waits (the batch submitted, no read yet): held for the next sync, not an unhandled rejection.
    g.run('embedding_fwd', { ids, table })
    g.driver.flush()
    await new Promise((resolve) => setTimeout(resolve, 200))
    await expect(g.synchronize()).rejects.toThrow("embedding_fwd: ids[3] is outside the table's rows 0..6")
  })

  it('grid folding: more than 65535 workgroups of elements, and of rows', async () => {
    const n = 65535 * 256 + 300
    await compare('unary_fwd', { x: f32([n], 50, (v) => v / 2) }, { kind: 'sigmoid' })
    await compare('norm_fwd', { x: f32([70_000, 3], 51) }, { kind: 'rms' }, REDUCTION)
  })

  // Last: every op with a WGSL kernel was compared above (an op added without a test fails here).
  it('every op the WebGPU backend has a kernel for was held against the CPU', () => {
    expect([...compared].sort()).toEqual([...WEBGPU_OPS].sort())
  })
})
