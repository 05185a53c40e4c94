// The app's own small files (preferences, window state, the recent
// workspaces of recent-workspaces.ts) in one folder: LINEA_CONFIG_DIR, else
// ~/.config/linea. A file that cannot be read is reported, never fatal.
import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { writeFileAtomic } from '../workspace/files'
import { makeDirs } from '../platform/make-dirs'

export function configDir(): string {
  return process.env.LINEA_CONFIG_DIR ?? join(homedir(), '.config', 'linea')
}

export const configFiles = {
  windowState: () => join(configDir(), 'window-state.json'),
  preferences: () => join(configDir(), 'preferences.json'),
  /** Chromium's profile (caches, local storage) and the single-instance lock. */
  electronData: () => join(configDir(), 'electron'),
}

/** The parsed JSON of a file; `missing` when there is none, `problem` when it is unreadable. */
export function readJsonFile(path: string): { json?: unknown; missing?: true; problem?: string } {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { missing: true }
    return { problem: `cannot read ${path}: ${(err as Error).message}` }
  }
  try {
    return { json: JSON.parse(text) }
  } catch (err) {
    return { problem: `${path} is not valid JSON: ${(err as Error).message}` }
  }
}

export function writeJsonFile(path: string, value: unknown): void {
  makeDirs(dirname(path))
  writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n')
}
