// `linea export --format fla` (electron/interop/export-fla.ts): every preset
// that one of flash-linear-attention's model classes computes, and
// compositions the presets leave out (Mamba2 with qk_scale 1, DeltaNet,
// linear attention, GLA with a short conv and a plain norm, an untied head, a
// windowed Transformer, hybrids), built in Linea's engine on the CPU with
// every parameter moved off its initial value, checkpointed, exported to an
// fla folder, and read back with `linea import`'s reader. The ModelSpec must
// come back the same (modulo what an fla config does not carry: see
// `comparable`), every weight bit for bit, and the logits of the model built
// from the imported checkpoint must equal the original's exactly. As the
// round trip goes through one mapping table both ways, the exported files are
// also run through fla's forward written from fla's layer code
// (interop-fla-reference.ts, float64, reading fla's names) and held to
// Linea's float64 logits (relative 1e-9), for every type it computes: all
// cases but GLA with a feature map and Mamba2 with its gated norm.
//
// Presets no fla class computes are refused, naming why; `linea export
// --format` takes torch, fla or both and names them when given anything else.
//
// LINEA_FLA_EXPORT_DIR=<dir>: also leaves each case's export in
// <dir>/<case>/fla/ and Linea's logits on fixed tokens in
// <dir>/<case>/linea-logits.json, for bench/reference/fla-export-check.py to
// load in fla on the GPU box and compare.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { headDims, modelPosition, ModelSpecSchema, type LinearLayer, type ModelSpec } from '../../electron/api/model-spec'
import { presets } from '../../electron/api/presets'
import { resizeModel } from '../../electron/api/resize'
import { exportFormat } from '../../electron/cli/export'
import { Ctx } from '../../electron/engine/autograd/context'
import { readCheckpoint, restoreCheckpoint, saveCheckpoint } from '../../electron/engine/checkpoint/checkpoint'
import { readSafetensors } from '../../electron/engine/checkpoint/safetensors'
import { Model } from '../../electron/engine/model/model'
import { nativeBackend } from '../../electron/engine/native-backend'
import { Rng } from '../../electron/engine/random'
import { exportFla, FLA_CAUSAL_LM, FlaExportError, FlaNotApplicableError } from '../../electron/interop/export-fla'
import { flaConfigFromModelSpec, FlaConfigError } from '../../electron/interop/fla-config'
import { flaTensorLinks, flaTensorShapes } from '../../electron/interop/fla-params'
import { importedTrainSpec, importHfFolder, writeImportedCheckpoint } from '../../electron/interop/import-hf'
import { flaReferenceLogits } from './interop-fla-reference'
import { projectRoot } from '../../electron/platform/project-root'
import { tinyMqarTrainSpec } from '../fixtures/runs'
import { tempDir } from '../fixtures/temp'

const cpu = nativeBackend('cpu')
// d_model 64 with 2 heads: head dims of 32, which fla's Triton kernels and flash-attn take on the GPU box.
const SIZE = { d_model: 64, vocab_size: 128, heads: 2 }
const TOKENS = [3, 17, 42, 3, 9, 127, 0, 17, 28, 5, 42, 11, 3, 64, 99, 17, 8, 42, 1, 77, 3, 56, 17, 90, 42, 2, 33, 3, 17, 120, 42, 7]
/** What fla-export-check.py holds fla to (max |fla − Linea| / max |Linea|), as fla-import-fixtures.py does the other way. */
const GPU_TOLERANCE = { float32: 2e-3, bfloat16: 5e-2 }

const presetSpecs = presets().map((p) => resizeModel(p, SIZE))
const preset = (id: string) => presetSpecs.find((p) => p.preset === id)!

/** Presets an fla class computes (flaConfigFromModelSpec at SIZE), with the fla type each becomes. */
const MAPPED_PRESETS: Record<string, string> = {
  gla: 'gla',
  deltanet: 'delta_net',
  'gated-deltanet': 'gated_deltanet',
  'deltanet-negative-eigen': 'gated_deltanet', // its scalar gate: fla's Gated DeltaNet with allow_neg_eigval
  transformer: 'transformer',
  'hybrid-gla': 'gla',
  'hybrid-gated-deltanet': 'gated_deltanet',
}

