// What the user sees when the engine cannot start at launch: which file,
// which error, how to fix it. Built from the error the engine process sent
// (AddonMissingError from electron/engine/addon.ts) or from how it ended.
export interface EngineFailure {
  title: string
  /** The addon files looked at. */
  files: string[]
  /** What went wrong, in the loader's or the process's words. */
  error: string
  /** Steps that fix it. */
  fix: string[]
}

export interface FailureContext {
  packaged: boolean
  platform: NodeJS.Platform
  /** Where the addon is looked for (electron/engine/addon.ts addonCandidates). */
  candidates: string[]
}

interface EngineErrorLike {
  name?: string
  message?: string
  engineName?: string
}

/** Paths listed under "Looked in:" in an AddonMissingError message. */
function lookedIn(message: string): string[] {
  const m = /Looked in:\n((?: {2}.*\n?)+)/.exec(message)
  return m
    ? m[1]!
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
    : []
}

function fixSteps(ctx: FailureContext, error: string): string[] {
  const steps: string[] = []
  if (/libopenblas/i.test(error))
    steps.push(
      ctx.platform === 'linux'
        ? 'Install OpenBLAS: sudo apt install libopenblas0 (Debian/Ubuntu) or dnf install openblas (Fedora).'
        : 'Install OpenBLAS and put its library on the loader path.',
    )
  if (/libcudart|libcublas/i.test(error)) steps.push('Install the CUDA runtime with cuBLAS that the engine was built against, or rebuild without CUDA.')
  if (ctx.packaged) {
    steps.push('This installation lacks a working resources/native/linea.node: reinstall Linea.')
    steps.push('Building from source: npm run build:native, then npm run dist.')
  } else {
    steps.push('Rebuild the native engine: npm run build:native (needs CMake ≥ 3.20, a C++17 compiler, OpenBLAS on Linux), then start the app again.')
    steps.push('Or point LINEA_ADDON at a linea.node built elsewhere.')
  }
  return steps
}

/** The failure to show, or undefined when the error is not about starting the engine. */
export function engineFailureOf(err: unknown, ctx: FailureContext): EngineFailure | undefined {
  const e = (err ?? {}) as EngineErrorLike
  const message = e.message ?? String(err)
  if (e.name === 'EngineCallError' && e.engineName === 'AddonMissingError') {
    const files = lookedIn(message)
    const loader = /The loader said: (.*)/.exec(message)?.[1]
    const error = loader ?? `no linea.node at ${files.length > 1 ? 'any of these paths' : 'this path'}`
    return { title: "Linea's native engine could not be loaded", files: files.length ? files : ctx.candidates, error, fix: fixSteps(ctx, error) }
  }
  if (e.name === 'EngineExitedError')
    return { title: 'The engine process ended while starting', files: ctx.candidates, error: message, fix: fixSteps(ctx, message) }
  return undefined
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

/** A self-contained page (no script, no URL) for the error window. */
export function engineFailurePage(f: EngineFailure): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${esc(f.title)}</title>
<style>
body { font: 14px/1.5 system-ui, sans-serif; margin: 24px 28px; color: #1d2330; }
h1 { font-size: 18px; color: #a4262c; margin: 0 0 16px; }
h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: #5b6475; margin: 18px 0 6px; }
pre { background: #f4f5f8; border: 1px solid #dde1e8; border-radius: 6px; padding: 10px 12px; white-space: pre-wrap; word-break: break-all; margin: 0; user-select: text; }
ol { margin: 0; padding-left: 20px; }
</style></head>
<body>
<h1>${esc(f.title)}</h1>
<h2>File</h2>
<pre>${f.files.map(esc).join('\n')}</pre>
<h2>Error</h2>
<pre>${esc(f.error)}</pre>
<h2>How to fix it</h2>
<ol>${f.fix.map((s) => `<li>${esc(s)}</li>`).join('')}</ol>
</body></html>
`
}
