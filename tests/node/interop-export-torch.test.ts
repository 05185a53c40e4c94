// `linea export` to PyTorch (electron/interop/export-torch.ts): every preset,
// and compositions the presets leave out, built in Linea's engine on the CPU
// in f32 with random weights (every parameter perturbed, so norms, biases and
// gates are not at their initial values), saved as a checkpoint, exported,
// then run by the exported model.py under a Python with torch on the same
// tokens. Logits must agree: max |Δ| ≤ 1e-4 · max(1, max |logit|), f32 both
// sides. The raw Linea checkpoint must load in model.py too, and give the
// same logits as the export. A composer design's export (initial weights
// from the engine's seeded initialization, no run) loads the same way.
//
// Python: LINEA_TORCH_PYTHON, else /usr/bin/python3, else python3 on PATH, the
// first that imports torch. Without one the file skips with one line, unless
// LINEA_REQUIRE_TORCH=1 (CI), where it fails.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ModelSpecSchema, type LinearLayer, type ModelSpec } from '../../electron/api/model-spec'
import { presets } from '../../electron/api/presets'
import { resizeModel } from '../../electron/api/resize'
import { Ctx } from '../../electron/engine/autograd/context'
import { readCheckpoint, restoreCheckpoint, saveCheckpoint } from '../../electron/engine/checkpoint/checkpoint'
import { readSafetensors } from '../../electron/engine/checkpoint/safetensors'
import { Model } from '../../electron/engine/model/model'
import { nativeBackend } from '../../electron/engine/native-backend'
import { Rng } from '../../electron/engine/random'
import { exportCommand, exportSource } from '../../electron/cli/export'
import { opDefaults } from '../../electron/engine/ops/generated'
import { ExportError, exportTorch, torchExportConstants, torchParamName } from '../../electron/interop/export-torch'
import { exportForApp } from '../../electron/interop/export-app'
import { writeInitialCheckpoint } from '../../electron/engine/checkpoint/initial-checkpoint'
import { defaultTrainSpec } from '../../electron/api/train-spec'
import { torchModelSource } from '../../electron/interop/export-torch-python'
import { tinyMqarTrainSpec } from '../fixtures/runs'

const TOLERANCE = 1e-4
const cpu = nativeBackend('cpu')

function findTorchPython(): string | undefined {
  const candidates = [process.env.LINEA_TORCH_PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => !!c)
  return candidates.find((py) => spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 }).status === 0)
}

const python = findTorchPython()
const required = process.env.LINEA_REQUIRE_TORCH === '1'
if (!python && !required) console.log('skip interop-export-torch: no Python with torch (tried LINEA_TORCH_PYTHON, /usr/bin/python3, python3)')

const linear = (over: Partial<LinearLayer>): LinearLayer => ({
  kind: 'linear',
  heads: 2,
  feature_map: 'identity',
  input_gate: 'none',
  forget_gate: 'none',
  delta_rule: 'off',
  denominator: 'none',
  output_norm: 'none',
  shortcut: 'none',
  short_conv: 0,
  output_gate: 'none',
  ...over,
})

const base = (name: string, over: Partial<ModelSpec>): ModelSpec =>
  ModelSpecSchema.parse({
    format: 'linea.model/1',
    name,
    vocab_size: 64,
    d_model: 32,
    block: 'transformer',
    mlp_expansion: 2,
    tie_embeddings: false,
    hybrid: { ratio: 0, placement: 'interleave' },
    layers: [],
    ...over,
  })

