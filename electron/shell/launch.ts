// Which workspace the app opens at launch, decided from the command line,
// the environment and the recent list (tested without Electron):
//   --workspace <dir>  >  LINEA_WORKSPACE  >  the most recent workspace that
//   still exists  >  ~/Linea/workspace (headless mode's default).
// Headless mode does the same minus the recent list: a desktop app reopens
// where the user left off.
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'

export class LaunchArgumentError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'LaunchArgumentError'
  }
}

/**
 * The value of `--workspace <dir>` or `--workspace=<dir>` in an argv that
 * also holds Electron's and Chromium's own switches (ignored).
 */
export function workspaceArg(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a.startsWith('--workspace=')) {
      const v = a.slice('--workspace='.length)
      if (!v) throw new LaunchArgumentError('--workspace= needs a folder, e.g. --workspace ~/Linea/my-study')
      return v
    }
    if (a === '--workspace') {
      const v = argv[i + 1]
      if (!v || v.startsWith('--')) throw new LaunchArgumentError(`--workspace needs a folder after it, got ${v === undefined ? 'nothing' : `'${v}'`}`)
      return v
    }
  }
  return undefined
}

export function isWorkspaceFolder(dir: string): boolean {
  return existsSync(join(dir, 'workspace.json'))
}

export interface StartupInputs {
  argv: readonly string[]
  env: NodeJS.ProcessEnv
  recent: string[]
  fallback: string
  isWorkspace?: (dir: string) => boolean
}

export function startupWorkspace(inputs: StartupInputs): { path: string; why: string } {
  const arg = workspaceArg(inputs.argv)
  if (arg) return { path: resolve(arg), why: '--workspace' }
  if (inputs.env.LINEA_WORKSPACE) return { path: resolve(inputs.env.LINEA_WORKSPACE), why: 'LINEA_WORKSPACE' }
  const isWorkspace = inputs.isWorkspace ?? isWorkspaceFolder
  const recent = inputs.recent.find(isWorkspace)
  if (recent) return { path: recent, why: 'the most recent workspace' }
  return { path: inputs.fallback, why: 'the default workspace' }
}
