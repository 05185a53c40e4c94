// Parameter names and shapes between an fla checkpoint and a Linea model,
// both directions, as data: each Linea parameter is filled from rows of fla
// tensors. Pure: the import streams tensors through these links, and the
// export assembles fla tensors from them.
//
// A link says: Linea rows lineaRow .. lineaRow+rows−1 come from fla rows
// flaRow, flaRow+flaStep, ... of one fla tensor, a row being rowSize values
// (the product of the trailing dims, the same in both). Whole tensors, fused
// projections split (Mamba2's in_proj into z, x, B, C, dt), conv weights
// reshaped ((C, 1, W) -> (C, W): same bytes), groups replicated over heads
// (flaStep 0) and per-head weights shared (several links writing one Linea
// row, which must then agree) are all this one form.
//
//   fla                                         Linea
//   model.embeddings.weight                     embed.weight
//   model.layers.i.attn_norm.weight             layers.i.norm1.weight
//   model.layers.i.attn.{q,k,v,o}_proj.weight   layers.i.mixer.{q,k,v,o}_proj     (out, in) both
//   model.layers.i.attn.q_conv1d.weight (C,1,W) layers.i.mixer.q_conv.weight (C,W)
//   model.layers.i.mlp_norm.weight              layers.i.norm2.weight
//   backbone.layers.i.mixer.norm.weight (I)     layers.i.mixer.o_norm.weight      (H·dv per_head, dv shared)
//   model.layers.i.mlp.{gate,up,down}_proj      layers.i.mlp.{gate,up,down}_proj
//   (none: RetNet computes its decays)          layers.i.mixer.log_decay          (flaComputedParams)
//   model.norm.weight                           final_norm.weight
//   lm_head.weight                              lm_head.weight (absent when tied)
// Mamba2 uses backbone.{embeddings, layers.i.norm, layers.i.mixer, norm_f}.
import { headDims, outputNormWeight, type LinearLayer, type ModelSpec } from '../api/model-spec'
import type { FlaLayout } from './fla-config'

export interface RowSegment {
  lineaRow: number
  flaRow: number
  rows: number
  /** 1: consecutive fla rows; 0: every Linea row of the segment reads flaRow (a group shared by heads). */
  flaStep: 0 | 1
}

export interface TensorLink {
  linea: string
  lineaShape: number[]
  fla: string
  flaShape: number[]
  /** Values per row in both tensors. */
  rowSize: number
  segments: RowSegment[]
}

const whole = (rows: number): RowSegment[] => [{ lineaRow: 0, flaRow: 0, rows, flaStep: 1 }]

/** Same tensor, same shape (or same bytes under a reshape). */
function same(linea: string, fla: string, lineaShape: number[], flaShape: number[] = lineaShape): TensorLink {
  const rows = lineaShape[0] ?? 1
  const rowSize = lineaShape.slice(1).reduce((a, b) => a * b, 1)
  return { linea, lineaShape, fla, flaShape, rowSize, segments: whole(rows) }
}

