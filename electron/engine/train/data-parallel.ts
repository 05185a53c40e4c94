// Data-parallel training: one engine process per device (a rank), each with
// the whole model, training on its slice of every batch. The gradients are
// summed over the ranks in buckets while the backward pass is still running,
// so every rank applies the same update and the run equals one device
// training on the whole batch:
//
//   every rank draws the step's whole batch (the task's generator is
//   deterministic), keeps examples [lo, hi) of it (sliceRange), and seeds its
//   loss with 1 / (labels in the whole batch): the sum over ranks of their
//   gradients is then exactly the gradient of the whole batch's mean loss.
//
// The transport is a Communicator: NCCL on GPUs (native addon), or, in tests
// only, the parent process relaying the sums (relay-communicator.ts).
import type { Ctx } from '../autograd/context'
import type { Param } from '../model/params'
import type { Batch } from '../tasks/types'
import type { Tensor } from '../tensor'

export interface Communicator {
  readonly rank: number
  readonly world: number
  /** What carries the sums, for the run record ("nccl", "relay (test double)"). */
  readonly transport: string
  /**
   * Sums `tensors` over the ranks, in place. Enqueued: a GPU transport orders
   * it on the device after the work that produced them; `flush` completes it.
   * Every rank calls it with tensors of the same shapes, in the same order.
   */
  allReduceSum(tensors: Tensor[]): void
  /** Completes every allReduceSum so far: the tensors hold the sums once the work enqueued after this runs. */
  flush(): Promise<void>
  /** Sums a few host values over the ranks (a step's loss, a stop request); every rank waits for it. */
  allReduceHost(values: Float64Array): Promise<Float64Array>
  dispose(): void
}

/** Examples [lo, hi) of a batch of `batchSize` that `rank` of `world` trains on. */
export function sliceRange(batchSize: number, rank: number, world: number): [number, number] {
  if (!Number.isInteger(world) || world < 1) throw new Error(`data parallel: world size ${world} is not a positive integer`)
  if (!Number.isInteger(rank) || rank < 0 || rank >= world) throw new Error(`data parallel: rank ${rank} is not in 0..${world - 1}`)
  if (batchSize < world) throw new Error(`data parallel: a batch of ${batchSize} cannot be split over ${world} devices; give at least one example per device`)
  return [Math.floor((batchSize * rank) / world), Math.floor((batchSize * (rank + 1)) / world)]
}

/** Examples [lo, hi) of `batch`, with every per-position array cut the same way. */
export function sliceBatch(batch: Batch, rank: number, world: number): Batch {
  const [lo, hi] = sliceRange(batch.batchSize, rank, world)
  const T = batch.seqLen
  const cut = (a: Int32Array) => a.slice(lo * T, hi * T)
  const tags: Record<string, Int32Array> = {}
  for (const name of Object.keys(batch.tags)) tags[name] = cut(batch.tags[name]!)
  return { batchSize: hi - lo, seqLen: T, inputs: cut(batch.inputs), labels: cut(batch.labels), tags }
}

/** Positions that carry a label. */
export function labelCount(batch: Batch): number {
  let n = 0
  for (const y of batch.labels) if (y >= 0) n++
  return n
}

/** Default bucket size: big enough that a transport's per-call cost is amortized, small enough to overlap. */
export const DEFAULT_BUCKET_BYTES = 25 << 20

interface Bucket {
  params: Param[]
  /** The tape position after which all of the bucket's gradients are final. */
  readyAt: number
}

/**
 * The gradients' buckets, in the order the backward pass finishes them. The
 * first step learns the order (each parameter's last contribution on the
 * tape, Ctx.lastContributionAt) and reduces every bucket after its backward;
 * later steps reduce each bucket as soon as the pass has run its position.
 * The graph is the same at every step and on every rank, so all ranks call
 * the transport with the same buckets in the same order.
 */
export class GradientBuckets {
  private plan: Bucket[] | undefined
  private next = 0

  constructor(
    private readonly params: readonly Param[],
    private readonly comm: Communicator,
    private readonly capBytes = DEFAULT_BUCKET_BYTES,
  ) {}

  /** The planned buckets (parameter names), for tests and the run record. */
  get buckets(): string[][] | undefined {
    return this.plan?.map((b) => b.params.map((p) => p.name))
  }

  /** The hook for Ctx.backward: reduces the buckets that are final after tape position `position`. */
  afterTapeStep(ctx: Ctx, position: number): void {
    const plan = this.plan
    if (!plan) return
    while (this.next < plan.length && plan[this.next]!.readyAt >= position) this.reduce(ctx, plan[this.next++]!)
  }

  /** After the backward: plans the buckets on the first step, and reduces what is left. */
  endBackward(ctx: Ctx): void {
    if (!this.plan) {
      this.plan = this.makePlan(ctx)
      this.next = 0
    }
    this.checkPositions(ctx)
    while (this.next < this.plan.length) this.reduce(ctx, this.plan[this.next++]!)
    this.next = 0
  }

  private reduce(ctx: Ctx, bucket: Bucket): void {
    this.comm.allReduceSum(bucket.params.map((p) => ctx.grad(p.tensor)!))
  }

  private makePlan(ctx: Ctx): Bucket[] {
    const reached = this.params
      .map((p) => ({ p, at: ctx.lastContributionAt(p.tensor) }))
      .filter((e): e is { p: Param; at: number } => e.at !== undefined && ctx.grad(e.p.tensor) !== undefined)
    // Latest position first: the backward runs the tape from its end.
    reached.sort((a, b) => b.at - a.at || a.p.name.localeCompare(b.p.name))
    const plan: Bucket[] = []
    let bytes = 0
    for (const { p, at } of reached) {
      const size = p.tensor.size * 4
      const last = plan[plan.length - 1]
      if (last && bytes + size <= this.capBytes) {
        last.params.push(p)
        last.readyAt = at
        bytes += size
      } else {
        plan.push({ params: [p], readyAt: at })
        bytes = size
      }
    }
    return plan
  }

  /** Every step must finish each gradient where the first did (the same graph), or the ranks would disagree. */
  private checkPositions(ctx: Ctx): void {
    for (const bucket of this.plan!)
      for (const p of bucket.params)
        if (ctx.grad(p.tensor) === undefined)
          throw new Error(`data parallel: ${p.name} got no gradient this step, though it did on the first: the model's graph changed between steps`)
  }
}
