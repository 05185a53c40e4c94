// Rules for every web page the app shows (the main window, the PDF window,
// the error window): no navigation away, no new windows, no <webview>, no
// permissions (camera, notifications, ...). The main window adds its own
// handling of report links on top (app-window.ts).
import { app, session } from 'electron'

export function guardWebContents(): void {
  app.on('web-contents-created', (_event, contents) => {
    contents.on('will-navigate', (event, url) => {
      event.preventDefault()
      console.warn(`linea: blocked navigation to ${url}`)
    })
    contents.on('will-attach-webview', (event) => event.preventDefault())
    contents.setWindowOpenHandler(({ url }) => {
      console.warn(`linea: blocked a new window for ${url}`)
      return { action: 'deny' }
    })
  })
}

/** Must run after app 'ready'. */
export function denyPermissions(): void {
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false))
  session.defaultSession.setPermissionCheckHandler(() => false)
}