function linearLayerLinks(spec: ModelSpec, layer: LinearLayer, i: number, layout: FlaLayout): TensorLink[] {
  const d = spec.d_model
  const { dk, dv } = headDims(spec, layer)
  const H = layer.heads
  const kd = H * dk
  const vd = H * dv
  const L = `layers.${i}.mixer`
  const W = layer.short_conv
  if (layout.modelType === 'mamba2') {
    const F = `backbone.layers.${i}.mixer`
    const G = layout.mamba2?.groups ?? H
    const N = dk
    const I = vd
    const inRows = 2 * I + 2 * G * N + H
    const convRows = I + 2 * G * N
    const group = (h: number) => Math.floor(h / (H / G))
    // in_proj rows: z [0, I), x [I, 2I), B [2I, 2I+GN), C [2I+GN, 2I+2GN), dt [2I+2GN, +H)
    const inProj = (linea: string, lineaRows: number, segments: RowSegment[]): TensorLink => ({
      linea: `${L}.${linea}`,
      lineaShape: [lineaRows, d],
      fla: `${F}.in_proj.weight`,
      flaShape: [inRows, d],
      rowSize: d,
      segments,
    })
    const perHead = (offset: number): RowSegment[] =>
      Array.from({ length: H }, (_, h) => ({ lineaRow: h * N, flaRow: offset + group(h) * N, rows: N, flaStep: 1 }))
    // conv1d channels: x [0, I), B [I, I+GN), C [I+GN, I+2GN)
    const conv = (linea: string, lineaRows: number, segments: RowSegment[]): TensorLink => ({
      linea: `${L}.${linea}.weight`,
      lineaShape: [lineaRows, W],
      fla: `${F}.conv1d.weight`,
      flaShape: [convRows, 1, W],
      rowSize: W,
      segments,
    })
    const links = [
      inProj('g_proj', I, [{ lineaRow: 0, flaRow: 0, rows: I, flaStep: 1 }]),
      inProj('v_proj', I, [{ lineaRow: 0, flaRow: I, rows: I, flaStep: 1 }]),
      inProj('k_proj', kd, perHead(2 * I)),
      inProj('q_proj', kd, perHead(2 * I + G * N)),
      inProj('dt_proj', H, [{ lineaRow: 0, flaRow: 2 * I + 2 * G * N, rows: H, flaStep: 1 }]),
      conv('v_conv', I, [{ lineaRow: 0, flaRow: 0, rows: I, flaStep: 1 }]),
      conv('k_conv', kd, perHead(I)),
      conv('q_conv', kd, perHead(I + G * N)),
      same(`${L}.dt_bias`, `${F}.dt_bias`, [H]),
      same(`${L}.A_log`, `${F}.A_log`, [H]),
      same(`${L}.o_proj`, `${F}.out_proj.weight`, [d, I]),
    ]
    if (layout.mamba2?.dHasHdim ?? true) links.push(same(`${L}.D`, `${F}.D`, [I]))
    else
      links.push({
        linea: `${L}.D`,
        lineaShape: [I],
        fla: `${F}.D`,
        flaShape: [H],
        rowSize: 1,
        segments: Array.from({ length: H }, (_, h) => ({ lineaRow: h * dv, flaRow: h, rows: dv, flaStep: 0 })),
      })
    // fla's gated norm has a weight per inner channel h·dv + j, the order of Linea's per-head
    // weight; a shared Linea weight is every head's copy (the import then needs them equal).
    if (layer.output_norm === 'rmsnorm' && outputNormWeight(layer) === 'per_head') links.push(same(`${L}.o_norm.weight`, `${F}.norm.weight`, [I]))
    else if (layer.output_norm === 'rmsnorm')
      links.push({
        linea: `${L}.o_norm.weight`,
        lineaShape: [dv],
        fla: `${F}.norm.weight`,
        flaShape: [I],
        rowSize: 1,
        segments: Array.from({ length: H }, (_, h) => ({ lineaRow: 0, flaRow: h * dv, rows: dv, flaStep: 1 })),
      })
    return links
  }
  const F = `model.layers.${i}.attn`
  const proj = (name: string, out: number, inn: number, flaName = name) => same(`${L}.${name}`, `${F}.${flaName}.weight`, [out, inn])
  const links = [proj('q_proj', kd, d), proj('k_proj', kd, d), proj('v_proj', vd, d), proj('o_proj', d, vd)]
  if (W > 0)
    for (const [name, c] of [
      ['q', kd],
      ['k', kd],
      ['v', vd],
    ] as const)
      links.push(same(`${L}.${name}_conv.weight`, `${F}.${name}_conv1d.weight`, [c, W], [c, 1, W]))
  if (layer.output_gate === 'swish') links.push(proj('g_proj', vd, d))
  if (layout.modelType === 'gla') {
    links.push(same(`${L}.gk_proj.0.weight`, `${F}.gk_proj.0.weight`, [16, d]))
    links.push(same(`${L}.gk_proj.1.weight`, `${F}.gk_proj.1.weight`, [kd, 16]))
    links.push(same(`${L}.gk_proj.1.bias`, `${F}.gk_proj.1.bias`, [kd]))
    links.push(same(`${L}.o_norm.weight`, `${F}.${layout.glaNorm ?? 'g_norm_swish_gate'}.weight`, [dv]))
  }
  if (layout.modelType === 'retnet') links.push(same(`${L}.o_norm.weight`, `${F}.${layout.glaNorm ?? 'g_norm_swish_gate'}.weight`, [dv]))
  if (layout.modelType === 'delta_net' || layout.modelType === 'gated_deltanet') {
    links.push(proj('b_proj', H, d))
    links.push(same(`${L}.o_norm.weight`, `${F}.o_norm.weight`, [dv]))
  }
  if (layout.modelType === 'gated_deltanet') {
    links.push(proj('dt_proj', H, d, 'a_proj'))
    links.push(same(`${L}.dt_bias`, `${F}.dt_bias`, [H]))
    links.push(same(`${L}.A_log`, `${F}.A_log`, [H]))
  }
  if (layout.modelType === 'linear_attn') links.push(same(`${L}.o_norm.weight`, `${F}.norm.weight`, [dv]))
  return links
}

