import { describe, expect, it } from 'vitest'
import { layerDiagram } from '../../../electron/views/layer-diagram'
import { glaLayer, softmaxLayer } from '../../fixtures/specs'

const ids = (d: ReturnType<typeof layerDiagram>) => d.boxes.map((b) => b.id)

describe('layer block diagram', () => {
  it('draws only what is switched on', () => {
    const gla = layerDiagram(glaLayer())
    expect(ids(gla)).toEqual(['x', 'qkv', 'fg', 'state', 'read', 'onorm', 'og', 'out', 'res'])
    const delta = layerDiagram(glaLayer({ delta_rule: 'negative_eigen', forget_gate: 'none', short_conv: 4, feature_map: 'l2norm', output_gate: 'none' }))
    expect(ids(delta)).toEqual(['x', 'qkv', 'conv', 'phi', 'beta', 'state', 'read', 'onorm', 'out', 'res'])
    expect(delta.boxes.find((b) => b.id === 'beta')!.label).toBe('β ∈ (0, 2)')
    expect(delta.boxes.find((b) => b.id === 'state')!.label).toContain('(I − β k kᵀ)')
    expect(layerDiagram(glaLayer({ denominator: 'max1', forget_gate: 'scalar', input_gate: 'exp' })).boxes.find((b) => b.id === 'read')!.label).toBe(
      'o = Sᵀq / max(|qᵀz|, 1)',
    )
  })

  it('draws the D skip on the side of the norm the shortcut says, and a per-head norm weight', () => {
    const after = layerDiagram(glaLayer({ shortcut: 'd_skip' }))
    expect(ids(after).slice(4, 7)).toEqual(['read', 'onorm', 'dskip'])
    expect(after.boxes.find((b) => b.id === 'onorm')!.label).toBe('rmsnorm per head')
    const before = layerDiagram(glaLayer({ shortcut: 'd_skip_before_norm', output_norm_weight: 'per_head' }))
    expect(ids(before).slice(4, 7)).toEqual(['read', 'dskip', 'onorm'])
    expect(before.edges).toContainEqual(['dskip', 'onorm'])
    expect(before.boxes.find((b) => b.id === 'onorm')!.label).toBe('rmsnorm per head, weight per head')
  })

  it('draws softmax layers with their window and rotary positions', () => {
    const d = layerDiagram(softmaxLayer({ window: 64 }))
    expect(ids(d)).toEqual(['x', 'qkv', 'rope', 'attn', 'out', 'res'])
    expect(d.boxes.find((b) => b.id === 'attn')!.label).toBe('softmax attention, window 64')
    expect(ids(layerDiagram(softmaxLayer({ rotary: false })))).not.toContain('rope')
  })

  it('every edge joins two boxes', () => {
    for (const layer of [glaLayer(), softmaxLayer(), glaLayer({ shortcut: 'd_skip', input_gate: 'softplus', forget_gate: 'scalar' })]) {
      const d = layerDiagram(layer)
      for (const [a, b] of d.edges) {
        expect(ids(d)).toContain(a)
        expect(ids(d)).toContain(b)
      }
    }
  })
})
