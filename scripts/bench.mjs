// Benchmarks: runs each benchmark of bench/ and writes its JSON there.
// `npm run bench -- <name>` runs one. Method: ../shared/BENCHMARKS.md
// (warm-up, repeats, medians; machine and versions recorded).
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const benchDir = join(root, 'bench')
const available = readdirSync(benchDir)
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.replace(/\.bench\.ts$/, ''))
const wanted = process.argv.slice(2)
for (const w of wanted) {
  if (!available.includes(w)) {
    console.error(`unknown benchmark '${w}'; available: ${available.join(', ')}`)
    process.exit(2)
  }
}
let failed = false
for (const name of wanted.length ? wanted : available) {
  console.log(`\n=== bench: ${name} ===`)
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(benchDir, `${name}.bench.ts`)], { cwd: root, stdio: 'inherit' })
  if (r.status !== 0) failed = true
}
process.exit(failed ? 1 : 0)
