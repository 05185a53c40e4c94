// A plain float64 reference of fla's GLA, DeltaNet, Gated DeltaNet and Mamba2
// language models, written from fla's layer code and reading fla's own
// parameter names: the import test runs Linea's engine on the imported
// weights and holds its logits against this, so a wrong name, row order,
// reshape or gate formula in the mapping shows as a wrong logit.
//
// Shapes: h (T, d); per head q, k (T, H, dk), v (T, H, dv); S (dk, dv).
// One sequence, recurrent form, no kernels.
import { FLA_TYPES, type FlaConfig, type FlaModelType } from '../../electron/interop/fla-config'

type W = (name: string) => Float32Array

const EPS = 1e-6

/** y = x Wᵀ (+ b) for W (out, in) as PyTorch stores it. x: (T, in) -> (T, out). */
function linear(x: Float64Array, T: number, w: Float32Array, out: number, bias?: Float32Array, rowOffset = 0): Float64Array {
  const inn = x.length / T
  const y = new Float64Array(T * out)
  for (let t = 0; t < T; t++)
    for (let o = 0; o < out; o++) {
      let s = bias ? bias[o]! : 0
      for (let i = 0; i < inn; i++) s += x[t * inn + i]! * w[(rowOffset + o) * inn + i]!
      y[t * out + o] = s
    }
  return y
}

/** RMS norm over groups of `n` values, times weight (n, or absent). */
function rmsNorm(x: Float64Array, n: number, weight?: Float32Array): Float64Array {
  const y = new Float64Array(x.length)
  for (let r = 0; r < x.length / n; r++) {
    let ss = 0
    for (let i = 0; i < n; i++) ss += x[r * n + i]! ** 2
    const rstd = 1 / Math.sqrt(ss / n + EPS)
    for (let i = 0; i < n; i++) y[r * n + i] = x[r * n + i]! * rstd * (weight ? weight[i]! : 1)
  }
  return y
}

const silu = (x: number) => x / (1 + Math.exp(-x))
const softplus = (x: number) => (x > 20 ? x : Math.log1p(Math.exp(x)))
const logsigmoid = (x: number) => -softplus(-x)

/** Causal depthwise conv then silu; w (C, 1, W) read from `rowOffset`. x (T, C). */
function shortConvSilu(x: Float64Array, T: number, w: Float32Array, W: number, rowOffset = 0): Float64Array {
  const C = x.length / T
  const y = new Float64Array(x.length)
  for (let t = 0; t < T; t++)
    for (let c = 0; c < C; c++) {
      let s = 0
      for (let j = 0; j < W; j++) {
        const src = t - W + 1 + j
        if (src >= 0) s += w[(rowOffset + c) * W + j]! * x[src * C + c]!
      }
      y[t * C + c] = silu(s)
    }
  return y
}

function l2(x: Float64Array, n: number): Float64Array {
  const y = new Float64Array(x.length)
  for (let r = 0; r < x.length / n; r++) {
    let ss = 0
    for (let i = 0; i < n; i++) ss += x[r * n + i]! ** 2
    const inv = 1 / Math.sqrt(ss + EPS)
    for (let i = 0; i < n; i++) y[r * n + i] = x[r * n + i]! * inv
  }
  return y
}

/**
 * Per head: S_t = decay_t ⊙ S_{t−1} (+ delta correction) + write_t k_t v_tᵀ, o_t = S_tᵀ (scale q_t).
 * decay(t, h, i): the factor on S's row i; beta(t, h): delta-rule strength, or undefined for additive writes.
 */
function recurrence(
  T: number,
  H: number,
  dk: number,
  dv: number,
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  scale: number,
  decay: (t: number, h: number, i: number) => number,
  beta?: (t: number, h: number) => number,
  write: (t: number, h: number) => number = () => 1,
): Float64Array {
  const o = new Float64Array(T * H * dv)
  for (let h = 0; h < H; h++) {
    const S = new Float64Array(dk * dv)
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < dk; i++) for (let j = 0; j < dv; j++) S[i * dv + j]! *= decay(t, h, i)
      const kt = (i: number) => k[(t * H + h) * dk + i]!
      const vt = (j: number) => v[(t * H + h) * dv + j]!
      if (beta) {
        const b = beta(t, h)
        for (let j = 0; j < dv; j++) {
          let read = 0
          for (let i = 0; i < dk; i++) read += S[i * dv + j]! * kt(i)
          const u = b * (vt(j) - read)
          for (let i = 0; i < dk; i++) S[i * dv + j]! += kt(i) * u
        }
      } else {
        const w = write(t, h)
        for (let i = 0; i < dk; i++) for (let j = 0; j < dv; j++) S[i * dv + j]! += w * kt(i) * vt(j)
      }
      for (let j = 0; j < dv; j++) {
        let s = 0
        for (let i = 0; i < dk; i++) s += S[i * dv + j]! * q[(t * H + h) * dk + i]! * scale
        o[(t * H + h) * dv + j] = s
      }
    }
  }
  return o
}

