// Reading and writing the files of a workspace, which are untrusted: a
// person, a sync tool or another program may have put anything there (null
// for a record, a directory or a FIFO where a file belongs, a link leading
// out, a file of gigabytes, JSON nested a million deep). Everything here
// either returns what was asked for or throws a UserError naming the file
// and what is wrong with it; it never blocks on a FIFO, never follows a link
// it was not told is safe, and never quotes a file's content in an error
// (a position at most), so a file named by a caller cannot be read out
// through error messages.
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync, type Stats } from 'node:fs'
import { UserError } from '../api/errors'
import { PROTOTYPE_KEYS } from '../api/untrusted'
import { makeDirs } from '../platform/make-dirs'

export class WorkspaceError extends UserError {
  constructor(
    message: string,
    /** The file the problem is with, when it is one file (for `problems` lists and failed runs). */
    readonly file?: string,
  ) {
    super(message)
    this.name = 'WorkspaceError'
  }
}

/** Makes the error a caller of a helper here wants (WorkspaceError, InspectionError, ...); `file` is the one at fault. */
export type ErrorOf = (message: string, file?: string) => Error

const workspaceError: ErrorOf = (message, file) => new WorkspaceError(message, file)

/** Largest file of each kind that is read at all (a corrupt or hostile one can be any size). */
export const FILE_LIMITS = {
  /** workspace.json, *.meta.json, .linea.lock, recent.json */
  small: 1 << 20,
  /** run.json, specs/*.json, profile-run.json */
  record: 16 << 20,
  /** metrics.jsonl, inspect/*.json, profile.json: under V8's longest string (2^29 characters). */
  large: 256 << 20,
} as const

/** Walk limits for parsed JSON: records and specs are small and shallow; inspections hold up to 8 Mi map values. */
export const JSON_LIMITS = {
  record: { maxDepth: 32, maxValues: 1_000_000 },
  large: { maxDepth: 32, maxValues: 64_000_000 },
} as const

/** What a non-file is, for messages: "a directory", "a FIFO". */
export function describeKind(st: Stats): string {
  if (st.isFile()) return 'a file'
  if (st.isDirectory()) return 'a directory'
  if (st.isSymbolicLink()) return 'a symbolic link'
  if (st.isFIFO()) return 'a FIFO (named pipe)'
  if (st.isSocket()) return 'a socket'
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device'
  return 'not a regular file'
}

/** "ENOSPC (no space left on device)" from a Node fs error. */
export function errnoOf(err: unknown): string {
  const e = err as NodeJS.ErrnoException
  if (!e || typeof e !== 'object') return String(err)
  const reason = typeof e.message === 'string' ? /^\w+: ([^,]+),/.exec(e.message)?.[1] : undefined
  return e.code ? `${e.code}${reason ? ` (${reason})` : ''}` : String(e.message ?? err)
}

/**
 * What is at `path`: 'missing', or the Stats of the regular file or directory
 * it is (following a last link, which the caller has checked stays inside
 * with resolveInside), or an error for anything else (a FIFO, a socket, a
 * device, a dangling or looping link).
 */
export function statEntry(path: string, fail: ErrorOf = workspaceError): 'missing' | Stats {
  let st: Stats
  try {
    st = lstatSync(path)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing'
    throw fail(`${path} cannot be read: ${errnoOf(err)}`, path)
  }
  if (st.isSymbolicLink()) {
    try {
      st = statSync(path)
    } catch (err) {
      throw fail(`${path} is a symbolic link that leads nowhere (${errnoOf(err)})`, path)
    }
  }
  if (!st.isFile() && !st.isDirectory()) throw fail(`${path} is ${describeKind(st)}, not a file or a folder`, path)
  return st
}

/**
 * The bytes of the regular file at `path`, at most `maxBytes`; undefined when
 * nothing is there. Checked with lstat/stat before it is opened (a FIFO is
 * never opened), opened non-blocking and checked again on the descriptor (a
 * file swapped for a FIFO in between cannot block the read).
 */
export function readRegularFile(path: string, maxBytes: number, fail: ErrorOf = workspaceError): Buffer | undefined {
  const st = statEntry(path, fail)
  if (st === 'missing') return undefined
  if (!st.isFile()) throw fail(`${path} is ${describeKind(st)}, not a file`, path)
  if (st.size > maxBytes) throw fail(`${path} is ${st.size} bytes; Linea reads at most ${maxBytes} bytes of this file`, path)
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (err) {
    throw fail(`${path} cannot be opened: ${errnoOf(err)}`, path)
  }
  try {
    const now = fstatSync(fd)
    if (!now.isFile()) throw fail(`${path} is ${describeKind(now)}, not a file`, path)
    const chunks: Buffer[] = []
    let total = 0
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, maxBytes + 1 - total))
      let n: number
      try {
        n = readSync(fd, chunk, 0, chunk.length, null)
      } catch (err) {
        throw fail(`${path} cannot be read: ${errnoOf(err)}`, path)
      }
      if (n === 0) break
      chunks.push(chunk.subarray(0, n))
      total += n
      if (total > maxBytes) throw fail(`${path} is over ${maxBytes} bytes; Linea reads at most ${maxBytes} bytes of this file`, path)
    }
    return Buffer.concat(chunks, total)
  } finally {
    closeSync(fd)
  }
}

/** Where a JSON.parse error is, as "line L, column C", from V8's "at position N" (never its quote of the text). */
function positionOf(err: unknown, text: string): string | undefined {
  const m = /at position (\d+)/.exec((err as Error)?.message ?? '')
  if (!m) return /Unexpected end of JSON input/.test((err as Error)?.message ?? '') ? 'at the end (cut short?)' : undefined
  const pos = Math.min(Number(m[1]), text.length)
  const before = text.slice(0, pos)
  const line = before.split('\n').length
  return `at line ${line}, column ${pos - before.lastIndexOf('\n')}`
}

