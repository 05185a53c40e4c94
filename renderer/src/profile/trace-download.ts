// The Profile screen's trace export: the profile's timed step as Chrome
// trace JSON (profileTrace), saved by the browser (the desktop app's save
// dialog). Built here from the result the screen already loaded.
import type { ProfileResult } from '../../../electron/api/profile'
import { profileTrace, traceFileName } from '../../../electron/api/profile-trace'
import { downloadText } from '../runs/download'

/** Saves the trace; answers why not when the profile has none. */
export function downloadProfileTrace(p: ProfileResult, id: string): string | undefined {
  const trace = profileTrace(p)
  if (!trace) return 'this profile has no timeline (it was written before Linea kept one): profile again to get a trace'
  downloadText(traceFileName(p, id), JSON.stringify(trace), 'application/json')
  return undefined
}
