// Writes of a workspace that fail for real (issue 12): a file replaced by a
// directory (EISDIR), a FIFO or a link where a file belongs, and, where this
// machine lets the test mount one, a full disk (a tiny tmpfs: ENOSPC). Each
// is a WorkspaceError naming the file and the errno; no write goes through a
// link out of the workspace or blocks on a FIFO; and a workspace on a full
// disk still opens, read-mostly, with the problem in `workspace info`.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { isUserError } from '../../../electron/api/errors'
import { resizeModel } from '../../../electron/api/resize'
import { preset } from '../../../electron/api/presets'
import { forkLauncher } from '../../../electron/jobs/engine-process'
import { makeDirs } from '../../../electron/platform/make-dirs'
import { dispatchLabApi, LabApiError } from '../../../electron/services/dispatch'
import { EngineService } from '../../../electron/services/engine-service'
import { LabEventBus } from '../../../electron/services/events'
import { createLabHandlers } from '../../../electron/services/lab-service'
import { WorkspaceService } from '../../../electron/services/workspace-service'
import { Workspace, WorkspaceError } from '../../../electron/workspace/workspace'
import { runTypeScriptInChild } from '../../fixtures/child'
import { labDepsFor } from '../../fixtures/lab'
import { newRun } from '../../fixtures/runs'
import { tempDir } from '../../fixtures/temp'
import { thrown } from '../../fixtures/thrown'

const cleanups: (() => void)[] = []
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c()
})

function setup(root = tempDir('linea-disk-ws-')) {
  const ws = Workspace.open(root)
  cleanups.push(() => ws.close())
  return { root, ws }
}
const line = { type: 'status', status: 'running', atMs: 1 } as const

/** A WorkspaceError naming `file` and the errno. */
function expectDiskError(err: Error, file: string, errno: string): void {
  expect(err, `${err.name}: ${err.message}`).toBeInstanceOf(WorkspaceError)
  expect(isUserError(err)).toBe(true)
  expect(err.message).toContain(file)
  expect(err.message).toContain(errno)
  expect((err as WorkspaceError).file).toBe(file)
}

describe('a write that fails is a WorkspaceError naming the file and errno', () => {
  it('appendMetrics into a directory: EISDIR', () => {
    const { ws } = setup()
    const run = newRun(ws)
    const path = join(ws.runDir(run.id), 'metrics.jsonl')
    rmSync(path)
    mkdirSync(path)
    expectDiskError(
      thrown(() => ws.appendMetrics(run.id, line)),
      path,
      'EISDIR',
    )
  })

  it('updateRun when its temp file is a directory: EISDIR, the record unchanged', () => {
    const { ws } = setup()
    const run = newRun(ws)
    const tmp = join(ws.runDir(run.id), `run.json.${process.pid}.tmp`)
    mkdirSync(tmp)
    const before = readFileSync(join(ws.runDir(run.id), 'run.json'), 'utf8')
    expectDiskError(
      thrown(() => ws.updateRun(run.id, { status: 'failed' })),
      tmp,
      'EISDIR',
    )
    expect(readFileSync(join(ws.runDir(run.id), 'run.json'), 'utf8')).toBe(before)
  })

  it('never writes through a link: a planted temp-file link or a linked metrics.jsonl leave the outside file alone', () => {
    const { ws } = setup()
    const run = newRun(ws)
    const outside = join(tempDir('linea-disk-outside-'), 'victim.txt')
    writeFileSync(outside, 'untouched')
    const mtime = statSync(outside).mtimeMs
    // a link where the atomic write's temp file goes: removed, not written through
    symlinkSync(outside, join(ws.runDir(run.id), `run.json.${process.pid}.tmp`))
    ws.updateRun(run.id, { status: 'failed' })
    expect(ws.readRun(run.id).status).toBe('failed')
    // metrics.jsonl linked out: refused
    const metrics = join(ws.runDir(run.id), 'metrics.jsonl')
    rmSync(metrics)
    symlinkSync(outside, metrics)
    const err = thrown(() => ws.appendMetrics(run.id, line))
    expect(isUserError(err), err.message).toBe(true)
    expect(err.message).toContain(metrics)
    expect(readFileSync(outside, 'utf8')).toBe('untouched')
    expect(statSync(outside).mtimeMs).toBe(mtime)
  })

  it('appendMetrics into a FIFO with no reader neither blocks nor writes', () => {
    const { root, ws } = setup()
    const run = newRun(ws)
    const metrics = join(ws.runDir(run.id), 'metrics.jsonl')
    rmSync(metrics)
    execFileSync('mkfifo', [metrics])
    ws.close()
    // in a child: opening a FIFO for writing blocks until a reader comes, which would hang the test
    const r = runTypeScriptInChild(
      `import { Workspace } from './electron/workspace/workspace.ts'
       const ws = Workspace.open(${JSON.stringify(root)})
       try { ws.appendMetrics(${JSON.stringify(run.id)}, { type: 'status', status: 'running', atMs: 1 }); console.log('wrote') } catch (e) { console.log(e.name + ': ' + e.message) }
       ws.close()`,
    )
    expect(r.signal, 'appendMetrics blocked on the FIFO').toBeNull()
    expect(r.stdout).toMatch(/WorkspaceError: cannot append to .*metrics\.jsonl: it is a FIFO/)
  })
})

