// The services behind the LabApi, composed once for both front doors
// (headless mode and the desktop app), so every call is served by the same
// code in both; only how engine processes start and how PDFs are printed
// differ, and those are passed in.
import type { LabApiHandlers } from '../api/labapi'
import type { EngineLauncher } from '../jobs/engine-process'
import { EngineService } from './engine-service'
import { LabEventBus } from './events'
import { configFiles } from './config-files'
import { InspectService } from './inspect-service'
import { JobSlots } from './job-slots'
import { createLabHandlers } from './lab-service'
import { PreferencesService } from './preferences-service'
import { ProfileService, type PdfRenderer } from './profile-service'
import { WorkspaceService } from './workspace-service'

export interface LabServices {
  events: LabEventBus
  engine: EngineService
  workspaces: WorkspaceService
  profiles: ProfileService
  inspections: InspectService
  preferences: PreferencesService
  handlers: LabApiHandlers
  /** Stops engine processes and releases the workspace. */
  stop(): void
}

export interface LabServicesOptions {
  /** How engine processes start: fork (headless, CLI, tests) or utilityProcess (desktop app). */
  launcher: EngineLauncher
  /** The workspace folder to open (throws WorkspaceError when it cannot be opened, e.g. locked). */
  workspace: string
  /** Headless Chromium in headless mode, printToPDF in the desktop app. */
  renderPdf: PdfRenderer | undefined
  /** preferences.json; the config folder's unless given. */
  preferencesFile?: string
  /** Profiles and inspections running at once, together (the rest queue); default 2. */
  maxSideJobs?: number
}

export function createLabServices(options: LabServicesOptions): LabServices {
  const events = new LabEventBus()
  const engine = new EngineService(options.launcher, events)
  const workspaces = new WorkspaceService(options.workspace, options.launcher, events)
  // Profiles and inspections draw on one pool: each is an engine process that takes every core it can.
  const slots = new JobSlots(options.maxSideJobs ?? 2)
  const profiles = new ProfileService(workspaces, options.launcher, events, options.renderPdf, { slots })
  const inspections = new InspectService(workspaces, options.launcher, events, { slots })
  const preferences = new PreferencesService(options.preferencesFile ?? configFiles.preferences(), events)
  const handlers = createLabHandlers({ engine, workspaces, profiles, inspections, preferences })
  return {
    events,
    engine,
    workspaces,
    profiles,
    inspections,
    preferences,
    handlers,
    stop: () => {
      engine.stop()
      profiles.stop()
      inspections.stop()
      workspaces.close()
    },
  }
}
