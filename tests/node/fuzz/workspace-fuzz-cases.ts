// The workspace fuzz's cases, run in a child process of workspace-fuzz.test.ts
// (forked under tsx) so that a case that blocks (a FIFO opened for reading)
// is killed by the parent's per-case timeout instead of hanging the suite.
//
// Each case i builds a hostile workspace folder from its own PRNG (seed, i),
// so any case can be rebuilt alone: random, truncated, null, deeply nested,
// oversized (sparse) and __proto__-laden contents in workspace.json,
// run.json, metrics.jsonl, specs/*.json, inspect/*.json and *.meta.json,
// profiles/*/profile-run.json and profile.json, checkpoints; dangling,
// looping and outward links, FIFOs and folders where files belong. Then it
// opens it with the real services and checks the invariants:
//   - every failure is a UserError (never a TypeError, RangeError, ...)
//   - nothing outside the workspace is read (the sentinel text in outside/
//     never shows in an error or a result) or written (outside/ unchanged)
//   - Object.prototype unchanged
// Protocol (process.send): {type:'start', i}, {type:'end', i, failures}, {type:'done'}.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { isUserError } from '../../../electron/api/errors'
import { resizeModel } from '../../../electron/api/resize'
import { readCheckpoint } from '../../../electron/engine/checkpoint/checkpoint'
import { writeSafetensors } from '../../../electron/engine/checkpoint/safetensors'
import { preset } from '../../../electron/api/presets'
import { forkLauncher } from '../../../electron/jobs/engine-process'
import { LabEventBus } from '../../../electron/services/events'
import { InspectService } from '../../../electron/services/inspect-service'
import { ProfileService } from '../../../electron/services/profile-service'
import { WorkspaceService } from '../../../electron/services/workspace-service'
import { Workspace } from '../../../electron/workspace/workspace'
import { FuzzRng } from '../../fixtures/random'
import { snapshotTree } from '../../fixtures/temp'
import { trainSpec } from '../../fixtures/specs'

export interface FuzzFailure {
  case: number
  op: string
  problem: string
  built: string
}

// ---- the world: a temp root with outside/ (never to be touched) and a FIFO pool --

const root = process.env.LINEA_FUZZ_ROOT!
const seed = Number(process.env.LINEA_FUZZ_SEED ?? '1')
export const SENTINEL = process.env.LINEA_FUZZ_SENTINEL!
const outside = join(root, 'outside')
const fifoPool = join(root, `fifos-${process.pid}`) // one per process: a child killed mid-case leaves its pool behind
let fifoCount = 0
let fifoNext = 0

/** A fresh FIFO moved to `path` (made in batches: one mkfifo process per 256). */
function fifoAt(path: string): void {
  if (fifoNext === fifoCount) {
    mkdirSync(fifoPool, { recursive: true })
    const names = Array.from({ length: 256 }, (_, k) => join(fifoPool, `p${fifoCount + k}`))
    execFileSync('mkfifo', names)
    fifoCount += 256
  }
  renameSync(join(fifoPool, `p${fifoNext++}`), path)
}

// ---- valid documents, to be broken ---------------------------------------------

