// Every op of the table called through the TypeScript Backend on real data,
// float32 and float64: shapes, presence of optional outputs, and values
// checked against small references written here.
import { describe, expect, it } from 'vitest'
import { loadAddon } from '../../../electron/engine/addon'
import type { Backend } from '../../../electron/engine/backend'
import { nativeBackend } from '../../../electron/engine/native-backend'
import {
  featureMapBwd,
  featureMapFwd,
  mixerBwd,
  mixerFwd,
  shortConvBwd,
  shortConvFwd,
  type MixerBwdOptionalOutput,
  type MixerGate,
} from '../../../electron/engine/ops/generated'
import { Rng } from '../../../electron/engine/random'
import type { DType, Tensor } from '../../../electron/engine/tensor'

const cpu = nativeBackend('cpu')

function random(backend: Backend, shape: number[], dtype: DType, seed: number, map: (x: number) => number = (x) => x): Tensor {
  const rng = new Rng(seed)
  const n = shape.reduce((a, b) => a * b, 1)
  const data = dtype === 'f32' ? new Float32Array(n) : new Float64Array(n)
  for (let i = 0; i < n; i++) data[i] = map(rng.normal())
  return backend.upload(data, shape)
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0
  let den = 0
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2
    den += b[i]! ** 2
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30)
}

const logSigmoid = (x: number) => (x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x)))

describe('op table coverage', () => {
  it('every declared op has CPU kernels for f32 and f64; bf16 and f16 (GPU storage) only for cast', () => {
    const ops = loadAddon().opTable()
    for (const name of ['mixer_fwd', 'mixer_bwd', 'feature_map_fwd', 'feature_map_bwd', 'short_conv_fwd', 'short_conv_bwd'])
      expect(ops.find((o) => o.name === name)?.kernels.cpu, name).toEqual(['f32', 'f64'])
    for (const op of ops) expect(op.kernels.cpu, op.name).toEqual(op.name === 'cast' ? ['f32', 'f64', 'bf16', 'f16'] : ['f32', 'f64'])
    for (const op of ops) expect(op.dtypes, op.name).toEqual(op.name === 'adamw_step' ? ['f32', 'f64'] : ['f32', 'f64', 'bf16', 'f16'])
  })
})

describe('mixer ops', () => {
  const [B, T, H, K, V] = [2, 45, 2, 8, 6]
  const gateShape: Record<Exclude<MixerGate, 'none'>, number[]> = { fixed: [H], scalar: [B, T, H], vector: [B, T, H, K] }

  for (const dtype of ['f32', 'f64'] as const)
    for (const gate of ['none', 'fixed', 'scalar', 'vector'] as const)
      for (const delta of [false, true])
        it(`${dtype} gate=${gate} delta=${delta}: chunked == recurrent, gradients shaped like their inputs`, async () => {
          const x = {
            q: random(cpu, [B, T, H, K], dtype, 1),
            k: random(cpu, [B, T, H, K], dtype, 2, (v) => v / Math.sqrt(K)),
            v: random(cpu, [B, T, H, V], dtype, 3),
            g: gate === 'none' ? undefined : random(cpu, gateShape[gate], dtype, 4, (v) => Math.max(logSigmoid(v + 1), -5)),
            beta: delta ? random(cpu, [B, T, H], dtype, 5, (v) => 1 / (1 + Math.exp(-v))) : undefined,
            s0: random(cpu, [B, H, K, V], dtype, 6),
          }
          const rec = mixerFwd(cpu, x, { form: 'recurrent', gate, delta }, ['s_final'])
          const chk = mixerFwd(cpu, x, { form: 'chunked', chunk_size: 16, gate, delta }, ['s_final'])
          const tol = dtype === 'f32' ? 1e-4 : 1e-10
          expect(relErr(await chk.o.read(), await rec.o.read())).toBeLessThan(tol)
          expect(relErr(await chk.s_final!.read(), await rec.s_final!.read())).toBeLessThan(tol)
          const up = { do: random(cpu, [B, T, H, V], dtype, 7), ds_final: random(cpu, [B, H, K, V], dtype, 8) }
          // the fixed gate's dg is optional (a constant decay needs none): ask for it
          const want: MixerBwdOptionalOutput[] = gate === 'fixed' ? ['ds0', 'dg'] : ['ds0']
          const gr = mixerBwd(cpu, { ...x, ...up }, { form: 'recurrent', gate, delta }, want)
          const gc = mixerBwd(cpu, { ...x, ...up }, { form: 'chunked', chunk_size: 16, gate, delta }, want)
          for (const [name, input] of [
            ['dq', x.q],
            ['dk', x.k],
            ['dv', x.v],
            ['dg', x.g],
            ['dbeta', x.beta],
            ['ds0', x.s0],
          ] as const) {
            const a = gc[name]
            const b = gr[name]
            if (!input) {
              expect(a, name).toBeUndefined()
              continue
            }
            expect(a!.shape, name).toEqual(input.shape)
            expect(a!.dtype).toBe(dtype)
            expect(relErr(await a!.read(), await b!.read()), name).toBeLessThan(dtype === 'f32' ? 1e-3 : 1e-9)
          }
        })

  it('normalized and input-gated variants return their extra states', async () => {
    const x = {
      q: random(cpu, [1, 20, 1, 4], 'f64', 1),
      k: random(cpu, [1, 20, 1, 4], 'f64', 2),
      v: random(cpu, [1, 20, 1, 3], 'f64', 3),
      g: random(cpu, [1, 20, 1], 'f64', 4, (v) => logSigmoid(v)),
      i: random(cpu, [1, 20, 1], 'f64', 5),
    }
    const out = mixerFwd(cpu, x, { gate: 'scalar', input_gate: 'exp', normalize: 'max1' }, ['s_final', 'z_final', 'm_final'])
    expect(out.z_final!.shape).toEqual([1, 1, 4])
    expect(out.m_final!.shape).toEqual([1, 1])
    const grads = mixerBwd(cpu, { ...x, do: random(cpu, [1, 20, 1, 3], 'f64', 6) }, { gate: 'scalar', input_gate: 'exp', normalize: 'max1' })
    expect(grads.di!.shape).toEqual([1, 20, 1])
    expect((await grads.di!.read()).every(Number.isFinite)).toBe(true)
  })
})

