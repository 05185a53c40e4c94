// The fla <-> Linea mapping tables, both ways, for every supported fla type:
// config -> ModelSpec, ModelSpec -> config -> the same ModelSpec, parameter
// links that cover exactly the parameters Linea's model builds, and the
// refusals, each naming the field, the value and what Linea takes.
import { describe, expect, it } from 'vitest'
import { headDims, type LinearLayer, type ModelSpec } from '../../electron/api/model-spec'
import { preset } from '../../electron/api/presets'
import type { Backend } from '../../electron/engine/backend'
import { Model } from '../../electron/engine/model/model'
import {
  FLA_MODEL_TYPES,
  FlaConfigError,
  flaConfigFromModelSpec,
  modelSpecFromFlaConfig,
  parseFlaConfigText,
  type FlaConfig,
  type FlaModelType,
} from '../../electron/interop/fla-config'
import { assembleFlaTensor, copyLinkRows, flaComputedParams, flaTensorLinks, flaTensorShapes, lineaTensorShapes } from '../../electron/interop/fla-params'

/** A backend that only has a name: the model records parameter names and shapes, allocating nothing. */
const SHAPES_ONLY = new Proxy({} as Backend, {
  get(_t, prop) {
    if (prop === 'id') return 'shapes-only'
    if (prop === 'kind') return 'cpu'
    throw new Error(`the shapes-only backend cannot ${String(prop)}`)
  },
})

const lineaParams = (spec: ModelSpec) =>
  new Map(new Model(spec, SHAPES_ONLY, 'f32', 0, false).params.list().map((p) => [p.name, [...p.tensor.shape]] as [string, number[]]))

/** Small configs of every type as fla's save_pretrained writes them (fields left out take fla's defaults). */
const CONFIGS: Record<FlaModelType, FlaConfig> = {
  gla: { model_type: 'gla', hidden_size: 64, num_hidden_layers: 2, num_heads: 4, vocab_size: 300, architectures: ['GLAForCausalLM'], torch_dtype: 'bfloat16' },
  retnet: { model_type: 'retnet', hidden_size: 64, num_hidden_layers: 2, num_heads: 4, vocab_size: 300, use_short_conv: true },
  delta_net: { model_type: 'delta_net', hidden_size: 64, num_hidden_layers: 2, num_heads: 2, vocab_size: 300, allow_neg_eigval: true, use_gate: true },
  gated_deltanet: { model_type: 'gated_deltanet', hidden_size: 64, num_hidden_layers: 3, num_heads: 2, head_dim: 16, expand_v: 2, vocab_size: 300 },
  mamba2: {
    model_type: 'mamba2',
    hidden_size: 64,
    num_hidden_layers: 2,
    head_dim: 16,
    state_size: 8,
    expand: 2,
    n_groups: 8,
    norm_eps: 1e-6,
    use_conv_bias: false,
    norm_before_gate: true,
    vocab_size: 300,
    dt_limit: [0, Infinity],
  },
  linear_attn: { model_type: 'linear_attn', hidden_size: 64, num_hidden_layers: 2, num_heads: 4, feature_map: 'elu', vocab_size: 300 },
  transformer: { model_type: 'transformer', hidden_size: 64, num_hidden_layers: 2, num_heads: 4, window_size: 16, vocab_size: 300, tie_word_embeddings: true },
}

/** The fields of a spec that say what it computes (not its name or description). */
const computed = (s: ModelSpec) => ({
  vocab_size: s.vocab_size,
  d_model: s.d_model,
  block: s.block,
  mlp_hidden: s.mlp_expansion > 0 ? Math.max(1, Math.round(s.mlp_expansion * s.d_model)) : 0,
  tie: s.tie_embeddings,
  position: s.layers.some((l) => l.kind === 'softmax') ? 'rotary' : 'none',
  layers: s.layers.map((l) => ({ ...l, ...headDims(s, l), ...(l.kind === 'softmax' ? { head_dim: undefined } : {}) })),
})

const refusal = (fn: () => unknown): string => {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(FlaConfigError)
    return (err as Error).message
  }
  throw new Error('expected a FlaConfigError')
}

