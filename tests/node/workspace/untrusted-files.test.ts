// Workspace files are untrusted (issue 12): a person, a sync tool or another
// program may leave null in a record, a dangling or outward link in runs/, a
// directory or a FIFO where a file belongs. Each is a clear WorkspaceError or
// a listed problem naming the file; the rest of the workspace opens; nothing
// blocks, nothing is followed out of the workspace, and no error quotes a
// file's content.
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { isUserError } from '../../../electron/api/errors'
import { resizeModel } from '../../../electron/api/resize'
import { preset } from '../../../electron/api/presets'
import { forkLauncher } from '../../../electron/jobs/engine-process'
import { dispatchLabApi, LabApiError } from '../../../electron/services/dispatch'
import { EngineService } from '../../../electron/services/engine-service'
import { LabEventBus } from '../../../electron/services/events'
import { createLabHandlers } from '../../../electron/services/lab-service'
import { WorkspaceService } from '../../../electron/services/workspace-service'
import { Workspace } from '../../../electron/workspace/workspace'
import { runTypeScriptInChild } from '../../fixtures/child'
import { labDepsFor } from '../../fixtures/lab'
import { newRun } from '../../fixtures/runs'
import { workspaceBesideOutside } from '../../fixtures/temp'
import { thrown } from '../../fixtures/thrown'

const opened: { close(): void }[] = []
afterEach(() => {
  for (const ws of opened.splice(0)) ws.close()
})
const SECRET = 'SECRET-4711-never-quoted'

/** <parent>/ws is the workspace, <parent>/outside is not. */
function setup() {
  const { parent, root, outside } = workspaceBesideOutside('linea-untrusted-', 'secret.txt', SECRET)
  const ws = Workspace.open(root)
  opened.push(ws)
  return { parent, root, outside, ws }
}

/** A caller's-mistake error naming `file`, quoting nothing secret. */
function expectClear(err: Error, file: string, pattern?: RegExp): void {
  expect(isUserError(err), `${err.name}: ${err.message}`).toBe(true)
  expect(err.message).toContain(file)
  expect(err.message).not.toContain(SECRET)
  if (pattern) expect(err.message).toMatch(pattern)
}

/** Runs `code` (TypeScript, with Workspace imported) in a fresh process, bounded: a FIFO opened for reading would block forever. */
function inChild(code: string): { status: number | null; signal: string | null; out: string } {
  const r = runTypeScriptInChild(`import { Workspace } from './electron/workspace/workspace.ts'\n${code}`)
  return { status: r.status, signal: r.signal, out: `${r.stdout}${r.stderr}` }
}

