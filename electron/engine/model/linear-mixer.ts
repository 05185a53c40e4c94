// A linear-attention layer built from a LinearLayer spec: projections, short
// convolution, feature map, gates, the fused mixer, per-head output norm and
// D skip (either order), output gate and output projection.
//
// x: (B, T, d_model) -> (B, T, d_model); inside, heads are (B, T, H, dk|dv).
import { outputNormWeight, type LinearLayer } from '../../api/model-spec'
import type { Ctx } from '../autograd/context'
import { opDefaults, type FeatureMapKind, type MixerFwdAttrs, type UnaryKind } from '../ops/generated'
import type { Tensor } from '../tensor'
import { gateInit, weightInit, type InitContext } from './init-scheme'
import { init, type ParamStore } from './params'
import type { LinearMixerTap } from './taps'

/** GLA: gate logits are divided by this, so decays start near 1. */
export const GLA_GATE_NORMALIZER = 16
export const GLA_GATE_RANK = 16

export class LinearMixerLayer {
  private readonly p: Record<string, Tensor> = {}
  private readonly dk: number
  private readonly dv: number
  private readonly featureKind: FeatureMapKind
  /** The output norm's weight is H·dv (a weight per head and channel) instead of dv shared by heads. */
  private readonly normPerHead: boolean
  /** Set by the inspector: receives the mixer's inputs and output on every forward. */
  tap?: (t: LinearMixerTap) => void

  constructor(
    private readonly spec: LinearLayer,
    readonly prefix: string,
    dModel: number,
    dims: { dk: number; dv: number },
    initCtx: InitContext,
    store: ParamStore,
  ) {
    const H = spec.heads
    this.dk = dims.dk
    this.dv = dims.dv
    if (spec.feature_map === 'hedgehog')
      throw new Error(`${prefix}.feature_map: 'hedgehog' (learned feature map) is not built yet; valid: identity, elu1, relu, silu, l2norm, taylor2`)
    // DeltaNet's l2norm follows silu; the short convolution already applies silu.
    this.featureKind = spec.feature_map === 'l2norm' ? (spec.short_conv > 0 ? 'l2norm' : 'silu_l2norm') : spec.feature_map
    // Projections from the block input (out, in); o_proj writes into the residual stream.
    const w = (name: string, out: number, inn: number) => (this.p[name] = store.create(`${prefix}.${name}`, [out, inn], weightInit(initCtx, 'proj', inn)))
    const kd = H * this.dk
    const vd = H * this.dv
    w('q_proj', kd, dModel)
    w('k_proj', kd, dModel)
    w('v_proj', vd, dModel)
    this.p.o_proj = store.create(`${prefix}.o_proj`, [dModel, vd], weightInit(initCtx, 'out_proj', vd))
    if (spec.short_conv > 0) {
      const bound = 1 / Math.sqrt(spec.short_conv)
      for (const [name, c] of [
        ['q_conv', kd],
        ['k_conv', kd],
        ['v_conv', vd],
      ] as const)
        this.p[name] = store.create(`${prefix}.${name}.weight`, [c, spec.short_conv], init.uniform(-bound, bound), { decay: false })
    }
    if (spec.forget_gate === 'fixed') {
      // RetNet: γ_h = 1 − 2^(−5−h), a fixed buffer
      const g = Array.from({ length: H }, (_, h) => Math.log(1 - 2 ** (-5 - h)))
      this.p.log_decay = store.create(`${prefix}.log_decay`, [H], init.values(g), { decay: false, trainable: false })
    }
    const needsDt = spec.forget_gate === 'scalar' || spec.input_gate === 'softplus'
    const gates = gateInit(initCtx.scheme, spec.forget_gate === 'scalar')
    if (needsDt) {
      w('dt_proj', H, dModel)
      this.p.dt_bias = store.create(`${prefix}.dt_bias`, [H], gates.dtBias, { decay: false })
    }
    if (spec.forget_gate === 'scalar') this.p.A_log = store.create(`${prefix}.A_log`, [H], gates.aLog, { decay: false })
    if (spec.forget_gate === 'vector') {
      const gain = 2 ** -2.5
      this.p.gk_proj_down = store.create(`${prefix}.gk_proj.0.weight`, [GLA_GATE_RANK, dModel], init.xavier(gain))
      this.p.gk_proj_up = store.create(`${prefix}.gk_proj.1.weight`, [kd, GLA_GATE_RANK], init.xavier(gain))
      this.p.gk_bias = store.create(`${prefix}.gk_proj.1.bias`, [kd], init.constant(0), { decay: false })
    }
    if (spec.input_gate === 'sigmoid' || spec.input_gate === 'exp') {
      w('i_proj', H, dModel)
      this.p.i_bias = store.create(`${prefix}.i_proj.bias`, [H], init.constant(0), { decay: false })
    }
    if (spec.delta_rule !== 'off') w('b_proj', H, dModel)
    this.normPerHead = spec.output_norm !== 'none' && outputNormWeight(spec) === 'per_head'
    if (spec.output_norm !== 'none')
      this.p.o_norm = store.create(`${prefix}.o_norm.weight`, [this.normPerHead ? vd : this.dv], init.constant(1), { decay: false })
    if (spec.shortcut !== 'none') this.p.D = store.create(`${prefix}.D`, [vd], init.constant(1), { decay: false })
    if (spec.output_gate === 'swish') w('g_proj', vd, dModel)
  }