describe('fla config -> ModelSpec', () => {
  it('reads every supported type, with fla defaults for fields left out', () => {
    const gla = modelSpecFromFlaConfig(CONFIGS.gla).spec
    expect(gla.layers[0]).toEqual({
      kind: 'linear',
      heads: 4,
      dk: 8, // expand_k 0.5 (fla's default) · 64 / 4
      dv: 16,
      feature_map: 'identity',
      input_gate: 'none',
      forget_gate: 'vector',
      delta_rule: 'off',
      denominator: 'none',
      output_norm: 'rmsnorm',
      shortcut: 'none',
      short_conv: 0,
      output_gate: 'swish',
    })
    // GatedMLP: int(64 · 4 · 2/3) = 170, rounded up to 256
    expect(Math.round(gla.mlp_expansion * 64)).toBe(256)
    expect(gla.tie_embeddings).toBe(false)

    // RetNet: expand_k 1, expand_v 2 (fla's defaults), fixed decay, rotary q and k; use_short_conv never reaches fla's layers
    const rn = modelSpecFromFlaConfig(CONFIGS.retnet)
    expect(rn.spec.layers[0]).toEqual({
      kind: 'linear',
      heads: 4,
      dk: 16,
      dv: 32,
      feature_map: 'identity',
      input_gate: 'none',
      forget_gate: 'fixed',
      delta_rule: 'off',
      denominator: 'none',
      output_norm: 'rmsnorm',
      shortcut: 'none',
      short_conv: 0,
      output_gate: 'swish',
      rotary: true,
    })
    expect(rn.spec.position).toBe('rotary')
    expect(Math.round(rn.spec.mlp_expansion * 64)).toBe(256) // hidden_ratio 2: int(64 · 2 · 2/3) = 85, rounded up to 256
    expect(rn.layout.glaNorm).toBe('g_norm_swish_gate')

    const dn = modelSpecFromFlaConfig(CONFIGS.delta_net).spec.layers[0]!
    expect(dn).toMatchObject({ feature_map: 'l2norm', delta_rule: 'negative_eigen', short_conv: 4, output_gate: 'swish', dk: 32, dv: 32 })

    const gdn = modelSpecFromFlaConfig(CONFIGS.gated_deltanet).spec.layers[0]!
    expect(gdn).toMatchObject({ forget_gate: 'scalar', delta_rule: 'on', dk: 16, dv: 32, heads: 2, output_gate: 'swish', short_conv: 4 })

    const m2 = modelSpecFromFlaConfig(CONFIGS.mamba2)
    expect(m2.spec.block).toBe('mamba')
    expect(m2.spec.mlp_expansion).toBe(0)
    // rmsnorm (fla's default): the gated norm weighs each inner channel and sees the D skip
    expect(m2.spec.layers[0]).toMatchObject({
      heads: 8,
      dk: 8,
      dv: 16,
      input_gate: 'softplus',
      forget_gate: 'scalar',
      output_norm: 'rmsnorm',
      output_norm_weight: 'per_head',
      shortcut: 'd_skip_before_norm',
      qk_scale: 1,
    })
    const m2plain = modelSpecFromFlaConfig({ ...CONFIGS.mamba2, rmsnorm: false }).spec.layers[0]!
    expect(m2plain).toMatchObject({ output_norm: 'none', shortcut: 'd_skip' })
    expect(m2plain).not.toHaveProperty('output_norm_weight')
    // the other types leave the field out: their norms share one weight over heads
    for (const t of ['gla', 'delta_net', 'gated_deltanet', 'linear_attn'] as const)
      expect(modelSpecFromFlaConfig(CONFIGS[t]).spec.layers[0], t).not.toHaveProperty('output_norm_weight')
    expect(m2.layout).toMatchObject({ root: 'backbone', mamba2: { groups: 8, dHasHdim: false } })

    expect(modelSpecFromFlaConfig(CONFIGS.linear_attn).spec.layers[0]).toMatchObject({ feature_map: 'elu1', denominator: 'none', output_norm: 'rmsnorm' })

    const tf = modelSpecFromFlaConfig(CONFIGS.transformer).spec
    expect(tf.layers).toEqual([
      { kind: 'softmax', heads: 4, window: 16, rotary: true },
      { kind: 'softmax', heads: 4, window: 16, rotary: true },
    ])
    expect(tf.position).toBe('rotary')
    expect(tf.hybrid).toEqual({ ratio: 1, placement: 'interleave' })
  })

  it("places a hybrid's attn layers, by rule when one fits and manually otherwise", () => {
    const interleave = modelSpecFromFlaConfig({ ...CONFIGS.gla, num_hidden_layers: 4, attn: { layers: [1, 3], num_heads: 2, window_size: 8 } }).spec
    expect(interleave.layers.map((l) => l.kind)).toEqual(['linear', 'softmax', 'linear', 'softmax'])
    expect(interleave.layers[1]).toEqual({ kind: 'softmax', heads: 2, window: 8, rotary: true })
    expect(interleave.hybrid).toEqual({ ratio: 0.5, placement: 'interleave' })
    const manual = modelSpecFromFlaConfig({
      ...CONFIGS.gated_deltanet,
      num_hidden_layers: 4,
      attn: [
        { layers: [0], num_heads: 4 },
        { layers: [2], num_heads: 2 },
      ],
    }).spec
    expect(manual.layers.map((l) => l.kind)).toEqual(['softmax', 'linear', 'softmax', 'linear'])
    expect(manual.hybrid.placement).toBe('manual')
  })

  it("reads Python's Infinity in config.json", () => {
    const parsed = parseFlaConfigText('{"dt_limit": [0.0, Infinity], "x": "Infinity", "y": -Infinity, "z": NaN}') as Record<string, unknown>
    expect(parsed).toEqual({ dt_limit: [0, Infinity], x: 'Infinity', y: -Infinity, z: NaN })
  })

  it('reads transformers 5\'s {"__float__": "Infinity"} in config.json', () => {
    // As save_pretrained wrote Mamba2's dt_limit on the GPU box (transformers 5.17).
    const text =
      '{"dt_limit": [0.0, {"__float__": "Infinity"}], "a": {"__float__": "-Infinity"}, "b": {"__float__": "NaN"}, ' +
      '"c": {"__float__": "1.5"}, "d": {"__float__": "Infinity", "x": 1}}'
    expect(parseFlaConfigText(text)).toEqual({
      dt_limit: [0, Infinity],
      a: -Infinity,
      b: NaN,
      c: { __float__: '1.5' },
      d: { __float__: 'Infinity', x: 1 },
    })
  })
})

