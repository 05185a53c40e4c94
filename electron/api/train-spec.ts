// TrainSpec: what to train on and how. Tasks are deterministic generators
// (shared MATH.md, "Tasks"); each carries the lengths it trains and evaluates at.
import { z } from 'zod'

const int = (min: number, max: number) => z.number().int().min(min).max(max)
const seqLen = int(1, 1 << 20)
/** Lengths to evaluate at besides the training length (length generalization). */
const evalLens = z.array(seqLen).max(32)

/**
 * Bucket labels of MQAR's eval tag `key_in_noise` (value 0, 1): in every eval
 * record, sets[i].byTag.key_in_noise[label] counts the queries whose key
 * occurs only in its pair, and those whose key also occurs earlier as noise.
 */
export const MQAR_KEY_IN_NOISE_LABELS = ['key only in its pair', 'key also earlier as noise'] as const

export const MqarTaskSchema = z
  .strictObject({
    kind: z.literal('mqar'),
    seq_len: seqLen,
    /** Key-value pairs at the start of each sequence. */
    num_kv_pairs: int(1, 1 << 16),
    /** Query gaps follow p(gap) ∝ gap^(a−1) (Zoology uses a = 0.01). */
    power_a: z.number().positive().max(1),
    /** Tokens used: keys from the lower half, values from the upper half. */
    vocab_size: int(4, 1 << 20),
  })
  .superRefine((t, ctx) => {
    if (4 * t.num_kv_pairs > t.seq_len)
      ctx.addIssue({
        code: 'custom',
        path: ['num_kv_pairs'],
        message: `${t.num_kv_pairs} pairs need seq_len >= ${4 * t.num_kv_pairs} (2 tokens per pair, then a query per pair), got ${t.seq_len}`,
      })
    // keys are 1 .. vocab_size/2 − 1 (token 0 is noise)
    if (t.num_kv_pairs > Math.floor(t.vocab_size / 2) - 1)
      ctx.addIssue({
        code: 'custom',
        path: ['num_kv_pairs'],
        message: `${t.num_kv_pairs} distinct keys do not fit in the ${Math.floor(t.vocab_size / 2) - 1} keys of vocab_size ${t.vocab_size} (1 .. vocab_size/2 − 1)`,
      })
  })

export const ParityTaskSchema = z.strictObject({
  kind: z.literal('parity'),
  seq_len: seqLen,
  eval_seq_lens: evalLens,
})

export const ModularAdditionTaskSchema = z.strictObject({
  kind: z.literal('modular_addition'),
  modulus: int(2, 1 << 16),
  seq_len: seqLen,
  eval_seq_lens: evalLens,
})

export const PermutationTaskSchema = z.strictObject({
  kind: z.literal('permutation'),
  /** Compose permutations of S3 (solvable) or S5 (not solvable). */
  group: z.enum(['s3', 's5']),
  seq_len: seqLen,
  eval_seq_lens: evalLens,
})

export const SelectiveCopyTaskSchema = z.strictObject({
  kind: z.literal('selective_copy'),
  seq_len: seqLen,
  /** Tokens to remember, scattered among noise tokens. */
  num_tokens: int(1, 1 << 12),
  vocab_size: int(4, 1 << 16),
})

export const InductionHeadsTaskSchema = z.strictObject({
  kind: z.literal('induction_heads'),
  seq_len: seqLen,
  vocab_size: int(4, 1 << 16),
})

export const BytesTaskSchema = z.strictObject({
  kind: z.literal('bytes'),
  /** A text file on this machine; read as raw bytes (vocabulary 256). */
  path: z.string().min(1),
  seq_len: seqLen,
  /** Fraction of the file held out for validation (bits per byte). */
  valid_fraction: z.number().min(0.001).max(0.5),
})

export const TaskSchema = z.discriminatedUnion('kind', [
  MqarTaskSchema,
  ParityTaskSchema,
  ModularAdditionTaskSchema,
  PermutationTaskSchema,
  SelectiveCopyTaskSchema,
  InductionHeadsTaskSchema,
  BytesTaskSchema,
])