describe('run folders and records', () => {
  it('a dangling link in runs/ is a listed problem, and the workspace still opens', () => {
    const { root, ws } = setup()
    const good = newRun(ws, 'good')
    symlinkSync(join(root, 'nowhere'), join(ws.runsDir, 'dangling'))
    const { runs, problems } = ws.listRuns()
    expect(runs.map((r) => r.id)).toEqual([good.id])
    expect(problems).toHaveLength(1)
    expect(problems[0]!.file).toContain(join(ws.runsDir, 'dangling'))
    ws.close()
    const again = Workspace.open(root) // recovery and listing on open must not throw either
    opened.push(again)
    expect(again.listRuns().runs.map((r) => r.id)).toEqual([good.id])
  })

  it('a run folder linked out of the workspace is not followed: listed as a problem, refused by id', () => {
    const { outside, ws } = setup()
    const good = newRun(ws, 'good')
    const foreign = newRun(ws, 'foreign')
    // the foreign run lives outside; runs/<id> is a link to it
    cpSync(ws.runDir(foreign.id), join(outside, 'run'), { recursive: true })
    rmSync(ws.runDir(foreign.id), { recursive: true })
    symlinkSync(join(outside, 'run'), ws.runsDir + '/' + foreign.id)
    const { runs, problems } = ws.listRuns()
    expect(runs.map((r) => r.id)).toEqual([good.id])
    expect(problems).toEqual([{ file: expect.stringContaining(foreign.id), problem: expect.stringMatching(/outside|link/) }])
    expectClear(
      thrown(() => ws.readRun(foreign.id)),
      foreign.id,
      /outside|link/,
    )
    expectClear(
      thrown(() => ws.readMetrics(foreign.id)),
      foreign.id,
      /outside|link/,
    )
    expectClear(
      thrown(() => ws.updateRun(foreign.id, { name: 'x' })),
      foreign.id,
      /outside|link/,
    )
  })

  it.each([
    ['null', 'null'],
    ['an array', '[1, 2]'],
    ['a number', '42'],
    ['a string', '"run"'],
    ['modelSpec null', '{"format":"linea.run/1","id":"x","name":"x","modelSpec":null,"trainSpec":null,"status":"completed","createdMs":0,"steps":0}'],
    ['status unknown', '{"format":"linea.run/1","id":"x","name":"x","status":"exploded","createdMs":0,"steps":0}'],
    ['the checkpoint outside', 'CHECKPOINT_OUTSIDE'],
    ['not JSON, with a secret', `{"format": ${SECRET}`],
  ])('run.json that is %s is a listed problem naming the file; the other runs list', (_what, text) => {
    const { ws } = setup()
    const good = newRun(ws, 'good')
    const bad = newRun(ws, 'bad')
    const path = join(ws.runDir(bad.id), 'run.json')
    const content =
      text === 'CHECKPOINT_OUTSIDE' ? JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), checkpoint: '../../../outside/step-1.safetensors' }) : text
    writeFileSync(path, content)
    const { runs, problems } = ws.listRuns()
    expect(runs.map((r) => r.id)).toEqual([good.id])
    expect(problems).toEqual([{ file: path, problem: expect.stringContaining(path) }])
    expect(problems[0]!.problem).not.toContain(SECRET)
    expectClear(
      thrown(() => ws.readRun(bad.id)),
      path,
    )
    expectClear(
      thrown(() => ws.updateRun(bad.id, { status: 'failed' })),
      path,
    )
  })

  it('keeps a record whose last loss was written as null (NaN in JSON), and unknown fields', () => {
    const { ws } = setup()
    const run = newRun(ws, 'nan')
    const path = join(ws.runDir(run.id), 'run.json')
    writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), lastLoss: null, addedLater: { x: 1 } }))
    expect(ws.listRuns().problems).toEqual([])
    expect(ws.readRun(run.id).lastLoss).toBeUndefined()
    ws.updateRun(run.id, { steps: 3 })
    expect(JSON.parse(readFileSync(path, 'utf8')).addedLater).toEqual({ x: 1 })
  })

  it('__proto__ keys in a record are refused, and reach no prototype', () => {
    const { ws } = setup()
    const run = newRun(ws, 'proto')
    const path = join(ws.runDir(run.id), 'run.json')
    const text = readFileSync(path, 'utf8').replace('{', '{"__proto__": {"polluted": true}, ')
    writeFileSync(path, text)
    expect(ws.listRuns().problems).toEqual([{ file: path, problem: expect.stringContaining('__proto__') }])
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined()
  })
})

describe('metrics', () => {
  it('metrics.jsonl that is a directory is a WorkspaceError saying so', () => {
    const { ws } = setup()
    const run = newRun(ws, 'dir')
    const path = join(ws.runDir(run.id), 'metrics.jsonl')
    rmSync(path)
    mkdirSync(path)
    expectClear(
      thrown(() => ws.readMetrics(run.id)),
      path,
      /directory/,
    )
  })

  it('metrics.jsonl that is a FIFO is refused without opening it (never blocks)', () => {
    const { root, ws } = setup()
    const run = newRun(ws, 'fifo')
    const path = join(ws.runDir(run.id), 'metrics.jsonl')
    rmSync(path)
    execFileSync('mkfifo', [path])
    ws.close()
    const r = inChild(
      `try { Workspace.open(${JSON.stringify(root)}, { lock: false }).readMetrics(${JSON.stringify(run.id)}); console.log('read it') } catch (e) { console.log(e.name + ': ' + e.message) }`,
    )
    expect(r.signal, 'the read blocked on the FIFO').toBeNull()
    expect(r.out).toMatch(/WorkspaceError: .*metrics\.jsonl is a FIFO/)
  })

  it('a line that is not JSON or not a metrics record is skipped with its line number, quoting nothing', () => {
    const { ws } = setup()
    const run = newRun(ws, 'lines')
    ws.appendMetrics(run.id, { type: 'status', status: 'running', atMs: 1 })
    const path = join(ws.runDir(run.id), 'metrics.jsonl')
    writeFileSync(
      path,
      readFileSync(path, 'utf8') + `{"type": ${SECRET}}\nnull\n[1]\n{"type":"train","step":"two"}\n{"type":"status","status":"completed","atMs":2}\n`,
    )
    const read = ws.readMetrics(run.id)
    expect(read.lines.map((l) => l.type)).toEqual(['status', 'status'])
    expect(read.skipped.map((s) => s.line)).toEqual([2, 3, 4, 5])
    for (const s of read.skipped) {
      expect(s.reason).toContain(`${path}:${s.line}`)
      expect(s.reason).not.toContain(SECRET)
    }
  })
})