const linear = (over: Partial<LinearLayer>): LinearLayer => ({
  kind: 'linear',
  heads: 2,
  feature_map: 'identity',
  input_gate: 'none',
  forget_gate: 'none',
  delta_rule: 'off',
  denominator: 'none',
  output_norm: 'rmsnorm',
  shortcut: 'none',
  short_conv: 0,
  output_gate: 'none',
  ...over,
})

const spec = (name: string, over: Partial<ModelSpec>): ModelSpec =>
  ModelSpecSchema.parse({
    format: 'linea.model/1',
    name,
    vocab_size: SIZE.vocab_size,
    d_model: SIZE.d_model,
    block: 'transformer',
    mlp_expansion: 2,
    tie_embeddings: false,
    hybrid: { ratio: 0, placement: 'interleave' },
    layers: [],
    ...over,
  })

const mamba2Layer = (preset('mamba2').layers[0] as LinearLayer)!
/** Compositions the presets leave out, each one an fla class computes. */
const compositions: { spec: ModelSpec; type: string }[] = [
  {
    // Linea's Mamba2 preset scales q·k by dk^-1/2 and adds D ⊙ x after its norm; fla's Mamba2 does
    // neither, so the export needs qk_scale 1 and the D skip before the norm. fla's gated norm has a
    // weight per inner channel: Linea's per-head weight (a shared one: see the test below the cases).
    spec: {
      ...preset('mamba2'),
      name: 'Mamba2, qk_scale 1, D skip before the norm, norm weight per head',
      layers: preset('mamba2').layers.map((l) => ({ ...l, qk_scale: 1, shortcut: 'd_skip_before_norm' as const, output_norm_weight: 'per_head' as const })),
    },
    type: 'mamba2',
  },
  {
    spec: spec('Mamba2, qk_scale 1, no norm, conv 3, untied', {
      block: 'mamba',
      mlp_expansion: 0,
      layers: [1, 2].map(() => ({ ...mamba2Layer, qk_scale: 1, output_norm: 'none' as const, short_conv: 3 })),
    }),
    type: 'mamba2',
  },
  {
    spec: spec('DeltaNet with a swish gate, negative eigenvalues, conv 2', {
      layers: [1, 2].map(() => linear({ feature_map: 'l2norm', delta_rule: 'negative_eigen', short_conv: 2, output_gate: 'swish' })),
    }),
    type: 'delta_net',
  },
  {
    spec: spec('linear attention, elu1', { mlp_expansion: 1.5, layers: [1, 2].map(() => linear({ feature_map: 'elu1' })) }),
    type: 'linear_attn',
  },
  {
    spec: spec('GLA, relu, short conv 4, no output gate (plain norm), dk 16 dv 48', {
      layers: [1, 2].map(() => linear({ feature_map: 'relu', forget_gate: 'vector', short_conv: 4, dk: 16, dv: 48 })),
    }),
    type: 'gla',
  },
  {
    spec: spec('Gated DeltaNet, dv = 2 dk, no gate, untied', {
      layers: [1, 2].map(() => linear({ feature_map: 'l2norm', delta_rule: 'on', forget_gate: 'scalar', short_conv: 4, dk: 16, dv: 32 })),
    }),
    type: 'gated_deltanet',
  },
  {
    // fla's RetNet: fixed decays (computed by fla, Linea's non-trainable log_decay), q and k rotated,
    // per-head RMS norm (Linea's retnet preset uses a group norm, which fla's does not)
    spec: spec('RetNet, rotary, rmsnorm, dv = 2 dk, swish gate', {
      layers: [1, 2].map(() => linear({ forget_gate: 'fixed', rotary: true, output_gate: 'swish', dk: 16, dv: 32 })),
    }),
    type: 'retnet',
  },
  {
    spec: spec('RetNet hybrid, silu, no output gate, softmax second', {
      tie_embeddings: true,
      hybrid: { ratio: 0.5, placement: 'interleave' },
      layers: [linear({ feature_map: 'silu', forget_gate: 'fixed', rotary: true }), { kind: 'softmax', heads: 2, window: null, rotary: true }],
    }),
    type: 'retnet',
  },
  {
    spec: spec('Transformer, window 8, 4 heads', {
      position: 'rotary',
      hybrid: { ratio: 1, placement: 'interleave' },
      layers: [1, 2].map(() => ({ kind: 'softmax' as const, heads: 4, window: 8, rotary: true })),
    }),
    type: 'transformer',
  },
  {
    spec: spec('GLA hybrid, windowed softmax first and last (manual)', {
      tie_embeddings: true,
      hybrid: { ratio: 0.5, placement: 'manual' },
      layers: [
        { kind: 'softmax', heads: 2, window: 8, rotary: true },
        linear({ forget_gate: 'vector', output_gate: 'swish' }),
        linear({ forget_gate: 'vector', output_gate: 'swish' }),
        { kind: 'softmax', heads: 2, window: 8, rotary: true },
      ],
    }),
    type: 'gla',
  },
]