export const TASK_KINDS = ['mqar', 'parity', 'modular_addition', 'permutation', 'selective_copy', 'induction_heads', 'bytes'] as const
export const BACKENDS = ['auto', 'cpu', 'cuda', 'webgpu'] as const
export const PRECISIONS = ['auto', 'f32', 'f64', 'bf16', 'f16'] as const
const DEVICES_PATTERN = /^(all|cuda:\d{1,2}(,\d{1,2}){1,63})$/

/**
 * The CUDA device indices of a spec's `devices`, given how many the machine
 * has ("all": every one); undefined for a run on one device. Throws, naming
 * the value, for an index the machine lacks or one given twice.
 */
export function dataParallelDevices(devices: string | undefined, present: number): number[] | undefined {
  if (devices === undefined) return undefined
  const list = devices === 'all' ? [...Array(present).keys()] : devices.slice('cuda:'.length).split(',').map(Number)
  if (devices === 'all' && present < 2) throw new Error(`devices "all": data parallel needs 2 or more CUDA devices, this machine has ${present}`)
  for (const d of list)
    if (d >= present) throw new Error(`devices "${devices}": cuda:${d} is not on this machine (it has ${present} CUDA device${present === 1 ? '' : 's'})`)
  if (new Set(list).size !== list.length) throw new Error(`devices "${devices}" names a device twice`)
  return list
}

export const TrainSpecSchema = z
  .strictObject({
    format: z.literal('linea.train/1'),
    task: TaskSchema,
    /** Length of the run: the learning-rate schedule spans these steps. */
    steps: int(1, 1e9),
    /**
     * Stop after this many steps, the schedule still that of `steps` (a
     * shorter look at the same run); absent = steps.
     */
    max_steps: int(1, 1e9).optional(),
    batch_size: int(1, 1 << 16),
    optimizer: z.strictObject({
      kind: z.literal('adamw'),
      lr: z.number().positive().max(10),
      beta1: z.number().min(0).lt(1),
      beta2: z.number().min(0).lt(1),
      eps: z.number().positive().max(1),
      weight_decay: z.number().min(0).max(10),
      /** Clip the global gradient norm to this; 0 = off. */
      grad_clip: z.number().min(0),
    }),
    schedule: z.strictObject({
      warmup_steps: int(0, 1e9),
      decay: z.enum(['cosine', 'linear', 'constant']),
      /** Final learning rate as a fraction of lr. */
      min_lr_ratio: z.number().min(0).max(1),
    }),
    seed: int(0, 2 ** 31 - 1),
    /** auto: CUDA if a device is present, else WebGPU if an adapter is, else CPU. */
    backend: z.enum(BACKENDS),
    device: int(0, 64),
    /**
     * Data parallel over several GPUs of this machine: "cuda:0,1" (those
     * devices) or "all" (every CUDA device found); absent = one device
     * (`device`). One engine process per GPU, each on its slice of every batch.
     */
    devices: z.string().regex(DEVICES_PATTERN, 'is not "all" or "cuda:" with two or more device indices, e.g. "cuda:0,1"').optional(),
    /**
     * auto: bf16 (mixed precision) on a CUDA device, f32 on the CPU and WebGPU. bf16 and f16: f32
     * weights, 16-bit activations; bf16 on CUDA, f16 on WebGPU (with a dynamic loss scale).
     */
    precision: z.enum(PRECISIONS),
    eval: z.strictObject({
      every: int(1, 1e9),
      batches: int(1, 1e6),
    }),
    /** Stop once eval accuracy reaches this; null = run all steps. */
    early_stop_accuracy: z.number().gt(0).max(1).nullable(),
    /** Save a checkpoint every N steps; 0 = only at the end. */
    checkpoint_every: int(0, 1e9),
  })
  .superRefine((spec, ctx) => {
    if (spec.schedule.warmup_steps > spec.steps)
      ctx.addIssue({
        code: 'custom',
        path: ['schedule', 'warmup_steps'],
        message: `${spec.schedule.warmup_steps} exceeds steps ${spec.steps}`,
      })
    if (spec.max_steps !== undefined && spec.max_steps > spec.steps)
      ctx.addIssue({
        code: 'custom',
        path: ['max_steps'],
        message: `${spec.max_steps} exceeds steps ${spec.steps}; the schedule spans steps, so raise steps to train longer`,
      })
    if (spec.devices !== undefined && spec.backend !== 'auto' && spec.backend !== 'cuda')
      ctx.addIssue({ code: 'custom', path: ['devices'], message: `data parallel runs on CUDA devices; backend is '${spec.backend}' (use 'auto' or 'cuda')` })
    const listed = spec.devices?.startsWith('cuda:') ? spec.devices.slice('cuda:'.length).split(',').length : 0
    if (listed > spec.batch_size)
      ctx.addIssue({
        code: 'custom',
        path: ['batch_size'],
        message: `${spec.batch_size} cannot be split over the ${listed} devices of devices "${spec.devices}"`,
      })
    if (spec.precision === 'bf16' && spec.backend === 'cpu')
      ctx.addIssue({ code: 'custom', path: ['precision'], message: `'bf16' needs a GPU backend; the CPU backend computes in 'f32' or 'f64'` })
    if (spec.precision === 'f16' && spec.backend !== 'webgpu')
      ctx.addIssue({
        code: 'custom',
        path: ['precision'],
        message: `'f16' runs on backend 'webgpu' (backend is '${spec.backend}'); CUDA's mixed precision is 'bf16', the CPU computes in 'f32' or 'f64'`,
      })
  })

