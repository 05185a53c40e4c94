// What linea://app URLs name (renderer files confined to their folder,
// report links) and what the window does with a link; the pages' CSP.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CSP, decideWindowOpen, rendererFileFor, reportLinkOf } from '../../../electron/shell/app-urls'

const root = mkdtempSync(join(tmpdir(), 'linea-renderer-'))

describe('renderer files', () => {
  it('maps paths into the renderer folder, routes to index.html', () => {
    expect(rendererFileFor(root, '/')).toBe(join(root, 'index.html'))
    expect(rendererFileFor(root, '/index.html')).toBe(join(root, 'index.html'))
    expect(rendererFileFor(root, '/assets/index-BbXZ7WC1.js')).toBe(join(root, 'assets', 'index-BbXZ7WC1.js'))
    expect(rendererFileFor(root, '/compose')).toBe(join(root, 'index.html'))
    expect(rendererFileFor(root, '/assets/a%20b.css')).toBe(join(root, 'assets', 'a b.css'))
  })

  it('never leaves the folder, however `..` is spelled', () => {
    // `..` above the root clamps to the root, as URL paths do
    for (const path of ['/../secret.txt', '/assets/../../secret.txt', '/%2e%2e/secret.txt', '/%2E%2E%2Fsecret.txt', '/..%5c..%5csecret.txt'])
      expect(rendererFileFor(root, path)?.startsWith(root + '/'), path).toBe(true)
    expect(rendererFileFor(root, '/%2e%2e/%2e%2e/etc/os-release.txt')).toBe(join(root, 'etc', 'os-release.txt'))
  })

  it('refuses NUL bytes and broken escapes', () => {
    expect(rendererFileFor(root, '/a%00.js')).toBeUndefined()
    expect(rendererFileFor(root, '/%zz')).toBeUndefined()
  })
})

describe('report links', () => {
  it('are the paths headless mode serves, on the app origin only', () => {
    expect(reportLinkOf('linea://app/reports/20260101T000000-gla/report.html')).toEqual({ id: '20260101T000000-gla', kind: 'html' })
    expect(reportLinkOf('linea://app/reports/p-1/report.pdf')).toEqual({ id: 'p-1', kind: 'pdf' })
    expect(reportLinkOf('linea://other/reports/p-1/report.pdf')).toBeUndefined()
    expect(reportLinkOf('https://example.com/reports/p-1/report.pdf')).toBeUndefined()
    expect(reportLinkOf('linea://app/reports/../etc/report.pdf')).toBeUndefined()
    expect(reportLinkOf('linea://app/reports/p-1/report.exe')).toBeUndefined()
    expect(reportLinkOf('http://localhost:5173/reports/p-1/report.html', 'http://localhost:5173')).toEqual({ id: 'p-1', kind: 'html' })
  })

  it('open through the app; every other new window is refused', () => {
    expect(decideWindowOpen('linea://app/reports/p-1/report.html')).toEqual({ action: 'open-report', id: 'p-1', kind: 'html' })
    expect(decideWindowOpen('https://example.com/')).toEqual({ action: 'deny', reason: 'the app opens no windows; refused https://example.com/' })
    expect(decideWindowOpen('linea://app/index.html').action).toBe('deny')
  })
})

describe('content security policy', () => {
  const directives = new Map(CSP.split('; ').map((d) => [d.split(' ')[0]!, d.split(' ').slice(1)]))

  it('runs only the app own scripts, never inline or eval', () => {
    expect(directives.get('script-src')).toEqual(["'self'"])
    expect(CSP).not.toContain('unsafe-eval')
    expect(directives.get('default-src')).toEqual(["'self'"])
  })

  it('allows no plugins, frames, workers, base or form targets', () => {
    for (const d of ['object-src', 'frame-src', 'worker-src', 'base-uri', 'frame-ancestors', 'form-action']) expect(directives.get(d), d).toEqual(["'none'"])
    expect(directives.get('connect-src')).toEqual(["'self'"])
  })
})
