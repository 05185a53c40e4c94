// Starts the built app in headless mode exactly as `npm run serve` does
// (node out/main/cli.js serve) and reads the URL it prints.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { LabApiMethod, LabApiParams, LabApiResults } from '../../electron/api/labapi'
import { projectRoot } from '../../electron/platform/project-root'

export interface Served {
  workspace: string
  /** LINEA_CONFIG_DIR of the server: recent workspaces, preferences (never the user's). */
  configDir: string
  url: string
  launchUrl: string
  process: ChildProcess
  /** Calls the LabApi over HTTP with the launch token, as a client beside the page (expected values, checks). */
  call<M extends LabApiMethod>(method: M, params: LabApiParams<M>): Promise<LabApiResults[M]>
  stop(): Promise<void>
}

/** Serves with a fresh temporary workspace unless one is given, and a fresh config folder. */
export async function serveBuiltApp(
  workspace = mkdtempSync(join(tmpdir(), 'linea-e2e-ws-')),
  configDir = mkdtempSync(join(tmpdir(), 'linea-e2e-config-')),
): Promise<Served> {
  const cli = join(projectRoot(), 'out', 'main', 'cli.js')
  if (!existsSync(cli)) throw new Error(`the app is not built (no ${cli}); run: npm run build`)
  const child = spawn(process.execPath, [cli, 'serve', '--port', '0', '--workspace', workspace], {
    cwd: projectRoot(),
    env: { ...process.env, LINEA_CONFIG_DIR: configDir },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const launchUrl = await new Promise<string>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`linea serve printed no URL within 20 s:\n${out}`)), 20_000)
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const m = /Open: (\S+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
    child.once('exit', (code) => reject(new Error(`linea serve exited with code ${code}:\n${out}`)))
  })
  const url = launchUrl.replace(/\?token=.*$/, '')
  const token = new URL(launchUrl).searchParams.get('token')!
  return {
    workspace,
    configDir,
    url,
    launchUrl,
    process: child,
    async call(method, params) {
      const res = await fetch(`${url}api/${method}`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: JSON.stringify({ params }) })
      const body = (await res.json()) as { result?: unknown; error?: { message: string } }
      if (!res.ok || body.error) throw new Error(`${method}: HTTP ${res.status}: ${body.error?.message ?? JSON.stringify(body)}`)
      return body.result as never
    },
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}
