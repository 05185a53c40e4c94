// The test command (npm test): C++ tests (ctest), then the unit, node and
// end-to-end suites (vitest). Runs every suite, then exits non-zero if any
// failed. `npm test -- <suite>...` runs some: native, unit, node, e2e.
//
// With both native and e2e asked for, the C++ tests run beside the e2e suite,
// after unit and node: the doctest binary keeps one core busy (three minutes
// under CI's sanitizers) and the e2e suite, one browser at a time, about one;
// on a two-core machine in series they left a core idle. The C++ output is
// held and printed whole when its run ends.
import { spawn } from 'node:child_process'
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

/** Runs cmd to its end: true when it exits 0. With `held`, its output is collected into held.text instead of shown. */
function run(cmd, args, held) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: held ? ['ignore', 'pipe', 'pipe'] : 'inherit', env: process.env })
    if (held) {
      child.stdout.on('data', (d) => (held.text += d))
      child.stderr.on('data', (d) => (held.text += d))
    }
    child.on('error', (err) => {
      console.error(`could not run ${cmd}: ${err.message}`)
      resolve(false)
    })
    child.on('close', (code) => resolve(code === 0))
  })
}

const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs')
const steps = {
  // LINEA_NATIVE_TEST_BUILD: the CMake build whose tests run (native/build by default); CI points
  // it at its ASan + UBSan build, so the C++ tests build and run once, under the sanitizers.
  native: (held) => {
    const build = join(root, process.env.LINEA_NATIVE_TEST_BUILD ?? join('native', 'build'))
    if (!existsSync(join(build, 'linea_tests'))) {
      console.error(`C++ tests are not built in ${build}: install doctest (apt install doctest-dev) and run npm run build:native`)
      return Promise.resolve(false)
    }
    return run('ctest', ['--test-dir', build, '--output-on-failure'], held)
  },
  unit: () => run(process.execPath, [vitest, 'run', '--project', 'unit']),
  // The WebGPU files after the rest, one at a time (vitest.config.ts says why); both run either way.
  node: async () => {
    const rest = await run(process.execPath, [vitest, 'run', '--project', 'node'])
    const webgpu = await run(process.execPath, [vitest, 'run', '--project', 'node-webgpu'])
    return rest && webgpu
  },
  e2e: async () => {
    // The e2e suite drives the built app: build it first.
    if (!(await run(process.execPath, [join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), 'build']))) return false
    return run(process.execPath, [vitest, 'run', '--project', 'e2e'])
  },
}

const failed = []
const besideE2e = suites.includes('native') && suites.includes('e2e')
for (const s of suites) {
  if (besideE2e && s === 'native') continue
  if (besideE2e && s === 'e2e') {
    console.log(`\n=== test suites: native (output held until it ends) beside e2e ===`)
    const held = { text: '' }
    const [nativeOk, e2eOk] = await Promise.all([steps.native(held), steps.e2e()])
    console.log(`\n=== test suite: native (ran beside e2e) ===\n${held.text}`)
    if (!nativeOk) failed.push('native')
    if (!e2eOk) failed.push('e2e')
    continue
  }
  console.log(`\n=== test suite: ${s} ===`)
  if (!(await steps[s]())) failed.push(s)
}
if (failed.length) {
  console.error(`\nFAILED suites: ${failed.join(', ')}`)
  process.exit(1)
}
console.log(`\nall test suites passed: ${suites.join(', ')}`)