const cases = [
  ...Object.entries(MAPPED_PRESETS).map(([id, type]) => ({ spec: preset(id), type })),
  ...compositions.map((c) => ({ ...c, spec: ModelSpecSchema.parse(c.spec) })),
]

/**
 * The ModelSpec an fla config carries. Not carried, so left out: name,
 * description, preset, init (the weights are given); made explicit: head dims,
 * the position signal, and mlp_expansion as the MLP's hidden size (fla stores
 * intermediate_size). The hybrid's ratio and placement come back as the first
 * rule (interleave, first, last) that puts the softmax layers where they are,
 * else manual; a manual placement a rule reproduces comes back as that rule.
 */
function comparable(s: ModelSpec): object {
  const { name: _n, description: _d, preset: _p, init: _i, position: _pos, mlp_expansion, layers, ...rest } = s
  return {
    ...rest,
    position: modelPosition(s),
    mlp_hidden: Math.max(1, Math.round(mlp_expansion * s.d_model)) * Math.sign(mlp_expansion),
    layers: layers.map((l) => {
      const dims = headDims(s, l)
      return l.kind === 'linear' ? { ...l, dk: dims.dk, dv: dims.dv } : { ...l, head_dim: dims.dk }
    }),
  }
}

/** Moves every trainable parameter off its initial value, so a norm at 1 or a bias at 0 cannot hide a wrong mapping. */
async function perturb(model: Model, rng: Rng): Promise<void> {
  for (const p of model.params.list()) {
    if (!p.trainable) continue
    const values = (await p.tensor.read()) as Float32Array
    for (let j = 0; j < values.length; j++) values[j] = values[j]! + 0.2 * rng.normal()
    cpu.write(p.tensor, values)
  }
}

async function logitsOf(model: Model, tokens: number[], dtype: 'f32' | 'f64' = 'f32'): Promise<Float32Array | Float64Array> {
  const ctx = new Ctx(cpu, dtype, false)
  try {
    const T = tokens.length
    const rows = Int32Array.from({ length: T }, (_, t) => t)
    const batch = {
      ids: ctx.own(cpu.upload(Int32Array.from(tokens), [1, T])),
      rows: ctx.own(cpu.upload(rows, [T])),
      labels: ctx.own(cpu.upload(rows, [T])),
      count: T,
    }
    return (await model.logits(ctx, batch).read()) as Float32Array | Float64Array
  } finally {
    ctx.dispose()
  }
}

/**
 * Whether interop-fla-reference.ts computes this config: it leaves out GLA's
 * feature maps, so those cases rest on the round trip (and on the GPU check) alone.
 */
const referenceCovers = (config: Record<string, unknown>) => !(config.model_type === 'gla' && config.feature_map !== null)