const modelSpec = resizeModel(preset('gla'), { d_model: 16, vocab_size: 32, heads: 2, n_layers: 1 })
const train = trainSpec({ task: { kind: 'mqar', seq_len: 16, num_kv_pairs: 2, power_a: 0.01, vocab_size: 32 }, steps: 10, batch_size: 2, backend: 'cpu' })
const validRun = (id: string, status: string) => ({
  format: 'linea.run/1',
  id,
  name: `run ${id}`,
  modelSpec,
  trainSpec: train,
  status,
  createdMs: 1,
  steps: 3,
  lastLoss: 1.5,
  checkpoint: 'checkpoints/step-0000003.safetensors',
})
const validMetrics = [
  { type: 'status', status: 'running', atMs: 1 },
  { type: 'train', step: 1, steps: 10, loss: 2, lr: 0.001, gradNorm: 1, tokensPerSecond: 100, elapsedSeconds: 1, memoryBytes: 10, peakMemoryBytes: 20 },
  {
    type: 'eval',
    step: 1,
    headline: 0.5,
    headlineName: 'accuracy',
    sets: [{ name: 'eval', seqLen: 16, accuracy: 0.5, loss: 1, bitsPerByte: 0, count: 4, byTag: {} }],
  },
  { type: 'checkpoint', step: 1, path: 'checkpoints/step-0000001.safetensors' },
]
const validInspection = (name: string) => ({
  format: 'linea.inspect/1',
  name,
  createdMs: 1,
  runId: 'r',
  runName: 'r',
  checkpoint: 'checkpoints/step-0000003.safetensors',
  step: 3,
  modelSpec,
  task: train.task,
  request: { runId: 'r', input: { kind: 'task', example: 0 } },
  backend: 'cpu',
  input: { tokens: [1, 2], labels: [-1, 2], predicted: [-1, 2] },
  layers: [{ index: 0, kind: 'linear', label: 'gla', dk: 8, dv: 8, heads: [{ head: 0, outputNorm: [1, 2] }] }],
  seconds: 0.1,
})
const validSummary = (name: string) => ({
  runId: 'r',
  name,
  checkpoint: 'checkpoints/step-0000003.safetensors',
  step: 3,
  createdMs: 1,
  input: 'mqar example 0',
})
const validProfileRecord = (id: string) => ({
  id,
  name: id,
  status: 'done',
  createdMs: 1,
  endedMs: 2,
  settings: { batchSize: 1, seqLen: 16, dtype: 'f32', warmup: 0, repeats: 1, sweepLengths: [16], sweepBudgetSeconds: 1, sweepMemoryLimitBytes: 1e9 },
  report: { html: 'report.html' },
})

// ---- hostile contents --------------------------------------------------------------

const hostileValues = (rng: FuzzRng): unknown[] => [
  null,
  true,
  0,
  -1,
  1.5,
  1e308,
  -1e308,
  '',
  'x'.repeat(rng.int(5000)),
  '../../outside/sentinel.txt',
  '/etc/passwd',
  [],
  {},
  [null],
  JSON.parse('{"__proto__": {"polluted": "yes"}}'),
  JSON.parse('{"constructor": {"prototype": {"polluted": "yes"}}}'),
  { toString: 'x', valueOf: 1, hasOwnProperty: null },
]

/** A value with one node replaced by something hostile (or a key deleted, or a __proto__ key added). */
function mutateValue(rng: FuzzRng, value: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(value)) as unknown
  const nodes: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = []
  const walk = (v: unknown) => {
    if (v === null || typeof v !== 'object') return
    if (Array.isArray(v)) v.forEach((x, i) => (nodes.push({ parent: v, key: i }), walk(x)))
    else
      for (const k of Object.keys(v)) {
        nodes.push({ parent: v as Record<string, unknown>, key: k })
        walk((v as Record<string, unknown>)[k])
      }
  }
  walk(copy)
  if (!nodes.length) return rng.pick(hostileValues(rng))
  for (let n = 1 + rng.int(3); n > 0; n--) {
    const { parent, key } = rng.pick(nodes)
    const what = rng.int(4)
    if (what === 0 && !Array.isArray(parent)) delete (parent as Record<string, unknown>)[key as string]
    else if (what === 1 && !Array.isArray(parent))
      Object.defineProperty(parent, '__proto__', { value: { polluted: 'yes' }, enumerable: true, configurable: true, writable: true })
    else (parent as Record<string | number, unknown>)[key] = rng.pick(hostileValues(rng))
  }
  return copy
}

