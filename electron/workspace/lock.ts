// One writer per workspace: `.linea.lock` holds the writer's pid, host and
// start time, created exclusively. A second process gets an error naming the
// holder; a lock whose process is gone (same host) is taken over.
// The lock file is as untrusted as the rest of the folder: anything at its
// name that is not a regular file (a FIFO, a folder, a link) is refused,
// never read or followed, and a holder record that is not one is stale.
import { closeSync, constants, lstatSync, openSync, unlinkSync, writeSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { clip, UserError } from '../api/errors'
import { describeKind, errnoOf, FILE_LIMITS, isJsonObject, parseJsonText, readRegularFile, WorkspaceError } from './files'

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
      `workspace ${root} is open for writing in another Linea process (pid ${holder.pid} on ${clip(holder.host, 100)}, ${clip(holder.app, 100)}, since ${new Date(holder.startedMs).toISOString()}); close it there, or open another workspace`,
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

/** The holder a lock file names, or undefined when it names none (half-written, foreign): stale. */
function holderOf(text: string, path: string): LockHolder | undefined {
  let json: unknown
  try {
    json = parseJsonText(text, path)
  } catch {
    return undefined
  }
  if (!isJsonObject(json)) return undefined
  const { pid, host, startedMs, app } = json
  // A pid of 0 or below names a process group to kill(); a date out of range would throw in toISOString.
  if (!(typeof pid === 'number' && Number.isSafeInteger(pid) && pid > 0)) return undefined
  if (typeof host !== 'string' || typeof app !== 'string') return undefined
  if (!(typeof startedMs === 'number' && Number.isFinite(startedMs) && Math.abs(startedMs) <= 8.64e15)) return undefined
  return { pid, host, startedMs, app }
}

export class WorkspaceLock {
  private released = false

  private constructor(readonly path: string) {}

  /**
   * Takes the lock, or throws: WorkspaceLockedError when another live process
   * holds it; a WorkspaceError naming the file and errno when it cannot be
   * written (a full or read-only disk) or something else is at its name.
   */
  static acquire(root: string, app = 'linea'): WorkspaceLock {
    const path = join(root, LOCK_FILE)
    const me: LockHolder = { pid: process.pid, host: hostname(), startedMs: Date.now(), app }
    for (let attempt = 0; attempt < 2; attempt++) {
      let fd: number | undefined
      try {
        // O_EXCL: never through a link at that name (it counts as existing)
        fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new WorkspaceError(`cannot create the lock file ${path}: ${errnoOf(err)}`, path)
      }
      if (fd !== undefined) {
        try {
          writeSync(fd, JSON.stringify(me))
        } catch (err) {
          closeSync(fd)
          try {
            unlinkSync(path) // an empty lock would read as stale anyway; leave nothing behind
          } catch {
            // gone already
          }
          throw new WorkspaceError(`cannot write the lock file ${path}: ${errnoOf(err)}`, path)
        }
        closeSync(fd)
        return new WorkspaceLock(path)
      }
      // Something is there: only a regular file is a lock (a link is not followed, a FIFO never opened).
      let kind: string | undefined
      try {
        const st = lstatSync(path)
        if (!st.isFile()) kind = describeKind(st)
      } catch {
        continue // removed in between: try again
      }
      if (kind) throw new WorkspaceError(`${path} is ${kind}, not a lock file Linea wrote; remove it to open the workspace for writing`, path)
      let holder: LockHolder | undefined
      try {
        const bytes = readRegularFile(path, FILE_LIMITS.small)
        holder = bytes === undefined ? undefined : holderOf(bytes.toString('utf8'), path)
      } catch {
        holder = undefined // unreadable or oversized: not a lock a live Linea wrote
      }
      if (holder && holder.pid === process.pid && holder.host === me.host) return new WorkspaceLock(path)
      if (holder && (holder.host !== me.host || alive(holder.pid))) throw new WorkspaceLockedError(root, holder)
      try {
        unlinkSync(path) // stale: its process is gone
      } catch {
        // another process took it over first; the next attempt sees its lock
      }
    }
    throw new WorkspaceError(`could not take the workspace lock ${path}: another process keeps replacing it`, path)
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