const sameBits = (a: Float32Array | Float64Array, b: Float32Array | Float64Array) =>
  a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0

const slug = (name: string) =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 60)

const KEEP = process.env.LINEA_FLA_EXPORT_DIR
const root = tempDir('linea-export-fla-')
afterAll(() => rmSync(root, { recursive: true, force: true }))

describe('which presets map onto an fla model class', () => {
  it('is the list this file exports, each to its type; the others are refused with the reason', () => {
    const mapped: Record<string, string> = {}
    for (const p of presetSpecs) {
      try {
        mapped[p.preset!] = String(flaConfigFromModelSpec(p).config.model_type)
      } catch (err) {
        expect(err).toBeInstanceOf(FlaConfigError)
      }
    }
    expect(mapped).toEqual(MAPPED_PRESETS)
  })
})

describe('export to fla, then import: same ModelSpec, bit-identical weights, identical logits', () => {
  it("has fla's float64 reference for every case but GLA with a feature map", () => {
    const uncovered = cases.filter((c) => !referenceCovers(flaConfigFromModelSpec(c.spec).config)).map((c) => c.spec.name)
    expect(uncovered).toEqual(['GLA, relu, short conv 4, no output gate (plain norm), dk 16 dv 48'])
  })

  it.each(cases.map((c, n) => [c.spec.name, n] as const))('%s', async (_name, n) => {
    const { spec: original, type } = cases[n]!
    const model = new Model(original, cpu, 'f32', 200 + n)
    await perturb(model, new Rng(11 + n))
    const dir = join(root, `case-${n}`)
    mkdirSync(dir)
    const checkpoint = join(dir, 'step-0000003.safetensors')
    await saveCheckpoint(checkpoint, model, undefined, tinyMqarTrainSpec(), 3)
    const out = join(KEEP ? join(KEEP, slug(original.name)) : dir, 'fla')
    const result = exportFla(checkpoint, out)
    expect(result.modelType).toBe(type)
    expect(readdirSync(out).sort()).toEqual(['README.txt', 'config.json', 'model.safetensors'])

    // config.json: fla's model_type and class; a hybrid's softmax layers in attn
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>
    expect(config.model_type).toBe(type)
    expect(config.architectures).toEqual([FLA_CAUSAL_LM[result.modelType]])
    const softmaxAt = original.layers.flatMap((l, i) => (l.kind === 'softmax' ? [i] : []))
    if (type !== 'transformer' && type !== 'mamba2') expect((config.attn as { layers: number[] } | null)?.layers ?? []).toEqual(softmaxAt)

    // model.safetensors: F32 under fla's names, the tied head left out as save_pretrained does
    const file = readSafetensors(join(out, 'model.safetensors'))
    expect(file.metadata.format).toBe('pt')
    const { layout } = flaConfigFromModelSpec(original)
    const names = [...flaTensorShapes(flaTensorLinks(original, layout)).keys()].filter((t) => !(original.tie_embeddings && t === 'lm_head.weight'))
    expect(Object.keys(file.tensors).sort()).toEqual(names.sort())
    for (const t of Object.values(file.tensors)) expect(t.dtype).toBe('F32')
    expect(readFileSync(join(out, 'README.txt'), 'utf8')).toContain('AutoModelForCausalLM.from_pretrained(')

    // back through linea import's reader
    const imported = importHfFolder(out, original.name)
    expect(imported.layout.modelType).toBe(type)
    expect(imported.dtypes).toEqual(['F32'])
    expect(comparable(imported.spec)).toEqual(comparable(original))
    const saved = readCheckpoint(checkpoint)
    const params = Object.keys(saved.tensors).filter((p) => !p.startsWith('optimizer.'))
    expect([...imported.params.keys()].sort()).toEqual(params.sort())
    for (const p of params) expect(sameBits(imported.params.get(p)!.data, saved.tensors[p]!.data as Float32Array), p).toBe(true)

    // the imported checkpoint builds a model that computes the same logits, bit for bit
    const back = join(dir, 'imported.safetensors')
    writeImportedCheckpoint(back, imported, importedTrainSpec(imported.spec), { source: out, format: 'fla', modelType: type, dtypes: imported.dtypes })
    const state = readCheckpoint(back)
    const reopened = new Model(state.modelSpec, cpu, 'f32', 0)
    restoreCheckpoint(back, state, reopened)
    const expected = await logitsOf(model, TOKENS)
    expect(sameBits(await logitsOf(reopened, TOKENS), expected)).toBe(true)
    reopened.dispose()
    model.dispose()

    // independently of the mapping table: fla's forward written from fla's layer code, on the exported files by name
    if (referenceCovers(config)) {
      const f64 = new Model(imported.spec, cpu, 'f64', 0)
      for (const p of f64.params.list()) cpu.write(p.tensor, Float64Array.from(imported.params.get(p.name)!.data))
      const ours = await logitsOf(f64, TOKENS, 'f64')
      f64.dispose()
      const ref = flaReferenceLogits(config, (t) => file.tensors[t]!.data as Float32Array, TOKENS)
      let worst = 0
      let scale = 0
      ref.forEach((v, i) => {
        worst = Math.max(worst, Math.abs(ours[i]! - v))
        scale = Math.max(scale, Math.abs(v))
      })
      expect(scale).toBeGreaterThan(1e-2)
      expect(worst / scale).toBeLessThan(1e-9)
    }

    if (KEEP) {
      const V = original.vocab_size
      const rows = Array.from({ length: TOKENS.length }, (_, t) => Array.from(expected.subarray(t * V, (t + 1) * V)))
      writeFileSync(
        join(KEEP, slug(original.name), 'linea-logits.json'),
        JSON.stringify({ name: original.name, model_type: type, tokens: TOKENS, logits: rows, tolerance: GPU_TOLERANCE }),
      )
    }
  })
})