/** Text of a hostile JSON document derived from `valid`. */
function hostileText(rng: FuzzRng, valid: unknown): { text: string | Buffer; what: string } {
  const validText = JSON.stringify(valid)
  switch (rng.int(12)) {
    case 0:
    case 1:
    case 2:
      return { text: validText, what: 'valid' }
    case 3:
    case 4:
      return { text: JSON.stringify(mutateValue(rng, valid)), what: 'mutated' }
    case 5:
      return { text: JSON.stringify(rng.pick(hostileValues(rng))), what: 'a hostile value' }
    case 6:
      return { text: validText.slice(0, rng.int(validText.length)), what: 'truncated' }
    case 7:
      return { text: rng.bytes(rng.int(200)), what: 'random bytes' }
    case 8: {
      const depth = rng.pick([40, 1000, 20_000])
      return { text: rng.chance(0.5) ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth), what: `nested ${depth} deep` }
    }
    case 9:
      return { text: validText.replace('{', '{"__proto__": {"polluted": "yes"}, "constructor": {"prototype": {"polluted": "yes"}}, '), what: '__proto__ keys' }
    case 10:
      return { text: `{"a": ${'1,'.repeat(rng.int(3))} "${SENTINEL.slice(0, 3)}`, what: 'broken JSON' }
    default:
      return { text: '', what: 'empty' }
  }
}

type Kind = 'file' | 'dir' | 'fifo' | 'link-out' | 'link-sentinel' | 'dangling-in' | 'dangling-out' | 'loop' | 'huge'

/** Puts something at `path`: mostly the file, else a hostile stand-in. */
function place(rng: FuzzRng, path: string, file: () => { text: string | Buffer; what: string }, built: string[], hugeBytes: number): void {
  const kind: Kind = rng.chance(0.75) ? 'file' : rng.pick(['dir', 'fifo', 'link-out', 'link-sentinel', 'dangling-in', 'dangling-out', 'loop', 'huge'] as const)
  const name = path.slice(root.length)
  switch (kind) {
    case 'file': {
      const { text, what } = file()
      writeFileSync(path, text)
      built.push(`${name}: ${what}`)
      return
    }
    case 'dir':
      mkdirSync(path)
      break
    case 'fifo':
      fifoAt(path)
      break
    case 'link-out':
      symlinkSync(join(outside, rng.pick(['run', 'dir', 'spec.json', 'checkpoint.safetensors'])), path)
      break
    case 'link-sentinel':
      symlinkSync(join(outside, 'sentinel.txt'), path)
      break
    case 'dangling-in':
      symlinkSync(`${path}.nowhere`, path)
      break
    case 'dangling-out':
      symlinkSync(join(outside, `missing-${rng.int(1000)}`), path)
      break
    case 'loop':
      symlinkSync(path, path)
      break
    case 'huge':
      writeFileSync(path, '')
      truncateSync(path, hugeBytes) // sparse: past the size cap without writing it
      break
  }
  built.push(`${name}: ${kind}`)
}

/** A folder at `path`, or a hostile stand-in for it; true when it is a real folder to fill. */
function placeDir(rng: FuzzRng, path: string, built: string[], p = 0.85): boolean {
  if (rng.chance(p)) {
    mkdirSync(path, { recursive: true })
    return true
  }
  const kind = rng.pick(['file', 'fifo', 'link-out', 'dangling-in', 'dangling-out', 'loop'] as const)
  if (kind === 'file') writeFileSync(path, 'not a folder')
  else if (kind === 'fifo') fifoAt(path)
  else if (kind === 'link-out') symlinkSync(join(outside, rng.pick(['run', 'dir'])), path)
  else if (kind === 'dangling-in') symlinkSync(`${path}.nowhere`, path)
  else if (kind === 'dangling-out') symlinkSync(join(outside, `missing-${rng.int(1000)}`), path)
  else symlinkSync(path, path)
  built.push(`${path.slice(root.length)}/: ${kind}`)
  return false
}

/** A valid checkpoint file's bytes (written once by the real writer). */
const checkpointBytes = (() => {
  const path = join(root, 'scratch.safetensors')
  writeSafetensors(
    path,
    { 'embed.weight': new Float32Array(8), 'layers.0.x': { dtype: 'F32', shape: [2, 2], data: new Float32Array(4) } },
    {
      format: 'linea.checkpoint/1',
      'linea.model_spec': JSON.stringify(modelSpec),
      'linea.train_spec': JSON.stringify(train),
      'linea.step': '3',
      'linea.dtype': 'f32',
    },
  )
  return readFileSync(path)
})()

