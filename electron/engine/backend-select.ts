// Picks the backend a run asked for, or for 'auto' the best one that can run
// every op a model needs, and says which it picked and why.
import type { TrainSpec } from '../api/train-spec'
import { loadAddon } from './addon'
import type { Backend } from './backend'
import { nativeBackend } from './native-backend'

/** Ops a training step uses. */
export const TRAINING_OPS = [
  'mixer_fwd',
  'mixer_bwd',
  'softmax_attn_fwd',
  'softmax_attn_bwd',
  'feature_map_fwd',
  'feature_map_bwd',
  'short_conv_fwd',
  'short_conv_bwd',
  'embedding_fwd',
  'embedding_bwd',
  'norm_fwd',
  'norm_bwd',
  'linear_fwd',
  'linear_bwd',
  'swiglu_fwd',
  'swiglu_bwd',
  'rotary_fwd',
  'unary_fwd',
  'unary_bwd',
  'binary_fwd',
  'binary_bwd',
  'gather_rows',
  'scatter_add_rows',
  'cross_entropy_fwd',
  'cross_entropy_bwd',
  'sum_squares',
  'accumulate',
  'adamw_step',
]

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
