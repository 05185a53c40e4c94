// Import of flash-linear-attention checkpoint folders, on real files written
// here the way fla's save_pretrained lays them out: a sharded checkpoint with
// its index, BF16 / F16 / F32 tensors, a truncated shard and a missing tensor,
// then the Linea engine's forward on the imported weights, and `linea import`
// followed by `linea inspect` on the run it made.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { InspectResult } from '../../electron/api/inspect'
import type { RunRecord } from '../../electron/api/runs'
import { TrainSpecSchema } from '../../electron/api/train-spec'
import { formatErrors, validateWith } from '../../electron/api/validate'
import { Ctx } from '../../electron/engine/autograd/context'
import { readCheckpoint, restoreCheckpoint } from '../../electron/engine/checkpoint/checkpoint'
import { decodeFloats, SafetensorsReader } from '../../electron/engine/checkpoint/safetensors'
import { Model } from '../../electron/engine/model/model'
import { nativeBackend } from '../../electron/engine/native-backend'
import { Rng } from '../../electron/engine/random'
import { modelSpecFromFlaConfig, type FlaConfig } from '../../electron/interop/fla-config'
import { flaTensorLinks, flaTensorShapes } from '../../electron/interop/fla-params'
import { importedTrainSpec, importHfFolder, writeImportedCheckpoint } from '../../electron/interop/import-hf'
import { projectRoot } from '../../electron/platform/project-root'
import { Workspace } from '../../electron/workspace/workspace'
import { tempDir } from '../fixtures/temp'
import { flaReferenceLogits } from './interop-fla-reference'

type RawDType = 'F32' | 'BF16' | 'F16'

/** A safetensors file with the given raw tensors, as the Rust/Python writers lay it out. */
function writeRaw(path: string, tensors: { name: string; dtype: RawDType; shape: number[]; bytes: Uint8Array }[]): void {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } }
  let offset = 0
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] }
    offset += t.bytes.length
  }
  let json = JSON.stringify(header)
  while ((8 + json.length) % 8 !== 0) json += ' '
  const length = Buffer.alloc(8)
  length.writeBigUInt64LE(BigInt(json.length))
  writeFileSync(path, Buffer.concat([length, Buffer.from(json), ...tensors.map((t) => Buffer.from(t.bytes))]))
}

/** float32 values rounded to bf16 (nearest even), so a bf16 file holds them exactly. */
function bf16Values(n: number, rng: Rng, scale = 0.3): Float32Array {
  const out = new Float32Array(n)
  const bits = new Uint32Array(out.buffer)
  for (let i = 0; i < n; i++) {
    out[i] = (rng.uniform() * 2 - 1) * scale
    bits[i] = (bits[i]! + 0x7fff + ((bits[i]! >> 16) & 1)) & 0xffff0000
  }
  return out
}

const asBf16 = (v: Float32Array) => {
  const bits = new Uint32Array(v.buffer, v.byteOffset, v.length)
  const out = new Uint16Array(v.length)
  for (let i = 0; i < v.length; i++) out[i] = bits[i]! >>> 16
  return new Uint8Array(out.buffer)
}
const asF32 = (v: Float32Array) => new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength))

/** A tiny GLA hybrid (layer 1 softmax attention) as fla's config.json holds it. */
const GLA_HYBRID: FlaConfig = {
  model_type: 'gla',
  architectures: ['GLAForCausalLM'],
  hidden_size: 32,
  num_hidden_layers: 3,
  num_heads: 2,
  expand_k: 0.5,
  expand_v: 1,
  use_short_conv: true,
  conv_size: 4,
  intermediate_size: 64,
  vocab_size: 64,
  tie_word_embeddings: false,
  attn: { layers: [1], num_heads: 2, num_kv_heads: 2, qkv_bias: false, window_size: null, rope_theta: 10000.0 },
  torch_dtype: 'bfloat16',
  transformers_version: '4.53.0',
}

/**
 * Writes an fla folder for `config` with random bf16-exact weights: sharded
 * over two files with an index (the first shard F32, the second BF16) or one
 * model.safetensors. Returns the folder and the fla tensors written.
 */
