// metrics.jsonl after a resume. A run resumed from the checkpoint of step S
// trains steps S+1, S+2, ... again; lines already written for those steps
// (a run killed or failed past its last checkpoint) describe training that
// is being redone, and the resumed run writes its own. They are dropped in
// one atomic rewrite (temp file + rename), before the resumed run's first
// line, so each step has one train line, one eval line and one checkpoint
// line at most, in increasing order.
//
// Dropped: train, eval and checkpoint lines whose step > S. Kept as they
// are: status lines (the run's history), and lines that do not parse
// (readMetrics reports them; this is no place to lose evidence).
import { FILE_LIMITS, readRegularFile, writeFileAtomic } from '../workspace/files'

const STEPPED = new Set(['train', 'eval', 'checkpoint'])

/** Whether a raw line is a stepped line past `step`. */
function isPast(raw: string, step: number): boolean {
  if (!raw.trim()) return false
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    return false
  }
  if (value === null || typeof value !== 'object') return false
  const { type, step: at } = value as { type?: unknown; step?: unknown }
  return typeof type === 'string' && STEPPED.has(type) && typeof at === 'number' && at > step
}

/**
 * Drops the lines of `path` (a metrics.jsonl) for steps after `step`;
 * returns how many. Nothing is written when none are. Throws the
 * workspace's errors (naming the file and errno) when it cannot read or
 * write the file.
 */
export function dropMetricsAfter(path: string, step: number): number {
  const bytes = readRegularFile(path, FILE_LIMITS.large)
  if (bytes === undefined) return 0
  const raws = bytes.toString('utf8').split('\n')
  const kept = raws.filter((raw) => !isPast(raw, step))
  const dropped = raws.length - kept.length
  if (dropped > 0) writeFileAtomic(path, kept.join('\n'))
  return dropped
}
