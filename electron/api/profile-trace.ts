// A profile's timed step as a trace in the Chrome trace event format (JSON),
// which Perfetto (ui.perfetto.dev) and chrome://tracing open: one complete
// event ('X') per op call, inside one per run of consecutive calls of a model
// part, inside one per phase (forward, backward, optimizer), all on one
// track, so they nest without overlapping. Pure: the Profile screen and the
// CLI both call it on a profile result.
import { profilePrecision, type ProfileResult, type TimelineEvent } from './profile'

export interface TraceEvent {
  name: string
  /** 'X': a complete event (ts + dur); 'M': metadata (process and thread names). */
  ph: 'X' | 'M'
  /** Microseconds from the start of the step. */
  ts: number
  dur?: number
  pid: number
  tid: number
  cat?: string
  args?: Record<string, string | number>
}

export interface ProfileTrace {
  traceEvents: TraceEvent[]
  displayTimeUnit: 'ms'
  otherData: Record<string, string | number>
}

const PID = 1
const TID = 1

/** Runs of consecutive events with the same key: [key, first index, last index]. */
function runs(events: readonly TimelineEvent[], key: (e: TimelineEvent) => string): [string, number, number][] {
  const out: [string, number, number][] = []
  events.forEach((e, i) => {
    const k = key(e)
    const last = out.at(-1)
    if (last && last[0] === k) last[2] = i
    else out.push([k, i, i])
  })
  return out
}

/** The trace of a profile's timed step; a profile written before Linea kept a timeline has none (undefined). */
export function profileTrace(p: ProfileResult): ProfileTrace | undefined {
  const t = p.timeline
  if (!t || !Array.isArray(t.events) || !t.events.length) return undefined
  const us = (ms: number) => ms * 1000
  const events = t.events
  const span = (name: string, cat: string, from: number, to: number, args: TraceEvent['args']): TraceEvent => {
    const start = events[from]!.startMs
    const end = events[to]!.startMs + events[to]!.ms
    return { name, cat, ph: 'X', ts: us(start), dur: us(end - start), pid: PID, tid: TID, args }
  }
  const out: TraceEvent[] = [
    { name: 'process_name', ph: 'M', ts: 0, pid: PID, tid: TID, args: { name: `Linea profile: ${p.spec.name} (${p.machine.backend})` } },
    { name: 'thread_name', ph: 'M', ts: 0, pid: PID, tid: TID, args: { name: 'training step' } },
  ]
  for (const [phase, from, to] of runs(events, (e) => e.phase)) {
    out.push(span(phase, 'phase', from, to, { phase }))
    for (const [scope, a, b] of runs(events.slice(from, to + 1), (e) => e.scope))
      out.push(span(scope, 'scope', from + a, from + b, { scope, phase, calls: b - a + 1 }))
  }
  for (const e of events)
    out.push({
      name: e.op,
      cat: e.phase,
      ph: 'X',
      ts: us(e.startMs),
      dur: us(e.ms),
      pid: PID,
      tid: TID,
      args: { scope: e.scope, phase: e.phase, op: e.op, flops: e.flops, bytes: e.bytes },
    })
  return {
    traceEvents: out,
    displayTimeUnit: 'ms',
    otherData: {
      model: p.spec.name,
      backend: p.machine.backend,
      device: p.machine.device,
      batch: p.settings.batchSize,
      seqLen: p.settings.seqLen,
      precision: profilePrecision(p),
      step: `repeat ${t.repeat + 1} of ${t.repeats} (the one whose step time is nearest the median)`,
      droppedCalls: t.dropped,
      created: new Date(p.createdMs).toISOString(),
    },
  }
}

/** A file name for a profile's trace: its model's name, made safe. */
export function traceFileName(p: Pick<ProfileResult, 'spec'>, id?: string): string {
  const base = (id ?? p.spec.name)
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^-|-$/g, '')
  return `${base || 'profile'}.trace.json`
}