function flaFolder(config: FlaConfig, options: { sharded: boolean; seed?: number; drop?: string; configText?: string }) {
  const dir = tempDir('linea-fla-')
  writeFileSync(join(dir, 'config.json'), options.configText ?? JSON.stringify(config, null, 2))
  const { spec, layout } = modelSpecFromFlaConfig(config)
  const shapes = flaTensorShapes(flaTensorLinks(spec, layout))
  if (spec.tie_embeddings) shapes.delete('lm_head.weight')
  const rng = new Rng(options.seed ?? 1)
  const values = new Map<string, Float32Array>()
  const names = [...shapes.keys()].filter((n) => n !== options.drop)
  for (const n of names)
    values.set(
      n,
      bf16Values(
        shapes.get(n)!.reduce((a, b) => a * b, 1),
        rng,
      ),
    )
  const entry = (n: string, dtype: RawDType) => ({
    name: n,
    dtype,
    shape: shapes.get(n)!,
    bytes: dtype === 'BF16' ? asBf16(values.get(n)!) : asF32(values.get(n)!),
  })
  if (!options.sharded)
    writeRaw(
      join(dir, 'model.safetensors'),
      names.map((n) => entry(n, 'BF16')),
    )
  else {
    const half = Math.ceil(names.length / 2)
    const shards = [names.slice(0, half), names.slice(half)]
    const files = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']
    writeRaw(
      join(dir, files[0]!),
      shards[0]!.map((n) => entry(n, 'F32')),
    )
    writeRaw(
      join(dir, files[1]!),
      shards[1]!.map((n) => entry(n, 'BF16')),
    )
    const weightMap = Object.fromEntries(shards.flatMap((s, i) => s.map((n) => [n, files[i]!])))
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }))
  }
  return { dir, values, spec, layout }
}

const refusal = (fn: () => unknown): string => {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(Error)
    expect((err as { userError?: boolean }).userError, (err as Error).message).toBe(true)
    return (err as Error).message
  }
  throw new Error('expected the import to be refused')
}

describe('safetensors streaming reads', () => {
  it('decodes BF16 and F16 exactly, specials included', () => {
    const bf16 = new Uint16Array([0x3f80, 0xc020, 0x4049, 0x7f80, 0xff80, 0x0001, 0x8000, 0x7fc0])
    const out = new Float32Array(8)
    decodeFloats('BF16', new Uint8Array(bf16.buffer), out, 0)
    expect([...out.slice(0, 7)]).toEqual([1, -2.5, 3.140625, Infinity, -Infinity, 2 ** -133, -0])
    expect(out[7]).toBeNaN()
    const f16 = new Uint16Array([0x3c00, 0xc100, 0x7bff, 0x0001, 0x03ff, 0x7c00, 0xfc00, 0x7e00, 0x3555])
    const h = new Float32Array(9)
    decodeFloats('F16', new Uint8Array(f16.buffer), h, 0)
    expect([...h.slice(0, 7)]).toEqual([1, -2.5, 65504, 2 ** -24, 1023 * 2 ** -24, Infinity, -Infinity])
    expect(h[7]).toBeNaN()
    expect(h[8]).toBeCloseTo(0.333251953125, 12)
  })

  it('reads a tensor larger than one chunk, and says where a file shrunk under it ends', () => {
    const dir = tempDir('linea-st-')
    const n = (5 << 20) / 2 + 3 // over 4 MiB of BF16
    const values = bf16Values(n, new Rng(3))
    const path = join(dir, 'big.safetensors')
    writeRaw(path, [{ name: 'w', dtype: 'BF16', shape: [n], bytes: asBf16(values) }])
    const reader = SafetensorsReader.open(path)
    expect(Buffer.compare(Buffer.from(reader.readFloat32('w').buffer), Buffer.from(values.buffer))).toBe(0)
    truncateSync(path, statSync(path).size - 10)
    expect(() => reader.readFloat32('w')).toThrow(/big.safetensors: tensor 'w': ends at byte \d+, before the \d+ bytes expected .*truncated/)
    reader.close()
    expect(() => SafetensorsReader.open(path)).toThrow(/tensor 'w' .*truncated\?/)
  })
})

