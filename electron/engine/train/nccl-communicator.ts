// The product's data-parallel transport: NCCL through the native addon
// (native/src/cuda/nccl_collective.cu, built only where NCCL is found). The
// sums run on a communication stream of each GPU: a bucket's all-reduce
// waits for the work that produced its gradients and overlaps the rest of
// the backward; flush makes the compute stream wait for every sum so far.
import { loadAddon, type NativeCollective } from '../addon'
import type { Backend } from '../backend'
import { nativeTensorOf } from '../native-backend'
import type { ParallelParams } from '../protocol'
import type { Tensor } from '../tensor'
import type { Communicator } from './data-parallel'

class NcclCommunicator implements Communicator {
  readonly transport = 'nccl'

  constructor(
    readonly rank: number,
    readonly world: number,
    private readonly backend: Backend,
    private readonly collective: NativeCollective,
  ) {}

  allReduceSum(tensors: Tensor[]): void {
    this.collective.allReduceSum(tensors.map(nativeTensorOf))
  }

  flush(): Promise<void> {
    this.collective.wait()
    return Promise.resolve()
  }

  async allReduceHost(values: Float64Array): Promise<Float64Array> {
    const t = this.backend.upload(Float32Array.from(values), [values.length])
    try {
      this.allReduceSum([t])
      await this.flush()
      return Float64Array.from(await this.backend.read(t))
    } finally {
      t.dispose()
    }
  }

  dispose(): void {
    this.collective.destroy()
  }
}

/**
 * This rank's NCCL communicator on `backend` (a cuda:N backend). Rank 0
 * creates the run's id and hands it to `announce` (the parent passes it to
 * the other ranks) before joining; the others join with `p.ncclId`.
 * ncclCommInitRank returns once every rank has joined.
 */
export function ncclCommunicator(p: ParallelParams, backend: Backend, announce: (id: Uint8Array) => void): Communicator {
  const addon = loadAddon()
  if (!addon.ncclAvailable?.() || !addon.ncclUniqueId || !addon.ncclCollective)
    throw new Error('data parallel over several GPUs needs NCCL, and this build of the native engine has none (it is built where nccl.h and libnccl are found)')
  if (backend.kind !== 'cuda') throw new Error(`data parallel with NCCL runs on CUDA devices; this rank's backend is ${backend.id}`)
  let id = p.ncclId
  if (p.rank === 0) {
    id = addon.ncclUniqueId()
    announce(id)
  }
  if (!id || id.length !== 128) throw new Error(`data parallel: rank ${p.rank} has no NCCL id of 128 bytes from rank 0`)
  return new NcclCommunicator(p.rank, p.world, backend, addon.ncclCollective(backend.id, id, p.world, p.rank))
}
