// Serves the built renderer from linea://app/ (not file://) with a strict
// CSP, and the profiles' reports at the same paths headless mode serves them.
import { net, protocol } from 'electron'
import { extname } from 'node:path'
import { pathToFileURL } from 'node:url'
import { CSP, rendererFileFor, reportLinkOf, type ReportKind } from './app-urls'

export const APP_SCHEME = 'linea'

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.pdf': 'application/pdf',
}

/**
 * Must run before app 'ready'. standard: relative URLs and an origin of its
 * own; secure: a secure context. Not corsEnabled: that would let other
 * origins read the app's files.
 */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }])
}

/** The file behind a report link (throws when the profile has none). */
export type ReportFiles = (id: string, kind: ReportKind) => string

export function serveRenderer(rendererDir: string, reportFile: ReportFiles): void {
  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url)
    if (url.host !== 'app' || request.method !== 'GET') return notFound()
    let file: string | undefined
    const report = reportLinkOf(request.url)
    if (report) {
      try {
        file = reportFile(report.id, report.kind)
      } catch {
        return notFound()
      }
    } else {
      file = rendererFileFor(rendererDir, url.pathname)
    }
    if (!file) return notFound()
    let response: Response
    try {
      response = await net.fetch(pathToFileURL(file).toString())
    } catch {
      return notFound()
    }
    const headers = new Headers({ 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff' })
    headers.set('Content-Type', MIME[extname(file).toLowerCase()] ?? 'application/octet-stream')
    return new Response(response.body, { status: response.status, headers })
  })
}

function notFound(): Response {
  return new Response('not found', { status: 404, headers: { 'Content-Security-Policy': CSP, 'Content-Type': 'text/plain; charset=utf-8' } })
}