describe('ModelSpec -> fla config -> ModelSpec', () => {
  const specs: [string, ModelSpec][] = [
    ['gla', preset('gla')],
    ['hybrid-gla', preset('hybrid-gla')],
    ['deltanet', preset('deltanet')],
    ['deltanet-negative-eigen', preset('deltanet-negative-eigen')],
    ['gated-deltanet', preset('gated-deltanet')],
    ['hybrid-gated-deltanet', preset('hybrid-gated-deltanet')],
    ['transformer', preset('transformer')],
  ]
  // fla's Mamba2: scale 1, D skip before the norm, a norm weight per head and channel (or, with no norm, a plain D skip)
  const mamba2 = preset('mamba2')
  const asFla = (over: Partial<LinearLayer>): ModelSpec => ({
    ...mamba2,
    layers: mamba2.layers.map((l) =>
      l.kind === 'linear' ? { ...l, qk_scale: 1, shortcut: 'd_skip_before_norm', output_norm_weight: 'per_head', ...over } : l,
    ),
  })
  specs.push(['mamba2 (scale 1, per-head norm weight)', asFla({})])
  specs.push(['mamba2 (no norm)', asFla({ output_norm: 'none', shortcut: 'd_skip', output_norm_weight: undefined })])
  // fla's RetNet: Linea's retnet preset with an RMS output norm (fla's) and q, k rotated
  const retnet = preset('retnet')
  const asFlaRetnet = (over: Partial<LinearLayer>): ModelSpec => ({
    ...retnet,
    layers: retnet.layers.map((l) => (l.kind === 'linear' ? { ...l, output_norm: 'rmsnorm', rotary: true, dv: 2 * (retnet.d_model / l.heads), ...over } : l)),
  })
  specs.push(['retnet (rmsnorm, rotary, expand_v 2)', asFlaRetnet({})])
  specs.push(['retnet (relu, no output gate)', asFlaRetnet({ feature_map: 'relu', output_gate: 'none' })])
  const lt = preset('linear-transformer')
  specs.push([
    'linear attention (no denominator, rmsnorm)',
    { ...lt, layers: lt.layers.map((l) => (l.kind === 'linear' ? { ...l, denominator: 'none', output_norm: 'rmsnorm' } : l)) },
  ])

  it.each(specs)('%s round-trips to the same computed spec', (_name, spec) => {
    const { config, layout } = flaConfigFromModelSpec(spec)
    expect(FLA_MODEL_TYPES).toContain(config.model_type)
    const back = modelSpecFromFlaConfig(JSON.parse(JSON.stringify(config)) as FlaConfig)
    expect(computed(back.spec)).toEqual(computed(spec))
    expect(back.layout).toEqual(layout)
  })

  it.each(specs)('%s: the links cover exactly the parameters of the Linea model, and every fla tensor row', (_name, spec) => {
    const { layout } = flaConfigFromModelSpec(spec)
    const links = flaTensorLinks(spec, layout)
    const computedShapes = [...flaComputedParams(spec, layout)].map(([n, p]) => [n, p.shape] as const)
    expect(Object.fromEntries([...lineaTensorShapes(links), ...computedShapes])).toEqual(Object.fromEntries(lineaParams(spec)))
    for (const l of links) {
      const lineaRows = l.lineaShape.reduce((a, b) => a * b, 1) / l.rowSize
      const flaRows = l.flaShape.reduce((a, b) => a * b, 1) / l.rowSize
      expect(Number.isInteger(lineaRows) && Number.isInteger(flaRows), `${l.linea} <- ${l.fla}`).toBe(true)
      const covered = new Uint8Array(lineaRows)
      for (const s of l.segments) {
        expect(s.lineaRow + s.rows).toBeLessThanOrEqual(lineaRows)
        expect(s.flaRow + (s.rows - 1) * s.flaStep).toBeLessThan(flaRows)
        covered.fill(1, s.lineaRow, s.lineaRow + s.rows)
      }
      expect(covered.includes(0), `${l.linea} <- ${l.fla} leaves rows out`).toBe(false)
    }
    // export then import of random values gives them back exactly
    const values = new Map(
      [...lineaTensorShapes(links)].map(([n, shape]) => [n, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i + n.length))]),
    )
    const back = new Map([...values].map(([n, v]) => [n, { data: new Float32Array(v.length), written: new Uint8Array(v.length) }]))
    for (const [fla, shape] of flaTensorShapes(links)) {
      const t = new Float32Array(shape.reduce((a, b) => a * b, 1))
      expect(assembleFlaTensor(links, fla, (n) => values.get(n)!, t)).toBeNull()
      for (const l of links.filter((x) => x.fla === fla)) {
        const target = back.get(l.linea)!
        const written = l.rowSize === 1 ? target.written : target.written.subarray(0, target.data.length / l.rowSize)
        expect(copyLinkRows(l, t, target.data, written)).toBeNull()
      }
    }
    // First differing index per tensor, -1 when equal: toEqual walks millions of elements one by one.
    const firstDiff = (a: Float32Array, b: Float32Array) => (a.length !== b.length ? 0 : a.findIndex((x, i) => !Object.is(x, b[i])))
    for (const [n, v] of values) expect(firstDiff(back.get(n)!.data, v), n).toBe(-1)
  })

  it("maps Mamba2's gated norm weight: per_head as is (channel h·dv + j both sides), shared copied to every head", () => {
    const { spec, layout } = modelSpecFromFlaConfig(CONFIGS.mamba2)
    const per = flaTensorLinks(spec, layout).find((l) => l.linea === 'layers.0.mixer.o_norm.weight')!
    expect(per).toMatchObject({ fla: 'backbone.layers.0.mixer.norm.weight', lineaShape: [128], flaShape: [128] })
    expect(per.segments).toEqual([{ lineaRow: 0, flaRow: 0, rows: 128, flaStep: 1 }])
    const fla = Float32Array.from({ length: 128 }, (_, c) => c)
    const linea = new Float32Array(128)
    expect(copyLinkRows(per, fla, linea, new Uint8Array(128))).toBeNull()
    expect(linea).toEqual(fla)

    const sharedSpec: ModelSpec = { ...spec, layers: spec.layers.map((l) => ({ ...l, output_norm_weight: 'shared' as const })) }
    const shared = flaTensorLinks(sharedSpec, layout).find((l) => l.linea === 'layers.0.mixer.o_norm.weight')!
    expect(shared.lineaShape).toEqual([16])
    expect(shared.segments.map((s) => s.flaRow)).toEqual([0, 16, 32, 48, 64, 80, 96, 112])
    // export: every head gets the shared weight; import of unequal heads is refused, naming the rows
    const out = new Float32Array(128)
    const w = Float32Array.from({ length: 16 }, (_, j) => 1 + j)
    expect(assembleFlaTensor([shared], shared.fla, () => w, out)).toBeNull()
    expect(out.subarray(32, 48)).toEqual(w)
    expect(copyLinkRows(shared, fla, new Float32Array(16), new Uint8Array(16))).toMatch(/row 16 gives layers.0.mixer.o_norm.weight row 0 the value 16/)
  })

  it('exports a shared Mamba2 norm weight as every head’s copy, read back as per_head', () => {
    const spec: ModelSpec = { ...asFla({}), layers: asFla({}).layers.map((l) => ({ ...l, output_norm_weight: 'shared' as const })) }
    const { config } = flaConfigFromModelSpec(spec)
    const back = modelSpecFromFlaConfig(JSON.parse(JSON.stringify(config)) as FlaConfig).spec
    expect(computed(back)).toEqual(computed(asFla({})))
  })

  it('maps Mamba2 fused in_proj and conv1d rows and its per-head weights', () => {
    const { spec, layout } = modelSpecFromFlaConfig({ ...CONFIGS.mamba2, n_groups: 2, rmsnorm: false })
    const links = flaTensorLinks(spec, layout)
    const k = links.find((l) => l.linea === 'layers.0.mixer.k_proj')!
    // I = 128, N = 8, 8 heads over 2 groups: heads 0-3 read B of group 0, heads 4-7 of group 1
    expect(k.fla).toBe('backbone.layers.0.mixer.in_proj.weight')
    expect(k.flaShape).toEqual([2 * 128 + 2 * 2 * 8 + 8, 64])
    expect(k.segments.map((s) => s.flaRow)).toEqual([256, 256, 256, 256, 264, 264, 264, 264])
    const d = links.find((l) => l.linea === 'layers.0.mixer.D')!
    expect(d.flaShape).toEqual([8])
    expect(d.segments[1]).toEqual({ lineaRow: 16, flaRow: 1, rows: 16, flaStep: 0 })
    expect(links.find((l) => l.linea === 'layers.0.mixer.q_conv.weight')!.flaShape).toEqual([128 + 32, 1, 4])
  })
})

