// The native dialogs behind the menu: choose a folder for a new or an
// existing workspace, choose a report file, say what went wrong.
import { dialog, shell, type BrowserWindow, type OpenDialogOptions } from 'electron'
import { readdirSync } from 'node:fs'
import { isWorkspaceFolder } from './launch'

type Parent = BrowserWindow | undefined

async function chooseFolder(parent: Parent, options: OpenDialogOptions): Promise<string | undefined> {
  const r = parent ? await dialog.showOpenDialog(parent, options) : await dialog.showOpenDialog(options)
  return r.canceled ? undefined : r.filePaths[0]
}

async function confirm(parent: Parent, message: string, detail: string, yes: string): Promise<boolean> {
  const options = { type: 'question' as const, message, detail, buttons: [yes, 'Cancel'], defaultId: 0, cancelId: 1 }
  const r = parent ? await dialog.showMessageBox(parent, options) : await dialog.showMessageBox(options)
  return r.response === 0
}

export async function showError(parent: Parent, message: string, detail: string): Promise<void> {
  const options = { type: 'error' as const, message, detail, buttons: ['OK'] }
  if (parent) await dialog.showMessageBox(parent, options)
  else await dialog.showMessageBox(options)
}

function isEmptyFolder(dir: string): boolean {
  try {
    return readdirSync(dir).filter((f) => !f.startsWith('.')).length === 0
  } catch {
    return true // not there yet: the workspace creates it
  }
}

/** A folder for a new workspace: empty or new; an existing workspace is just opened. */
export async function chooseNewWorkspace(parent: Parent): Promise<string | undefined> {
  const dir = await chooseFolder(parent, {
    title: 'New workspace: choose or create an empty folder',
    buttonLabel: 'Create Workspace',
    properties: ['openDirectory', 'createDirectory', 'promptToCreate'],
  })
  if (!dir || isWorkspaceFolder(dir) || isEmptyFolder(dir)) return dir
  const ok = await confirm(parent, `${dir} is not empty`, 'Linea will add workspace.json, specs/ and runs/ next to what is there.', 'Create Workspace Here')
  return ok ? dir : undefined
}

/** An existing workspace; a folder without workspace.json becomes one only if the user says so. */
export async function chooseExistingWorkspace(parent: Parent): Promise<string | undefined> {
  const dir = await chooseFolder(parent, { title: 'Open a workspace folder', buttonLabel: 'Open Workspace', properties: ['openDirectory'] })
  if (!dir || isWorkspaceFolder(dir)) return dir
  const ok = await confirm(parent, `${dir} is not a Linea workspace`, 'It has no workspace.json. Make it a workspace?', 'Make It a Workspace')
  return ok ? dir : undefined
}

export async function chooseReportFile(parent: Parent, defaultPath: string): Promise<string | undefined> {
  const options: OpenDialogOptions = {
    title: 'Open a profiling report',
    defaultPath,
    properties: ['openFile'],
    filters: [{ name: 'Reports', extensions: ['html', 'pdf'] }],
  }
  const r = parent ? await dialog.showOpenDialog(parent, options) : await dialog.showOpenDialog(options)
  return r.canceled ? undefined : r.filePaths[0]
}

/** Opens a file with the system's viewer (the browser for HTML reports, the PDF viewer for PDFs). */
export async function openWithSystem(parent: Parent, path: string): Promise<void> {
  const problem = await shell.openPath(path)
  if (problem) await showError(parent, `Linea could not open ${path}`, problem)
}

/** At launch, when the workspace cannot be opened: another folder, or quit. */
export async function askForAnotherWorkspace(path: string, problem: string): Promise<string | undefined> {
  const r = await dialog.showMessageBox({
    type: 'error',
    message: `Linea cannot open the workspace ${path}`,
    detail: problem,
    buttons: ['Choose Another Folder…', 'Quit'],
    defaultId: 0,
    cancelId: 1,
  })
  return r.response === 0
    ? chooseFolder(undefined, { title: 'Open a workspace folder', properties: ['openDirectory', 'createDirectory', 'promptToCreate'] })
    : undefined
}
