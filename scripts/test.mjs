// The test command (npm test): C++ tests (ctest), then the unit, node and
// end-to-end suites (vitest). Runs every suite, then exits non-zero if any
// failed. `npm test -- <suite>...` runs some: native, unit, node, e2e.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const all = ['native', 'unit', 'node', 'e2e']
const wanted = process.argv.slice(2)
for (const s of wanted) {
  if (!all.includes(s)) {
    console.error(`unknown test suite '${s}'; valid: ${all.join(', ')}`)
    process.exit(2)
  }
}
const suites = wanted.length ? wanted : all

function run(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } })
  if (r.error) console.error(`could not run ${cmd}: ${r.error.message}`)
  return r.status === 0
}

const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs')
const steps = {
  // LINEA_NATIVE_TEST_BUILD: the CMake build whose tests run (native/build by default); CI points
  // it at its ASan + UBSan build, so the C++ tests build and run once, under the sanitizers.
  native: () => {
    const build = join(root, process.env.LINEA_NATIVE_TEST_BUILD ?? join('native', 'build'))
    if (!existsSync(join(build, 'linea_tests'))) {
      console.error(`C++ tests are not built in ${build}: install doctest (apt install doctest-dev) and run npm run build:native`)
      return false
    }
    return run('ctest', ['--test-dir', build, '--output-on-failure'])
  },
  unit: () => run(process.execPath, [vitest, 'run', '--project', 'unit']),
  node: () => run(process.execPath, [vitest, 'run', '--project', 'node']),
  e2e: () => {
    // The e2e suite drives the built app: build it first.
    if (!run(process.execPath, [join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), 'build'])) return false
    return run(process.execPath, [vitest, 'run', '--project', 'e2e'])
  },
}

const failed = []
for (const s of suites) {
  console.log(`\n=== test suite: ${s} ===`)
  if (!steps[s]()) failed.push(s)
}
if (failed.length) {
  console.error(`\nFAILED suites: ${failed.join(', ')}`)
  process.exit(1)
}
console.log(`\nall test suites passed: ${suites.join(', ')}`)
