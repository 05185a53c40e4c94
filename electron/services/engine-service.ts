// The interactive engine: one long-lived engine process for quick calls
// (engine info, estimates, small demos). Started on first use, restarted on
// the next call after it dies; training jobs get processes of their own.
import { EngineProcess, type EngineLauncher } from '../jobs/engine-process'
import type { EngineMethod, EngineParams, EngineResult } from '../engine/protocol'
import type { LabEventBus } from './events'

export class EngineService {
  private engine: EngineProcess | undefined

  constructor(
    private readonly launcher: EngineLauncher,
    private readonly events: LabEventBus,
  ) {}

  async call<M extends EngineMethod>(method: M, params: EngineParams<M>): Promise<EngineResult<M>> {
    return this.current().call(method, params)
  }

  get pid(): number | undefined {
    return this.engine?.pid
  }

  stop(): void {
    this.engine?.stop()
    this.engine = undefined
  }

  private current(): EngineProcess {
    if (this.engine && !this.engine.exited) return this.engine
    const engine = new EngineProcess(this.launcher)
    this.engine = engine
    this.events.emit('engine.status', { state: 'starting' })
    engine.start().then(
      (pid) => this.events.emit('engine.status', { state: 'ready', pid }),
      () => undefined, // reported through onExit
    )
    engine.onExit((reason) => this.events.emit('engine.status', { state: 'exited', reason }))
    return engine
  }
}
