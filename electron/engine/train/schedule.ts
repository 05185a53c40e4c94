// The learning-rate schedule: linear warmup from 0, then cosine, linear or
// constant decay to min_lr_ratio · lr at the last step.
import type { TrainSpec } from '../../api/train-spec'

/** Learning rate at a 0-based step. */
export function learningRate(spec: Pick<TrainSpec, 'steps' | 'schedule' | 'optimizer'>, step: number): number {
  const { lr } = spec.optimizer
  const { warmup_steps: warmup, decay, min_lr_ratio: minRatio } = spec.schedule
  if (warmup > 0 && step < warmup) return (lr * (step + 1)) / warmup
  if (decay === 'constant') return lr
  const span = Math.max(1, spec.steps - warmup)
  const progress = Math.min(1, Math.max(0, (step - warmup) / span))
  const factor = decay === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * progress)) : 1 - progress
  return lr * (minRatio + (1 - minRatio) * factor)
}
