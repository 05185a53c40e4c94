// The one way services turn an id or a relative path into a file path inside
// a folder they own (the workspace, a run folder, the renderer, a report).
// Every id and path from a LabApi caller or a workspace file goes through
// here: no '..', no absolute paths, and no symlink that leads outside.
import { lstatSync, realpathSync } from 'node:fs'
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path'
import { clip, UserError } from '../api/errors'

export class PathError extends UserError {}

/** Ids that name folders and files: runs, profiles, specs, inspections. */
const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/

/** Checks an id (a run, a profile, an inspection) and returns it; `kind` names it in the error. */
export function checkId(kind: string, id: unknown): string {
  if (typeof id !== 'string' || !ID.test(id) || id.includes('..'))
    throw new PathError(
      `${kind} ${typeof id === 'string' ? `'${clip(id, 80)}'` : String(id)} is not a valid ${kind}: letters, digits, _ . - only, starting with a letter or digit, at most 200 characters`,
    )
  return id
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path)
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel))
}

/** The real path of `path`, or of its deepest existing ancestor joined with the rest. */
function realish(path: string): string {
  let cur = path
  const rest: string[] = []
  for (;;) {
    let exists = true
    try {
      lstatSync(cur)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new PathError(`${path} cannot be resolved: ${code}`)
      exists = false
    }
    if (exists) {
      // A dangling or looping symlink exists (lstat succeeds) but has no real path: it leads
      // nowhere we own (and a write through it could create a file wherever it points).
      try {
        return join(realpathSync(cur), ...rest.reverse())
      } catch (err) {
        throw new PathError(`${path} cannot be resolved: ${(err as NodeJS.ErrnoException).code}`)
      }
    }
    const up = dirname(cur)
    if (up === cur) return path
    rest.push(cur.slice(up.length).replace(/^[\\/]+/, ''))
    cur = up
  }
}

/**
 * `root` joined with `parts`, checked to stay inside `root`: lexically (no
 * '..', no absolute part) and for real (every symlink on the way resolved,
 * the result still under root's real path). The file need not exist.
 */
export function resolveInside(root: string, ...parts: string[]): string {
  const base = resolve(root)
  for (const p of parts) if (typeof p !== 'string' || p.includes('\0')) throw new PathError(`a path part ${JSON.stringify(clip(String(p), 80))} is not valid`)
  const path = resolve(base, ...parts)
  const shown = clip(parts.join('/'), 120)
  if (!inside(base, path)) throw new PathError(`'${shown}' is outside ${base}`)
  let realRoot: string
  try {
    realRoot = realpathSync(base)
  } catch {
    realRoot = base
  }
  let real: string
  try {
    real = realish(path)
  } catch (err) {
    if (err instanceof PathError) throw new PathError(`'${shown}' cannot be resolved inside ${base} (a dangling or looping link)`)
    throw err
  }
  if (!inside(realRoot, real)) throw new PathError(`'${shown}' leads outside ${base} (through a symbolic link)`)
  return path
}
