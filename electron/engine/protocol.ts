// Messages between the main process and an engine process (one per job).
// The engine answers calls by id and may push events at any time.
import type { DemoForwardParams, DemoForwardResult, EngineInfo } from '../api/labapi'

/** What an engine process can be asked to do. */
export interface EngineMethods {
  info(params: Record<string, never>): EngineInfo
  demoForward(params: DemoForwardParams & { backend?: string }): DemoForwardResult
}
export type EngineMethod = keyof EngineMethods
export type EngineParams<M extends EngineMethod> = Parameters<EngineMethods[M]>[0]
export type EngineResult<M extends EngineMethod> = ReturnType<EngineMethods[M]>

export type HostToEngine = { type: 'call'; id: number; method: EngineMethod; params: unknown }

export interface EngineErrorBody {
  name: string
  message: string
  code?: string
}

export type EngineToHost =
  | { type: 'ready'; pid: number }
  | { type: 'result'; id: number; result: unknown }
  | { type: 'error'; id: number; error: EngineErrorBody }
  | { type: 'event'; name: string; data: unknown }
