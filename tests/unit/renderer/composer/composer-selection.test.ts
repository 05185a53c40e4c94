// Selecting layers in the composer: click, Ctrl/Cmd-click toggles a block,
// Shift-click and Shift+arrow select from the anchor, Esc collapses to the
// focus; a selection survives a shrinking stack and a reorder.
import { describe, expect, it } from 'vitest'
import { clampSelection, collapseToFocus, formatLayerList, rangeTo, remapSelection, selectSpan, toggleSpan } from '../../../../renderer/src/composer/selection'

describe('layer selection', () => {
  it('selects one layer, or a folded block whole', () => {
    expect(selectSpan(3)).toEqual({ indices: [3], anchor: 3, focus: 3 })
    expect(selectSpan(4, 6)).toEqual({ indices: [4, 5, 6], anchor: 4, focus: 4 })
  })

  it('toggles blocks in and out with Ctrl-click, never to nothing', () => {
    let s = selectSpan(1)
    s = toggleSpan(s, 5)
    expect(s.indices).toEqual([1, 5])
    expect(s.focus).toBe(5)
    s = toggleSpan(s, 2, 3)
    expect(s.indices).toEqual([1, 2, 3, 5])
    s = toggleSpan(s, 5)
    expect(s.indices).toEqual([1, 2, 3])
    expect(s.indices).toContain(s.focus)
    // a partly selected block joins whole
    expect(toggleSpan(selectSpan(2), 1, 3).indices).toEqual([1, 2, 3])
    // the only selected layer stays selected
    expect(toggleSpan(selectSpan(4), 4)).toEqual(selectSpan(4))
  })

  it('Shift selects from the anchor through the block, replacing the rest, either direction', () => {
    const s = toggleSpan(selectSpan(9), 4) // anchor 4
    expect(rangeTo(s, 7)).toEqual({ indices: [4, 5, 6, 7], anchor: 4, focus: 7 })
    expect(rangeTo(s, 0, 1)).toEqual({ indices: [0, 1, 2, 3, 4], anchor: 4, focus: 0 })
    // a folded block past the anchor counts to its last layer
    expect(rangeTo(s, 6, 8).indices).toEqual([4, 5, 6, 7, 8])
    expect(rangeTo(s, 6, 8).focus).toBe(8)
  })

  it('Shift+arrow extends and shrinks by keyboard (a range from the anchor to each new focus)', () => {
    let s = selectSpan(3)
    s = rangeTo(s, 4)
    s = rangeTo(s, 5)
    expect(s.indices).toEqual([3, 4, 5])
    s = rangeTo(s, 4) // back one
    expect(s.indices).toEqual([3, 4])
    s = rangeTo(s, 3)
    s = rangeTo(s, 2) // past the anchor the other way
    expect(s).toEqual({ indices: [2, 3], anchor: 3, focus: 2 })
  })

  it('Esc keeps the focused layer alone', () => {
    expect(collapseToFocus(rangeTo(selectSpan(2), 6))).toEqual(selectSpan(6))
  })

  it('drops layers a smaller stack no longer has', () => {
    const s = rangeTo(selectSpan(2), 6)
    expect(clampSelection(s, 10)).toBe(s)
    expect(clampSelection(s, 5)).toEqual({ indices: [2, 3, 4], anchor: 2, focus: 4 })
    expect(clampSelection(selectSpan(8), 3)).toEqual(selectSpan(2))
  })

  it('follows its layers through a reorder', () => {
    // layers 0..4 reordered to [3, 4, 0, 1, 2]: old 0 → 2, old 3 → 0
    const at = [2, 3, 4, 0, 1]
    expect(remapSelection({ indices: [0, 3], anchor: 3, focus: 0 }, at)).toEqual({ indices: [0, 2], anchor: 0, focus: 2 })
  })
})

describe('formatLayerList', () => {
  it('writes runs of three or more as ranges', () => {
    expect(formatLayerList([3, 7])).toBe('3, 7')
    expect(formatLayerList([0, 1, 2, 3, 4, 5, 6, 7])).toBe('0–7')
    expect(formatLayerList([1, 2, 4, 5, 6, 9])).toBe('1, 2, 4–6, 9')
    expect(formatLayerList([451])).toBe('451')
  })
})