/** Rotate-half rotary (base 10000) on (T, H, D) in place. */
function rotary(x: Float64Array, T: number, H: number, D: number): void {
  const half = D / 2
  for (let t = 0; t < T; t++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < half; i++) {
        const theta = t * 10000 ** (-(2 * i) / D)
        const a = x[(t * H + h) * D + i]!
        const b = x[(t * H + h) * D + i + half]!
        x[(t * H + h) * D + i] = a * Math.cos(theta) - b * Math.sin(theta)
        x[(t * H + h) * D + i + half] = b * Math.cos(theta) + a * Math.sin(theta)
      }
}

/** fla's Attention: rotary q and k, causal softmax over the last `window` keys (all when null). */
function attention(w: W, p: string, x: Float64Array, T: number, d: number, H: number, window: number | null): Float64Array {
  const D = d / H
  const q = linear(x, T, w(`${p}.q_proj.weight`), d)
  const k = linear(x, T, w(`${p}.k_proj.weight`), d)
  const v = linear(x, T, w(`${p}.v_proj.weight`), d)
  rotary(q, T, H, D)
  rotary(k, T, H, D)
  const o = new Float64Array(T * d)
  for (let h = 0; h < H; h++)
    for (let t = 0; t < T; t++) {
      const first = window === null ? 0 : Math.max(0, t - window + 1)
      const scores: number[] = []
      for (let s = first; s <= t; s++) {
        let dot = 0
        for (let i = 0; i < D; i++) dot += q[(t * H + h) * D + i]! * k[(s * H + h) * D + i]!
        scores.push(dot / Math.sqrt(D))
      }
      const m = Math.max(...scores)
      const e = scores.map((z) => Math.exp(z - m))
      const z = e.reduce((a, b) => a + b, 0)
      for (let s = first; s <= t; s++) for (let i = 0; i < D; i++) o[(t * H + h) * D + i]! += (e[s - first]! / z) * v[(s * H + h) * D + i]!
    }
  return linear(o, T, w(`${p}.o_proj.weight`), d)
}

/** The attn entry covering layer l of a hybrid, if any. */
function attnAt(config: FlaConfig, l: number): { num_heads: number; window_size?: number | null } | undefined {
  if (config.model_type === 'transformer') return { num_heads: config.num_heads as number, window_size: config.window_size as number | null }
  const a = config.attn as { layers: number[]; num_heads: number; window_size?: number | null } | { layers: number[]; num_heads: number }[] | null
  if (!a) return undefined
  return (Array.isArray(a) ? a : [a]).find((e) => e.layers.includes(l))
}

