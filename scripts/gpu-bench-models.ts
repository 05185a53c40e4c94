// The ~350M models of the GPU training benchmarks (issue 16's throughput,
// issue 21's scaling over GPUs): a GLA + softmax hybrid (1 softmax layer in
// 4, as the preset places it) and a Gated DeltaNet, both d_model 1024, 20
// layers, 8 heads, vocabulary 32000, trained on MQAR at length `seqLen` in
// mixed precision with a constant learning rate.
import type { ModelSpec } from '../electron/api/model-spec'
import { preset } from '../electron/api/presets'
import { resizeModel } from '../electron/api/resize'
import type { TrainSpec } from '../electron/api/train-spec'

export const MODELS = [
  { name: 'hybrid-gla-350m', preset: 'hybrid-gla' },
  { name: 'gated-deltanet-350m', preset: 'gated-deltanet' },
] as const

export function benchModel(presetId: string): ModelSpec {
  return resizeModel(preset(presetId), { d_model: 1024, n_layers: 20, vocab_size: 32000, heads: 8 })
}

export function benchTrain(steps: number, batchSize: number, seqLen: number): TrainSpec {
  return {
    format: 'linea.train/1',
    task: { kind: 'mqar', seq_len: seqLen, num_kv_pairs: Math.min(64, Math.floor(seqLen / 4)), power_a: 0.01, vocab_size: 8192 },
    steps,
    batch_size: batchSize,
    optimizer: { kind: 'adamw', lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1, grad_clip: 1 },
    schedule: { warmup_steps: 1, decay: 'constant', min_lr_ratio: 1 },
    seed: 0,
    backend: 'cuda',
    device: 0,
    precision: 'bf16',
    eval: { every: steps, batches: 1 },
    early_stop_accuracy: null,
    checkpoint_every: 0,
  }
}
