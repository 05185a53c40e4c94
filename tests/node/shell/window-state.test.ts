// The window reopens where it was, unless that place is off every display.
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DEFAULT_WINDOW_SIZE, initialWindowBounds, MIN_WINDOW_SIZE, readWindowState, saveWindowState } from '../../../electron/shell/window-state'

const laptop = { x: 0, y: 0, width: 1920, height: 1080 }
const rightMonitor = { x: 1920, y: 0, width: 2560, height: 1440 }

describe('window state', () => {
  it('restores saved bounds that lie on a display', () => {
    const saved = { bounds: { x: 2100, y: 100, width: 1600, height: 1000 }, maximized: false }
    expect(initialWindowBounds(saved, [laptop, rightMonitor])).toEqual({ x: 2100, y: 100, width: 1600, height: 1000, maximized: false })
  })

  it('falls back to the default size, unpositioned, when the display is gone', () => {
    const saved = { bounds: { x: 2100, y: 100, width: 1600, height: 1000 }, maximized: true }
    expect(initialWindowBounds(saved, [laptop])).toEqual({ ...DEFAULT_WINDOW_SIZE, maximized: true })
  })

  it('needs the title bar on screen, not just a corner', () => {
    const saved = { bounds: { x: 1900, y: -990, width: 1000, height: 1000 }, maximized: false } // title bar above the top edge
    expect(initialWindowBounds(saved, [laptop]).x).toBeUndefined()
  })

  it('clamps the size to the display and to the minimum', () => {
    expect(initialWindowBounds({ bounds: { x: 10, y: 10, width: 5000, height: 100 }, maximized: false }, [laptop])).toEqual({
      x: 10,
      y: 10,
      width: 1920,
      height: MIN_WINDOW_SIZE.height,
      maximized: false,
    })
  })

  it('ignores saved state of the wrong shape', () => {
    for (const bad of [undefined, null, 'x', { bounds: { x: '1', y: 0, width: 1, height: 1 } }, { bounds: { x: NaN, y: 0, width: 800, height: 600 } }])
      expect(initialWindowBounds(bad, [laptop])).toEqual({ ...DEFAULT_WINDOW_SIZE, maximized: false })
  })

  it('saves and reads back through a file', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'linea-config-')), 'nested', 'window-state.json')
    expect(readWindowState(file)).toBeUndefined()
    saveWindowState(file, { bounds: { x: 5, y: 6, width: 900, height: 700 }, maximized: true })
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ bounds: { x: 5, y: 6, width: 900, height: 700 }, maximized: true })
    expect(initialWindowBounds(readWindowState(file), [laptop])).toEqual({ x: 5, y: 6, width: 900, height: 700, maximized: true })
  })
})