describe('importHfFolder', () => {
  it('reads a sharded checkpoint through its index (F32 and BF16 shards) into Linea names, values exact', () => {
    const { dir, values, spec } = flaFolder(GLA_HYBRID, { sharded: true })
    const imported = importHfFolder(dir, 'tiny gla')
    expect(imported.spec).toEqual({ ...spec, name: 'tiny gla' })
    expect(imported.dtypes).toEqual(['BF16', 'F32'])
    expect(imported.files).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'])
    const p = (n: string) => imported.params.get(n)!.data
    expect(p('embed.weight')).toEqual(values.get('model.embeddings.weight'))
    expect(p('layers.0.mixer.gk_proj.1.bias')).toEqual(values.get('model.layers.0.attn.gk_proj.1.bias'))
    expect(p('layers.0.mixer.o_norm.weight')).toEqual(values.get('model.layers.0.attn.g_norm_swish_gate.weight'))
    expect(p('layers.1.attn.q_proj')).toEqual(values.get('model.layers.1.attn.q_proj.weight'))
    expect(p('layers.2.mlp.down_proj')).toEqual(values.get('model.layers.2.mlp.down_proj.weight'))
    expect(imported.params.get('layers.0.mixer.q_conv.weight')!.shape).toEqual([16, 4])
    expect(p('layers.0.mixer.q_conv.weight')).toEqual(values.get('model.layers.0.attn.q_conv1d.weight'))
    expect(p('lm_head.weight')).toEqual(values.get('lm_head.weight'))
  })

  it('refuses a truncated shard, naming the file, before reading any tensor', () => {
    const { dir } = flaFolder(GLA_HYBRID, { sharded: true })
    const shard = join(dir, 'model-00002-of-00002.safetensors')
    truncateSync(shard, statSync(shard).size - 100)
    expect(refusal(() => importHfFolder(dir))).toMatch(
      /model-00002-of-00002\.safetensors: tensor '.*' data_offsets: bytes \d+\.\.\d+ are past the \d+ bytes of data \(truncated\?\)/,
    )
  })

  it('refuses a missing tensor, an index pointing at the wrong shard, a stray tensor and a wrong shape, naming each', () => {
    const missing = flaFolder(GLA_HYBRID, { sharded: true, drop: 'model.layers.2.attn.gk_proj.1.bias' })
    expect(refusal(() => importHfFolder(missing.dir))).toMatch(
      /tensor 'model.layers.2.attn.gk_proj.1.bias' is missing: the gla config needs it with shape \[16\]/,
    )

    const moved = flaFolder(GLA_HYBRID, { sharded: true })
    const indexPath = join(moved.dir, 'model.safetensors.index.json')
    const index = JSON.parse(readFileSync(indexPath, 'utf8')) as { weight_map: Record<string, string> }
    index.weight_map['model.embeddings.weight'] = 'model-00002-of-00002.safetensors'
    writeFileSync(indexPath, JSON.stringify(index))
    expect(refusal(() => importHfFolder(moved.dir))).toMatch(
      /model-00001-of-00002.safetensors holds tensor 'model.embeddings.weight', which model.safetensors.index.json puts in model-00002/,
    )

    index.weight_map['model.embeddings.weight'] = '../outside.safetensors'
    writeFileSync(indexPath, JSON.stringify(index))
    expect(refusal(() => importHfFolder(moved.dir))).toMatch(
      /weight_map\['model.embeddings.weight'\] = "..\/outside.safetensors" is not a shard file name in the folder/,
    )

    // a config that says no short conv, over weights that have them
    const stray = flaFolder(GLA_HYBRID, { sharded: false })
    writeFileSync(join(stray.dir, 'config.json'), JSON.stringify({ ...GLA_HYBRID, use_short_conv: false }))
    expect(refusal(() => importHfFolder(stray.dir))).toMatch(/tensor 'model.layers.0.attn.q_conv1d.weight' has no place in the Linea model of this gla config/)

    const shape = flaFolder(GLA_HYBRID, { sharded: false })
    writeFileSync(join(shape.dir, 'config.json'), JSON.stringify({ ...GLA_HYBRID, intermediate_size: 96 }))
    expect(refusal(() => importHfFolder(shape.dir))).toMatch(
      /tensor 'model.layers.0.mlp.gate_proj.weight' has shape \[64, 32\]; the config gives fla's class \[96, 32\]/,
    )

    const none = tempDir('linea-fla-empty-')
    writeFileSync(join(none, 'config.json'), JSON.stringify(GLA_HYBRID))
    expect(refusal(() => importHfFolder(none))).toMatch(/has neither model.safetensors nor model.safetensors.index.json/)
    expect(refusal(() => importHfFolder(join(none, 'nope')))).toMatch(/does not exist/)
  })

  it("reads Mamba2's fused in_proj and conv1d, its groups shared over heads and its per-head D (config with Python's Infinity)", () => {
    const config: FlaConfig = {
      model_type: 'mamba2',
      hidden_size: 32,
      num_hidden_layers: 1,
      head_dim: 16,
      state_size: 8,
      expand: 2,
      n_groups: 2,
      rmsnorm: false,
      norm_eps: 1e-6,
      use_conv_bias: false,
      vocab_size: 64,
      tie_word_embeddings: true,
    }
    const text = JSON.stringify(config).replace('}', ', "dt_limit": [0.0, Infinity]}')
    const { dir, values } = flaFolder(config, { sharded: false, configText: text })
    const imported = importHfFolder(dir)
    const I = 64
    const N = 8
    const inProj = values.get('backbone.layers.0.mixer.in_proj.weight')!
    const row = (t: Float32Array, r: number, n: number) => [...t.subarray(r * n, r * n + n)]
    const k = imported.params.get('layers.0.mixer.k_proj')!.data
    // 4 heads over 2 groups: head 1 reads group 0's B, head 3 group 1's
    expect(row(k, 1 * N + 5, 32)).toEqual(row(inProj, 2 * I + 0 * N + 5, 32))
    expect(row(k, 3 * N + 5, 32)).toEqual(row(inProj, 2 * I + 1 * N + 5, 32))
    const q = imported.params.get('layers.0.mixer.q_proj')!.data
    expect(row(q, 2 * N, 32)).toEqual(row(inProj, 2 * I + 2 * N + 1 * N, 32))
    expect(row(imported.params.get('layers.0.mixer.g_proj')!.data, 7, 32)).toEqual(row(inProj, 7, 32))
    expect(row(imported.params.get('layers.0.mixer.dt_proj')!.data, 3, 32)).toEqual(row(inProj, 2 * I + 4 * N + 3, 32))
    const D = values.get('backbone.layers.0.mixer.D')!
    expect(imported.params.get('layers.0.mixer.D')!.data.slice(16, 32)).toEqual(new Float32Array(16).fill(D[1]!))
    const conv = values.get('backbone.layers.0.mixer.conv1d.weight')!
    expect(row(imported.params.get('layers.0.mixer.v_conv.weight')!.data, 9, 4)).toEqual(row(conv, 9, 4))
    expect(row(imported.params.get('layers.0.mixer.k_conv.weight')!.data, 3 * N, 4)).toEqual(row(conv, I + N, 4))
    expect(imported.spec.tie_embeddings).toBe(true)
  })

  it('runs the Linea engine forward on the imported weights, from the Linea checkpoint it writes', async () => {
    const { dir } = flaFolder(GLA_HYBRID, { sharded: true })
    const imported = importHfFolder(dir)
    const path = join(tempDir('linea-fla-ckpt-'), 'step-0000000.safetensors')
    writeImportedCheckpoint(path, imported, importedTrainSpec(imported.spec), { source: dir, format: 'fla', modelType: 'gla', dtypes: imported.dtypes })
    const state = readCheckpoint(path)
    expect(state.modelSpec).toEqual(imported.spec)
    const cpu = nativeBackend('cpu')
    const model = new Model(state.modelSpec, cpu, 'f32', 0)
    restoreCheckpoint(path, state, model)
    expect(await model.params.get('layers.1.attn.k_proj').tensor.read()).toEqual(imported.params.get('layers.1.attn.k_proj')!.data)
    const T = 12
    const ids = cpu.upload(
      Int32Array.from({ length: T }, (_, t) => (t * 7) % 64),
      [1, T],
    )
    const rows = cpu.upload(
      Int32Array.from({ length: T }, (_, t) => t),
      [T],
    )
    const labels = cpu.upload(new Int32Array(T), [T])
    const ctx = new Ctx(cpu, 'f32', false)
    try {
      const logits = (await model.logits(ctx, { ids, rows, labels, count: T }).read()) as Float32Array
      expect(logits.length).toBe(T * 64)
      expect(logits.every(Number.isFinite)).toBe(true)
      // not a constant: the imported weights, not zeros, went in
      expect(Math.max(...logits) - Math.min(...logits)).toBeGreaterThan(1e-3)
    } finally {
      ctx.dispose()
      for (const t of [ids, rows, labels]) t.dispose()
      model.dispose()
    }
  })
})

