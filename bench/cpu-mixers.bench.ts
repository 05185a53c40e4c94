// The CPU mixer benchmark: runs the native tool (native/tools/bench_cpu.cpp),
// which prints the table and writes bench/cpu-mixers.json.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { projectRoot } from '../electron/platform/project-root'

const tool = join(projectRoot(), 'native', 'build', 'linea_bench_cpu')
if (!existsSync(tool)) {
  console.error(`${tool} is not built; run: npm run build:native`)
  process.exit(1)
}
const args = ['--json', join(projectRoot(), 'bench', 'cpu-mixers.json'), ...process.argv.slice(2)]
const r = spawnSync(tool, args, { stdio: 'inherit' })
process.exit(r.status ?? 1)
