// Picks the backend a run asked for, or for 'auto' the best one that can run
// every op a model needs, and says which it picked and why.
import type { TrainSpec } from '../api/train-spec'
import { loadAddon } from './addon'
import { trainingOps } from './autograd/gradients'
import type { Backend } from './backend'
import { nativeBackend } from './native-backend'

/** Ops a training step uses: from the gradient table (autograd/gradients.ts). */
export const TRAINING_OPS: readonly string[] = trainingOps()

export interface BackendChoice {
  backend: Backend
  /** One line: what was picked and why. */
  reason: string
}

function missingOps(id: string, dtype: 'f32' | 'f64'): string[] {
  const table = loadAddon().opTable()
  return TRAINING_OPS.filter((name) => !(table.find((o) => o.name === name)?.kernels[id] ?? []).includes(dtype))
}

export function selectBackend(requested: TrainSpec['backend'], device: number, dtype: 'f32' | 'f64'): BackendChoice {
  const available = loadAddon().backends()
  const cudaId = `cuda:${device}`
  if (requested === 'webgpu') throw new Error("backend 'webgpu' is not built yet; valid now: cpu" + (available.includes(cudaId) ? ', cuda' : ''))
  if (requested === 'cuda') {
    if (!available.includes(cudaId)) throw new Error(`backend 'cuda' device ${device} is not available; available: ${available.join(', ')}`)
    const missing = missingOps(cudaId, dtype)
    if (missing.length) throw new Error(`backend ${cudaId} cannot train yet: it has no ${dtype} kernels for ${missing.join(', ')}`)
    return { backend: nativeBackend(cudaId), reason: `${cudaId} (asked for)` }
  }
  if (requested === 'auto' && available.includes(cudaId)) {
    const missing = missingOps(cudaId, dtype)
    if (!missing.length) return { backend: nativeBackend(cudaId), reason: `auto picked ${cudaId}: a CUDA device with every training op` }
    return { backend: nativeBackend('cpu'), reason: `auto picked cpu: ${cudaId} lacks ${missing.length} training ops (${missing.slice(0, 3).join(', ')}, ...)` }
  }
  return { backend: nativeBackend('cpu'), reason: requested === 'cpu' ? 'cpu (asked for)' : 'auto picked cpu: no CUDA device' }
}