/** Tiny models of each type with a plain reference (interop-fla-reference.ts). */
const REFERENCE_CONFIGS: [string, FlaConfig][] = [
  ['gla', { ...GLA_HYBRID, attn: null, num_hidden_layers: 2 }],
  ['gla without short conv or output gate', { ...GLA_HYBRID, attn: null, num_hidden_layers: 1, use_short_conv: false, use_output_gate: false }],
  [
    'delta_net with negative eigenvalues and a gate',
    {
      model_type: 'delta_net',
      hidden_size: 32,
      num_hidden_layers: 2,
      num_heads: 2,
      allow_neg_eigval: true,
      use_gate: true,
      intermediate_size: 64,
      vocab_size: 64,
    },
  ],
  [
    'linear_attn (elu)',
    { model_type: 'linear_attn', hidden_size: 32, num_hidden_layers: 2, num_heads: 2, feature_map: 'elu', intermediate_size: 64, vocab_size: 64 },
  ],
  [
    'transformer (window 4)',
    { model_type: 'transformer', hidden_size: 32, num_hidden_layers: 2, num_heads: 2, window_size: 4, intermediate_size: 64, vocab_size: 64 },
  ],
  ['gla hybrid with attention', GLA_HYBRID],
  [
    'gated_deltanet',
    {
      model_type: 'gated_deltanet',
      hidden_size: 32,
      num_hidden_layers: 2,
      num_heads: 2,
      head_dim: 8,
      expand_v: 2,
      intermediate_size: 64,
      vocab_size: 64,
      tie_word_embeddings: true,
    },
  ],
  [
    'mamba2 (gated norm: a weight per head and channel, the D skip inside the norm)',
    {
      model_type: 'mamba2',
      hidden_size: 32,
      num_hidden_layers: 2,
      head_dim: 8,
      state_size: 8,
      expand: 2,
      n_groups: 8,
      rmsnorm: true,
      norm_before_gate: true,
      D_has_hdim: true,
      norm_eps: 1e-6,
      use_conv_bias: false,
      vocab_size: 64,
    },
  ],
  [
    'mamba2 (groups shared by heads, per-head D)',
    {
      model_type: 'mamba2',
      hidden_size: 32,
      num_hidden_layers: 2,
      head_dim: 16,
      state_size: 8,
      expand: 2,
      n_groups: 2,
      rmsnorm: false,
      norm_eps: 1e-6,
      use_conv_bias: false,
      vocab_size: 64,
    },
  ],
]