/** Compositions no preset has: every switch value appears in at least one model below or in a preset. */
const compositions: ModelSpec[] = [
  base('relu, vector gate, sigmoid input, sum, groupnorm, D skip, learned positions, untied', {
    position: 'learned',
    max_positions: 40,
    layers: [
      linear({
        feature_map: 'relu',
        forget_gate: 'vector',
        input_gate: 'sigmoid',
        denominator: 'sum',
        output_norm: 'groupnorm',
        shortcut: 'd_skip',
        short_conv: 3,
        output_gate: 'swish',
        dk: 8,
        dv: 24,
        qk_scale: 0.3,
      }),
      linear({ feature_map: 'silu', forget_gate: 'fixed', input_gate: 'softplus', denominator: 'max1', heads: 4 }),
    ],
  }),
  base("RetNet's retention: rotary q and k in linear layers, fixed decay; one with the delta rule", {
    layers: [
      linear({ forget_gate: 'fixed', output_norm: 'groupnorm', output_gate: 'swish', rotary: true, dv: 16 }),
      linear({ feature_map: 'l2norm', delta_rule: 'on', forget_gate: 'scalar', short_conv: 4, rotary: true }),
    ],
  }),
  base('exp input gate: vector and no forget gate, mamba blocks', {
    block: 'mamba',
    mlp_expansion: 0,
    layers: [
      linear({ input_gate: 'exp', forget_gate: 'vector', denominator: 'max1', output_gate: 'swish', short_conv: 4 }),
      linear({ input_gate: 'exp', forget_gate: 'none', denominator: 'max1', output_norm: 'rmsnorm', feature_map: 'elu1' }),
    ],
  }),
  base('delta: l2norm without conv, vector gate, negative eigenvalues', {
    mlp_expansion: 1.5,
    layers: [
      linear({ feature_map: 'l2norm', delta_rule: 'negative_eigen', forget_gate: 'vector', output_norm: 'rmsnorm' }),
      linear({ feature_map: 'l2norm', delta_rule: 'on', forget_gate: 'fixed', short_conv: 2, dk: 12, dv: 20 }),
    ],
  }),
  base("output norm weights per head: Mamba2's D skip before the norm, and groupnorm", {
    block: 'mamba',
    mlp_expansion: 0,
    layers: [
      linear({
        input_gate: 'softplus',
        forget_gate: 'scalar',
        output_norm: 'rmsnorm',
        output_norm_weight: 'per_head',
        shortcut: 'd_skip_before_norm',
        short_conv: 4,
        output_gate: 'swish',
        dk: 8,
        dv: 12,
        qk_scale: 1,
      }),
      linear({ forget_gate: 'vector', output_norm: 'groupnorm', output_norm_weight: 'per_head', shortcut: 'd_skip', heads: 4 }),
    ],
  }),
  base('manual hybrid: windowed rotary softmax first, then elu1 sum with scalar gate', {
    tie_embeddings: true,
    position: 'rotary',
    hybrid: { ratio: 0.5, placement: 'manual' },
    layers: [
      { kind: 'softmax', heads: 4, window: 5, rotary: true },
      linear({ feature_map: 'elu1', forget_gate: 'scalar', denominator: 'sum' }),
      { kind: 'softmax', heads: 2, head_dim: 12, window: null, rotary: false },
    ],
  }),
]

/** Each preset small: d_model 32, vocabulary 64, 2 heads, its own layer count. */
const presetSpecs = presets().map((p) => resizeModel(p, { d_model: 32, vocab_size: 64, heads: 2 }))
// Odd and even lengths; 65 and 77 run past Linea's chunk of 64 and over several of model.py's chunks of 32.
const LENGTHS = [17, 33, 24, 77, 9, 65]
// Strong gates over a long sequence (shared MATH.md: g down to −5 per step): perturb() sets
// GLA's gate bias to −80 (logsigmoid(−80)/16 = −5 per key dim and step) and the scalar gates'
// A = 16, dt ≈ 3 (g ≈ −48 per step).
const STRONG_GATES = 'strong gates: vector additive, scalar delta, vector delta'
const strongGates = base(STRONG_GATES, {
  layers: [
    linear({ forget_gate: 'vector', output_norm: 'rmsnorm' }),
    linear({ feature_map: 'l2norm', delta_rule: 'on', forget_gate: 'scalar', short_conv: 4 }),
    linear({ feature_map: 'l2norm', delta_rule: 'negative_eigen', forget_gate: 'vector' }),
  ],
})
const cases = [...[...presetSpecs, ...compositions].map((spec, n) => ({ spec, T: LENGTHS[n % LENGTHS.length]!, B: 2 })), { spec: strongGates, T: 131, B: 2 }]
// LINEA_TORCH_DEVICE=cuda (the GPU box): model.py's chunked form also runs on CUDA (TF32 off), held
// to the same tolerance.
const ON_CUDA = process.env.LINEA_TORCH_DEVICE === 'cuda'
const FORMS = ['chunked', 'recurrent', ...(ON_CUDA ? ['chunked on cuda'] : [])]
const formJob = (form: string): { form: string; device?: string } => (form.endsWith(' on cuda') ? { form: form.split(' ')[0]!, device: 'cuda' } : { form })

