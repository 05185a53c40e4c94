// The Electron main process entry. Everything that must happen before
// 'ready' happens here (privileged scheme, profile folder, single-instance
// lock, web-contents rules); the app itself starts in desktop-app.ts.
// electron/shell is the only code that imports 'electron'.
import { app, dialog } from 'electron'
import { join } from 'node:path'
import { configFiles } from '../services/config-files'
import { startDesktopApp } from './desktop-app'
import { registerAppScheme } from './renderer-protocol'
import { guardWebContents } from './web-security'

// out/main/index.js → out/
const outDir = join(import.meta.dirname, '..')

app.setName('Linea')
// Chromium's profile and the instance lock live with Linea's other settings
// (LINEA_CONFIG_DIR isolates a test run completely).
app.setPath('userData', configFiles.electronData())
registerAppScheme()
guardWebContents()

// One app per profile: a second launch focuses the first (and opens its
// --workspace there), instead of failing on the workspace lock.
if (!app.requestSingleInstanceLock()) {
  app.quit()
} else {
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit()
  })
  app
    .whenReady()
    .then(() =>
      startDesktopApp({
        rendererDir: join(outDir, 'renderer'),
        preload: join(outDir, 'preload', 'index.cjs'),
        engineEntry: join(outDir, 'main', 'engine-process.js'),
      }),
    )
    .catch((err: Error) => {
      console.error(err)
      dialog.showErrorBox('Linea could not start', err.stack ?? err.message)
      app.exit(1)
    })
}