function safetensorsText(rng: FuzzRng): { text: Buffer; what: string } {
  const bytes = checkpointBytes
  const headerLength = Number(bytes.readBigUInt64LE(0))
  switch (rng.int(6)) {
    case 0:
      return { text: bytes, what: 'valid checkpoint' }
    case 1:
      return { text: bytes.subarray(0, rng.int(bytes.length)), what: 'truncated checkpoint' }
    case 2: {
      // a mutated header, re-framed with its new length
      const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, unknown>
      const json = Buffer.from(JSON.stringify(mutateValue(rng, header)), 'utf8')
      const len = Buffer.alloc(8)
      len.writeBigUInt64LE(BigInt(json.length))
      return { text: Buffer.concat([len, json, bytes.subarray(8 + headerLength)]), what: 'checkpoint with a mutated header' }
    }
    case 3: {
      const b = Buffer.from(bytes)
      b.writeBigUInt64LE(rng.pick([0n, 2n ** 63n, 2n ** 64n - 1n, BigInt(b.length)]), 0)
      return { text: b, what: 'checkpoint with a bad header length' }
    }
    case 4: {
      const b = Buffer.from(bytes)
      for (let k = 0; k < 8; k++) b[8 + rng.int(headerLength)] = rng.int(256)
      return { text: b, what: 'checkpoint with flipped header bytes' }
    }
    default:
      return { text: rng.bytes(rng.int(64)), what: 'random bytes as a checkpoint' }
  }
}

const RUN_IDS = ['20260101T000000-a', '20260101T000001-b', 'run-c', '.hidden', 'a b', '..', 'x'.repeat(230), 'ünïcode', '-dash']