/** Moves every parameter off its initial value (RetNet's fixed decays excepted: they must stay ≤ 0). */
async function perturb(model: Model, rng: Rng): Promise<void> {
  const strong = model.spec.name === STRONG_GATES
  for (const p of model.params.list()) {
    if (!p.trainable) continue
    const values = (await p.tensor.read()) as Float32Array
    const offset = !strong ? 0 : p.name.endsWith('gk_proj.1.bias') ? -80 : p.name.endsWith('A_log') ? Math.log(16) : p.name.endsWith('dt_bias') ? 3 : 0
    for (let j = 0; j < values.length; j++) values[j] = (offset ? offset : values[j]!) + 0.2 * rng.normal()
    cpu.write(p.tensor, values)
  }
}

async function lineaLogits(model: Model, ids: Int32Array, B: number, T: number): Promise<Float32Array> {
  const ctx = new Ctx(cpu, 'f32', false)
  try {
    const rows = Int32Array.from({ length: B * T }, (_, j) => j)
    const batch = { ids: ctx.own(cpu.upload(ids, [B, T])), rows: ctx.own(cpu.upload(rows, [B * T])), labels: ctx.own(cpu.upload(rows, [B * T])), count: B * T }
    return (await model.logits(ctx, batch).read()) as Float32Array
  } finally {
    ctx.dispose()
  }
}

// Reads a list of {module, weights, form, ids, out, save?}, loads each model through the exported
// model.py, writes its logits as JSON, and with save, writes the model back as a Linea checkpoint.
const DRIVER = `
import importlib.util, json, sys, torch
for n, job in enumerate(json.load(open(sys.argv[1]))):
    spec = importlib.util.spec_from_file_location("linea_export_%d" % n, job["module"])
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    device = job.get("device", "cpu")
    if device != "cpu":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    net = mod.load_linea(job["weights"], form=job["form"]).to(device)
    with torch.no_grad():
        logits = net(torch.tensor(job["ids"], dtype=torch.int64, device=device)).cpu()
    json.dump(logits.reshape(-1).tolist(), open(job["out"], "w"))
    if job.get("save"):
        train_spec = json.load(open(job["train_spec"]))
        mod.save_linea_checkpoint(net, job["save"], train_spec, 5)
`

