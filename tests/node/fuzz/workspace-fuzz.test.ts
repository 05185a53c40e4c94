// A permanent probe of the workspace loader (issue 12): a seeded, bounded
// fuzz that builds corrupted and hostile workspace folders and opens them
// with the real services (workspace-fuzz-cases.ts says what it builds and
// checks). The cases run in a child process so one that blocks (a FIFO
// opened for reading) is killed by a per-case timeout and reported, and the
// run goes on from the next case.
//   LINEA_FUZZ_CASES=N   how many cases (default 3000: about 25 s on 2 cores)
//   LINEA_FUZZ_SEED=S    another sequence of cases
//   LINEA_FUZZ_FROM=i    start at case i (with CASES=i+1: rebuild one case)
import { fork } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'
import { resizeModel } from '../../../electron/api/resize'
import { writeSafetensors } from '../../../electron/engine/checkpoint/safetensors'
import { projectRoot } from '../../../electron/platform/project-root'
import { preset } from '../../../electron/api/presets'
import { snapshotTree, tempDir } from '../../fixtures/temp'
import type { FuzzFailure } from './workspace-fuzz-cases'

const CASES = Number(process.env.LINEA_FUZZ_CASES ?? 3000)
const FROM = Number(process.env.LINEA_FUZZ_FROM ?? 0)
const SEED = Number(process.env.LINEA_FUZZ_SEED ?? 20260412)
/** A case runs in milliseconds; one that takes this long is blocked. */
const CASE_TIMEOUT_MS = 10_000
/** After this many blocked cases the run stops (each costs CASE_TIMEOUT_MS) and reports what it found. */
const MAX_BLOCKED = 3
const casesFile = join(fileURLToPath(new URL('.', import.meta.url)), 'workspace-fuzz-cases.ts')

/** outside/: what links in the fuzzed workspaces point at; it must never be read (its sentinel quoted) or changed. */
function buildOutside(root: string, sentinel: string): void {
  const outside = join(root, 'outside')
  mkdirSync(join(outside, 'dir'), { recursive: true })
  mkdirSync(join(outside, 'run', 'checkpoints'), { recursive: true })
  writeFileSync(join(outside, 'sentinel.txt'), `${sentinel}\n`)
  const spec = { ...resizeModel(preset('gla'), { d_model: 16, vocab_size: 32, heads: 2, n_layers: 1 }), name: sentinel }
  writeFileSync(join(outside, 'spec.json'), JSON.stringify(spec))
  writeFileSync(
    join(outside, 'run', 'run.json'),
    JSON.stringify({ format: 'linea.run/1', id: 'run', name: sentinel, status: 'completed', createdMs: 0, steps: 0 }),
  )
  writeFileSync(join(outside, 'run', 'metrics.jsonl'), `{"type":"status","status":"failed","atMs":0,"failure":"${sentinel}"}\n`)
  writeFileSync(join(outside, 'dir', 'profile-run.json'), JSON.stringify({ id: 'dir', name: sentinel, status: 'done', createdMs: 0 }))
  writeFileSync(join(outside, 'dir', 'report.html'), sentinel)
  writeSafetensors(join(outside, 'checkpoint.safetensors'), { w: new Float32Array(4) }, { format: 'linea.checkpoint/1', secret: sentinel })
  writeSafetensors(join(outside, 'run', 'checkpoints', 'step-0000003.safetensors'), { w: new Float32Array(4) }, { secret: sentinel })
}

