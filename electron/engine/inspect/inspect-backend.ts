// Where an inspection runs: on the first CUDA device when it takes every op
// call the inspection makes (traced first on shapes alone, as training's
// backend choice does: trace-ops.ts), else on the CPU, saying why.
import { loadAddon } from '../addon'
import { addonAccepts, describeRefusals, refusals, type AcceptsFn } from '../backend-select'
import type { Backend } from '../backend'
import { TracingBackend } from '../trace-ops'

/**
 * The backend id for `inspect` (a function of a backend) and a line saying
 * why: cuda:0 when present and it accepts every call `inspect` makes on the
 * tracing backend, else cpu.
 */
export async function chooseInspectBackend(
  inspect: (backend: Backend) => Promise<unknown>,
  available: readonly string[] = loadAddon().backends(),
  accepts: AcceptsFn = addonAccepts,
): Promise<{ id: string; reason: string }> {
  const cuda = 'cuda:0'
  if (!available.includes(cuda)) return { id: 'cpu', reason: 'cpu: no CUDA device' }
  const tracer = new TracingBackend()
  await inspect(tracer)
  const calls = tracer.traced()
  const refused = refusals(cuda, calls, accepts)
  if (!refused.length) return { id: cuda, reason: `${cuda}: it accepts all ${calls.length} of the inspection's op calls` }
  return { id: 'cpu', reason: `cpu: ${cuda} refuses ${describeRefusals(refused, calls.length, 1)}` }
}