describe("Linea's forward on imported weights equals fla's model (float64 reference from fla's layer code)", () => {
  it.each(REFERENCE_CONFIGS)('%s', async (_name, config) => {
    const { dir, values } = flaFolder(config, { sharded: true, seed: 5 })
    const imported = importHfFolder(dir)
    const cpu = nativeBackend('cpu')
    const model = new Model(imported.spec, cpu, 'f64', 0)
    for (const p of model.params.list()) cpu.write(p.tensor, Float64Array.from(imported.params.get(p.name)!.data))
    const tokens = [3, 17, 42, 3, 9, 63, 0, 17, 28, 5, 42, 11, 3]
    const T = tokens.length
    const ids = cpu.upload(Int32Array.from(tokens), [1, T])
    const rows = cpu.upload(
      Int32Array.from({ length: T }, (_, t) => t),
      [T],
    )
    const labels = cpu.upload(new Int32Array(T), [T])
    const ctx = new Ctx(cpu, 'f64', false)
    try {
      const logits = (await model.logits(ctx, { ids, rows, labels, count: T }).read()) as Float64Array
      const ref = flaReferenceLogits(
        config,
        (n) => {
          const v = values.get(n)
          if (!v) throw new Error(`the reference reads ${n}, which the fixture did not write`)
          return v
        },
        tokens,
      )
      let worst = 0
      let scale = 0
      for (let i = 0; i < ref.length; i++) {
        worst = Math.max(worst, Math.abs(logits[i]! - ref[i]!))
        scale = Math.max(scale, Math.abs(ref[i]!))
      }
      expect(scale).toBeGreaterThan(1e-2)
      expect(worst / scale).toBeLessThan(1e-9)
    } finally {
      ctx.dispose()
      for (const t of [ids, rows, labels]) t.dispose()
      model.dispose()
    }
  })
})