describe('opening a workspace whose files cannot be written', () => {
  it('WorkspaceService opens when a run left running cannot be marked failed, and reports it', async () => {
    const { root, ws } = setup()
    const stuck = newRun(ws, 'stuck')
    ws.updateRun(stuck.id, { status: 'running' })
    const metrics = join(ws.runDir(stuck.id), 'metrics.jsonl')
    rmSync(metrics)
    mkdirSync(metrics)
    ws.close()
    const events = new LabEventBus()
    const service = new WorkspaceService(root, forkLauncher(), events)
    cleanups.push(() => service.close())
    const problems = service.info().problems
    expect(
      problems.some((p) => p.file === metrics && p.problem.includes('EISDIR')),
      JSON.stringify(problems),
    ).toBe(true)
  })

  it('a specs/ or runs/ that is a file does not stop the workspace from opening', () => {
    const root = tempDir('linea-disk-ws-')
    writeFileSync(join(root, 'specs'), 'a file where the folder goes')
    writeFileSync(join(root, 'runs'), 'another')
    const ws = Workspace.open(root)
    cleanups.push(() => ws.close())
    expect(ws.problems.map((p) => p.file).sort()).toEqual([join(root, 'runs'), join(root, 'specs')])
    expect(ws.listRuns()).toEqual({ runs: [], problems: [{ file: join(root, 'runs'), problem: expect.stringContaining('not a folder') }] })
    expect(ws.listSpecs()).toEqual([])
  })
})

// A real full disk: a 256 KiB tmpfs, when this machine lets the test mount one (root in a
// container that allows it); elsewhere the EISDIR cases above stand in for it.
const mountPoint = tempDir('linea-full-disk-')
const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mountPoint]).status === 0
afterAll(() => {
  if (mounted) spawnSync('umount', ['-l', mountPoint])
})

/** Fills the tmpfs: writes until ENOSPC. */
function fill(): void {
  try {
    writeFileSync(join(mountPoint, 'filler'), Buffer.alloc(1 << 20))
  } catch (err) {
    expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC')
    return
  }
  throw new Error('the tmpfs did not fill up')
}

describe.skipIf(!mounted)('on a full disk (tmpfs)', () => {
  it('writes fail with ENOSPC naming the file; the workspace still opens read-mostly and says why', async () => {
    const root = join(mountPoint, 'ws')
    const { ws } = setup(root)
    const run = newRun(ws, 'was running')
    ws.updateRun(run.id, { status: 'running' })
    const other = newRun(ws, 'other')
    fill()
    expectDiskError(
      thrown(() => ws.appendMetrics(other.id, line)),
      join(ws.runDir(other.id), 'metrics.jsonl'),
      'ENOSPC',
    )
    const err = thrown(() => ws.updateRun(other.id, { name: 'x'.repeat(100_000) }))
    expect(err).toBeInstanceOf(WorkspaceError)
    expect(err.message).toContain(join(ws.runDir(other.id), 'run.json'))
    expect(err.message).toContain('ENOSPC')
    ws.close()
    // The server's start: the workspace opens, runs list, and the full disk is reported, not thrown.
    const events = new LabEventBus()
    const engine = new EngineService(forkLauncher(), events)
    const service = new WorkspaceService(root, forkLauncher(), events)
    cleanups.push(
      () => engine.stop(),
      () => service.close(),
    )
    const handlers = createLabHandlers(labDepsFor(engine, service, events))
    const listed = (await dispatchLabApi(handlers, 'listRuns', {})) as { runs: { id: string }[] }
    expect(listed.runs.map((r) => r.id).sort()).toEqual([run.id, other.id].sort())
    const info = (await dispatchLabApi(handlers, 'workspaceInfo', {})) as { problems: { file: string; problem: string }[] }
    expect(
      info.problems.some((p) => p.problem.includes('ENOSPC')),
      JSON.stringify(info.problems),
    ).toBe(true)
    // a write the caller asks for is refused as such (bad_request), naming why
    const save = await dispatchLabApi(handlers, 'saveModelSpec', { name: 'full', spec: resizeModel(preset('gla'), { d_model: 32 }) }).catch((e: unknown) => e)
    expect(save).toBeInstanceOf(LabApiError)
    expect((save as LabApiError).body.code).toBe('bad_request')
    expect((save as LabApiError).body.message).toMatch(/ENOSPC|read-only/)
    rmSync(join(mountPoint, 'filler'))
  })
})

describe('a workspace path that cannot be created', () => {
  // Node's recursive mkdir never returns under /proc (it answers ENOENT to
  // every mkdir), which froze the server; in a child, so a regression is a
  // killed child, not a hung test run.
  it.runIf(existsSync('/proc/self'))('fails at once under /proc, naming the path and the errno', () => {
    const r = runTypeScriptInChild(
      `import { Workspace } from './electron/workspace/workspace.ts'
       try { Workspace.open('/proc/linea-ws/inner'); console.log('opened') } catch (e) { console.log(e.name + ': ' + e.message) }`,
    )
    expect(r.signal, 'Workspace.open looped in mkdir until killed').toBeNull()
    expect(r.stdout).toMatch(/WorkspaceError: cannot create the workspace folder \/proc\/linea-ws\/inner: .*ENOENT/)
  })

  it.runIf(existsSync('/proc/self'))('makeDirs creates missing parents in turn, and fails at the one that cannot be made', () => {
    const root = tempDir('linea-makedirs-')
    makeDirs(join(root, 'a', 'b', 'c'))
    expect(statSync(join(root, 'a', 'b', 'c')).isDirectory()).toBe(true)
    makeDirs(join(root, 'a', 'b', 'c')) // exists: nothing to do
    writeFileSync(join(root, 'file'), '')
    expect(thrown(() => makeDirs(join(root, 'file', 'x'))).message).toMatch(/ENOTDIR/)
  })
})
