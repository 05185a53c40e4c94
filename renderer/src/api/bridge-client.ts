// LabApi through Electron's preload bridge (window.linea). The bridge
// returns envelopes; errors are rebuilt here with their code and fields.
import { LAB_API_METHOD_NAMES, type LabApi, type LabApiErrorBody } from '../../../electron/api/labapi'
import { LabApiClientError } from './errors'

type Envelope = { ok: true; result: unknown } | { ok: false; error: LabApiErrorBody }

export interface LineaBridge {
  [method: string]: unknown
  on(event: string, handler: (data: unknown) => void): () => void
}

export function createBridgeLabApi(bridge: LineaBridge): LabApi {
  const api: Record<string, unknown> = {}
  for (const method of LAB_API_METHOD_NAMES) {
    api[method] = async (params: unknown) => {
      const envelope = (await (bridge[method] as (p: unknown) => Promise<Envelope>)(params)) as Envelope
      if (envelope.ok) return envelope.result
      throw new LabApiClientError(envelope.error)
    }
  }
  api.on = (event: string, handler: (data: unknown) => void) => bridge.on(event, handler)
  return api as LabApi
}
