// Real Chromium for end-to-end tests: the system's (Debian `chromium`) or
// the one CHROMIUM_PATH names, driven by playwright-core.
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { projectRoot } from '../../electron/platform/project-root'

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome']

export function chromiumPath(): string {
  const path = process.env.CHROMIUM_PATH ?? CANDIDATES.find((p) => existsSync(p))
  if (!path || !existsSync(path))
    throw new Error(`no Chromium found (tried ${process.env.CHROMIUM_PATH ?? CANDIDATES.join(', ')}); install it (apt install chromium) or set CHROMIUM_PATH`)
  return path
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

/** Screenshots land here (git-ignored) for a person to look at. */
export function artifactsDir(): string {
  const dir = join(projectRoot(), 'artifacts', 'e2e')
  mkdirSync(dir, { recursive: true })
  return dir
}