/**
 * fla's own checkpoints and logits, made on the GPU box by
 * bench/reference/fla-import-fixtures.py: the committed ones
 * (tests/fixtures/fla-checkpoints, see its README), or a fuller set with
 * LINEA_FLA_FIXTURES=<its --out>.
 */
const FIXTURES = process.env.LINEA_FLA_FIXTURES || join(projectRoot(), 'tests/fixtures/fla-checkpoints')
describe("Linea's logits on fla's own checkpoints (tests/fixtures/fla-checkpoints, LINEA_FLA_FIXTURES)", () => {
  const folders = FIXTURES && existsSync(FIXTURES) ? readdirSync(FIXTURES).filter((f) => existsSync(join(FIXTURES, f, 'logits.json'))) : []
  it('finds fixtures', () => expect(folders.length, `no <name>/logits.json under ${FIXTURES}`).toBeGreaterThan(0))
  it.each(folders)('%s', async (folder) => {
    const expected = JSON.parse(readFileSync(join(FIXTURES!, folder, 'logits.json'), 'utf8')) as {
      tokens: number[]
      logits: number[][]
      tolerance: number
      // bf16 folders made since 2026-11-30 (3rd run): fla's f32 run of the same saved weights
      logits_f32_compute?: number[][]
      tolerance_f32_compute?: number
    }
    const imported = importHfFolder(join(FIXTURES!, folder))
    const cpu = nativeBackend('cpu')
    const model = new Model(imported.spec, cpu, 'f32', 0)
    for (const p of model.params.list()) cpu.write(p.tensor, imported.params.get(p.name)!.data)
    const T = expected.tokens.length
    const ids = cpu.upload(Int32Array.from(expected.tokens), [1, T])
    const rows = cpu.upload(
      Int32Array.from({ length: T }, (_, t) => t),
      [T],
    )
    const labels = cpu.upload(new Int32Array(T), [T])
    const ctx = new Ctx(cpu, 'f32', false)
    try {
      const logits = (await model.logits(ctx, { ids, rows, labels, count: T }).read()) as Float32Array
      const V = imported.spec.vocab_size
      const relativeError = (want: number[][]): number => {
        let worst = 0
        let scale = 0
        want.forEach((row, t) =>
          row.forEach((v, j) => {
            worst = Math.max(worst, Math.abs(logits[t * V + j]! - v))
            scale = Math.max(scale, Math.abs(v))
          }),
        )
        return worst / scale
      }
      const error = relativeError(expected.logits)
      process.stdout.write(`${folder}: max |Linea - fla| / max |fla| = ${error.toExponential(2)} (tolerance ${expected.tolerance})\n`)
      const fp32 = expected.logits_f32_compute
      if (!fp32) {
        expect(error).toBeLessThan(expected.tolerance)
        return
      }
      // A bf16 folder made with its control: fla's f32 run of the same saved weights, the arithmetic
      // used here. Against it only the reading of the bf16 file is left, so it is held to the f32
      // tolerance; the gap to fla's bf16 logits is then fla's own bf16 arithmetic, printed beside it
      // (any bound on that gap built from these two holds by the triangle inequality: not asserted).
      const control = relativeError(fp32)
      let bf16Gap = 0
      let fp32Scale = 0
      expected.logits.forEach((row, t) =>
        row.forEach((v, j) => {
          bf16Gap = Math.max(bf16Gap, Math.abs(v - fp32[t]![j]!))
          fp32Scale = Math.max(fp32Scale, Math.abs(fp32[t]![j]!))
        }),
      )
      process.stdout.write(
        `${folder}: against fla's f32 run of the same weights ${control.toExponential(2)} (tolerance ${expected.tolerance_f32_compute}); ` +
          `fla's own bf16 - f32: ${(bf16Gap / fp32Scale).toExponential(2)}\n`,
      )
      expect(control).toBeLessThan(expected.tolerance_f32_compute!)
    } finally {
      ctx.dispose()
      for (const t of [ids, rows, labels]) t.dispose()
      model.dispose()
    }
  })
})