  forward(ctx: Ctx, x: Tensor): Tensor {
    const { spec, p } = this
    const [B, T] = x.shape as [number, number, number]
    const H = spec.heads
    const heads = (t: Tensor, d: number) => ctx.view(t, [B, T, H, d])
    // Weights are (out, in), as PyTorch stores them.
    const proj = (input: Tensor, w: Tensor, bias?: Tensor) => ctx.op('linear_fwd', { x: input, w, bias }, { trans_w: true }).y
    const conv = (t: Tensor, name: string) => (spec.short_conv > 0 ? ctx.op('short_conv_fwd', { x: t, weight: p[name]! }, { activation: 'silu' }).y : t)
    const unary = (t: Tensor, kind: UnaryKind, alpha?: number) => ctx.op('unary_fwd', { x: t }, { kind, alpha }).y
    const featureMap = (t: Tensor) => ctx.op('feature_map_fwd', { x: t }, { kind: this.featureKind }).y

    const q = conv(proj(x, p.q_proj!), 'q_conv')
    const k = conv(proj(x, p.k_proj!), 'k_conv')
    const v = conv(proj(x, p.v_proj!), 'v_conv')
    // RetNet's retention rotates q and k by position after the feature map (rotary_fwd: (B, T, H, dk)).
    const rotate = (t: Tensor) => (spec.rotary ? ctx.op('rotary_fwd', { x: t }).y : t)
    const q4 = rotate(featureMap(heads(q, this.dk)))
    const k4 = rotate(featureMap(heads(k, this.dk)))
    const v4 = heads(v, this.dv)

    // Gates, all (B, T, H) except the vector gate (B, T, H, dk) and the fixed one (H).
    let g: Tensor | undefined
    let i: Tensor | undefined
    let dtPre: Tensor | undefined
    if (p.dt_proj) dtPre = ctx.op('binary_fwd', { a: proj(x, p.dt_proj), b: p.dt_bias! }, { kind: 'add', broadcast: true }).y
    if (spec.forget_gate === 'fixed') g = p.log_decay
    if (spec.forget_gate === 'scalar') {
      // Mamba2: g = −exp(A_log) · softplus(x W + dt_bias)
      const dt = unary(dtPre!, 'softplus')
      g = ctx.op('binary_fwd', { a: dt, b: unary(p.A_log!, 'neg_exp') }, { kind: 'mul', broadcast: true }).y
    }
    if (spec.forget_gate === 'vector') {
      // GLA: g = logsigmoid(x W1 W2 + b) / 16
      const low = proj(x, p.gk_proj_down!)
      const logits = proj(low, p.gk_proj_up!, p.gk_bias)
      g = heads(unary(logits, 'logsigmoid', 1 / GLA_GATE_NORMALIZER), this.dk)
    }
    if (spec.input_gate === 'softplus') i = dtPre
    if (spec.input_gate === 'sigmoid' || spec.input_gate === 'exp') i = proj(x, p.i_proj!, p.i_bias)
    let beta: Tensor | undefined
    if (spec.delta_rule !== 'off') beta = unary(proj(x, p.b_proj!), 'sigmoid', spec.delta_rule === 'negative_eigen' ? 2 : 1)

    // Taylor features already carry 1/sqrt(dk); other maps keep the head dim,
    // so the op's default scale (0: K^-1/2) is dk^-1/2.
    const attrs: Required<MixerFwdAttrs> = {
      ...opDefaults.mixer_fwd,
      form: 'chunked',
      gate: spec.forget_gate,
      input_gate: spec.input_gate,
      delta: spec.delta_rule !== 'off',
      normalize: spec.denominator,
      scale: spec.qk_scale ?? (this.featureKind === 'taylor2' ? 1 : opDefaults.mixer_fwd.scale),
    }
    let o = ctx.op('mixer_fwd', { q: q4, k: k4, v: v4, g, i, beta }, attrs).o
    this.tap?.({ kind: 'linear', q: q4, k: k4, v: v4, g, i, beta, o, attrs })
    // Each head is normalized over its dv channels; a shared weight (dv) rides on the norm op,
    // a per-head one (H·dv, head-major like the flattened heads) multiplies the flattened output.
    // The D skip (on the flattened (B, T, H·dv) output) comes before the norm (Mamba2) or after it.
    const dSkip = (t: Tensor) =>
      ctx.op('binary_fwd', { a: t, b: ctx.op('binary_fwd', { a: v, b: p.D! }, { kind: 'mul', broadcast: true }).y }, { kind: 'add' }).y
    if (spec.shortcut === 'd_skip_before_norm') o = ctx.view(dSkip(ctx.view(o, [B, T, H * this.dv])), [B, T, H, this.dv])
    const normKind = spec.output_norm === 'rmsnorm' ? 'rms' : 'layer'
    if (spec.output_norm !== 'none') o = ctx.op('norm_fwd', { x: o, weight: this.normPerHead ? undefined : p.o_norm }, { kind: normKind }).y
    o = ctx.view(o, [B, T, H * this.dv])
    if (this.normPerHead) o = ctx.op('binary_fwd', { a: o, b: p.o_norm! }, { kind: 'mul', broadcast: true }).y
    if (spec.shortcut === 'd_skip') o = dSkip(o)
    if (p.g_proj) o = ctx.op('swiglu_fwd', { gate: proj(x, p.g_proj), up: o }).y
    return proj(o, p.o_proj!)
  }
}