/**
 * Every link of a model: each Linea parameter of `new Model(spec)` is covered
 * (tests/unit/interop-fla-config.test.ts checks it against the model's own
 * parameter list), and each fla tensor fla's class would hold appears.
 */
export function flaTensorLinks(spec: ModelSpec, layout: FlaLayout): TensorLink[] {
  const d = spec.d_model
  const root = layout.root
  const links: TensorLink[] = [same('embed.weight', `${root}.embeddings.weight`, [spec.vocab_size, d])]
  spec.layers.forEach((layer, i) => {
    const block = `${root}.layers.${i}`
    links.push(same(`layers.${i}.norm1.weight`, layout.modelType === 'mamba2' ? `${block}.norm.weight` : `${block}.attn_norm.weight`, [d]))
    if (layer.kind === 'linear') links.push(...linearLayerLinks(spec, layer, i, layout))
    else {
      const inner = layer.heads * headDims(spec, layer).dk
      for (const p of ['q_proj', 'k_proj', 'v_proj']) links.push(same(`layers.${i}.attn.${p}`, `${block}.attn.${p}.weight`, [inner, d]))
      links.push(same(`layers.${i}.attn.o_proj`, `${block}.attn.o_proj.weight`, [d, inner]))
    }
    if (spec.block === 'transformer' && spec.mlp_expansion > 0) {
      const hidden = Math.max(1, Math.round(spec.mlp_expansion * d))
      links.push(same(`layers.${i}.norm2.weight`, `${block}.mlp_norm.weight`, [d]))
      links.push(same(`layers.${i}.mlp.gate_proj`, `${block}.mlp.gate_proj.weight`, [hidden, d]))
      links.push(same(`layers.${i}.mlp.up_proj`, `${block}.mlp.up_proj.weight`, [hidden, d]))
      links.push(same(`layers.${i}.mlp.down_proj`, `${block}.mlp.down_proj.weight`, [d, hidden]))
    }
  })
  links.push(same('final_norm.weight', layout.modelType === 'mamba2' ? `${root}.norm_f.weight` : `${root}.norm.weight`, [d]))
  // Tied: fla's save_pretrained leaves lm_head out; when it is there it must equal the embedding.
  links.push(same(spec.tie_embeddings ? 'embed.weight' : 'lm_head.weight', 'lm_head.weight', [spec.vocab_size, d]))
  return links
}

/**
 * Linea parameters that fla computes instead of storing: RetNet's fixed
 * decays, γ_h = 1 − 2^(−5−h) per head (fla's chunk_retention builds them in
 * float32 on every call), which Linea keeps as the non-trainable
 * `layers.i.mixer.log_decay` (H). The import fills them with these values; the
 * export checks the checkpoint holds them, since fla cannot store others.
 */