/**
 * Why a parsed value is refused, or undefined: a key that reaches a prototype
 * (__proto__, constructor, prototype), nesting deeper than `maxDepth`, more
 * than `maxValues` values. Iterative and without building paths, so an
 * inspection's 8 Mi numbers are walked fast.
 */
export function jsonShapeProblem(value: unknown, limits: { maxDepth: number; maxValues: number } = JSON_LIMITS.record): string | undefined {
  const stack: unknown[] = [value]
  const depths: number[] = [0]
  let seen = 0
  while (stack.length) {
    const v = stack.pop()
    const depth = depths.pop()!
    if (++seen > limits.maxValues) return `holds over ${limits.maxValues} values`
    if (v === null || typeof v !== 'object') continue
    if (depth >= limits.maxDepth) return `is nested over ${limits.maxDepth} levels deep`
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const item = v[i]
        if (item !== null && typeof item === 'object') {
          stack.push(item)
          depths.push(depth + 1)
        } else if (++seen > limits.maxValues) return `holds over ${limits.maxValues} values`
      }
      continue
    }
    for (const key of Object.keys(v)) {
      if (PROTOTYPE_KEYS.has(key)) return `has a key '${key}', which Linea never writes and does not read`
      stack.push((v as Record<string, unknown>)[key])
      depths.push(depth + 1)
    }
  }
  return undefined
}

/**
 * `text` (the file at `path`) parsed as JSON and checked with jsonShapeProblem.
 * A syntax error names the file and the position, never the text there.
 */
export function parseJsonText(
  text: string,
  path: string,
  fail: ErrorOf = workspaceError,
  limits: { maxDepth: number; maxValues: number } = JSON_LIMITS.record,
): unknown {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    const at = positionOf(err, text)
    throw fail(`${path} is not valid JSON${at ? ` (${at})` : ''}`, path)
  }
  const problem = jsonShapeProblem(value, limits)
  if (problem) throw fail(`${path} ${problem}`, path)
  return value
}

/** readRegularFile + parseJsonText; undefined when the file is missing. */
export function readJsonFile(path: string, options: { maxBytes?: number; fail?: ErrorOf; limits?: { maxDepth: number; maxValues: number } } = {}): unknown {
  const fail = options.fail ?? workspaceError
  const bytes = readRegularFile(path, options.maxBytes ?? FILE_LIMITS.record, fail)
  if (bytes === undefined) return undefined
  return parseJsonText(bytes.toString('utf8'), path, fail, options.limits)
}

/** What a JSON value is, for messages that must not quote it: "null", "an array", "a number". */
export function jsonKind(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return 'an object'
  return `a ${typeof value}`
}

/** A plain JSON object (not null, not an array). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/**
 * Writes through a temp file and a rename, so a reader never sees half a
 * file. The temp file is created exclusively (a link or file left at its
 * name is removed first, never followed), and any failure (ENOSPC, EISDIR,
 * EACCES) is a WorkspaceError naming the file and the errno, with the temp
 * file removed.
 */
export function writeFileAtomic(path: string, text: string | Uint8Array, fail: ErrorOf = workspaceError): void {
  const tmp = `${path}.${process.pid}.tmp`
  let fd: number | undefined
  let at = tmp // the file the failing step was on: the temp file, then (rename) the target
  try {
    try {
      unlinkSync(tmp) // a leftover (or a planted link): removed, not written through
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644)
    const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text
    for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off)
    closeSync(fd)
    fd = undefined
    at = path
    renameSync(tmp, path)
  } catch (err) {
    if (fd !== undefined)
      try {
        closeSync(fd)
      } catch {
        // already failing; the write's error is the one to report
      }
    try {
      unlinkSync(tmp)
    } catch {
      // never created, or already gone
    }
    throw fail(at === path ? `cannot write ${path}: ${errnoOf(err)}` : `cannot write ${path} (through its temp file ${tmp}): ${errnoOf(err)}`, at)
  }
}

/**
 * Appends to a regular file, creating it: never through a link (O_NOFOLLOW),
 * never blocking on a FIFO (O_NONBLOCK), and only into a regular file.
 */
export function appendRegularFile(path: string, text: string, fail: ErrorOf = workspaceError): void {
  let fd: number
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o644)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const what = code === 'ELOOP' ? 'a symbolic link (not written through)' : code === 'ENXIO' ? 'a FIFO (not written to)' : undefined
    throw fail(`cannot append to ${path}: ${what ? `it is ${what}` : errnoOf(err)}`, path)
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw fail(`cannot append to ${path}: it is ${describeKind(st)}, not a file`, path)
    const bytes = Buffer.from(text, 'utf8')
    try {
      for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off)
    } catch (err) {
      throw fail(`cannot append to ${path}: ${errnoOf(err)}`, path)
    }
  } finally {
    closeSync(fd)
  }
}

/** mkdir -p with the errno in a WorkspaceError (a file in the way, a full or read-only disk). */
export function makeDir(path: string, fail: ErrorOf = workspaceError): void {
  try {
    makeDirs(path)
  } catch (err) {
    throw fail(`cannot create the folder ${path}: ${errnoOf(err)}`, path)
  }
  const st = statEntry(path, fail)
  if (st === 'missing' || !st.isDirectory()) throw fail(`cannot create the folder ${path}: something else is in the way`, path)
}
