// mkdir -p that always ends. Node's `mkdirSync(path, { recursive: true })`
// never returns under a filesystem that answers ENOENT to mkdir of an entry
// that does not exist (procfs: /proc/linea/ws), and the process then ignores
// SIGTERM too (the event loop is stuck). Here each missing component is made
// in turn, from the first one that exists, so such a path fails at once with
// the errno of the component that could not be made.
import { mkdirSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code
}

/** Creates `path` and its missing parents; throws the fs error of the first that cannot be made. */
export function makeDirs(path: string): void {
  const missing: string[] = []
  for (let dir = resolve(path); ;) {
    try {
      statSync(dir)
      break // exists (a file in the way fails at mkdir of its child, or at the caller's check)
    } catch (err) {
      if (code(err) !== 'ENOENT') throw err
    }
    missing.push(dir)
    const parent = dirname(dir)
    if (parent === dir) break
    dir = parent
  }
  for (const dir of missing.reverse()) {
    try {
      mkdirSync(dir)
    } catch (err) {
      // Made meanwhile by another process: fine when it is a folder.
      if (code(err) === 'EEXIST' && statSync(dir).isDirectory()) continue
      throw err
    }
  }
}
