// The recently opened workspaces, kept in the user's config folder
// (LINEA_CONFIG_DIR, else ~/.config/linea), most recent first.
import { mkdirSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { writeFileAtomic } from './workspace'

const MAX_RECENT = 12

function configDir(): string {
  return process.env.LINEA_CONFIG_DIR ?? join(homedir(), '.config', 'linea')
}

export function recentWorkspaces(): string[] {
  try {
    const list = JSON.parse(readFileSync(join(configDir(), 'recent.json'), 'utf8'))
    return Array.isArray(list) ? list.filter((p): p is string => typeof p === 'string') : []
  } catch {
    return []
  }
}

export function rememberWorkspace(path: string): void {
  const list = [path, ...recentWorkspaces().filter((p) => p !== path)].slice(0, MAX_RECENT)
  try {
    mkdirSync(configDir(), { recursive: true })
    writeFileAtomic(join(configDir(), 'recent.json'), JSON.stringify(list, null, 2) + '\n')
  } catch {
    // a read-only home is no reason to fail opening a workspace
  }
}