export function flaComputedParams(spec: ModelSpec, layout: FlaLayout): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>()
  if (layout.modelType !== 'retnet') return out
  spec.layers.forEach((layer, i) => {
    if (layer.kind !== 'linear') return
    const H = layer.heads
    out.set(`layers.${i}.mixer.log_decay`, { shape: [H], data: Float32Array.from({ length: H }, (_, h) => Math.log(1 - 2 ** (-5 - h))) })
  })
  return out
}

/** fla tensors that may be absent from a checkpoint: the head of a tied model. */
export function optionalFlaTensors(spec: ModelSpec): Set<string> {
  return new Set(spec.tie_embeddings ? ['lm_head.weight'] : [])
}

/** The fla tensors of a model and their shapes, in link order. */
export function flaTensorShapes(links: readonly TensorLink[]): Map<string, number[]> {
  const out = new Map<string, number[]>()
  for (const l of links) if (!out.has(l.fla)) out.set(l.fla, l.flaShape)
  return out
}

/** The Linea parameters of a model and their shapes, in link order. */
export function lineaTensorShapes(links: readonly TensorLink[]): Map<string, number[]> {
  const out = new Map<string, number[]>()
  for (const l of links) if (!out.has(l.linea)) out.set(l.linea, l.lineaShape)
  return out
}

/**
 * Copies the rows one link takes from an fla tensor into its Linea array.
 * `written` marks Linea rows already filled: a row filled twice (a shared
 * weight, a tied head) must get the same values, else the message says where
 * they differ. Returns null or that message.
 */
export function copyLinkRows(link: TensorLink, fla: Float32Array, linea: Float32Array, written: Uint8Array): string | null {
  const n = link.rowSize
  for (const s of link.segments)
    for (let r = 0; r < s.rows; r++) {
      const lr = s.lineaRow + r
      const fr = s.flaRow + r * s.flaStep
      const src = fla.subarray(fr * n, fr * n + n)
      if (written[lr]) {
        const dst = linea.subarray(lr * n, lr * n + n)
        for (let j = 0; j < n; j++)
          if (!Object.is(dst[j], src[j]) && dst[j] !== src[j])
            return `${link.fla} row ${fr} gives ${link.linea} row ${lr} the value ${src[j]} at ${j}, but another fla row gave it ${dst[j]}; Linea holds one value there (a weight shared by heads, or a tied head)`
        continue
      }
      linea.set(src, lr * n)
      written[lr] = 1
    }
  return null
}

/**
 * The other way, for the export: fills an fla tensor from the Linea arrays of
 * the links that read it. An fla row read by several Linea rows (a group
 * shared by heads) must get the same values from each; returns null or why not.
 */
export function assembleFlaTensor(
  links: readonly TensorLink[],
  flaName: string,
  lineaArrays: (name: string) => Float32Array,
  out: Float32Array,
): string | null {
  const filled = new Uint8Array(out.length)
  for (const link of links) {
    if (link.fla !== flaName) continue
    const src = lineaArrays(link.linea)
    const n = link.rowSize
    for (const s of link.segments)
      for (let r = 0; r < s.rows; r++) {
        const lr = s.lineaRow + r
        const fr = s.flaRow + r * s.flaStep
        for (let j = 0; j < n; j++) {
          const v = src[lr * n + j]!
          const at = fr * n + j
          if (filled[at] && out[at] !== v)
            return `${flaName} row ${fr}: Linea's ${link.linea} row ${lr} has ${v} at ${j} where another Linea row has ${out[at]}; fla holds one value there`
          out[at] = v
          filled[at] = 1
        }
      }
  }
  const missing = filled.indexOf(0)
  return missing >= 0 ? `${flaName}: value ${missing} is not filled by any Linea parameter` : null
}