export type Task = z.infer<typeof TaskSchema>
export type TaskKind = Task['kind']
export type TrainSpec = z.infer<typeof TrainSpecSchema>

/** The MQAR task the Train form starts with (and a design's export names in train_spec.json). */
export const DEFAULT_MQAR_TASK: Readonly<Extract<Task, { kind: 'mqar' }>> = Object.freeze({
  kind: 'mqar',
  seq_len: 64,
  num_kv_pairs: 4,
  power_a: 0.01,
  vocab_size: 64,
})

/**
 * Linea's starting TrainSpec: the Train form's defaults (MQAR in about a
 * minute on CPU), and the settings a composer design's export hands to its
 * train.py; backend, device and precision as given (else auto, 0, auto).
 */
export function defaultTrainSpec(choice: Pick<TrainSpec, 'backend' | 'device' | 'precision'> = { backend: 'auto', device: 0, precision: 'auto' }): TrainSpec {
  return {
    format: 'linea.train/1',
    task: { ...DEFAULT_MQAR_TASK },
    // about a minute on 2 CPU cores for a 2-layer, d_model 128 model (35 s Transformer, 55 s GLA)
    steps: 800,
    batch_size: 16,
    optimizer: { kind: 'adamw', lr: 3e-3, beta1: 0.9, beta2: 0.98, eps: 1e-8, weight_decay: 0.1, grad_clip: 1 },
    schedule: { warmup_steps: 50, decay: 'cosine', min_lr_ratio: 0.1 },
    seed: 0,
    backend: choice.backend,
    device: choice.device,
    precision: choice.precision,
    eval: { every: 50, batches: 2 },
    early_stop_accuracy: 0.99,
    checkpoint_every: 200,
  }
}

/** The step a run stops at: max_steps when set, else steps (the schedule always spans `steps`). */
export function stopStep(spec: Pick<TrainSpec, 'steps' | 'max_steps'>): number {
  return Math.min(spec.steps, spec.max_steps ?? spec.steps)
}

/** The longest sequence a task makes: its training length or its longest evaluation length. */
export function longestSequence(task: Task): number {
  return Math.max(task.seq_len, ...('eval_seq_lens' in task ? task.eval_seq_lens : []))
}
