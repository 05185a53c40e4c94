// The Start screen's pure parts: where the app lands (the Start screen for a
// workspace with no runs yet, Compose otherwise, as before), and the quick
// start, the MQAR recall sweep scaled down so each of its runs trains in
// seconds on a CPU.
import type { RunsList } from '../../../electron/api/labapi'

export const START_PATH = '/start'
/** Where a workspace with runs lands (as it did before there was a Start screen). */
export const DEFAULT_LANDING = '/compose'

/**
 * The landing route for the open workspace's runs listing: Start for a
 * workspace with no runs (nor run files it could not read), Compose
 * otherwise, and Compose when the listing could not be had (null).
 */
export function landingPath(list: Pick<RunsList, 'runs' | 'problems'> | null): string {
  if (!list) return DEFAULT_LANDING
  return list.runs.length === 0 && list.problems.length === 0 ? START_PATH : DEFAULT_LANDING
}

export const QUICK_START_TEMPLATE = 'mqar-recall-sweep'
/** The quick start trains on the CPU: every build has it, and at this size it is quick. */
export const QUICK_START_BACKEND = 'cpu'

/**
 * Overrides for every run of the sweep: 300 steps of batch 16 on sequences
 * of 32 tokens with 4 key-value pairs (the template: 1500 steps of 64 at
 * T = 128, 8 pairs). Still valid: warmup <= steps, 4 * pairs <= seq_len, the
 * task's vocabulary within the model's (512).
 */
export const QUICK_START_OVERRIDES: Readonly<Record<string, string | number>> = Object.freeze({
  'train.steps': 300,
  'train.schedule.warmup_steps': 20,
  'train.batch_size': 16,
  'train.eval.every': 50,
  'train.eval.batches': 2,
  'train.checkpoint_every': 150,
  'train.task.seq_len': 32,
  'train.task.num_kv_pairs': 4,
  'train.task.vocab_size': 64,
  'train.backend': QUICK_START_BACKEND,
})

/**
 * Whether the quick start can be started: the template must be in the list
 * (templates load with the page) and its backend runnable here (the
 * availability rules of runs/backend-availability.ts). The reason when not.
 */
export function quickStartBlocked(templateIds: readonly string[], loaded: boolean, unavailable: Record<string, string>): string | null {
  if (!loaded) return 'loading the templates…'
  if (!templateIds.includes(QUICK_START_TEMPLATE)) return `no template '${QUICK_START_TEMPLATE}' in this build of Linea`
  const why = unavailable[QUICK_START_BACKEND]
  return why ? `${QUICK_START_BACKEND} cannot run here: ${why}` : null
}
