// What a linea://app URL names, decided without Electron (tested directly):
// a file of the built renderer, a profile's report, or nothing. Also what
// the window does with a link it is asked to open, and the pages' CSP.
import { extname, join, normalize, resolve, sep } from 'node:path'

/** The app's origin: the renderer is served from linea://app/. */
export const APP_ORIGIN = 'linea://app'

/** `scheme://host[:port]` of a URL; WHATWG URL gives 'null' as the origin of custom schemes. */
export function originOf(url: string): string | undefined {
  try {
    const u = new URL(url)
    return u.host ? `${u.protocol}//${u.host}` : undefined
  } catch {
    return undefined
  }
}

/**
 * Same policy as headless mode's pages, less the WebSocket (IPC needs no
 * connection). 'unsafe-inline' styles only: Vue and ECharts set style
 * attributes; no inline or eval'd script runs.
 */
export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "frame-src 'none'",
  "worker-src 'none'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'none'",
].join('; ')

export type ReportKind = 'html' | 'pdf'

/** `reports/<profile-id>/report.html|pdf`, as the Profile screen links them (the same paths headless mode serves). */
const REPORT_PATH = /^\/reports\/([A-Za-z0-9_-]+)\/report\.(html|pdf)$/

export function reportLinkOf(url: string, appOrigin = APP_ORIGIN): { id: string; kind: ReportKind } | undefined {
  if (originOf(url) !== appOrigin) return undefined
  const m = REPORT_PATH.exec(new URL(url).pathname)
  return m ? { id: m[1]!, kind: m[2] as ReportKind } : undefined
}

/**
 * The file of the built renderer a request path names, confined to `root`:
 * a path without an extension is a client-side route and gets index.html;
 * one that escapes the folder (`..`, encoded or not) gets undefined.
 */
export function rendererFileFor(root: string, pathname: string): string | undefined {
  let decoded: string
  try {
    decoded = decodeURIComponent(pathname)
  } catch {
    return undefined // malformed %-escape
  }
  if (decoded.includes('\0')) return undefined
  const base = resolve(root)
  const rel = normalize(decoded).replace(/^([/\\])+/, '')
  const file = resolve(base, rel || 'index.html')
  if (file !== base && !file.startsWith(base + sep)) return undefined
  return extname(file) ? file : join(base, 'index.html')
}

export type WindowOpenDecision =
  | { action: 'open-report'; id: string; kind: ReportKind }
  /** Anything else: no new window, no external browser (the app links nowhere else). */
  | { action: 'deny'; reason: string }

export function decideWindowOpen(url: string, appOrigin = APP_ORIGIN): WindowOpenDecision {
  const report = reportLinkOf(url, appOrigin)
  if (report) return { action: 'open-report', ...report }
  return { action: 'deny', reason: `the app opens no windows; refused ${url}` }
}
