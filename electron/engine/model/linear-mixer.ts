// A linear-attention layer built from a LinearLayer spec: projections, short
// convolution, feature map, gates, the fused mixer, per-head output norm,
// shortcut, output gate and output projection.
//
// x: (B, T, d_model) -> (B, T, d_model); inside, heads are (B, T, H, dk|dv).
import type { LinearLayer } from '../../api/model-spec'
import type { Ctx } from '../autograd/context'
import { binary, featureMap, linear, mixer, norm, reshape, shortConv, swiglu, unary, type FeatureMapKind } from '../autograd/functions'
import type { Tensor } from '../tensor'
import { init, type ParamStore } from './params'
import type { LinearMixerTap } from './taps'

/** Mamba2's dt range: dt ~ exp(U[log 1e-3, log 1e-1]); stored as softplus⁻¹(dt). */
const DT_MIN = 1e-3
const DT_MAX = 1e-1
/** GLA: gate logits are divided by this, so decays start near 1. */
const GLA_GATE_NORMALIZER = 16
const GLA_GATE_RANK = 16

const softplusInverse = (y: number) => y + Math.log(-Math.expm1(-y))

export class LinearMixerLayer {
  private readonly p: Record<string, Tensor> = {}
  private readonly dk: number
  private readonly dv: number
  private readonly featureKind: FeatureMapKind
  /** Set by the inspector: receives the mixer's inputs and output on every forward. */
  tap?: (t: LinearMixerTap) => void

  constructor(
    private readonly spec: LinearLayer,
    readonly prefix: string,
    dModel: number,
    dims: { dk: number; dv: number },
    outStd: number,
    store: ParamStore,
  ) {
    const H = spec.heads
    this.dk = dims.dk
    this.dv = dims.dv
    if (spec.feature_map === 'hedgehog')
      throw new Error(`${prefix}.feature_map: 'hedgehog' (learned feature map) is not built yet; valid: identity, elu1, relu, silu, l2norm, taylor2`)
    // DeltaNet's l2norm follows silu; the short convolution already applies silu.
    this.featureKind = spec.feature_map === 'l2norm' ? (spec.short_conv > 0 ? 'l2norm' : 'silu_l2norm') : spec.feature_map
    const w = (name: string, out: number, inn: number, std = 0.02) => (this.p[name] = store.create(`${prefix}.${name}`, [out, inn], init.normal(std)))
    const kd = H * this.dk
    const vd = H * this.dv
    w('q_proj', kd, dModel)
    w('k_proj', kd, dModel)
    w('v_proj', vd, dModel)
    w('o_proj', dModel, vd, outStd)
    if (spec.short_conv > 0) {
      const bound = 1 / Math.sqrt(spec.short_conv)
      for (const [name, c] of [['q_conv', kd], ['k_conv', kd], ['v_conv', vd]] as const)
        this.p[name] = store.create(`${prefix}.${name}.weight`, [c, spec.short_conv], init.uniform(-bound, bound), { decay: false })
    }
    if (spec.forget_gate === 'fixed') {
      // RetNet: γ_h = 1 − 2^(−5−h), a fixed buffer
      const g = Array.from({ length: H }, (_, h) => Math.log(1 - 2 ** (-5 - h)))
      this.p.log_decay = store.create(`${prefix}.log_decay`, [H], init.values(g), { decay: false, trainable: false })
    }
    const needsDt = spec.forget_gate === 'scalar' || spec.input_gate === 'softplus'
    if (needsDt) {
      w('dt_proj', H, dModel)
      this.p.dt_bias = store.create(`${prefix}.dt_bias`, [H], init.uniform(Math.log(DT_MIN), Math.log(DT_MAX), (u) => softplusInverse(Math.exp(u))), {
        decay: false,
      })
    }
    if (spec.forget_gate === 'scalar') this.p.A_log = store.create(`${prefix}.A_log`, [H], init.uniform(1, 16, Math.log), { decay: false })
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
    if (spec.output_norm !== 'none') this.p.o_norm = store.create(`${prefix}.o_norm.weight`, [this.dv], init.constant(1), { decay: false })
    if (spec.shortcut === 'd_skip') this.p.D = store.create(`${prefix}.D`, [vd], init.constant(1), { decay: false })
    if (spec.output_gate === 'swish') w('g_proj', vd, dModel)
  }

