// Workspaces on real folders: the manifest and its version, the lock, atomic
// writes that survive a kill, append-only metrics with a truncated last line,
// and broken files reported while the rest opens.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { resizeModel } from '../../../electron/api/resize'
import { projectRoot } from '../../../electron/platform/project-root'
import { preset } from '../../../electron/api/presets'
import { LOCK_FILE } from '../../../electron/workspace/lock'
import { Workspace, WorkspaceError } from '../../../electron/workspace/workspace'
import { trainSpec } from '../../fixtures/specs'

const dirs: Workspace[] = []
const open = (path: string) => {
  const ws = Workspace.open(path)
  dirs.push(ws)
  return ws
}
afterEach(() => {
  for (const ws of dirs.splice(0)) ws.close()
})
const tmp = () => mkdtempSync(join(tmpdir(), 'linea-ws-test-'))
const newRun = (ws: Workspace, name = 'a run') =>
  ws.createRun({ name, modelSpec: resizeModel(preset('gla'), { d_model: 32, vocab_size: 64 }), trainSpec: trainSpec() })

/** Runs a TypeScript snippet in a fresh Node process (tsx), from the project root. */
function node(code: string) {
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: projectRoot(), encoding: 'utf8' })
}

describe('workspace', () => {
  it('creates the folder layout with a versioned manifest', () => {
    const root = tmp()
    open(root)
    const manifest = JSON.parse(readFileSync(join(root, 'workspace.json'), 'utf8'))
    expect(manifest.format).toBe('linea.workspace/1')
    expect(existsSync(join(root, 'specs'))).toBe(true)
    expect(existsSync(join(root, 'runs'))).toBe(true)
    expect(existsSync(join(root, LOCK_FILE))).toBe(true)
  })

  it('refuses an unknown format version, naming the file', () => {
    const root = tmp()
    writeFileSync(join(root, 'workspace.json'), JSON.stringify({ format: 'linea.workspace/9', name: 'x', createdMs: 0 }))
    expect(() => Workspace.open(root)).toThrow(WorkspaceError)
    expect(() => Workspace.open(root)).toThrow(`${join(root, 'workspace.json')} has format 'linea.workspace/9'; this Linea reads 'linea.workspace/1'`)
  })

  it('lets one process write: a second one is refused with the holder named', () => {
    const root = tmp()
    open(root)
    const r = node(`import { Workspace } from './electron/workspace/workspace.ts'
      try { Workspace.open(${JSON.stringify(root)}); console.log('opened') } catch (e) { console.log(e.message); process.exit(3) }`)
    expect(r.status).toBe(3)
    expect(r.stdout).toContain(`workspace ${root} is open for writing in another Linea process (pid ${process.pid} on`)
  })

  it('takes over the lock of a process that is gone', () => {
    const root = tmp()
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' })
    writeFileSync(join(root, LOCK_FILE), JSON.stringify({ pid: Number(dead.stdout.trim()), host: hostname(), startedMs: 0, app: 'old' }))
    expect(() => open(root)).not.toThrow()
  })

  it('an atomic write killed between write and rename leaves the old file whole', async () => {
    const root = tmp()
    const ws = open(root)
    const run = newRun(ws)
    const before = readFileSync(join(ws.runDir(run.id), 'run.json'), 'utf8')
    ws.close()
    // A writer with a 300 MB record: killed while its temp file is being written.
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `import { Workspace } from './electron/workspace/workspace.ts'
         const ws = Workspace.open(${JSON.stringify(root)})
         ws.updateRun(${JSON.stringify(run.id)}, { name: 'x'.repeat(300 << 20) })`,
      ],
      { cwd: projectRoot(), stdio: 'ignore' },
    )
    const runDir = join(root, 'runs', run.id)
    const deadline = Date.now() + 20000
    while (!readdirSync(runDir).some((f) => f.endsWith('.tmp')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))
    expect(readdirSync(runDir).some((f) => f.endsWith('.tmp'))).toBe(true) // it died mid-write
    expect(readFileSync(join(runDir, 'run.json'), 'utf8')).toBe(before)
    const again = open(root)
    expect(again.listRuns()).toEqual({ runs: [again.readRun(run.id)], problems: [] })
    expect(again.readRun(run.id).name).toBe('a run')
  })

  it('keeps metrics up to the last complete line and reports a truncated one', () => {
    const ws = open(tmp())
    const run = newRun(ws)
    for (let step = 1; step <= 3; step++)
      ws.appendMetrics(run.id, {
        type: 'train',
        step,
        steps: 3,
        loss: 1 / step,
        lr: 1e-3,
        gradNorm: 1,
        tokensPerSecond: 10,
        elapsedSeconds: step,
        memoryBytes: 0,
        peakMemoryBytes: 0,
      })
    const path = join(ws.runDir(run.id), 'metrics.jsonl')
    writeFileSync(path, readFileSync(path, 'utf8') + '{"type":"train","step":4,"lo')
    const read = ws.readMetrics(run.id)
    expect(read.lines.map((l) => (l as { step: number }).step)).toEqual([1, 2, 3])
    expect(read.skipped).toHaveLength(1)
    expect(read.skipped[0]!.line).toBe(4)
    expect(read.skipped[0]!.reason).toContain(`${path}:4:`)
  })

  it('reports a broken run file and still lists the others', () => {
    const ws = open(tmp())
    const good = newRun(ws, 'good')
    const bad = newRun(ws, 'bad')
    writeFileSync(join(ws.runDir(bad.id), 'run.json'), '{"format": "linea.run/7"}')
    const { runs, problems } = ws.listRuns()
    expect(runs.map((r) => r.id)).toEqual([good.id])
    expect(problems).toEqual([{ file: join(ws.runDir(bad.id), 'run.json'), problem: expect.stringContaining("has format 'linea.run/7'") }])
  })

  it('saves and loads specs exactly, refusing invalid ones', () => {
    const ws = open(tmp())
    const spec = resizeModel(preset('gla'), { d_model: 64 })
    ws.saveSpec('mine', spec)
    expect(ws.loadSpec('mine')).toEqual(spec)
    expect(() => ws.saveSpec('bad', { ...spec, d_model: 63 })).toThrow(/layers\[0\]\.heads: 2 does not divide d_model 63/)
    expect(() => ws.loadSpec('nope')).toThrow("no spec named 'nope'")
  })
})
