// The report as PDF, rendered by a browser engine: headless Chromium here
// (headless mode, CLI); the desktop app uses Electron's printToPDF instead.
import { existsSync } from 'node:fs'

const CHROMIUM_CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
]

export function chromiumExecutable(): string | undefined {
  return [process.env.CHROMIUM_PATH, ...CHROMIUM_CANDIDATES].find((p): p is string => !!p && existsSync(p))
}

export async function renderPdf(html: string, outPath: string): Promise<void> {
  const executablePath = chromiumExecutable()
  if (!executablePath) throw new Error(`no Chromium to render the PDF (tried ${CHROMIUM_CANDIDATES.join(', ')}); install chromium or set CHROMIUM_PATH`)
  const { chromium } = await import('playwright-core')
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  try {
    const page = await browser.newPage()
    await page.setContent(html, { waitUntil: 'load' })
    await page.pdf({ path: outPath, format: 'A4', printBackground: true, margin: { top: '12mm', bottom: '12mm', left: '10mm', right: '10mm' } })
  } finally {
    await browser.close()
  }
}
