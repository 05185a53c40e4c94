// The block diagram of one layer as data: boxes in rows, drawn by
// LayerDiagram.vue as SVG. Only what is switched on appears.
import { outputNormWeight, type Layer } from '../api/model-spec'

export interface DiagramBox {
  id: string
  label: string
  row: number
  col: number
  /** Visual role, for colour. */
  role: 'io' | 'proj' | 'map' | 'gate' | 'state' | 'norm' | 'op'
}

export interface Diagram {
  boxes: DiagramBox[]
  /** Edges between box ids. */
  edges: [string, string][]
  rows: number
  cols: number
}

export function layerDiagram(layer: Layer): Diagram {
  const boxes: DiagramBox[] = []
  const edges: [string, string][] = []
  const add = (b: DiagramBox) => boxes.push(b)
  add({ id: 'x', label: 'x (pre-norm)', row: 0, col: 1, role: 'io' })
  if (layer.kind === 'softmax') {
    add({ id: 'qkv', label: 'q, k, v projections', row: 1, col: 1, role: 'proj' })
    let last = 'qkv'
    if (layer.rotary) {
      add({ id: 'rope', label: 'rotary positions', row: 2, col: 1, role: 'map' })
      edges.push(['qkv', 'rope'])
      last = 'rope'
    }
    add({ id: 'attn', label: layer.window ? `softmax attention, window ${layer.window}` : 'causal softmax attention', row: 3, col: 1, role: 'state' })
    add({ id: 'out', label: 'output projection', row: 4, col: 1, role: 'proj' })
    add({ id: 'res', label: '+ residual', row: 5, col: 1, role: 'io' })
    edges.push(['x', 'qkv'], [last, 'attn'], ['attn', 'out'], ['out', 'res'], ['x', 'res'])
    return { boxes, edges, rows: 6, cols: 3 }
  }
  add({ id: 'qkv', label: 'q, k, v projections', row: 1, col: 1, role: 'proj' })
  edges.push(['x', 'qkv'])
  let last = 'qkv'
  if (layer.short_conv > 0) {
    add({ id: 'conv', label: `short conv (${layer.short_conv}) + silu`, row: 2, col: 1, role: 'op' })
    edges.push([last, 'conv'])
    last = 'conv'
  }
  if (layer.feature_map !== 'identity' || layer.rotary) {
    const steps = [
      layer.feature_map !== 'identity' && `φ = ${layer.feature_map === 'l2norm' ? 'l2norm (after silu)' : layer.feature_map}`,
      layer.rotary && 'rotary positions',
    ].filter(Boolean)
    add({ id: 'phi', label: `${steps.join(', then ')} on q, k`, row: 3, col: 1, role: 'map' })
    edges.push([last, 'phi'])
    last = 'phi'
  }
  const gates: string[] = []
  if (layer.forget_gate !== 'none') {
    add({ id: 'fg', label: `decay: ${layer.forget_gate}`, row: 3, col: 0, role: 'gate' })
    gates.push('fg')
  }
  if (layer.input_gate !== 'none') {
    add({ id: 'ig', label: `input gate: ${layer.input_gate}`, row: 2, col: 0, role: 'gate' })
    gates.push('ig')
  }
  if (layer.delta_rule !== 'off') {
    add({ id: 'beta', label: layer.delta_rule === 'negative_eigen' ? 'β ∈ (0, 2)' : 'β ∈ (0, 1)', row: 3, col: 2, role: 'gate' })
    gates.push('beta')
  }
  const update = layer.delta_rule !== 'off' ? 'S ← (I − β k kᵀ) S′ + β k vᵀ' : 'S ← S′ + w k vᵀ'
  add({ id: 'state', label: layer.forget_gate !== 'none' ? `S′ = decay · S; ${update}` : update, row: 4, col: 1, role: 'state' })
  edges.push([last, 'state'])
  for (const g of gates) edges.push(['x', g], [g, 'state'])
  add({
    id: 'read',
    label: layer.denominator === 'none' ? 'o = Sᵀ q' : layer.denominator === 'sum' ? 'o = Sᵀq / (qᵀz + ε)' : 'o = Sᵀq / max(|qᵀz|, 1)',
    row: 5,
    col: 1,
    role: 'state',
  })
  edges.push(['state', 'read'])
  last = 'read'
  let row = 6
  const dSkip = () => {
    add({ id: 'dskip', label: '+ D ⊙ x', row: row++, col: 1, role: 'op' })
    edges.push([last, 'dskip'])
    last = 'dskip'
  }
  if (layer.shortcut === 'd_skip_before_norm') dSkip()
  if (layer.output_norm !== 'none') {
    const weight = outputNormWeight(layer) === 'per_head' ? ', weight per head' : ''
    add({ id: 'onorm', label: `${layer.output_norm} per head${weight}`, row: row++, col: 1, role: 'norm' })
    edges.push([last, 'onorm'])
    last = 'onorm'
  }
  if (layer.shortcut === 'd_skip') dSkip()
  if (layer.output_gate === 'swish') {
    add({ id: 'og', label: '⊙ swish(x W_g)', row: row++, col: 1, role: 'gate' })
    edges.push([last, 'og'], ['x', 'og'])
    last = 'og'
  }
  add({ id: 'out', label: 'output projection', row: row++, col: 1, role: 'proj' })
  add({ id: 'res', label: '+ residual', row: row++, col: 1, role: 'io' })
  edges.push([last, 'out'], ['out', 'res'], ['x', 'res'])
  return { boxes, edges, rows: row, cols: 3 }
}

const BOX_W = 170
const BOX_H = 30
const GAP_X = 18
const GAP_Y = 16
const ROLE_FILL: Record<DiagramBox['role'], string> = {
  io: '#eef2f8',
  proj: '#dde8fb',
  map: '#e5f5e8',
  gate: '#fff1d6',
  state: '#f3e3fb',
  norm: '#e8eef0',
  op: '#f0f0f0',
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** The diagram as a standalone SVG string (reports). */
export function diagramSvg(d: Diagram): string {
  const pos = (id: string) => {
    const b = d.boxes.find((x) => x.id === id)!
    return { x: b.col * (BOX_W + GAP_X) + 4, y: b.row * (BOX_H + GAP_Y) + 4 }
  }
  const width = d.cols * (BOX_W + GAP_X) + 8
  const height = d.rows * (BOX_H + GAP_Y) + 8
  const lines = d.edges.map(([a, b]) => {
    const p = pos(a)
    const q = pos(b)
    return `<line x1="${p.x + BOX_W / 2}" y1="${p.y + BOX_H}" x2="${q.x + BOX_W / 2}" y2="${q.y}" stroke="#8a93a3" stroke-width="1"/>`
  })
  const boxes = d.boxes.map((b) => {
    const p = pos(b.id)
    return (
      `<rect x="${p.x}" y="${p.y}" width="${BOX_W}" height="${BOX_H}" rx="5" fill="${ROLE_FILL[b.role]}" stroke="#aab3c2"/>` +
      `<text x="${p.x + BOX_W / 2}" y="${p.y + BOX_H / 2 + 4}" text-anchor="middle" font-size="11" font-family="sans-serif">${escapeXml(b.label)}</text>`
    )
  })
  return `<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img">${lines.join('')}${boxes.join('')}</svg>`
}