/** Builds case i's workspace at `ws`; returns what it built (for the failure report). */
function build(rng: FuzzRng, ws: string): { built: string[]; runIds: string[]; specNames: string[]; profileIds: string[] } {
  const built: string[] = []
  mkdirSync(ws, { recursive: true })
  const runIds: string[] = []
  const specNames: string[] = []
  const profileIds: string[] = []
  if (!rng.chance(0.15))
    place(
      rng,
      join(ws, 'workspace.json'),
      () =>
        rng.chance(0.7)
          ? { text: JSON.stringify({ format: 'linea.workspace/1', name: 'fuzz', createdMs: 1 }), what: 'valid' }
          : hostileText(rng, { format: 'linea.workspace/1', name: 'fuzz', createdMs: 1 }),
      built,
      2 << 20,
    )
  if (rng.chance(0.1))
    place(
      rng,
      join(ws, '.linea.lock'),
      () => hostileText(rng, { pid: rng.pick([1, 999999, -1, 0, process.pid]), host: 'h', startedMs: rng.pick([0, 1e300, -5]), app: 'x' }),
      built,
      2 << 20,
    )
  if (placeDir(rng, join(ws, 'runs'), built)) {
    for (let r = rng.int(4); r > 0; r--) {
      const id = rng.chance(0.8) ? RUN_IDS[rng.int(3)]! : rng.pick(RUN_IDS)
      if (runIds.includes(id)) continue
      runIds.push(id)
      if (id === '..') continue // looked up, but no folder can have that name
      const dir = join(ws, 'runs', id)
      if (!placeDir(rng, dir, built, 0.8)) continue
      place(rng, join(dir, 'run.json'), () => hostileText(rng, validRun(id, rng.pick(['completed', 'running', 'queued', 'failed']))), built, 20 << 20)
      place(
        rng,
        join(dir, 'metrics.jsonl'),
        () => {
          const lines = Array.from({ length: rng.int(6) }, () => {
            const t = hostileText(rng, rng.pick(validMetrics))
            return typeof t.text === 'string' ? t.text : t.text.toString('latin1')
          })
          return { text: lines.join('\n') + (rng.chance(0.5) ? '\n' : ''), what: `${lines.length} lines` }
        },
        built,
        300 << 20,
      )
      if (placeDir(rng, join(dir, 'checkpoints'), built))
        for (let c = rng.int(3); c > 0; c--) place(rng, join(dir, 'checkpoints', `step-000000${c}.safetensors`), () => safetensorsText(rng), built, 4 << 20)
      if (rng.chance(0.5) && placeDir(rng, join(dir, 'inspect'), built))
        for (const name of ['step-0000003-example-0', rng.pick(['x', '..', '.meta', 'a b'])]) {
          place(rng, join(dir, 'inspect', `${name}.json`), () => hostileText(rng, validInspection(name)), built, 300 << 20)
          place(rng, join(dir, 'inspect', `${name}.meta.json`), () => hostileText(rng, validSummary(name)), built, 2 << 20)
        }
    }
  }
  if (placeDir(rng, join(ws, 'specs'), built))
    for (let s = rng.int(4); s > 0; s--) {
      const name = rng.pick(['good', 'other', 'a b', '.x', 'bad.name'])
      if (specNames.includes(name)) continue
      specNames.push(name)
      place(rng, join(ws, 'specs', `${name}.json`), () => hostileText(rng, modelSpec), built, 20 << 20)
    }
  if (rng.chance(0.6) && placeDir(rng, join(ws, 'profiles'), built))
    for (let p = rng.int(3); p > 0; p--) {
      const id = rng.pick(['20260101T000000-p', '20260101T000001-q', '..', 'bad id'])
      if (profileIds.includes(id)) continue
      profileIds.push(id)
      if (id === '..') continue
      const dir = join(ws, 'profiles', id)
      if (!placeDir(rng, dir, built, 0.8)) continue
      place(rng, join(dir, 'profile-run.json'), () => hostileText(rng, validProfileRecord(id)), built, 2 << 20)
      if (rng.chance(0.5)) place(rng, join(dir, 'profile.json'), () => hostileText(rng, { format: 'linea.profile/1', createdMs: 1 }), built, 300 << 20)
      place(rng, join(dir, 'report.html'), () => ({ text: '<p>report</p>', what: 'report' }), built, 2 << 20)
    }
  return { built, runIds, specNames, profileIds }
}

// ---- the operations and their invariants -----------------------------------------

const protoNames = () => Object.getOwnPropertyNames(Object.prototype).sort().join(',')
const protoBefore = protoNames()
const outsideBefore = snapshotTree(outside)