describe('feature map ops', () => {
  for (const dtype of ['f32', 'f64'] as const)
    it(`${dtype}: silu_l2norm rows have unit norm; taylor2 has 1 + D + D² features`, async () => {
      const x = random(cpu, [2, 5, 3, 6], dtype, 9)
      const y = featureMapFwd(cpu, { x }, { kind: 'silu_l2norm' }).y
      expect(y.shape).toEqual([2, 5, 3, 6])
      const data = await y.read()
      for (let r = 0; r < 30; r++) {
        let n = 0
        for (let d = 0; d < 6; d++) n += data[r * 6 + d]! ** 2
        expect(Math.sqrt(n)).toBeCloseTo(1, 5)
      }
      const t = featureMapFwd(cpu, { x }, { kind: 'taylor2' }).y
      expect(t.shape).toEqual([2, 5, 3, 1 + 6 + 36])
      const dx = featureMapBwd(cpu, { x, dy: random(cpu, [2, 5, 3, 43], dtype, 10) }, { kind: 'taylor2' }).dx
      expect(dx.shape).toEqual([2, 5, 3, 6])
      expect(() => featureMapBwd(cpu, { x, dy: random(cpu, [2, 5, 3, 6], dtype, 10) }, { kind: 'taylor2' })).toThrow(/expected E=43/)
    })
})

describe('short convolution ops', () => {
  it('matches a direct causal convolution and returns dbias only with a bias', async () => {
    const [B, T, C, W] = [1, 6, 2, 3]
    const x = random(cpu, [B, T, C], 'f64', 11)
    const w = random(cpu, [C, W], 'f64', 12)
    const bias = random(cpu, [C], 'f64', 13)
    const y = await shortConvFwd(cpu, { x, weight: w, bias }).y.read()
    const [xs, ws, bs] = [await x.read(), await w.read(), await bias.read()]
    for (let t = 0; t < T; t++)
      for (let c = 0; c < C; c++) {
        let ref = bs[c]!
        for (let j = 0; j < W; j++) {
          const s = t - W + 1 + j
          if (s >= 0) ref += ws[c * W + j]! * xs[s * C + c]!
        }
        expect(y[t * C + c]).toBeCloseTo(ref, 12)
      }
    const dy = random(cpu, [B, T, C], 'f64', 14)
    expect(shortConvBwd(cpu, { x, weight: w, bias, dy }, { activation: 'silu' }).dbias!.shape).toEqual([C])
    expect(shortConvBwd(cpu, { x, weight: w, dy }, { activation: 'silu' }).dbias).toBeUndefined()
  })
})
