// One data-parallel training run over several engine processes (ranks), one
// per device (engine/train/data-parallel.ts says how the ranks split each
// batch and sum their gradients). This side starts them, joins them (NCCL:
// rank 0's id to the others; the relay test double: sums their exchanges),
// and gathers them into one run: rank 0's events are the run's (it alone
// writes checkpoints), every rank's step events give per-device memory and
// tokens/s, and the first rank to fail ends the run for all.
import { dataParallelDevices } from '../api/train-spec'
import type { TrainEvents, TrainParams } from '../engine/protocol'
import type { DeviceStep } from '../api/runs'
import type { StepProgress, TrainSummary } from '../engine/train/trainer'
import { EngineProcess, type EngineLauncher } from './engine-process'

export interface DataParallelOptions {
  launcher: EngineLauncher
  /** The run's parameters; each rank gets them with its `parallel` part (and its device). */
  params: TrainParams
  /** CUDA device index of each rank (nccl), or the number of ranks (relay, on the CPU). */
  devices: number[] | { cpuRanks: number }
  /** 'relay': TEST DOUBLE, the sums go through this process (CI, no NCCL). */
  transport: 'nccl' | 'relay'
  /** Every rank's events; rank 0's are the run's. */
  onEvent?(rank: number, name: string, data: unknown): void
  /** Called with the engines once started (a cancel goes to each). */
  onStarted?(engines: EngineProcess[]): void
  /** An engine already started, to be rank 0. */
  reuse?: EngineProcess
}

/** A rank failed: which, and why; the others were stopped. */
export class RankFailedError extends Error {
  constructor(
    readonly rank: number,
    readonly why: string,
  ) {
    super(`data-parallel rank ${rank} failed: ${why}`)
    this.name = 'RankFailedError'
  }
}

/**
 * TEST DOUBLE transport: sums the ranks' values of each exchange in rank
 * order (a fixed order, so every rank gets the same bits) and answers them.
 */
class ParentRelay {
  private readonly waiting = new Map<number, (Float64Array[] | undefined)[]>()

  constructor(private readonly engines: EngineProcess[]) {
    engines.forEach((engine, rank) => engine.onCollective((seq, values) => this.add(rank, seq, values)))
  }

  private add(rank: number, seq: number, values: Float64Array[]): void {
    const got = this.waiting.get(seq) ?? new Array<Float64Array[] | undefined>(this.engines.length).fill(undefined)
    got[rank] = values
    this.waiting.set(seq, got)
    if (got.some((v) => v === undefined)) return
    this.waiting.delete(seq)
    const first = got[0]!
    for (const other of got.slice(1))
      if (other!.length !== first.length || other!.some((v, n) => v.length !== first[n]!.length))
        throw new Error(`data parallel: the ranks' exchange ${seq} differs in layout`)
    const sums = first.map((v, n) => {
      const out = new Float64Array(v.length)
      for (const rankValues of got) {
        const x = rankValues![n]!
        for (let i = 0; i < out.length; i++) out[i]! += x[i]!
      }
      return out
    })
    for (const engine of this.engines) engine.answerCollective(seq, sums)
  }
}

/**
 * The engines of one data-parallel run, seen by the job runner as one
 * engine: `call('train')` trains on every rank and resolves with rank 0's
 * summary, `onEvent` gets rank 0's events (its steps carry every rank's
 * memory, StepProgress.devices), `cancel` and `stop` reach every rank.
 */
export class DataParallelEngines {
  readonly engines: EngineProcess[] = []
  private readonly listeners: ((name: string, data: unknown) => void)[] = []
  private readonly rankSteps: (StepProgress | undefined)[] = []
  /** Each rank's device, as a run shows it ("cuda:1"; "cpu" for the relay test double). */
  private rankDevices: string[] = []

  constructor(
    private readonly launcher: EngineLauncher,
    /** TrainSpec.devices ("cuda:0,1", "all"), or CPU ranks for the relay test double. */
    private readonly devices: string | { cpuRanks: number },
    private readonly transport: 'nccl' | 'relay' = 'nccl',
  ) {}

  get pid(): number | undefined {
    return this.engines[0]?.pid
  }

  onEvent(fn: (name: string, data: unknown) => void): void {
    this.listeners.push(fn)
  }

  cancel(): void {
    for (const e of this.engines) e.cancel()
  }

  stop(): void {
    for (const e of this.engines) e.stop()
  }

