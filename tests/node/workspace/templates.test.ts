// The templates of workspace-templates/: each expands into valid runs.
import { describe, expect, it } from 'vitest'
import { PRESET_IDS } from '../../../electron/api/presets'
import type { Template } from '../../../electron/api/template'
import { expandTemplate, loadTemplates, parseTemplate, TemplateError } from '../../../electron/workspace/templates'

describe('workspace templates', () => {
  const templates = loadTemplates()

  it('are the six ready experiments', () => {
    expect(templates.map((t) => t.id).sort()).toEqual([
      'byte-lm',
      'hybrid-ratio-sweep',
      'mqar-recall-sweep',
      'mqar-zoology',
      'mqar-zoology-gpu',
      'state-tracking',
    ])
  })

  it('expand into the grid of their sweep, every spec valid', () => {
    const byId = Object.fromEntries(templates.map((t) => [t.id, t]))
    const mqar = expandTemplate(byId['mqar-recall-sweep']!)
    expect(mqar).toHaveLength(6 * 2)
    expect(mqar.map((r) => r.name)).toContain('gated-deltanet 128')
    expect(new Set(mqar.map((r) => r.modelSpec.d_model))).toEqual(new Set([64, 128]))
    const hybrid = expandTemplate(byId['hybrid-ratio-sweep']!)
    expect(hybrid.map((r) => r.modelSpec.layers.filter((l) => l.kind === 'softmax').length)).toEqual([0, 1, 2, 4, 8])
    // Zoology's scale: presets x widths x (T, pairs) coupled, vocabulary 8192
    const zoology = expandTemplate(byId['mqar-zoology-gpu']!)
    // every preset (issue 16), at three widths, two lengths and two learning rates (Zoology reports
    // each cell at the best of a sweep; one rate does not serve every width: bench/gpu/README.md)
    expect(new Set(zoology.map((r) => r.name.split(' ')[0]))).toEqual(new Set(PRESET_IDS()))
    expect(zoology).toHaveLength(PRESET_IDS().length * 3 * 2 * 2)
    expect(zoology.filter((r) => r.name === 'gla 128 256 lr1e-3').map((r) => r.trainSpec.optimizer.lr)).toEqual([0.001])
    expect(new Set(zoology.map((r) => `${r.name.split(' ')[3]}:${r.trainSpec.optimizer.lr}`))).toEqual(new Set(['lr3e-3:0.003', 'lr1e-3:0.001']))
    expect(new Set(zoology.map((r) => `${r.trainSpec.task.seq_len}/${'num_kv_pairs' in r.trainSpec.task ? r.trainSpec.task.num_kv_pairs : ''}`))).toEqual(
      new Set(['256/16', '512/64']),
    )
    expect(zoology.every((r) => r.modelSpec.vocab_size === 8192 && r.trainSpec.precision === 'auto')).toBe(true)
    // Zoology's batches (256 at T = 256, 128 at T = 512): at batch 64 every mixer stayed at chance
    // for 4000 steps on the GPU (bench/mqar-zoology-gpu-batch64.json)
    expect(new Set(zoology.map((r) => `${r.trainSpec.task.seq_len}:${r.trainSpec.batch_size}`))).toEqual(new Set(['256:256', '512:128']))
    // Gated DeltaNet, alone and in the hybrid, without its output gate (Zoology's configs: use_gate
    // False), as in mqar-zoology; GLA keeps its swish gate, as Zoology's GLA does
    const gates = (name: string) => zoology.find((r) => r.name === name)!.modelSpec.layers.flatMap((l) => (l.kind === 'linear' ? [l.output_gate] : []))
    expect(gates('gated-deltanet 64 512 lr3e-3')).toEqual(['none', 'none'])
    expect(new Set(gates('hybrid-gated-deltanet 128 256 lr1e-3'))).toEqual(new Set(['none']))
    expect(gates('gla 64 256 lr3e-3')).toEqual(['swish', 'swish'])
    const state = expandTemplate(byId['state-tracking']!)
    expect(state.map((r) => r.name)).toEqual(['deltanet parity', 'deltanet S5', 'deltanet-negative-eigen parity', 'deltanet-negative-eigen S5'])
    expect(state.every((r) => 'eval_seq_lens' in r.trainSpec.task && r.trainSpec.task.eval_seq_lens.length > 0)).toBe(true)
  })

  it('ask for their inputs, and take overrides for every run', () => {
    const bytes = templates.find((t) => t.id === 'byte-lm')!
    expect(() => expandTemplate(bytes)).toThrow(TemplateError)
    expect(() => expandTemplate(bytes)).toThrow('template byte-lm needs text file (train.task.path)')
    expect(() => expandTemplate(bytes, { 'train.task.path': '/tmp/some.txt' }, { 'train.steps': 10 })).toThrow('schedule.warmup_steps: 100 exceeds steps 10')
    const [run] = expandTemplate(bytes, { 'train.task.path': '/tmp/some.txt' }, { 'train.steps': 10, 'train.schedule.warmup_steps': 2 })
    expect(run!.trainSpec.task).toMatchObject({ kind: 'bytes', path: '/tmp/some.txt' })
    expect(run!.trainSpec.steps).toBe(10)
  })

  it('refuse an override that makes a spec invalid, naming the field', () => {
    const mqar = templates.find((t) => t.id === 'mqar-recall-sweep')!
    expect(() => expandTemplate(mqar, {}, { 'train.steps': 0 })).toThrow(/steps: 0 is too small/)
  })

  it('refuse an override of a swept field (it would replace every run value under the sweep names)', () => {
    const mqar = templates.find((t) => t.id === 'mqar-recall-sweep')!
    expect(() => expandTemplate(mqar, {}, { 'model.d_model': 32 })).toThrow(/override model.d_model: the template sweeps model.d_model over 64, 128/)
    expect(() => expandTemplate(mqar, {}, { model: { preset: 'gla' } })).toThrow(/override model: the template sweeps model\./)
    // a field beside the sweep is fine
    expect(expandTemplate(mqar, {}, { 'model.n_layers': 1 }).every((r) => r.modelSpec.layers.length === 1)).toBe(true)
  })

  it("mqar-zoology expresses Zoology's setup: no MLP, untied head, learned positions for linear models, lr 3e-3 to 0, >= 2048 eval sequences", () => {
    const t = templates.find((x) => x.id === 'mqar-zoology')!
    expect(t.reproduces?.paper).toMatch(/Zoology/)
    expect(t.reproduces?.figure).toMatch(/Figure 2/)
    const runs = expandTemplate(t)
    expect(runs.map((r) => r.name)).toEqual([
      'transformer',
      'linear-transformer',
      'retnet',
      'gla',
      'gla-short-conv',
      'mamba2',
      'deltanet',
      'gated-deltanet',
      'hybrid',
    ])
    for (const { name, modelSpec: m, trainSpec: s } of runs) {
      expect(m, name).toMatchObject({ d_model: 64, vocab_size: 512, mlp_expansion: 0, tie_embeddings: false, init: 'fan_in' })
      expect(m.layers, name).toHaveLength(2)
      expect(m.position, name).toBe(name === 'transformer' ? 'rotary' : 'learned')
      if (m.position === 'learned') expect(m.max_positions, name).toBe(128)
      expect(s.task).toEqual({ kind: 'mqar', seq_len: 128, num_kv_pairs: 8, power_a: 0.01, vocab_size: 512 })
      expect(s).toMatchObject({ steps: 1500, batch_size: 64, early_stop_accuracy: null })
      expect(s.optimizer).toMatchObject({ lr: 3e-3, weight_decay: 0.1, grad_clip: 1 })
      expect(s.schedule).toEqual({ warmup_steps: 100, decay: 'cosine', min_lr_ratio: 0 })
      expect(s.eval.every).toBe(100)
      expect(s.eval.batches * s.batch_size).toBeGreaterThanOrEqual(2048)
    }
    const byName = Object.fromEntries(runs.map((r) => [r.name, r.modelSpec]))
    // The softmax layer first: Gated DeltaNet then a window-16 layer stayed on the plateau (see bench/mqar-recall.md)
    expect(byName.hybrid!.layers.map((l) => (l.kind === 'softmax' ? `softmax window ${l.window}` : `linear ${l.delta_rule} ${l.forget_gate}`))).toEqual([
      'softmax window 16',
      'linear on scalar',
    ])
    // GLA as its paper defines it (no short convolution), and with one on q, k, v
    const shortConvs = (name: string) => byName[name]!.layers.map((l) => (l.kind === 'linear' ? l.short_conv : -1))
    expect(shortConvs('gla')).toEqual([0, 0])
    expect(shortConvs('gla-short-conv')).toEqual([4, 4])
    // DeltaNet and Gated DeltaNet without the swish output gate, as Zoology's configs of these mixers set
    // them (use_gate False); GLA keeps its own gate, as Zoology's GLA does
    const outputGates = (name: string) => byName[name]!.layers.flatMap((l) => (l.kind === 'linear' ? [l.output_gate] : []))
    expect(outputGates('deltanet')).toEqual(['none', 'none'])
    expect(outputGates('gated-deltanet')).toEqual(['none', 'none'])
    expect(outputGates('hybrid')).toEqual(['none'])
    expect(outputGates('gla')).toEqual(['swish', 'swish'])
    // Mamba2 resized to d_model 64: heads · dv = 2 · d_model, not 4x; its state's key size stays
    expect(byName.mamba2!.layers.every((l) => l.kind === 'linear' && l.heads * l.dv! === 128 && l.dk === 32 && l.output_norm === 'rmsnorm')).toBe(true)
  })

  it('set any model field and the switches of every linear and softmax layer, per run with `with`', () => {
    const t: Template = parseTemplate(
      JSON.stringify({
        format: 'linea.template/1',
        id: 'expressive',
        name: 'every model field',
        description: 'a template that sets what a published setup needs',
        model: {
          preset: 'hybrid-gated-deltanet',
          n_layers: 4,
          d_model: 32,
          vocab_size: 64,
          mlp_expansion: 2,
          tie_embeddings: false,
          init: 'gpt2',
          position: 'learned',
          linear: { short_conv: 0, output_gate: 'none' },
          softmax: { rotary: false, window: 8 },
        },
        train: templates.find((x) => x.id === 'mqar-recall-sweep')!.train,
        sweep: [
          {
            path: 'model.preset',
            values: ['gla', 'transformer'],
            with: [{ 'model.linear.short_conv': 4 }, { 'model.position': 'none', 'model.mlp_expansion': 0 }],
          },
        ],
        inputs: [],
      }),
      'expressive.json',
    )
    const [gla, transformer] = expandTemplate(t)
    expect(gla!.values).toEqual({ 'model.preset': 'gla', 'model.linear.short_conv': 4 })
    expect(gla!.modelSpec).toMatchObject({ mlp_expansion: 2, tie_embeddings: false, init: 'gpt2', position: 'learned', max_positions: 128 })
    expect(gla!.modelSpec.layers.every((l) => l.kind === 'linear' && l.short_conv === 4 && l.output_gate === 'none')).toBe(true)
    expect(transformer!.modelSpec).toMatchObject({ mlp_expansion: 0, init: 'gpt2', position: 'none' })
    expect(transformer!.modelSpec.max_positions).toBeUndefined()
    expect(transformer!.modelSpec.layers.every((l) => l.kind === 'softmax' && !l.rotary && l.window === 8)).toBe(true)
    // what `with` sets is swept: an override there is refused
    expect(() => expandTemplate(t, {}, { 'model.position': 'rotary' })).toThrow(
      /override model.position: the template sets model.position with each value of its model.preset sweep/,
    )
    // a switch that is not a layer field is refused by name
    expect(() => expandTemplate(t, {}, { 'model.linear.conv': 4 })).toThrow(/'conv' is not a field of model.linear; valid: .*short_conv/)
  })

  it('refuse a sweep axis whose labels or `with` do not match its values', () => {
    const base = JSON.parse(JSON.stringify(templates.find((x) => x.id === 'mqar-zoology')!))
    base.sweep[0].with = [{}]
    expect(() => parseTemplate(JSON.stringify(base), 'bad.json')).toThrow(/sweep\[0\]\.with: has 1 entries for 9 values/)
  })
})
