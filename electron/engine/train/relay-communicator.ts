// TEST DOUBLE. A Communicator whose sums go through the parent process:
// each rank sends its tensors' values to the parent, which adds the ranks'
// values in rank order and sends the sums back (tests/helpers/relay-allreduce.ts).
// It exists so the data-parallel logic (slicing, loss normalization,
// buckets, agreement on stopping) runs in CI on CPU engines without NCCL;
// it copies every gradient through the host and is never the product's
// transport (the job runner uses NCCL, nccl-communicator.ts).
import type { Backend } from '../backend'
import type { Tensor } from '../tensor'
import type { Communicator } from './data-parallel'

/** One exchange: the values of this rank, then the sums over the ranks (same layout). */
export type RelayExchange = (seq: number, values: Float64Array[]) => Promise<Float64Array[]>

export class RelayCommunicator implements Communicator {
  readonly transport = 'relay through the parent process (test double)'
  private pending: Tensor[][] = []
  private seq = 0

  constructor(
    readonly rank: number,
    readonly world: number,
    private readonly backend: Backend,
    private readonly exchange: RelayExchange,
  ) {}

  allReduceSum(tensors: Tensor[]): void {
    this.pending.push(tensors)
  }

  async flush(): Promise<void> {
    const buckets = this.pending
    this.pending = []
    for (const tensors of buckets) {
      const values = await Promise.all(tensors.map(async (t) => Float64Array.from(await this.backend.read(t))))
      const sums = await this.exchange(this.seq++, values)
      tensors.forEach((t, n) => {
        const host = t.dtype === 'f64' ? sums[n]! : Float32Array.from(sums[n]!)
        this.backend.write(t, host)
      })
    }
  }

  async allReduceHost(values: Float64Array): Promise<Float64Array> {
    return (await this.exchange(this.seq++, [values]))[0]!
  }

  dispose(): void {
    this.pending = []
  }
}
