// Joining the recall benchmark's runs from several files (bench/mqar-recall.bench.ts
// --merge): a GPU call's limit can cut a run off (status 'cut_off'), and a later
// call trains it again from the start, so a run may appear twice.

/** The fields of a run row that decide which of two rows of one run to keep. */
export interface RunIdentity {
  preset: string
  seed: number
  status: string
  steps: number
}

/**
 * One row per (preset, seed): a finished row (any status but 'cut_off') over a
 * cut-off one, and of two cut-off rows the one that trained more steps. Two
 * finished rows of one run are an error: the files measured it twice. Order:
 * each kept row where its run first appeared.
 */
export function joinRuns<R extends RunIdentity>(rows: R[]): R[] {
  const kept = new Map<string, R>()
  for (const r of rows) {
    const key = `${r.preset} seed ${r.seed}`
    const had = kept.get(key)
    if (!had) {
      kept.set(key, r)
      continue
    }
    const [hadDone, rDone] = [had.status !== 'cut_off', r.status !== 'cut_off']
    if (hadDone && rDone) throw new Error(`${key} finished in more than one file (statuses ${had.status} and ${r.status})`)
    if (rDone || (!hadDone && r.steps > had.steps)) kept.set(key, r)
  }
  return [...kept.values()]
}