/** Runs cases [from, to) in one child; resolves with where it got to. */
function runChild(root: string, sentinel: string, from: number, to: number, failures: FuzzFailure[]): Promise<{ next: number; ran: number }> {
  return new Promise((resolve) => {
    const child = fork(casesFile, [], {
      cwd: projectRoot(),
      execArgv: ['--import', 'tsx'],
      env: {
        ...process.env,
        LINEA_FUZZ_ROOT: root,
        LINEA_FUZZ_SEED: String(SEED),
        LINEA_FUZZ_SENTINEL: sentinel,
        LINEA_FUZZ_FROM: String(from),
        LINEA_FUZZ_TO: String(to),
        LINEA_CONFIG_DIR: join(root, 'config'), // recent.json of the cases, never the user's
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    })
    let tail = ''
    const keep = (chunk: Buffer) => (tail = (tail + chunk.toString()).slice(-3000))
    child.stdout!.on('data', keep)
    child.stderr!.on('data', keep) // the runner logs the problems it reports; kept for a crash report only
    let current: number | undefined
    let next = from
    let ran = 0
    let timer: NodeJS.Timeout | undefined
    child.on('message', (m: { type: string; i?: number; failures?: FuzzFailure[] }) => {
      if (m.type === 'start') {
        current = m.i!
        clearTimeout(timer)
        timer = setTimeout(() => {
          failures.push({ case: current!, op: 'the whole case', problem: `did not finish within ${CASE_TIMEOUT_MS} ms (blocked: a FIFO opened?)`, built: '' })
          child.kill('SIGKILL')
        }, CASE_TIMEOUT_MS)
      } else if (m.type === 'end') {
        clearTimeout(timer)
        failures.push(...m.failures!)
        current = undefined
        next = m.i! + 1
        ran++
      }
    })
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (current !== undefined) {
        if (!failures.some((f) => f.case === current && f.op === 'the whole case'))
          failures.push({ case: current, op: 'the whole case', problem: `the process ended (${signal ?? `code ${code}`}) during it:\n${tail}`, built: '' })
        next = current + 1
        ran++
      } else if (next < to && code !== 0) {
        failures.push({
          case: next,
          op: 'the harness',
          problem: `the case process ended (${signal ?? `code ${code}`}) before case ${next}:\n${tail}`,
          built: '',
        })
        next = to // nothing more can run
      }
      resolve({ next, ran })
    })
  })
}

it(
  'opening hostile workspaces fails only with UserErrors, never hangs, and touches nothing outside',
  async () => {
    const root = tempDir('linea-workspace-fuzz-')
    const sentinel = `SENTINEL-${SEED}-${Math.random().toString(36).slice(2)}`
    buildOutside(root, sentinel)
    const before = snapshotTree(join(root, 'outside'))
    const failures: FuzzFailure[] = []
    const started = Date.now()
    let next = FROM
    let ran = 0
    const blocked = () => failures.filter((f) => f.op === 'the whole case').length
    while (next < FROM + CASES && blocked() < MAX_BLOCKED) {
      const r = await runChild(root, sentinel, next, FROM + CASES, failures)
      ran += r.ran
      next = r.next
    }
    if (next < FROM + CASES) failures.push({ case: next, op: 'the run', problem: `stopped after ${MAX_BLOCKED} blocked cases, before case ${next}`, built: '' })
    const after = snapshotTree(join(root, 'outside'))
    if (after !== before) failures.push({ case: -1, op: 'after all cases', problem: `outside/ changed:\n${after}`, built: '' })
    const failedCases = new Set(failures.map((f) => f.case))
    console.log(`workspace fuzz: ${ran} cases, ${failedCases.size} failures (seed ${SEED}, ${((Date.now() - started) / 1000).toFixed(1)} s)`)
    rmSync(root, { recursive: true, force: true })
    // One block per failed case (how to rebuild it, what it built, each failed operation), and a tally by kind.
    const byCase = new Map<number, FuzzFailure[]>()
    for (const f of failures) byCase.set(f.case, [...(byCase.get(f.case) ?? []), f])
    const kinds = new Map<string, number>()
    for (const f of failures) {
      const kind = `${f.op.replace(/\(.*$/, '')}: ${f.problem.split(/[:\n]/)[0]}`
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1)
    }
    const report = [
      'by kind:',
      ...[...kinds].sort((a, b) => b[1] - a[1]).map(([k, n]) => `  ${n} × ${k}`),
      '',
      ...[...byCase].slice(0, 20).map(
        ([c, fs]) =>
          `case ${c} (rebuild: LINEA_FUZZ_SEED=${SEED} LINEA_FUZZ_FROM=${c} LINEA_FUZZ_CASES=1)\n  built: ${fs[0]!.built.slice(0, 600) || '(see the process output)'}\n` +
          fs
            .slice(0, 6)
            .map((f) => `  - ${f.op}: ${f.problem.slice(0, 400).replace(/\n/g, '\n      ')}`)
            .join('\n'),
      ),
    ].join('\n')
    expect(failures.length, `${failures.length} invariant failures in ${failedCases.size} cases\n${report}`).toBe(0)
    expect(ran).toBe(CASES)
  },
  60_000 + CASES * 200 + MAX_BLOCKED * CASE_TIMEOUT_MS,
)