describe('the manifest and specs', () => {
  it.each([['null'], ['[]'], ['7'], ['"x"'], [`${SECRET}`]])('workspace.json that is %s is a WorkspaceError naming the file', (text) => {
    const { root, ws } = setup()
    ws.close()
    writeFileSync(join(root, 'workspace.json'), text)
    expectClear(
      thrown(() => Workspace.open(root)),
      join(root, 'workspace.json'),
    )
  })

  it('a manifest with a bad name opens, with the problem listed', () => {
    const { root, ws } = setup()
    ws.close()
    writeFileSync(join(root, 'workspace.json'), JSON.stringify({ format: 'linea.workspace/1', name: { evil: 1 }, createdMs: 'yesterday' }))
    const again = Workspace.open(root)
    opened.push(again)
    expect(again.manifest.name).toBe('ws')
    expect(again.problems.map((p) => p.file)).toEqual([join(root, 'workspace.json')])
  })

  it('specs: a dangling link, a link out, a FIFO and null are skipped or refused, the rest list', () => {
    const { root, outside, ws } = setup()
    const spec = resizeModel(preset('gla'), { d_model: 32 })
    ws.saveSpec('good', spec)
    symlinkSync(join(root, 'nowhere.json'), join(ws.specsDir, 'dangling.json'))
    symlinkSync(join(outside, 'secret.txt'), join(ws.specsDir, 'leak.json'))
    writeFileSync(join(ws.specsDir, 'null.json'), 'null')
    expect(
      ws
        .listSpecs()
        .map((s) => s.name)
        .sort(),
    ).toEqual(['good', 'null'])
    expectClear(
      thrown(() => ws.loadSpec('leak')),
      'leak',
      /outside|link/,
    )
    expectClear(
      thrown(() => ws.loadSpec('dangling')),
      'dangling',
    )
    expectClear(
      thrown(() => ws.loadSpec('null')),
      join(ws.specsDir, 'null.json'),
    )
    expectClear(
      thrown(() => ws.loadSpec('../../outside/secret')),
      '../../outside/secret',
      /not a valid spec name/,
    )
    execFileSync('mkfifo', [join(ws.specsDir, 'pipe.json')])
    ws.close()
    const r = inChild(`const ws = Workspace.open(${JSON.stringify(root)}, { lock: false })
      console.log(JSON.stringify(ws.listSpecs().map((s) => s.name)))
      try { ws.loadSpec('pipe'); console.log('read it') } catch (e) { console.log(e.name + ': ' + e.message) }`)
    expect(r.signal, 'loading a FIFO spec blocked').toBeNull()
    expect(r.out).toContain('["good","null"]')
    expect(r.out).toMatch(/WorkspaceError: .*pipe\.json is a FIFO/)
  })
})

describe('through the LabApi', () => {
  it('a workspace full of broken files opens in WorkspaceService and answers bad_request, never internal', async () => {
    const { root, ws } = setup()
    const good = newRun(ws, 'good')
    const bad = newRun(ws, 'bad')
    const running = newRun(ws, 'was running')
    ws.updateRun(running.id, { status: 'running' })
    writeFileSync(join(ws.runDir(bad.id), 'run.json'), 'null')
    symlinkSync(join(root, 'nowhere'), join(ws.runsDir, 'dangling'))
    ws.close()
    const events = new LabEventBus()
    const engine = new EngineService(forkLauncher(), events)
    const service = new WorkspaceService(root, forkLauncher(), events)
    opened.push(service, { close: () => engine.stop() })
    const handlers = createLabHandlers(labDepsFor(engine, service, events))
    const listed = (await dispatchLabApi(handlers, 'listRuns', {})) as { runs: { id: string; status: string }[]; problems: unknown[] }
    expect(listed.runs.map((r) => r.id).sort()).toEqual([good.id, running.id].sort())
    expect(listed.runs.find((r) => r.id === running.id)!.status).toBe('failed') // recovered on open
    expect(listed.problems).toHaveLength(2)
    const info = (await dispatchLabApi(handlers, 'workspaceInfo', {})) as { problems: unknown[] }
    expect(info.problems).toHaveLength(2)
    for (const [method, params] of [
      ['exportRunCsv', { id: bad.id }],
      ['resumeRun', { id: bad.id }],
      ['listCheckpoints', { runId: bad.id }],
      ['runMetrics', { id: 'dangling' }],
    ] as const) {
      const err = await dispatchLabApi(handlers, method, params).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err, method).toBeInstanceOf(LabApiError)
      expect((err as LabApiError).body.code, `${method}: ${(err as LabApiError).body.message}`).toBe('bad_request')
    }
  })
})