describe('refusals name the field, the value and what Linea takes', () => {
  it.each([
    [{ ...CONFIGS.retnet, feature_map: 'elu' }, /retnet config: feature_map = 'elu' has no Linea feature map; valid: null, relu, silu, swish/],
    [{ ...CONFIGS.retnet, num_kv_heads: 2 }, /num_kv_heads = 2 .*grouped keys/],
    [{ model_type: 'based' }, /fla has no Based model class/],
    [
      { model_type: 'rwkv7' },
      /model_type 'rwkv7' is not an fla model Linea reads; valid: gla, retnet, delta_net, gated_deltanet, mamba2, linear_attn, transformer/,
    ],
    [{ model_type: 7 }, /model_type = 7; valid:/],
    [
      { ...CONFIGS.gla, clamp_min: -5 },
      /gla config: clamp_min = -5 cannot be computed by Linea \(Linea does not clamp the log decay\); Linea takes clamp_min = null/,
    ],
    [{ ...CONFIGS.gla, use_gv: true }, /use_gv = true .*Linea takes use_gv = false/],
    [{ ...CONFIGS.gla, num_kv_heads: 2 }, /num_kv_heads = 2 .*grouped keys/],
    [{ ...CONFIGS.gla, feature_map: 'elu' }, /feature_map = 'elu' has no Linea feature map; valid: null, relu, silu, swish/],
    [{ ...CONFIGS.gla, norm_eps: 1e-5 }, /norm_eps = 0.00001 cannot be computed by Linea \(Linea's RMS norms use eps 1e-6\)/],
    [{ ...CONFIGS.gla, hidden_act: 'gelu' }, /hidden_act = 'gelu'.*Linea takes hidden_act = 'swish'/],
    [{ ...CONFIGS.gla, mystery_switch: 1 }, /field 'mystery_switch' is not one Linea knows for fla's gla/],
    [{ ...CONFIGS.delta_net, qk_norm: 'sum' }, /qk_norm = 'sum'.*Linea takes qk_norm = 'l2'/],
    [{ ...CONFIGS.delta_net, use_short_conv: false }, /use_short_conv = false/],
    [{ ...CONFIGS.gated_deltanet, num_v_heads: 4 }, /num_v_heads = 4/],
    [
      { model_type: 'mamba2', hidden_size: 64, num_hidden_layers: 1, head_dim: 16 },
      /mamba2 config: norm_eps = 0.00001 .*fla's default, as the config leaves it out/,
    ],
    [{ ...CONFIGS.mamba2, use_conv_bias: true }, /use_conv_bias = true .*Linea's short convolution has no bias/],
    [{ ...CONFIGS.mamba2, norm_before_gate: false }, /norm_before_gate = false .*Linea takes norm_before_gate = true, or rmsnorm = false/],
    [{ ...CONFIGS.mamba2, n_groups: 1 }, /n_groups = 1 with rmsnorm: fla normalizes groups of 128 channels, Linea each head's 16/],
    [{ ...CONFIGS.mamba2, dt_limit: [0, 10] }, /dt_limit = \[0,10\] .*Linea does not clamp dt/],
    [{ ...CONFIGS.linear_attn, feature_map: 'hedgehog' }, /feature_map = 'hedgehog' has no Linea feature map/],
    [{ ...CONFIGS.linear_attn, norm_feature_map: true }, /norm_feature_map = true .*1e-10/],
    [{ ...CONFIGS.transformer, rope_theta: 500000 }, /rope_theta = 500000 .*Linea's rotary base is 10000/],
    [{ ...CONFIGS.transformer, qk_norm: true }, /qk_norm = true/],
    [{ ...CONFIGS.gla, attn: { layers: [0], num_heads: 4, qkv_bias: true } }, /gla config attn: qkv_bias = true/],
    [{ ...CONFIGS.gla, attn: { layers: [5], num_heads: 4 } }, /gla config attn: layer 5 is past the 2 layers/],
    [{ ...CONFIGS.gla, attn: { layers: [0], num_heads: 4, rope_theta: 1e6 } }, /rope_theta = 1000000/],
    [
      {
        ...CONFIGS.gla,
        attn: [
          { layers: [0], num_heads: 4 },
          { layers: [0], num_heads: 4 },
        ],
      },
      /attn\[1\]: layer 0 is listed twice/,
    ],
    [{ ...CONFIGS.gla, hidden_size: 'big' }, /hidden_size = 'big' is not a whole number/],
  ])('%j', (config, message) => {
    expect(refusal(() => modelSpecFromFlaConfig(config as FlaConfig))).toMatch(message)
  })

  it('refuses to export what no fla class computes, saying what differs per type', () => {
    expect(refusal(() => flaConfigFromModelSpec(preset('mlstm')))).toMatch(
      /no fla model class computes these linear layers: gla: .*input_gate 'exp' \(needs 'none'\)/,
    )
    expect(refusal(() => flaConfigFromModelSpec(preset('linear-transformer')))).toMatch(/linear_attn: denominator 'sum' \(needs 'none'\)/)
    expect(refusal(() => flaConfigFromModelSpec(preset('based')))).toMatch(/feature_map 'taylor2'/)
    expect(refusal(() => flaConfigFromModelSpec(preset('mamba2')))).toMatch(
      /mamba2: shortcut 'd_skip' with output_norm 'rmsnorm' \(fla's Mamba2 adds D ⊙ x before its norm; needs 'd_skip_before_norm'\), qk_scale default \(dk\^-1\/2\) \(needs 1\)/,
    )
    const gdn = preset('gated-deltanet')
    expect(
      refusal(() =>
        flaConfigFromModelSpec({ ...gdn, layers: gdn.layers.map((l) => (l.kind === 'linear' ? { ...l, output_norm_weight: 'per_head' as const } : l)) }),
      ),
    ).toMatch(/gated_deltanet: output_norm_weight 'per_head' \(needs 'shared'\)/)
    expect(refusal(() => flaConfigFromModelSpec({ ...preset('gla'), position: 'learned', max_positions: 64 }))).toMatch(/position 'learned'/)
    const gla = preset('gla')
    const first = gla.layers[0]!
    if (first.kind !== 'linear') throw new Error('the GLA preset starts with a linear layer')
    expect(refusal(() => flaConfigFromModelSpec({ ...gla, layers: [first, { ...first, short_conv: 4 }] }))).toMatch(/linear layers differ/)
    expect(refusal(() => flaConfigFromModelSpec({ ...gla, layers: [first, { kind: 'softmax', heads: 4, window: null, rotary: false }] }))).toMatch(
      /layers\[1\]: a softmax layer without rotary/,
    )
  })
})