describe("export to fla: Mamba2's norm weight shared by heads", () => {
  it('goes out as every head’s copy and comes back per head: the same weights, the same logits, fla’s reference agrees', async () => {
    const original: ModelSpec = {
      ...preset('mamba2'),
      name: 'Mamba2, qk_scale 1, D skip before the norm, shared norm weight',
      layers: preset('mamba2').layers.map((l) => ({ ...l, qk_scale: 1, shortcut: 'd_skip_before_norm' as const })),
    }
    const model = new Model(original, cpu, 'f32', 5)
    await perturb(model, new Rng(5))
    const dir = join(root, 'shared-norm')
    mkdirSync(dir)
    const checkpoint = join(dir, 'step-0000001.safetensors')
    await saveCheckpoint(checkpoint, model, undefined, tinyMqarTrainSpec(), 1)
    const out = join(dir, 'fla')
    expect(exportFla(checkpoint, out).modelType).toBe('mamba2')
    const imported = importHfFolder(out, original.name)
    const perHead = { ...original, layers: original.layers.map((l) => ({ ...l, output_norm_weight: 'per_head' as const })) }
    expect(comparable(imported.spec)).toEqual(comparable(perHead))
    const layer = original.layers[0] as LinearLayer
    const { dv } = headDims(original, layer)
    for (const [i] of original.layers.entries()) {
      const name = `layers.${i}.mixer.o_norm.weight`
      const shared = (await model.params.get(name).tensor.read()) as Float32Array
      expect(imported.params.get(name)!.data).toEqual(Float32Array.from({ length: layer.heads * dv }, (_, c) => shared[c % dv]!))
    }
    const f64 = new Model(imported.spec, cpu, 'f64', 0)
    for (const p of f64.params.list()) cpu.write(p.tensor, Float64Array.from(imported.params.get(p.name)!.data))
    const ours = await logitsOf(f64, TOKENS, 'f64')
    f64.dispose()
    const expected = await logitsOf(model, TOKENS)
    model.dispose()
    const file = readSafetensors(join(out, 'model.safetensors'))
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>
    const ref = flaReferenceLogits(config, (t) => file.tensors[t]!.data as Float32Array, TOKENS)
    let [worstRef, worstLinea, scale] = [0, 0, 0]
    ref.forEach((v, i) => {
      worstRef = Math.max(worstRef, Math.abs(ours[i]! - v))
      worstLinea = Math.max(worstLinea, Math.abs(expected[i]! - v))
      scale = Math.max(scale, Math.abs(v))
    })
    expect(scale).toBeGreaterThan(1e-2)
    expect(worstRef / scale).toBeLessThan(1e-9)
    // the shared model in f32 against fla in f64
    expect(worstLinea / scale).toBeLessThan(1e-5)
  })
})

