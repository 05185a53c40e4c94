// The Train screen's form: a TrainSpec with defaults that train MQAR in
// about a minute on CPU, the fields each task kind has, edits by path, and
// validation by the engine's own schema plus the one rule that needs the
// model (the task's tokens must fit the model's vocabulary).
import type { ModelSpec } from '../../../electron/api/model-spec'
import { DEFAULT_PREFERENCES, type Preferences } from '../../../electron/api/preferences'
import type { Template } from '../../../electron/api/template'
import {
  DEFAULT_MQAR_TASK,
  defaultTrainSpec as engineDefaultTrainSpec,
  PRECISIONS,
  TASK_KINDS,
  TaskSchema,
  TrainSpecSchema,
  type Task,
  type TaskKind,
  type TrainSpec,
} from '../../../electron/api/train-spec'
import { validateWith, type SpecError } from '../../../electron/api/validate'
import { BACKEND_CHOICES } from './backend-availability'

export const TASK_DEFAULTS: { [K in TaskKind]: Extract<Task, { kind: K }> } = {
  mqar: { ...DEFAULT_MQAR_TASK },
  parity: { kind: 'parity', seq_len: 32, eval_seq_lens: [64, 128] },
  modular_addition: { kind: 'modular_addition', modulus: 5, seq_len: 32, eval_seq_lens: [64] },
  permutation: { kind: 'permutation', group: 's3', seq_len: 32, eval_seq_lens: [64] },
  selective_copy: { kind: 'selective_copy', seq_len: 64, num_tokens: 8, vocab_size: 16 },
  induction_heads: { kind: 'induction_heads', seq_len: 64, vocab_size: 32 },
  bytes: { kind: 'bytes', path: '', seq_len: 128, valid_fraction: 0.05 },
}

/** The form's starting spec (api/train-spec.ts's defaultTrainSpec); backend, device and precision from the preferences when given. */
export function defaultTrainSpec(preferences: Preferences = DEFAULT_PREFERENCES): TrainSpec {
  return engineDefaultTrainSpec({ backend: preferences.defaultBackend, device: preferences.device, precision: preferences.defaultPrecision })
}

/** optional-int: empty text leaves the field out of the spec (e.g. max_steps). */
export type FieldKind = 'int' | 'number' | 'text' | 'select' | 'int-list' | 'nullable-number' | 'optional-int' | 'optional-text'

export interface FormField {
  /** Path in the TrainSpec, as validation errors name it ("task.seq_len"). */
  path: string
  label: string
  kind: FieldKind
  options?: readonly string[]
  step?: number
  help?: string
}

export const TASK_FIELDS: { [K in TaskKind]: FormField[] } = {
  mqar: [
    { path: 'task.seq_len', label: 'sequence length', kind: 'int' },
    { path: 'task.num_kv_pairs', label: 'key-value pairs', kind: 'int' },
    { path: 'task.vocab_size', label: 'task vocabulary', kind: 'int' },
    { path: 'task.power_a', label: 'query gap power a', kind: 'number', step: 0.01 },
  ],
  parity: [
    { path: 'task.seq_len', label: 'sequence length', kind: 'int' },
    { path: 'task.eval_seq_lens', label: 'eval lengths', kind: 'int-list', help: 'comma-separated, longer than training' },
  ],
  modular_addition: [
    { path: 'task.modulus', label: 'modulus', kind: 'int' },
    { path: 'task.seq_len', label: 'sequence length', kind: 'int' },
    { path: 'task.eval_seq_lens', label: 'eval lengths', kind: 'int-list', help: 'comma-separated' },
  ],
  permutation: [
    { path: 'task.group', label: 'group', kind: 'select', options: ['s3', 's5'] },
    { path: 'task.seq_len', label: 'sequence length', kind: 'int' },
    { path: 'task.eval_seq_lens', label: 'eval lengths', kind: 'int-list', help: 'comma-separated' },
  ],
  selective_copy: [
    { path: 'task.seq_len', label: 'sequence length', kind: 'int' },
    { path: 'task.num_tokens', label: 'tokens to copy', kind: 'int' },
    { path: 'task.vocab_size', label: 'task vocabulary', kind: 'int' },
  ],
  induction_heads: [
    { path: 'task.seq_len', label: 'sequence length', kind: 'int' },
    { path: 'task.vocab_size', label: 'task vocabulary', kind: 'int' },
  ],
  bytes: [
    { path: 'task.path', label: 'text file', kind: 'text', help: 'a file on this machine, read as bytes' },
    { path: 'task.seq_len', label: 'sequence length', kind: 'int' },
    { path: 'task.valid_fraction', label: 'held-out fraction', kind: 'number', step: 0.01 },
  ],
}

