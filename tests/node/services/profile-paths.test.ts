// Profiles in the workspace (issue 12): every profile id becomes a path
// through checkId/resolveInside; an unknown id is the caller's mistake
// (bad_request) naming the known ones; the profiles folder is untrusted, so
// links out, FIFOs, folders and broken records are skipped or refused, and
// reportFile answers only regular files really inside profiles/<id>/.
import { execFileSync } from 'node:child_process'
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { isUserError } from '../../../electron/api/errors'
import { forkLauncher } from '../../../electron/jobs/engine-process'
import { dispatchLabApi, LabApiError } from '../../../electron/services/dispatch'
import { EngineService } from '../../../electron/services/engine-service'
import { LabEventBus } from '../../../electron/services/events'
import { createLabHandlers } from '../../../electron/services/lab-service'
import { DEFAULT_PROFILE_SETTINGS } from '../../../electron/services/profile-service'
import { WorkspaceService } from '../../../electron/services/workspace-service'
import { runTypeScriptInChild } from '../../fixtures/child'
import { labDepsFor } from '../../fixtures/lab'
import { workspaceBesideOutside } from '../../fixtures/temp'
import { thrown } from '../../fixtures/thrown'

const SECRET = 'SECRET-profile-9931'
const { root, outside } = workspaceBesideOutside('linea-profile-paths-', 'report.html', `<p>${SECRET}</p>`)

const events = new LabEventBus()
const engine = new EngineService(forkLauncher(), events)
const deps = labDepsFor(engine, new WorkspaceService(root, forkLauncher(), events), events)
const handlers = createLabHandlers(deps)
afterAll(() => {
  engine.stop()
  deps.profiles.stop()
  deps.workspaces.close()
})
const profilesDir = join(root, 'profiles')

/** A finished profile's folder as the service writes it (record, result, report), without running one. */
function fakeProfile(id: string, withResult = true): string {
  const dir = join(profilesDir, id)
  mkdirSync(dir, { recursive: true })
  const record = { id, name: id, status: 'done', createdMs: 1000, endedMs: 2000, settings: DEFAULT_PROFILE_SETTINGS, report: { html: 'report.html' } }
  writeFileSync(join(dir, 'profile-run.json'), JSON.stringify(record))
  if (withResult) writeFileSync(join(dir, 'profile.json'), JSON.stringify({ format: 'linea.profile/1', createdMs: 1000 }))
  writeFileSync(join(dir, 'report.html'), '<p>report</p>')
  return dir
}

async function refused(method: string, params: unknown, pattern: RegExp): Promise<string> {
  const err = await dispatchLabApi(handlers, method, params).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err, `${method} was not refused`).toBeInstanceOf(LabApiError)
  const body = (err as LabApiError).body
  expect(body.code, body.message).toBe('bad_request')
  expect(body.message).toMatch(pattern)
  expect(body.message).not.toContain(SECRET)
  return body.message
}