describe('export to fla: refusals', () => {
  const refusal = (fn: () => unknown): Error => {
    try {
      fn()
    } catch (err) {
      expect((err as { userError?: boolean }).userError, (err as Error).message).toBe(true)
      return err as Error
    }
    throw new Error('expected a refusal')
  }

  it.each([
    ['linear-transformer', /feature_map 'elu1'.*denominator 'sum' \(needs 'none'\)/],
    // Linea's retnet preset: the paper's group norm, where fla's RetNet has an RMS norm
    ['retnet', /retnet: output_norm 'groupnorm' \(needs 'rmsnorm'\); /],
    ['transnormer', /gla: forget_gate 'fixed' \(needs 'vector'\)/],
    ['based', /feature_map 'taylor2'/],
    ['mlstm', /input_gate 'exp'/],
    // Linea's Mamba2 preset adds D ⊙ x after its norm and scales q·k by dk^-1/2; fla's Mamba2 does neither
    [
      'mamba2',
      /mamba2: shortcut 'd_skip' with output_norm 'rmsnorm' \(fla's Mamba2 adds D ⊙ x before its norm; needs 'd_skip_before_norm'\), qk_scale default \(dk\^-1\/2\) \(needs 1\)/,
    ],
  ])('%s: names why no fla class computes it, and writes nothing', async (id, why) => {
    const model = new Model(preset(id), cpu, 'f32', 1)
    const checkpoint = join(root, `refused-${id}.safetensors`)
    await saveCheckpoint(checkpoint, model, undefined, tinyMqarTrainSpec(), 1)
    model.dispose()
    const out = join(root, `refused-${id}`)
    const err = refusal(() => exportFla(checkpoint, out))
    expect(err).toBeInstanceOf(FlaNotApplicableError)
    expect(err.message).toMatch(/^no flash-linear-attention model class computes '.*': no fla model class computes these linear layers: /)
    expect(err.message).toMatch(why)
    expect(err.message).toMatch(/export it as a standalone PyTorch module \(--format torch\)$/)
    expect(existsSync(out)).toBe(false)
  })

  it("refuses a RetNet whose decays are not fla's: fla computes them and stores none", async () => {
    const retnet = spec('RetNet, edited decays', { layers: [1, 2].map(() => linear({ forget_gate: 'fixed', rotary: true, output_gate: 'swish' })) })
    const model = new Model(retnet, cpu, 'f32', 1)
    const decay = model.params.get('layers.1.mixer.log_decay')
    const values = (await decay.tensor.read()) as Float32Array
    values[1] = -0.5
    cpu.write(decay.tensor, values)
    const checkpoint = join(root, 'retnet-decays.safetensors')
    await saveCheckpoint(checkpoint, model, undefined, tinyMqarTrainSpec(), 1)
    model.dispose()
    const out = join(root, 'retnet-decays')
    const err = refusal(() => exportFla(checkpoint, out))
    expect(err).toBeInstanceOf(FlaNotApplicableError)
    expect(err.message).toMatch(/^layers\.1\.mixer\.log_decay\[1\] = -0\.5: fla's RetNet computes its decays as log\(1 − 2\^\(−5−h\)\) = -0\.0157/)
    expect(existsSync(out)).toBe(false)
  })

  it('refuses an --out folder holding other files, and takes an earlier fla export', async () => {
    const model = new Model(preset('gla'), cpu, 'f32', 1)
    const checkpoint = join(root, 'gla.safetensors')
    await saveCheckpoint(checkpoint, model, undefined, tinyMqarTrainSpec(), 1)
    model.dispose()
    const out = join(root, 'gla-out')
    exportFla(checkpoint, out)
    expect(exportFla(checkpoint, out).modelType).toBe('gla')
    writeFileSync(join(out, 'model.py'), '')
    const err = refusal(() => exportFla(checkpoint, out))
    expect(err).toBeInstanceOf(FlaExportError)
    expect(err.message).toMatch(/holds files an fla export does not write \(model\.py\)/)
  })
})

describe('linea export --format', () => {
  const linea = (...args: string[]) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(projectRoot(), 'electron', 'cli', 'index.ts'), ...args], {
      cwd: projectRoot(),
      encoding: 'utf8',
    })
    return { code: r.status, stdout: r.stdout, stderr: r.stderr }
  }

  it('takes torch, fla or both, and names them for anything else', () => {
    expect(exportFormat(undefined)).toBe('torch')
    for (const f of ['torch', 'fla', 'both']) expect(exportFormat(f)).toBe(f)
    expect(() => exportFormat('onnx')).toThrow("--format 'onnx' is not an export format; valid: torch, fla, both")
  })

  it('writes the formats asked for, says which, and why fla does not apply', async () => {
    const dir = join(root, 'cli')
    mkdirSync(dir)
    const save = async (id: string) => {
      const model = new Model(preset(id), cpu, 'f32', 2)
      const path = join(dir, `${id}.safetensors`)
      await saveCheckpoint(path, model, undefined, tinyMqarTrainSpec(), 2)
      model.dispose()
      return path
    }
    const gdn = await save('gated-deltanet')
    const lt = await save('linear-transformer')

    const bad = linea('export', gdn, '--out', join(dir, 'bad'), '--format', 'onnx')
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("--format 'onnx' is not an export format; valid: torch, fla, both")
    expect(existsSync(join(dir, 'bad'))).toBe(false)

    const both = linea('export', gdn, '--out', join(dir, 'both'), '--format', 'both')
    expect(both.code, both.stderr).toBe(0)
    expect(both.stdout).toMatch(
      /flash-linear-attention folder .*both\/fla: config.json, model.safetensors, README.txt \(model_type 'gated_deltanet', GatedDeltaNetForCausalLM\)/,
    )
    expect(both.stdout).toContain('formats: torch, fla\n')
    expect(existsSync(join(dir, 'both', 'model.py'))).toBe(true)
    expect(importHfFolder(join(dir, 'both', 'fla')).layout.modelType).toBe('gated_deltanet')

    const fla = linea('export', gdn, '--out', join(dir, 'fla'), '--format', 'fla')
    expect(fla.code, fla.stderr).toBe(0)
    expect(fla.stdout).toContain('format: fla\n')
    expect(readdirSync(join(dir, 'fla')).sort()).toEqual(['README.txt', 'config.json', 'model.safetensors'])

    const refused = linea('export', lt, '--out', join(dir, 'lt-fla'), '--format', 'fla')
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/no flash-linear-attention model class computes 'Linear Transformer': .*denominator 'sum'/)
    expect(existsSync(join(dir, 'lt-fla'))).toBe(false)

    const torchOnly = linea('export', lt, '--out', join(dir, 'lt-both'), '--format', 'both')
    expect(torchOnly.code, torchOnly.stderr).toBe(0)
    expect(torchOnly.stdout).toMatch(/fla: not written: no flash-linear-attention model class computes .*denominator 'sum'/)
    expect(torchOnly.stdout).toContain('formats: torch (fla was asked for but does not apply)\n')
    expect(existsSync(join(dir, 'lt-both', 'model.py'))).toBe(true)
    expect(existsSync(join(dir, 'lt-both', 'fla'))).toBe(false)
  }, 120_000)
})
