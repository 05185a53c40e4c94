// A profile.json is a workspace file, so untrusted: the service checks the
// fields every profile has; the optional ones added later (spreads, parts,
// timeline, warnings) are checked here, and one that is malformed is dropped
// (the screens and the report then show that profile as an older one).
import { z } from 'zod'
import type { ProfileResult } from './profile'

const finite = z.number().refine(Number.isFinite)
const SpreadSchema = z.object({ n: finite, min: finite, q1: finite, median: finite, q3: finite, max: finite })
const Phase = z.enum(['forward', 'backward', 'optimizer'])
const StepSpread = z.object({ forwardMs: SpreadSchema, backwardMs: SpreadSchema, optimizerMs: SpreadSchema, totalMs: SpreadSchema })
const CeilingSpread = z.object({ bandwidthBytesPerSecond: SpreadSchema, flopsPerSecond: SpreadSchema })
const Parts = z.array(z.object({ scope: z.string().max(200), phase: Phase, ms: finite, spread: SpreadSchema })).max(100_000)
const Timeline = z.object({
  repeat: z.number().int().min(0),
  repeats: z.number().int().min(1),
  dropped: z.number().int().min(0),
  events: z
    .array(
      z.object({
        scope: z.string().max(200),
        phase: Phase,
        op: z.string().max(100),
        startMs: finite,
        ms: finite.refine((x) => x >= 0),
        flops: finite,
        bytes: finite,
      }),
    )
    .max(200_000),
})
const Warnings = z.array(z.string().max(2000)).max(50)

/** p with each optional field kept only when well formed (a copy; p is not changed). */
export function checkedProfile(p: ProfileResult): ProfileResult {
  const out: ProfileResult = { ...p, step: { ...p.step }, ceilings: { ...p.ceilings } }
  if (!StepSpread.safeParse(p.step.spread).success) delete out.step.spread
  if (!CeilingSpread.safeParse(p.ceilings.spread).success) delete out.ceilings.spread
  if (!Parts.safeParse(p.parts).success) delete out.parts
  if (!Timeline.safeParse(p.timeline).success) delete out.timeline
  if (!Warnings.safeParse(p.warnings).success) delete out.warnings
  out.ops = p.ops.map((o) => {
    if (o.spread === undefined || SpreadSchema.safeParse(o.spread).success) return o
    const { spread: _dropped, ...rest } = o
    return rest
  })
  return out
}