describe('profile ids and files', () => {
  it('an unknown profile id is a bad_request naming it and the known ones', async () => {
    fakeProfile('20260101T000000-known')
    fakeProfile('20260101T000001-pending', false)
    await refused('getProfile', { id: 'nope' }, /no profile 'nope'.*20260101T000000-known/)
    await refused('getProfile', { id: '20260101T000001-pending' }, /has no result/)
    // the service itself checks ids (the front doors' report route and the menu call it directly)
    for (const f of [
      () => deps.profiles.result('../../outside'),
      () => deps.profiles.reportFile('../outside', 'html'),
      () => deps.profiles.reportFile('..', 'html'),
    ]) {
      const err = thrown(f)
      expect(isUserError(err), err.message).toBe(true)
      expect(err.message).toMatch(/not a valid profile id/)
    }
  })

  it('a broken profile.json is named, never quoted, never internal', async () => {
    const dir = fakeProfile('20260101T000002-broken')
    writeFileSync(join(dir, 'profile.json'), `{"format": ${SECRET}`)
    await refused('getProfile', { id: '20260101T000002-broken' }, /profile\.json is not valid JSON/)
    writeFileSync(join(dir, 'profile.json'), 'null')
    await refused('getProfile', { id: '20260101T000002-broken' }, /profile\.json/)
  })

  it('reportFile answers only regular files inside profiles/<id>/', () => {
    const ok = fakeProfile('20260101T000003-ok')
    expect(deps.profiles.reportFile('20260101T000003-ok', 'html')).toBe(join(ok, 'report.html'))
    // a link out of the workspace
    const out = fakeProfile('20260101T000004-out')
    rmSync(join(out, 'report.html'))
    symlinkSync(join(outside, 'report.html'), join(out, 'report.html'))
    // a link to another file of the workspace, outside this profile's folder
    const side = fakeProfile('20260101T000005-side')
    rmSync(join(side, 'report.html'))
    symlinkSync(join(root, 'workspace.json'), join(side, 'report.html'))
    // a folder, a dangling link
    const dirReport = fakeProfile('20260101T000006-dir')
    rmSync(join(dirReport, 'report.html'))
    mkdirSync(join(dirReport, 'report.html'))
    const dangling = fakeProfile('20260101T000007-dangling')
    rmSync(join(dangling, 'report.html'))
    symlinkSync(join(dangling, 'gone.html'), join(dangling, 'report.html'))
    // the profile folder itself linked out
    symlinkSync(outside, join(profilesDir, '20260101T000008-linked'))
    for (const id of ['20260101T000004-out', '20260101T000005-side', '20260101T000006-dir', '20260101T000007-dangling', '20260101T000008-linked']) {
      const err = thrown(() => deps.profiles.reportFile(id, 'html'))
      expect(isUserError(err), `${id}: ${err.name}: ${err.message}`).toBe(true)
      expect(err.message).toContain(id)
      expect(err.message).not.toContain(SECRET)
    }
    expect(thrown(() => deps.profiles.reportFile('20260101T000003-ok', 'exe' as 'html')).message).toMatch(/html, pdf/)
  })

  it('list skips what is not a profile: links out, broken records, files; a FIFO record never blocks', () => {
    fakeProfile('20260101T000010-listed')
    const nul = fakeProfile('20260101T000011-null')
    writeFileSync(join(nul, 'profile-run.json'), 'null')
    const lying = fakeProfile('20260101T000012-lying')
    writeFileSync(join(lying, 'profile-run.json'), JSON.stringify({ id: '../../outside', name: 'x', status: 'done', createdMs: 0, settings: {} }))
    writeFileSync(join(profilesDir, 'stray.txt'), 'not a profile')
    const fifo = fakeProfile('20260101T000013-fifo')
    rmSync(join(fifo, 'profile-run.json'))
    execFileSync('mkfifo', [join(fifo, 'profile-run.json')])
    // in a child process: a FIFO opened for reading would block the test for good
    const r = runTypeScriptInChild(
      `import { WorkspaceService } from './electron/services/workspace-service.ts'
       import { ProfileService } from './electron/services/profile-service.ts'
       import { LabEventBus } from './electron/services/events.ts'
       import { forkLauncher } from './electron/jobs/engine-process.ts'
       const ev = new LabEventBus()
       const ws = { workspace: { root: ${JSON.stringify(root)} } }
       const p = new ProfileService(ws, forkLauncher(), ev, undefined)
       console.log(JSON.stringify(p.list().map((x) => x.id)))`,
    )
    expect(r.signal, 'list() blocked on the FIFO').toBeNull()
    const ids = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as string[]
    expect(ids).toContain('20260101T000010-listed')
    for (const bad of ['20260101T000011-null', '20260101T000012-lying', '20260101T000013-fifo', '../../outside', '20260101T000008-linked'])
      expect(ids).not.toContain(bad)
  })
})