  forward(ctx: Ctx, x: Tensor): Tensor {
    const { spec, p } = this
    const [B, T] = x.shape as [number, number, number]
    const H = spec.heads
    const heads = (t: Tensor, d: number) => reshape(ctx, t, [B, T, H, d])
    const conv = (t: Tensor, name: string) => (spec.short_conv > 0 ? shortConv(ctx, t, p[name]!, undefined, 'silu') : t)

    const q = conv(linear(ctx, x, p.q_proj!, undefined, true), 'q_conv')
    const k = conv(linear(ctx, x, p.k_proj!, undefined, true), 'k_conv')
    const v = conv(linear(ctx, x, p.v_proj!, undefined, true), 'v_conv')
    const q4 = featureMap(ctx, heads(q, this.dk), this.featureKind)
    const k4 = featureMap(ctx, heads(k, this.dk), this.featureKind)
    const v4 = heads(v, this.dv)

    // Gates, all (B, T, H) except the vector gate (B, T, H, dk) and the fixed one (H).
    let g: Tensor | undefined
    let i: Tensor | undefined
    let dtPre: Tensor | undefined
    if (p.dt_proj) dtPre = binary(ctx, linear(ctx, x, p.dt_proj, undefined, true), p.dt_bias!, 'add', true)
    if (spec.forget_gate === 'fixed') g = p.log_decay
    if (spec.forget_gate === 'scalar') {
      // Mamba2: g = −exp(A_log) · softplus(x W + dt_bias)
      const dt = unary(ctx, dtPre!, 'softplus')
      g = binary(ctx, dt, unary(ctx, p.A_log!, 'neg_exp'), 'mul', true)
    }
    if (spec.forget_gate === 'vector') {
      // GLA: g = logsigmoid(x W1 W2 + b) / 16
      const low = linear(ctx, x, p.gk_proj_down!, undefined, true)
      const logits = linear(ctx, low, p.gk_proj_up!, p.gk_bias, true)
      g = heads(unary(ctx, logits, 'logsigmoid', 1 / GLA_GATE_NORMALIZER), this.dk)
    }
    if (spec.input_gate === 'softplus') i = dtPre
    if (spec.input_gate === 'sigmoid' || spec.input_gate === 'exp') i = linear(ctx, x, p.i_proj!, p.i_bias, true)
    let beta: Tensor | undefined
    if (spec.delta_rule !== 'off') beta = unary(ctx, linear(ctx, x, p.b_proj!, undefined, true), 'sigmoid', spec.delta_rule === 'negative_eigen' ? 2 : 1)

    // Taylor features already carry 1/sqrt(dk); other maps use dk^-1/2 of the raw head dim.
    const scale = spec.qk_scale ?? (this.featureKind === 'taylor2' ? 1 : 1 / Math.sqrt(this.dk))
    const attrs = {
      form: 'chunked',
      chunk_size: 64,
      gate: spec.forget_gate,
      input_gate: spec.input_gate,
      delta: spec.delta_rule !== 'off',
      normalize: spec.denominator,
      scale,
    } as const
    let o = mixer(ctx, { q: q4, k: k4, v: v4, g, i, beta, attrs })
    this.tap?.({ kind: 'linear', q: q4, k: k4, v: v4, g, i, beta, o, attrs })
    if (spec.output_norm !== 'none') o = norm(ctx, o, p.o_norm, spec.output_norm === 'rmsnorm' ? 'rms' : 'layer')
    o = reshape(ctx, o, [B, T, H * this.dv])
    if (p.D) o = binary(ctx, o, binary(ctx, v, p.D, 'mul', true), 'add')
    if (p.g_proj) o = swiglu(ctx, linear(ctx, x, p.g_proj, undefined, true), o)
    return linear(ctx, o, p.o_proj!, undefined, true)
  }
}
