// The main window's size and position, saved on close and restored at the
// next start, unless the display it was on is gone: then the default size,
// centered. Pure apart from the file; the shell supplies the displays.
import { readJsonFile, writeJsonFile } from '../services/config-files'

export interface Rect {
  x: number
  y: number
  width: number
  height: number
}

export interface WindowState {
  bounds: Rect
  maximized: boolean
}

export const DEFAULT_WINDOW_SIZE = { width: 1400, height: 900 }
export const MIN_WINDOW_SIZE = { width: 800, height: 560 }
/** How much of the window's top edge must lie on a display for the saved position to count (px). */
const MIN_VISIBLE = { width: 120, height: 40 }

/** Where the window opens: saved bounds when they fit a display, else the default size with no position. */
export type InitialBounds = { x?: number; y?: number; width: number; height: number; maximized: boolean }

function isRect(v: unknown): v is Rect {
  const r = v as Partial<Rect> | null
  return !!r && [r.x, r.y, r.width, r.height].every((n) => typeof n === 'number' && Number.isFinite(n))
}

function overlap(a: Rect, b: Rect): { width: number; height: number } {
  return {
    width: Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x),
    height: Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y),
  }
}

/** `saved` as read from disk (any shape); `workAreas`: the displays' usable areas now. */
export function initialWindowBounds(saved: unknown, workAreas: Rect[]): InitialBounds {
  const fallback = { ...DEFAULT_WINDOW_SIZE, maximized: false }
  const state = saved as Partial<WindowState> | null
  if (!state || !isRect(state.bounds)) return fallback
  const b = state.bounds
  // The title bar (top strip) must be reachable on some display.
  const titleBar = { x: b.x, y: b.y, width: b.width, height: MIN_VISIBLE.height }
  const area = workAreas.find((a) => {
    const o = overlap(titleBar, a)
    return o.width >= Math.min(MIN_VISIBLE.width, b.width) && o.height >= MIN_VISIBLE.height
  })
  if (!area) return { ...fallback, maximized: state.maximized === true }
  return {
    x: Math.round(b.x),
    y: Math.round(b.y),
    width: Math.round(Math.min(Math.max(b.width, MIN_WINDOW_SIZE.width), area.width)),
    height: Math.round(Math.min(Math.max(b.height, MIN_WINDOW_SIZE.height), area.height)),
    maximized: state.maximized === true,
  }
}

export function readWindowState(path: string): unknown {
  return readJsonFile(path).json
}

export function saveWindowState(path: string, state: WindowState): void {
  try {
    writeJsonFile(path, state)
  } catch {
    // a read-only config folder costs the next start its window position, nothing else
  }
}