/** fla's mixer of one layer: x (T, d) -> (T, d). */
function mixer(config: FlaConfig, w: W, p: string, x: Float64Array, T: number): Float64Array {
  const d = config.hidden_size as number
  const type = config.model_type
  if (type === 'mamba2') {
    const P = config.head_dim as number
    const N = config.state_size as number
    const G = config.n_groups as number
    const I = (config.expand as number) * d
    const H = I / P
    const inRows = 2 * I + 2 * G * N + H
    const proj = linear(x, T, w(`${p}.in_proj.weight`), inRows)
    const col = (t: number, c: number) => proj[t * inRows + c]!
    const xbc = new Float64Array(T * (I + 2 * G * N))
    for (let t = 0; t < T; t++) for (let c = 0; c < I + 2 * G * N; c++) xbc[t * (I + 2 * G * N) + c] = col(t, I + c)
    const conv = shortConvSilu(xbc, T, w(`${p}.conv1d.weight`), config.conv_kernel as number)
    const C = I + 2 * G * N
    const xs = new Float64Array(T * I)
    const Bk = new Float64Array(T * H * N)
    const Cq = new Float64Array(T * H * N)
    for (let t = 0; t < T; t++) {
      for (let c = 0; c < I; c++) xs[t * I + c] = conv[t * C + c]!
      for (let h = 0; h < H; h++) {
        const g = Math.floor(h / (H / G))
        for (let n = 0; n < N; n++) {
          Bk[(t * H + h) * N + n] = conv[t * C + I + g * N + n]!
          Cq[(t * H + h) * N + n] = conv[t * C + I + G * N + g * N + n]!
        }
      }
    }
    const dtBias = w(`${p}.dt_bias`)
    const A = w(`${p}.A_log`)
    const dt = (t: number, h: number) => softplus(col(t, 2 * I + 2 * G * N + h) + dtBias[h]!)
    const y = recurrence(T, H, N, P, Cq, Bk, xs, 1, (t, h) => Math.exp(-Math.exp(A[h]!) * dt(t, h)), undefined, dt)
    const D = w(`${p}.D`)
    // fla's defaults (layer: rmsnorm true, norm_before_gate false); the configs here say what they use
    const gatedNorm = config.rmsnorm !== false
    if (gatedNorm && config.norm_before_gate !== true) throw new Error('the reference computes the gated norm with norm_before_gate true only')
    for (let t = 0; t < T; t++)
      for (let c = 0; c < I; c++) {
        const h = Math.floor(c / P)
        const skip = D.length === I ? D[c]! : D[h]!
        y[t * I + c] = y[t * I + c]! + skip * xs[t * I + c]!
      }
    if (gatedNorm) {
      // RMSNormGated(I, group_size = I / n_groups): each group of a row normalized, times the weight of its channels
      const size = I / G
      const weight = w(`${p}.norm.weight`)
      for (let t = 0; t < T; t++)
        for (let g = 0; g < G; g++) {
          const at = t * I + g * size
          let ss = 0
          for (let i = 0; i < size; i++) ss += y[at + i]! ** 2
          const rstd = 1 / Math.sqrt(ss / size + EPS)
          for (let i = 0; i < size; i++) y[at + i] = y[at + i]! * rstd * weight[g * size + i]!
        }
    }
    for (let t = 0; t < T; t++) for (let c = 0; c < I; c++) y[t * I + c] = y[t * I + c]! * silu(col(t, c)) // y · silu(z), after the norm
    return linear(y, T, w(`${p}.out_proj.weight`), d)
  }
  const H = config.num_heads as number
  if (type === 'linear_attn') {
    const dk = Math.trunc(d * (config.expand_k as number)) / H
    const dv = Math.trunc(d * (config.expand_v as number)) / H
    const phi = (u: number) => (config.feature_map === 'elu' ? (u > 0 ? u + 1 : Math.exp(u)) : config.feature_map === 'relu' ? Math.max(0, u) : u)
    const q = linear(x, T, w(`${p}.q_proj.weight`), H * dk).map(phi)
    const k = linear(x, T, w(`${p}.k_proj.weight`), H * dk).map(phi)
    const v = linear(x, T, w(`${p}.v_proj.weight`), H * dv)
    const o = rmsNorm(
      recurrence(T, H, dk, dv, q, k, v, dk ** -0.5, () => 1),
      dv,
      w(`${p}.norm.weight`),
    )
    return linear(o, T, w(`${p}.o_proj.weight`), d)
  }
  if (type === 'retnet') {
    // MultiScaleRetention: q, k (feature map when set), then rotary on both; decay γ_h = 1 − 2^(−5−h)
    // (chunk_retention's g_gamma); per-head RMSNorm, swish gate; fla's RetNet block passes no short conv.
    const dk = Math.trunc(d * (config.expand_k as number)) / H
    const dv = Math.trunc(d * (config.expand_v as number)) / H
    const phi = (u: number) => (config.feature_map === 'relu' ? Math.max(0, u) : config.feature_map === 'silu' || config.feature_map === 'swish' ? silu(u) : u)
    const q = linear(x, T, w(`${p}.q_proj.weight`), H * dk).map(phi)
    const k = linear(x, T, w(`${p}.k_proj.weight`), H * dk).map(phi)
    rotary(q, T, H, dk)
    rotary(k, T, H, dk)
    const v = linear(x, T, w(`${p}.v_proj.weight`), H * dv)
    const gateOn = config.use_output_gate !== false
    const o = rmsNorm(
      // fla builds log γ in float32 (g_gamma), so the decay is exp of that float32 value
      recurrence(T, H, dk, dv, q, k, v, dk ** -0.5, (_t, h) => Math.exp(Math.fround(Math.log(1 - 2 ** (-5 - h))))),
      dv,
      w(`${p}.${gateOn ? 'g_norm_swish_gate' : 'g_norm'}.weight`),
    )
    if (gateOn) {
      const g = linear(x, T, w(`${p}.g_proj.weight`), H * dv)
      for (let i = 0; i < o.length; i++) o[i]! *= silu(g[i]!)
    }
    return linear(o, T, w(`${p}.o_proj.weight`), d)
  }
  const gated = type === 'gated_deltanet'
  const dk = gated ? (config.head_dim as number) : Math.trunc(d * (config.expand_k as number)) / H
  const dv = gated ? dk * (config.expand_v as number) : Math.trunc(d * (config.expand_v as number)) / H
  const conv = type !== 'gla' || config.use_short_conv === true
  const W = (config.conv_size as number | undefined) ?? 4
  let q = linear(x, T, w(`${p}.q_proj.weight`), H * dk)
  let k = linear(x, T, w(`${p}.k_proj.weight`), H * dk)
  let v = linear(x, T, w(`${p}.v_proj.weight`), H * dv)
  if (conv) {
    q = shortConvSilu(q, T, w(`${p}.q_conv1d.weight`), W)
    k = shortConvSilu(k, T, w(`${p}.k_conv1d.weight`), W)
    v = shortConvSilu(v, T, w(`${p}.v_conv1d.weight`), W)
  }
  let o: Float64Array
  let normName = 'o_norm'
  if (type === 'gla') {
    const low = linear(x, T, w(`${p}.gk_proj.0.weight`), 16)
    const gk = linear(low, T, w(`${p}.gk_proj.1.weight`), H * dk, w(`${p}.gk_proj.1.bias`))
    o = recurrence(T, H, dk, dv, q, k, v, dk ** -0.5, (t, h, i) => Math.exp(logsigmoid(gk[(t * H + h) * dk + i]!) / 16))
    normName = config.use_output_gate === false ? 'g_norm' : 'g_norm_swish_gate'
  } else {
    q = l2(q, dk)
    k = l2(k, dk)
    const b = linear(x, T, w(`${p}.b_proj.weight`), H)
    const neg = config.allow_neg_eigval === true ? 2 : 1
    const beta = (t: number, h: number) => neg / (1 + Math.exp(-b[t * H + h]!))
    let decay = (_t: number, _h: number, _i: number) => 1
    if (gated) {
      const a = linear(x, T, w(`${p}.a_proj.weight`), H)
      const A = w(`${p}.A_log`)
      const dtBias = w(`${p}.dt_bias`)
      decay = (t, h) => Math.exp(-Math.exp(A[h]!) * softplus(a[t * H + h]! + dtBias[h]!))
    }
    o = recurrence(T, H, dk, dv, q, k, v, dk ** -0.5, decay, beta)
  }
  o = rmsNorm(o, dv, w(`${p}.${normName}.weight`))
  const gateOn = type === 'gla' ? config.use_output_gate !== false : config.use_gate === true
  if (gateOn) {
    const g = linear(x, T, w(`${p}.g_proj.weight`), H * dv)
    for (let i = 0; i < o.length; i++) o[i]! *= silu(g[i]!)
  }
  return linear(o, T, w(`${p}.o_proj.weight`), d)
}

