// A typed event bus for LabApi events: services publish, front doors
// (the headless server, the Electron shell) forward to their renderers.
import type { LabEventName, LabEvents } from '../api/labapi'

type Listener = <E extends LabEventName>(event: E, data: LabEvents[E]) => void

export class LabEventBus {
  private readonly listeners = new Set<Listener>()

  emit<E extends LabEventName>(event: E, data: LabEvents[E]): void {
    for (const fn of this.listeners) fn(event, data)
  }

  /** Subscribes to every event; returns the unsubscribe function. */
  subscribe(fn: Listener): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }
}