  async call(method: 'train', params: TrainParams): Promise<TrainSummary> {
    if (method !== 'train') throw new Error(`a data-parallel run only trains, not '${String(method)}'`)
    const first = new EngineProcess(this.launcher)
    this.engines.push(first)
    let devices: number[] | { cpuRanks: number }
    if (typeof this.devices === 'string') {
      // Resolved by an engine, which sees the GPUs ("all", and whether each named one exists).
      const present = (await first.call('info', {})).devices.filter((d) => d.backend === 'cuda').length
      devices = dataParallelDevices(this.devices, present)!
    } else devices = this.devices
    this.rankDevices = Array.isArray(devices) ? devices.map((d) => `cuda:${d}`) : Array.from({ length: devices.cpuRanks }, () => 'cpu')
    return trainDataParallel({
      launcher: this.launcher,
      params,
      devices,
      transport: this.transport,
      reuse: first,
      onStarted: (engines) => this.engines.splice(0, this.engines.length, ...engines),
      onEvent: (rank, name, data) => this.forward(rank, name, data),
    })
  }

  private forward(rank: number, name: string, data: unknown): void {
    if (name === 'train.step') this.rankSteps[rank] = data as StepProgress
    if (rank !== 0) return
    let out = data
    if (name === 'train.step') {
      // Rank 0's step with every rank's memory (the latest each has reported).
      const devices: DeviceStep[] = this.rankDevices.map((device, r) => ({
        rank: r,
        device,
        memoryBytes: this.rankSteps[r]?.memoryBytes ?? Number.NaN,
        peakMemoryBytes: this.rankSteps[r]?.peakMemoryBytes ?? Number.NaN,
      }))
      out = { ...(data as StepProgress), devices }
    }
    for (const fn of this.listeners) fn(name, out)
  }
}

/** Trains one run over several ranks; resolves with rank 0's summary. */
export async function trainDataParallel(o: DataParallelOptions): Promise<TrainSummary> {
  const devices = Array.isArray(o.devices) ? o.devices : Array.from({ length: o.devices.cpuRanks }, () => -1)
  const world = devices.length
  if (world < 2) throw new Error(`data parallel needs at least 2 ranks, got ${world}`)
  const engines = devices.map((_, rank) => (rank === 0 && o.reuse ? o.reuse : new EngineProcess(o.launcher)))
  o.onStarted?.(engines)
  if (o.transport === 'relay') new ParentRelay(engines)
  const rankParams = (rank: number, ncclId?: Uint8Array): TrainParams => {
    const device = devices[rank]!
    const trainSpec = device >= 0 ? { ...o.params.trainSpec, backend: 'cuda' as const, device } : o.params.trainSpec
    return { ...o.params, trainSpec, parallel: { rank, world, transport: o.transport, ncclId } }
  }
  let failed: RankFailedError | undefined
  const fail = (rank: number, err: unknown) => {
    if (failed) return
    failed = new RankFailedError(rank, err instanceof Error ? err.message : String(err))
    // The others wait in a collective for the failed rank: they cannot finish, so they are stopped.
    engines.forEach((e, r) => r !== rank && e.stop())
  }
  let announceId: (id: Uint8Array) => void = () => undefined
  const ncclId = new Promise<Uint8Array>((resolve) => (announceId = resolve))
  engines.forEach((engine, rank) =>
    engine.onEvent((name, data) => {
      if (rank === 0 && name === 'train.ncclId') announceId((data as TrainEvents['train.ncclId']).id)
      o.onEvent?.(rank, name, data)
    }),
  )
  try {
    const calls: Promise<TrainSummary>[] = []
    const watch = (rank: number, call: Promise<TrainSummary>) => {
      call.catch((err) => fail(rank, err))
      calls.push(call)
    }
    watch(0, engines[0]!.call('train', rankParams(0)))
    // NCCL: the others join with rank 0's id (rank 0 fails first if it cannot make one).
    const id = o.transport === 'nccl' ? await Promise.race([ncclId, calls[0]!.then(() => undefined)]) : undefined
    for (let rank = 1; rank < world; rank++) watch(rank, engines[rank]!.call('train', rankParams(rank, id)))
    const results = await Promise.allSettled(calls)
    if (failed) throw failed
    const first = results[0]!
    if (first.status === 'rejected') throw first.reason
    return first.value
  } finally {
    for (const e of engines) e.stop()
  }
}
