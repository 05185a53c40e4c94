// The LabApi in-process: the same dispatch (parameter checks included) the
// front doors use, without a transport. For the CLI and for tests that drive
// renderer stores against the real services.
import type { LabApi, LabEventName, LabEvents } from '../api/labapi'
import { LAB_API_METHOD_NAMES, type LabApiHandlers } from '../api/labapi'
import { dispatchLabApi } from './dispatch'
import type { LabEventBus } from './events'

export function localLabApi(handlers: LabApiHandlers, events: LabEventBus): LabApi {
  const api: Record<string, unknown> = {}
  for (const method of LAB_API_METHOD_NAMES) api[method] = (params: unknown) => dispatchLabApi(handlers, method, params)
  api.on = <E extends LabEventName>(event: E, handler: (data: LabEvents[E]) => void) =>
    events.subscribe((name: LabEventName, data: unknown) => {
      if (name === event) handler(data as LabEvents[E])
    })
  return api as LabApi
}
