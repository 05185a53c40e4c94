// The recently opened workspaces, kept in the user's config folder
// (LINEA_CONFIG_DIR, else ~/.config/linea), most recent first. The file is
// read as untrusted (files.ts: a regular file only, size-capped, never a
// FIFO): a broken one is an empty list, never an error.
import { join } from 'node:path'
import { FILE_LIMITS, makeDir, readJsonFile, writeFileAtomic } from '../workspace/files'
import { configDir } from './config-files'

const MAX_RECENT = 12

export function recentWorkspaces(): string[] {
  try {
    const list = readJsonFile(join(configDir(), 'recent.json'), { maxBytes: FILE_LIMITS.small })
    return Array.isArray(list) ? list.filter((p): p is string => typeof p === 'string').slice(0, MAX_RECENT) : []
  } catch {
    return []
  }
}

export function rememberWorkspace(path: string): void {
  const list = [path, ...recentWorkspaces().filter((p) => p !== path)].slice(0, MAX_RECENT)
  try {
    makeDir(configDir())
    writeFileAtomic(join(configDir(), 'recent.json'), JSON.stringify(list, null, 2) + '\n')
  } catch {
    // a read-only home or a full disk is no reason to fail opening a workspace
  }
}