describe.runIf(python || required)('export to PyTorch: same logits as Linea', () => {
  const root = mkdtempSync(join(tmpdir(), 'linea-export-torch-'))
  const results: { name: string; T: number; expected: Float32Array; outputs: Record<string, string>; checkpointOut?: string }[] = []
  const report: string[] = []
  const writtenBack = join(root, 'written-back.safetensors')

  beforeAll(async () => {
    if (!python) throw new Error('LINEA_REQUIRE_TORCH=1 but no Python with torch was found (tried LINEA_TORCH_PYTHON, /usr/bin/python3, python3)')
    const jobs: object[] = []
    for (const [n, { spec, T, B }] of cases.entries()) {
      const model = new Model(spec, cpu, 'f32', 100 + n)
      const rng = new Rng(7 + n)
      await perturb(model, rng)
      const checkpoint = join(root, `case-${n}.safetensors`)
      await saveCheckpoint(checkpoint, model, undefined, tinyMqarTrainSpec(), 3)
      const out = join(root, `export-${n}`)
      exportTorch(checkpoint, out)
      const ids = Int32Array.from({ length: B * T }, () => rng.int(spec.vocab_size))
      const expected = await lineaLogits(model, ids, B, T)
      model.dispose()
      const rows = Array.from({ length: B }, (_, b) => Array.from(ids.subarray(b * T, (b + 1) * T)))
      const outputs = Object.fromEntries(FORMS.map((form) => [form, join(root, `logits-${n}-${form.replaceAll(' ', '-')}.json`)]))
      const result = { name: spec.name, T, expected, outputs, checkpointOut: n === 0 ? join(root, `logits-ckpt-${n}.json`) : undefined }
      const module = join(out, 'model.py')
      for (const form of FORMS) jobs.push({ module, weights: out, ...formJob(form), ids: rows, out: outputs[form] })
      if (result.checkpointOut)
        jobs.push({
          module,
          weights: checkpoint,
          form: 'chunked',
          ids: rows,
          out: result.checkpointOut,
          save: writtenBack,
          train_spec: join(out, 'train_spec.json'),
        })
      results.push(result)
    }
    const jobsPath = join(root, 'jobs.json')
    writeFileSync(jobsPath, JSON.stringify(jobs))
    execFileSync(python, ['-c', DRIVER, jobsPath], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 240_000 })
  }, 300_000)

  afterAll(() => {
    if (report.length) console.log(`export to PyTorch, max |Δ logit| (f32, B = 2; model.py ${FORMS.join(', ')}):\n${report.join('\n')}`)
    rmSync(root, { recursive: true, force: true })
  })

  it('writes model.py, config.json, model.safetensors (f32, torch names, no moments) and README.txt', () => {
    const dir = join(root, 'export-0')
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as ModelSpec
    expect(config).toEqual(cases[0]!.spec)
    const weights = readSafetensors(join(dir, 'model.safetensors'))
    const original = readSafetensors(join(root, 'case-0.safetensors'))
    const params = Object.keys(original.tensors).filter((n) => !n.startsWith('optimizer.'))
    expect(Object.keys(weights.tensors).sort()).toEqual(params.map(torchParamName).sort())
    for (const t of Object.values(weights.tensors)) expect(t.dtype).toBe('F32')
    const readme = readFileSync(join(dir, 'README.txt'), 'utf8')
    expect(readme).toContain('model.safetensors')
    // the Linear Transformer's sum denominator: no fla class computes it, and the README says so
    expect(readme).toMatch(
      /flash-linear-attention: no fla model class computes this model \(.*denominator 'sum'.*\), so the standalone module here is the export/,
    )
    expect(readFileSync(join(dir, 'model.py'), 'utf8')).toMatch(/^import torch$/m)
  })

  it('model.py writes the model back as a Linea checkpoint with the same parameters', () => {
    const back = readCheckpoint(writtenBack)
    const original = readCheckpoint(join(root, 'case-0.safetensors'))
    expect(back.modelSpec).toEqual(original.modelSpec)
    expect(back.trainSpec).toEqual(original.trainSpec)
    expect(back.step).toBe(5)
    const params = Object.keys(original.tensors).filter((name) => !name.startsWith('optimizer.'))
    expect(Object.keys(back.tensors).sort()).toEqual(params.sort())
    for (const name of params) expect(back.tensors[name]!.data, name).toEqual(original.tensors[name]!.data)
  })

  it.each(cases.map((c, n) => [c.spec.name, n] as const))('%s', (name, n) => {
    const r = results[n]!
    const scale = r.expected.reduce((m, x) => Math.max(m, Math.abs(x)), 1)
    const worst = FORMS.map((form) => {
      const got = JSON.parse(readFileSync(r.outputs[form]!, 'utf8')) as number[]
      expect(got).toHaveLength(r.expected.length)
      return got.reduce((m, x, j) => Math.max(m, Math.abs(x - r.expected[j]!)), 0)
    })
    report.push(
      `  ${name.slice(0, 60).padEnd(60)} T ${String(r.T).padStart(2)}  max|logit| ${scale.toFixed(2)}  max|Δ| ${worst.map((w) => w.toExponential(2)).join(', ')}`,
    )
    FORMS.forEach((form, f) => expect(worst[f], `${name}, ${form}: max |Δ| ${worst[f]} over logits up to ${scale}`).toBeLessThanOrEqual(TOLERANCE * scale))
    if (r.checkpointOut) expect(JSON.parse(readFileSync(r.checkpointOut, 'utf8'))).toEqual(JSON.parse(readFileSync(r.outputs.chunked!, 'utf8')))
  })
})