function runCase(i: number): FuzzFailure[] {
  const rng = new FuzzRng((seed * 0x9e3779b1 + i * 0x85ebca6b) >>> 0)
  const ws = join(root, 'cases', String(i))
  const { built, runIds, specNames, profileIds } = build(rng, ws)
  const failures: FuzzFailure[] = []
  const description = built.join('; ')
  /** Runs one operation: a failure must be a UserError quoting nothing from outside; a result (an answer) must be JSON without it. */
  const check = (op: string, fn: () => unknown, answer = true): unknown => {
    try {
      const result = fn()
      if (!answer) return result
      let text = ''
      try {
        text = JSON.stringify(result) ?? ''
      } catch (err) {
        failures.push({ case: i, op, problem: `its result cannot be sent as JSON: ${(err as Error).message}`, built: description })
      }
      if (text.includes(SENTINEL)) failures.push({ case: i, op, problem: 'its result holds the sentinel from outside the workspace', built: description })
      return result
    } catch (err) {
      const e = err as { name?: string; message: string; stack?: string }
      if (!isUserError(err))
        failures.push({ case: i, op, problem: `${e?.name}: ${e?.message}\n${e?.stack?.split('\n').slice(1, 3).join('\n')}`, built: description })
      else if (e.message.includes(SENTINEL))
        failures.push({ case: i, op, problem: `its error quotes the sentinel: ${e.message.slice(0, 300)}`, built: description })
      return undefined
    }
  }
  const hostileIds = ['../../outside/run', '..', '/etc', 'a/b', '']
  // Read-only listing (linea runs)
  const ro = check('Workspace.open(lock: false)', () => Workspace.open(ws, { lock: false }), false) as Workspace | undefined
  if (ro) {
    check('listRuns', () => ro.listRuns())
    for (const id of [...runIds, ...hostileIds]) {
      check(`readRun(${id})`, () => ro.readRun(id))
      check(`readMetrics(${id})`, () => ro.readMetrics(id))
    }
    check('listSpecs', () => ro.listSpecs())
    for (const name of [...specNames, '../../outside/spec']) check(`loadSpec(${name})`, () => ro.loadSpec(name))
    ro.close()
  }
  // The services, as the server opens them: recovery writes, lists, reads
  const events = new LabEventBus()
  const service = check('new WorkspaceService', () => new WorkspaceService(ws, forkLauncher(), events), false) as WorkspaceService | undefined
  if (service) {
    check('workspace info', () => service.info())
    const inspections = new InspectService(service, forkLauncher(), events)
    const profiles = new ProfileService(service, forkLauncher(), events, undefined)
    for (const id of [...runIds, ...hostileIds]) {
      const checkpoints = check(`checkpoints(${id})`, () => inspections.checkpoints(id)) as { checkpoint: string }[] | undefined
      for (const c of checkpoints ?? []) check(`readCheckpoint(${id}/${c.checkpoint})`, () => readCheckpoint(join(service.workspace.runDir(id), c.checkpoint)))
      check(`inspections.list(${id})`, () => inspections.list(id))
      for (const name of ['step-0000003-example-0', 'x', '..', '.meta']) check(`inspections.get(${id}, ${name})`, () => inspections.get(id, name))
      // refused before any engine starts: a path out, or nothing to inspect
      check(`startInspect(${id}, out)`, () =>
        inspections.start({ runId: id, checkpoint: rng.pick(['../../../outside/checkpoint.safetensors', '/etc/passwd', 'checkpoints/../../x']) }),
      )
    }
    for (const c of ['step-0000001.safetensors', 'step-0000002.safetensors'])
      for (const id of runIds) check(`readCheckpoint(raw ${id}/${c})`, () => readCheckpoint(join(ws, 'runs', id, 'checkpoints', c)))
    check('profiles.list', () => profiles.list())
    for (const id of [...profileIds, ...hostileIds]) {
      check(`profiles.result(${id})`, () => profiles.result(id))
      check(`profiles.reportFile(${id}, html)`, () => profiles.reportFile(id, 'html'))
      check(`profiles.reportFile(${id}, pdf)`, () => profiles.reportFile(id, 'pdf'))
    }
    check('WorkspaceService.close', () => service.close())
  }
  if (protoNames() !== protoBefore || ({} as Record<string, unknown>).polluted !== undefined)
    failures.push({ case: i, op: 'after the case', problem: `Object.prototype changed: ${protoNames()}`, built: description })
  const outsideNow = snapshotTree(outside)
  if (outsideNow !== outsideBefore) failures.push({ case: i, op: 'after the case', problem: `outside/ changed:\n${outsideNow}`, built: description })
  rmSync(ws, { recursive: true, force: true })
  return failures
}

const from = Number(process.env.LINEA_FUZZ_FROM ?? '0')
const to = Number(process.env.LINEA_FUZZ_TO ?? '0')
for (let i = from; i < to; i++) {
  process.send!({ type: 'start', i })
  let failures: FuzzFailure[]
  try {
    failures = runCase(i)
  } catch (err) {
    // building the case or the harness itself failed: report it as such
    failures = [{ case: i, op: 'the harness', problem: String((err as Error)?.stack ?? err), built: '' }]
  }
  process.send!({ type: 'end', i, failures })
}
process.send!({ type: 'done' }, () => process.exit(0))
