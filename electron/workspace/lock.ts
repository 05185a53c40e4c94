// One writer per workspace: `.linea.lock` holds the writer's pid, host and
// start time, created exclusively. A second process gets an error naming the
// holder; a lock whose process is gone (same host) is taken over.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { UserError } from '../api/errors'

export const LOCK_FILE = '.linea.lock'

export interface LockHolder {
  pid: number
  host: string
  startedMs: number
  app: string
}

export class WorkspaceLockedError extends UserError {
  constructor(
    readonly root: string,
    readonly holder: LockHolder,
  ) {
    super(
      `workspace ${root} is open for writing in another Linea process (pid ${holder.pid} on ${holder.host}, ${holder.app}, since ${new Date(holder.startedMs).toISOString()}); close it there, or open another workspace`,
    )
    this.name = 'WorkspaceLockedError'
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export class WorkspaceLock {
  private released = false

  private constructor(readonly path: string) {}

  static acquire(root: string, app = 'linea'): WorkspaceLock {
    const path = join(root, LOCK_FILE)
    const me: LockHolder = { pid: process.pid, host: hostname(), startedMs: Date.now(), app }
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, 'wx')
        writeSync(fd, JSON.stringify(me))
        closeSync(fd)
        return new WorkspaceLock(path)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
      let holder: LockHolder | undefined
      try {
        holder = JSON.parse(readFileSync(path, 'utf8')) as LockHolder
      } catch {
        holder = undefined // half-written by a writer that died: stale
      }
      if (holder && holder.pid === process.pid && holder.host === me.host) return new WorkspaceLock(path)
      if (holder && (holder.host !== me.host || alive(holder.pid))) throw new WorkspaceLockedError(root, holder)
      try {
        unlinkSync(path) // stale: its process is gone
      } catch {
        // another process took it over first; the next attempt sees its lock
      }
    }
    throw new Error(`could not take the workspace lock ${path}`)
  }

  release(): void {
    if (this.released) return
    this.released = true
    try {
      unlinkSync(this.path)
    } catch {
      // already gone
    }
  }
}
