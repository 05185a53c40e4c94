// The headless server with the real services and engine: what it serves,
// and what it refuses (no token, foreign Host, foreign Origin).
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startHeadless, type HeadlessApp } from '../../../electron/services/headless'
import { modelSpec } from '../../fixtures/specs'
import { until } from '../../fixtures/until'

let app: HeadlessApp
let base: string
let token: string

beforeAll(async () => {
  // the services' own files (preferences, recent workspaces) in a folder of the test's, not the user's
  process.env.LINEA_CONFIG_DIR = mkdtempSync(join(tmpdir(), 'linea-config-'))
  const staticDir = mkdtempSync(join(tmpdir(), 'linea-static-'))
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>Linea test page</title>')
  app = await startHeadless({ staticDir, workspace: mkdtempSync(join(tmpdir(), 'linea-ws-')) })
  base = app.server.url.replace(/\/$/, '')
  token = app.server.token
})
afterAll(async () => {
  await app.close()
})

const auth = () => ({ Authorization: `Bearer ${token}` })

async function post(method: string, params: unknown, headers: Record<string, string> = auth()) {
  const res = await fetch(`${base}/api/${method}`, { method: 'POST', headers, body: JSON.stringify({ params }) })
  return { status: res.status, body: await res.text() }
}

/** A raw request, so Host can be set (fetch forbids it). */
async function rawGet(path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const http = await import('node:http')
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { headers }, (res) => {
      let body = ''
      res.on('data', (c) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode!, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

function openSocket(headers: Record<string, string>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/ws`, { headers })
    ws.once('open', () => resolve(ws))
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
    ws.once('error', reject)
  })
}

describe('headless server', () => {
  it('binds to 127.0.0.1 only', () => {
    expect(app.server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
  })

  it('refuses requests without the token, and runs nothing', async () => {
    const before = app.engine.pid
    expect((await fetch(`${base}/`)).status).toBe(403)
    const r = await post('engineInfo', {}, {})
    expect(r.status).toBe(403)
    expect(r.body).toContain('missing or wrong token')
    expect((await post('engineInfo', {}, { Authorization: 'Bearer nope' })).status).toBe(403)
    expect(app.engine.pid).toBe(before) // no engine was started for a refused call
  })

  it("takes this launch's ?token= over a cookie left by an earlier launch, and replaces the cookie", async () => {
    const stale = { Cookie: `linea_token=${'0'.repeat(64)}` }
    const r = await fetch(`${base}/?token=${token}`, { headers: stale, redirect: 'manual' })
    expect(r.status).toBe(303)
    expect(r.headers.getSetCookie().join('\n')).toContain(`linea_token=${token}`)
    expect(r.headers.get('location')).toBe('/')
    // The stale cookie alone is refused, saying what to do.
    const alone = await fetch(`${base}/`, { headers: stale, redirect: 'manual' })
    expect(alone.status).toBe(403)
    expect(await alone.text()).toContain('the linea_token cookie is from another launch of the server: open the URL it printed')
  })

  it('refuses a foreign Host (DNS rebinding) and a foreign Origin', async () => {
    expect((await rawGet('/', { ...auth(), Host: 'evil.example:80' })).status).toBe(403)
    const r = await post('engineInfo', {}, { ...auth(), Origin: 'https://evil.example' })
    expect(r.status).toBe(403)
    expect(r.body).toContain("origin 'https://evil.example' is not allowed")
  })

  it('trades the launch token for a strict cookie and a clean URL', async () => {
    const res = await fetch(app.server.launchUrl, { redirect: 'manual' })
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('/')
    const cookie = res.headers.get('set-cookie')!
    expect(cookie).toContain('HttpOnly')
    expect(cookie).toContain('SameSite=Strict')
    const page = await fetch(`${base}/`, { headers: { Cookie: cookie.split(';')[0]! } })
    expect(page.status).toBe(200)
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(await page.text()).toContain('Linea test page')
  })

  it('does not serve files outside the renderer folder', async () => {
    for (const path of ['/../../../../etc/passwd', '/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2f..%2fetc/passwd']) {
      const r = await rawGet(path, auth())
      expect(r.body).not.toContain('root:')
    }
    // the project's own files, one level above a renderer folder, stay private too
    expect((await rawGet('/../package.json', auth())).status).toBe(404)
    expect((await rawGet('/%2e%2e/package.json', auth())).status).toBe(404)
  })

  it('serves LabApi calls over HTTP with parameter checks', async () => {
    const info = await post('engineInfo', {})
    expect(info.status).toBe(200)
    expect(JSON.parse(info.body).result.devices[0].id).toBe('cpu')

    const bad = await post('demoForward', { seqLen: 0, heads: 1, dk: 4, dv: 4, seed: 0 })
    expect(bad.status).toBe(400)
    expect(JSON.parse(bad.body).error).toMatchObject({ code: 'bad_request', errors: [{ path: 'seqLen', message: '0 is too small; valid: >= 1' }] })

    const unknown = await post('rm_rf', {})
    expect(unknown.status).toBe(404)
    expect(JSON.parse(unknown.body).error.message).toBe("unknown LabApi method 'rm_rf'")

    const valid = await post('validateModelSpec', { spec: modelSpec({ d_model: 130 }) })
    expect(JSON.parse(valid.body).result).toEqual({
      ok: false,
      errors: [
        { path: 'layers[0].heads', message: '4 does not divide d_model 130' },
        { path: 'layers[1].heads', message: '4 does not divide d_model 130' },
      ],
    })
  })

  it('serves LabApi calls and events over the WebSocket, and refuses foreign sockets', async () => {
    await expect(openSocket({})).rejects.toThrow('HTTP 403')
    await expect(openSocket({ ...auth(), Origin: 'https://evil.example' })).rejects.toThrow('HTTP 403')

    const ws = await openSocket({ ...auth(), Origin: base })
    const replies: unknown[] = []
    ws.on('message', (m) => replies.push(JSON.parse(m.toString())))
    ws.send(JSON.stringify({ id: 1, method: 'demoForward', params: { seqLen: 16, heads: 1, dk: 4, dv: 4, seed: 2 } }))
    ws.send(JSON.stringify({ id: 2, method: 'demoForward', params: { seqLen: 16 } }))
    ws.send('not json')
    await until('the replies to the three messages', () => replies.filter((r) => 'id' in (r as object)).length >= 3)
    ws.close()
    type Reply = { id: unknown; result: { outputNorm: unknown }; error: { code: string; message: string } }
    const byId = (id: unknown) => replies.find((r) => (r as Reply).id === id) as Reply
    expect(byId(1).result.outputNorm).toHaveLength(16)
    expect(byId(2).error.code).toBe('bad_request')
    expect(byId(2).error.message).toContain('heads: missing; expected a number')
    expect(byId(null).error.message).toBe('message is not valid JSON')
  })
})