export const COMMON_FIELDS: FormField[] = [
  { path: 'steps', label: 'steps', kind: 'int' },
  { path: 'max_steps', label: 'stop at step', kind: 'optional-int', help: 'empty: all steps; the learning-rate schedule still runs over steps' },
  { path: 'batch_size', label: 'batch size', kind: 'int' },
  { path: 'optimizer.lr', label: 'learning rate', kind: 'number', step: 0.0001 },
  { path: 'schedule.warmup_steps', label: 'warmup steps', kind: 'int' },
  { path: 'schedule.decay', label: 'decay', kind: 'select', options: ['cosine', 'linear', 'constant'] },
  { path: 'seed', label: 'seed', kind: 'int' },
  { path: 'eval.every', label: 'eval every', kind: 'int' },
  { path: 'eval.batches', label: 'eval batches', kind: 'int' },
  { path: 'early_stop_accuracy', label: 'early stop at accuracy', kind: 'nullable-number', step: 0.01, help: 'empty: run all steps' },
  { path: 'checkpoint_every', label: 'checkpoint every', kind: 'int', help: '0: only at the end' },
  { path: 'backend', label: 'backend', kind: 'select', options: [...BACKEND_CHOICES] },
  { path: 'device', label: 'device', kind: 'int', help: 'GPU index: cuda:<device>' },
  {
    path: 'devices',
    label: 'GPUs (data parallel)',
    kind: 'optional-text',
    help: 'cuda:0,1 or all: one process per GPU, each on its slice of every batch; empty: one device',
  },
  {
    path: 'precision',
    label: 'precision',
    kind: 'select',
    options: [...PRECISIONS],
    help: 'auto: bf16 on CUDA, f32 on the CPU and WebGPU; f16: WebGPU, with a loss scale',
  },
]

export { TASK_KINDS }

export function getPath(doc: unknown, path: string): unknown {
  let cur = doc
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<string, unknown>)[key]
  }
  return cur
}

/** A copy of the spec with one field set (objects along the path copied, the rest shared); undefined removes the field. */
export function setPath<T>(doc: T, path: string, value: unknown): T {
  const [key, ...rest] = path.split('.')
  const obj = (doc ?? {}) as Record<string, unknown>
  if (!rest.length && value === undefined) {
    const copy = { ...obj }
    delete copy[key!]
    return copy as T
  }
  return { ...obj, [key!]: rest.length ? setPath(obj[key!], rest.join('.'), value) : value } as T
}

/** What a form input's text means for a field of this kind (NaN stays, so validation names it). */
export function parseFieldText(kind: FieldKind, text: string): unknown {
  const t = text.trim()
  switch (kind) {
    case 'int':
    case 'number':
      return t === '' ? Number.NaN : Number(t)
    case 'nullable-number':
      return t === '' ? null : Number(t)
    case 'optional-int':
      return t === '' ? undefined : Number(t)
    case 'optional-text':
      return t === '' ? undefined : t
    case 'int-list':
      return t === ''
        ? []
        : t
            .split(/[\s,]+/)
            .filter(Boolean)
            .map(Number)
    default:
      return text
  }
}

export function fieldText(kind: FieldKind, value: unknown): string {
  if (value === null || value === undefined) return ''
  if (kind === 'int-list' && Array.isArray(value)) return value.join(', ')
  if (typeof value === 'number' && Number.isNaN(value)) return ''
  return String(value)
}

/** Switching the task kind starts from that kind's defaults. */
export function withTaskKind(spec: TrainSpec, kind: TaskKind): TrainSpec {
  return { ...spec, task: { ...TASK_DEFAULTS[kind] } as Task }
}

/** Smallest model vocabulary holding every token of the task (as the engine's generators define them). */
export function taskVocabulary(task: Task): number {
  switch (task.kind) {
    case 'mqar':
    case 'selective_copy':
    case 'induction_heads':
      return task.vocab_size
    case 'parity':
      return 2
    case 'modular_addition':
      return task.modulus
    case 'permutation':
      return task.group === 's3' ? 6 : 120
    case 'bytes':
      return 256
  }
}

/** Schema errors of the TrainSpec, and the vocabulary rule against the chosen model. */
export function trainSpecErrors(spec: TrainSpec, model: Pick<ModelSpec, 'vocab_size'> | null): SpecError[] {
  const r = validateWith(TrainSpecSchema, spec)
  const errors = r.ok ? [] : [...r.errors]
  // The vocabulary rule needs only a valid task, whatever else is still marked.
  const task = TaskSchema.safeParse(spec.task)
  if (task.success && model) {
    const need = taskVocabulary(task.data)
    if (need > model.vocab_size) {
      const path = 'vocab_size' in task.data ? 'task.vocab_size' : task.data.kind === 'modular_addition' ? 'task.modulus' : 'task.kind'
      errors.push({ path, message: `the task uses ${need} tokens; the model's vocabulary holds ${model.vocab_size}` })
    }
  }
  return errors
}

/**
 * The draft after the preferences changed from `before` to `after`: backend,
 * device and precision follow them where the person has not chosen their own.
 */
export function followPreferences(draft: TrainSpec, before: Preferences, after: Preferences): TrainSpec {
  const backend = draft.backend === before.defaultBackend ? after.defaultBackend : draft.backend
  const device = draft.device === before.device ? after.device : draft.device
  const precision = draft.precision === before.defaultPrecision ? after.defaultPrecision : draft.precision
  if (backend === draft.backend && device === draft.device && precision === draft.precision) return draft
  return { ...draft, backend, device, precision }
}

/** Runs in a template: the size of its sweep grid. */
export function templateRunCount(t: Pick<Template, 'sweep'>): number {
  return t.sweep.reduce((n, axis) => n * axis.values.length, 1)
}