describe('importedTrainSpec', () => {
  it.each([8, 64, 50_000])('is a valid TrainSpec for a vocabulary of %i', (vocab) => {
    const spec = modelSpecFromFlaConfig({ ...GLA_HYBRID, vocab_size: vocab }).spec
    const train = validateWith(TrainSpecSchema, importedTrainSpec(spec))
    expect(train.ok, train.ok ? '' : formatErrors(train.errors)).toBe(true)
  })
})

describe('linea import, then linea inspect', () => {
  const linea = (...args: string[]) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(projectRoot(), 'electron', 'cli', 'index.ts'), ...args], {
      cwd: projectRoot(),
      encoding: 'utf8',
    })
    return { code: r.status, stdout: r.stdout, stderr: r.stderr }
  }

  it('makes a run the inspector opens, marked imported with its source and model type', () => {
    const { dir } = flaFolder(GLA_HYBRID, { sharded: true })
    const ws = join(tempDir('linea-import-ws-'), 'ws')
    mkdirSync(ws)
    const r = linea('import', dir, ws, '--name', 'fla gla tiny')
    expect(r.code, r.stderr).toBe(0)
    const runDir = /run: (.*)\n/.exec(r.stdout)![1]!
    const record = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as RunRecord
    expect(record).toMatchObject({
      name: 'fla gla tiny',
      status: 'completed',
      checkpoint: 'checkpoints/step-0000000.safetensors',
      imported: { source: dir, format: 'fla', modelType: 'gla', dtypes: ['BF16', 'F32'] },
    })
    expect(record.modelSpec.layers.map((l) => l.kind)).toEqual(['linear', 'softmax', 'linear'])
    // the workspace reads the record back through its schema, the import mark kept
    const opened = Workspace.open(ws, { lock: false })
    try {
      const listed = opened.listRuns()
      expect(listed.problems).toEqual([])
      expect(listed.runs.map((x) => x.imported?.modelType)).toEqual(['gla'])
    } finally {
      opened.close()
    }
    const out = join(ws, 'inspect.json')
    const i = linea('inspect', runDir, '--out', out, '--max-attention-t', '64')
    expect(i.code, i.stderr).toBe(0)
    const result = JSON.parse(readFileSync(out, 'utf8')) as InspectResult
    expect(result.layers).toHaveLength(3)
    expect(result.step).toBe(0)

    const bad = linea('import', join(dir, 'missing'), ws)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/missing does not exist/)
  })

  it('refuses a config Linea cannot compute, naming the field', () => {
    const { dir } = flaFolder(GLA_HYBRID, { sharded: false })
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...GLA_HYBRID, clamp_min: -4 }))
    const ws = join(tempDir('linea-import-ws-'), 'ws')
    const r = linea('import', dir, ws)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/clamp_min = -4 cannot be computed by Linea/)
  })
})