describe.runIf(python || required)('the torchrun recipe beside an export', () => {
  it('train.sh trains the exported model on the run task for 3 steps in 2 processes and writes a checkpoint Linea restores', async () => {
    if (!python) throw new Error('LINEA_REQUIRE_TORCH=1 but no Python with torch was found')
    const root = mkdtempSync(join(tmpdir(), 'linea-export-recipe-'))
    try {
      const spec = presetSpecs.find((p) => p.preset === 'gated-deltanet')!
      const model = new Model(spec, cpu, 'f32', 3)
      const checkpoint = join(root, 'step-0000001.safetensors')
      await saveCheckpoint(checkpoint, model, undefined, tinyMqarTrainSpec(), 1)
      const out = join(root, 'export')
      const result = exportTorch(checkpoint, out, { dataSequences: 40 })
      expect(result.data?.splits.train).toEqual({ file: 'train.bin', rows: 40, seq_len: 24 })
      expect(statSync(join(out, 'data', 'train.bin')).size).toBe(2 * 40 * 24 * 4)
      execFileSync('bash', [join(out, 'train.sh'), '--steps', '3', '--batch', '2', '--eval-every', '3'], {
        env: { ...process.env, PYTHON: python, NPROC: '2', OMP_NUM_THREADS: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 240_000,
      })
      const trained = readCheckpoint(join(out, 'checkpoints', 'step-0000003.safetensors'))
      expect(trained.step).toBe(3)
      expect(trained.modelSpec).toEqual(spec)
      restoreCheckpoint(join(out, 'checkpoints', 'step-0000003.safetensors'), trained, model)
      model.dispose()
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  }, 300_000)
})

describe.runIf(python || required)("the composer's export of a fresh design", () => {
  it('loads in PyTorch with the initial weights the engine gives the seed, and computes the same logits', async () => {
    if (!python) throw new Error('LINEA_REQUIRE_TORCH=1 but no Python with torch was found')
    const root = mkdtempSync(join(tmpdir(), 'linea-export-design-torch-'))
    try {
      // What LabApi exportDesign does, in process: the engine's initial checkpoint, then the app's export.
      const spec = presetSpecs.find((p) => p.preset === 'gated-deltanet')!
      const initial = join(root, 'initial.safetensors')
      await writeInitialCheckpoint(spec, { ...defaultTrainSpec(), seed: 11 }, cpu, 'f32', initial)
      const out = join(root, 'export')
      const result = exportForApp(initial, out, { design: { seed: 11 } })
      expect(result.files).toEqual(expect.arrayContaining(['model.py', 'model.safetensors', 'train.sh', 'convert_data.py', 'fla/']))
      const model = new Model(spec, cpu, 'f32', 11)
      const B = 2
      const T = 21
      const rng = new Rng(5)
      const ids = Int32Array.from({ length: B * T }, () => rng.int(spec.vocab_size))
      const expected = await lineaLogits(model, ids, B, T)
      model.dispose()
      const rows = Array.from({ length: B }, (_, b) => Array.from(ids.subarray(b * T, (b + 1) * T)))
      const logits = join(root, 'logits.json')
      const jobs = join(root, 'jobs.json')
      writeFileSync(jobs, JSON.stringify([{ module: join(out, 'model.py'), weights: out, form: 'chunked', ids: rows, out: logits }]))
      execFileSync(python, ['-c', DRIVER, jobs], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 240_000 })
      const got = JSON.parse(readFileSync(logits, 'utf8')) as number[]
      expect(got).toHaveLength(expected.length)
      const scale = expected.reduce((m, x) => Math.max(m, Math.abs(x)), 1)
      const worst = got.reduce((m, x, j) => Math.max(m, Math.abs(x - expected[j]!)), 0)
      expect(worst, `max |Δ| ${worst} over logits up to ${scale}`).toBeLessThanOrEqual(TOLERANCE * scale)
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  }, 300_000)
})

describe('linea export: what it takes', () => {
  it('refuses a missing source, a bad --data and an --out folder holding other files, naming the value', async () => {
    const root = mkdtempSync(join(tmpdir(), 'linea-export-cli-'))
    try {
      expect(() => exportSource({ run: join(root, 'nope'), out: join(root, 'o') })).toThrow(/nope does not exist; give a run folder/)
      expect(() => exportCommand({ run: root, out: join(root, 'o'), data: '12x' })).toThrow(/--data '12x' is not a number of sequences/)
      expect(() => exportSource({ run: root, out: join(root, 'o') })).toThrow(/has no checkpoints\/step-N.safetensors yet/)
      const model = new Model(presetSpecs[0]!, cpu, 'f32', 1)
      mkdirSync(join(root, 'checkpoints'))
      await saveCheckpoint(join(root, 'checkpoints', 'step-0000002.safetensors'), model, undefined, tinyMqarTrainSpec(), 2)
      await saveCheckpoint(join(root, 'checkpoints', 'step-0000010.safetensors'), model, undefined, tinyMqarTrainSpec(), 10)
      model.dispose()
      expect(exportSource({ run: root, out: join(root, 'o') })).toBe(join(root, 'checkpoints', 'step-0000010.safetensors'))
      expect(() => exportSource({ run: root, out: join(root, 'o'), checkpoint: '../x.safetensors' })).toThrow(/outside the run folder/)
      writeFileSync(join(root, 'other.txt'), 'mine')
      expect(() => exportTorch(join(root, 'checkpoints', 'step-0000002.safetensors'), root)).toThrow(ExportError)
      expect(() => exportTorch(join(root, 'checkpoints', 'step-0000002.safetensors'), root)).toThrow(/holds files an export does not write \(.*other\.txt/)
      expect(() => exportTorch(join(root, 'checkpoints', 'step-0000002.safetensors'), join(root, 'other.txt'))).toThrow(/exists and is not a folder/)
      expect(() => exportTorch(join(root, 'checkpoints', 'step-0000002.safetensors'), join(root, 'o'), { dataSequences: 0 })).toThrow(/--data 0: .* from 1 to/)
      // an export folder takes a second export
      exportTorch(join(root, 'checkpoints', 'step-0000002.safetensors'), join(root, 'o'))
      expect(exportTorch(join(root, 'checkpoints', 'step-0000010.safetensors'), join(root, 'o')).step).toBe(10)
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })

  it('model.py carries the engine constants it depends on', () => {
    const constants = torchExportConstants()
    expect(constants).toMatchObject({ normEps: opDefaults.norm_fwd.eps, l2Eps: opDefaults.feature_map_fwd.eps, rotaryBase: opDefaults.rotary_fwd.base })
    const source = torchModelSource(constants)
    expect(source).toContain(`NORM_EPS = ${opDefaults.norm_fwd.eps}`)
    // GLA's gate normalizer and rank, as linear-mixer.ts builds the gate
    const gla = new Model(
      presetSpecs.find((p) => p.preset === 'gla')!,
      cpu,
      'f32',
      1,
    )
    expect(gla.params.get('layers.0.mixer.gk_proj.0.weight').tensor.shape[0]).toBe(constants.glaGateRank)
    gla.dispose()
    expect(readFileSync('electron/engine/model/linear-mixer.ts', 'utf8')).toContain(`const GLA_GATE_NORMALIZER = ${constants.glaGateNormalizer}\n`)
  })
})
