// The report as PDF in the desktop app: a hidden, script-less window loads
// the report's HTML from a temporary file and webContents.printToPDF prints
// it, with the page headless mode's Chromium uses (A4, backgrounds, margins
// 12 mm top/bottom, 10 mm left/right: electron/reports/pdf.ts). The window's
// session loads nothing but that file: the report is self-contained.
import { BrowserWindow, session, type Session } from 'electron'
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { PdfRenderer } from '../services/profile-service'

const PARTITION = 'linea-pdf'
const LOAD_TIMEOUT_MS = 60_000
const mm = (x: number) => x / 25.4 // printToPDF takes inches

/** File URLs of the pages being printed: the only requests the PDF session lets through. */
const printing = new Set<string>()
let sessionReady = false

function pdfSession(): Session {
  const s = session.fromPartition(PARTITION) // in memory: no "persist:" prefix
  if (!sessionReady) {
    s.webRequest.onBeforeRequest((details, callback) => callback({ cancel: !printing.has(details.url) }))
    s.setPermissionRequestHandler((_wc, _permission, callback) => callback(false))
    sessionReady = true
  }
  return s
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

export const printToPdf: PdfRenderer = async (html, outPath) => {
  const dir = mkdtempSync(join(tmpdir(), 'linea-report-'))
  const page = join(dir, 'report.html')
  const url = pathToFileURL(page).toString()
  writeFileSync(page, html)
  printing.add(url)
  const win = new BrowserWindow({
    show: false,
    webPreferences: { session: pdfSession(), javascript: false, sandbox: true, contextIsolation: true, nodeIntegration: false },
  })
  try {
    await withTimeout(win.loadURL(url), LOAD_TIMEOUT_MS, 'loading the report for the PDF')
    const pdf = await win.webContents.printToPDF({
      pageSize: 'A4',
      printBackground: true,
      margins: { marginType: 'custom', top: mm(12), bottom: mm(12), left: mm(10), right: mm(10) },
    })
    const tmp = `${outPath}.${process.pid}.tmp`
    writeFileSync(tmp, pdf)
    renameSync(tmp, outPath)
  } finally {
    printing.delete(url)
    win.destroy()
    rmSync(dir, { recursive: true, force: true })
  }
}
