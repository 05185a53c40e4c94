// Finds the project's root folder (the one whose package.json is Linea's),
// from source files under electron/ and from bundles under out/ alike.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

let cached: string | undefined

export function projectRoot(): string {
  if (cached) return cached
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const pkg = join(dir, 'package.json')
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, 'utf8')).name === 'linea') return (cached = dir)
      } catch {
        // not ours; keep walking up
      }
    }
    const parent = dirname(dir)
    if (parent === dir) throw new Error(`cannot find Linea's package.json above ${fileURLToPath(import.meta.url)}`)
    dir = parent
  }
}