/** Logits (T, vocab) of fla's model for `ids`, computed from its parameters by name. */
export function flaReferenceLogits(config: FlaConfig, w: W, ids: number[]): Float64Array {
  // fields the config leaves out take fla's defaults
  config = { ...FLA_TYPES[config.model_type as FlaModelType].defaults, ...config }
  const d = config.hidden_size as number
  const V = config.vocab_size as number
  const T = ids.length
  const mamba = config.model_type === 'mamba2'
  const root = mamba ? 'backbone' : 'model'
  const emb = w(`${root}.embeddings.weight`)
  let h: Float64Array = new Float64Array(T * d)
  ids.forEach((id, t) => {
    for (let i = 0; i < d; i++) h[t * d + i] = emb[id * d + i]!
  })
  for (let l = 0; l < (config.num_hidden_layers as number); l++) {
    const b = `${root}.layers.${l}`
    const x = rmsNorm(h, d, w(mamba ? `${b}.norm.weight` : `${b}.attn_norm.weight`))
    const at = attnAt(config, l)
    const m = at ? attention(w, `${b}.attn`, x, T, d, at.num_heads, at.window_size ?? null) : mixer(config, w, mamba ? `${b}.mixer` : `${b}.attn`, x, T)
    h = h.map((v, i) => v + m[i]!)
    if (mamba) continue
    const y = rmsNorm(h, d, w(`${b}.mlp_norm.weight`))
    const gate = w(`${b}.mlp.gate_proj.weight`)
    const hidden = gate.length / d
    const g = linear(y, T, gate, hidden)
    const u = linear(y, T, w(`${b}.mlp.up_proj.weight`), hidden)
    const down = linear(
      g.map((v, i) => silu(v) * u[i]!),
      T,
      w(`${b}.mlp.down_proj.weight`),
      d,
    )
    h = h.map((v, i) => v + down[i]!)
  }
  h = rmsNorm(h, d, w(mamba ? `${root}.norm_f.weight` : `${root}.norm.weight`))
  const head = config.tie_word_embeddings === true ? emb : w('lm_head.weight')
  return linear(h, T, head, V)
}
