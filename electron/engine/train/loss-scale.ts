// Dynamic loss scaling for f16 passes (precision 'f16'): f16's smallest
// normal value is 6.1e-5 (subnormals reach 6e-8), where many of a backward's
// gradients fall, so the loss's seed is multiplied by a scale S and every
// gradient comes out S times too large, clear of underflow. The optimizer
// divides by S again (adamw_step's grad_scale 1/S, its clip threshold times S),
// so the update is the unscaled one. A step whose gradients overflowed f16
// (their norm is not finite) is skipped on the device, as any non-finite step
// is, and halves S; after GROWTH_INTERVAL clean steps in a row S doubles.
// The policy of PyTorch's GradScaler, with its defaults (2^16, x2 / x0.5, 2000).
//
// Steps overlap on the device: a step enqueued before the previous one has been
// read uses the scale of its time; if that step overflowed too, it is skipped
// and halves S again, so the scale comes down one halving per overflowed step
// (from 2^16 a run whose gradients reach 100 takes 10 skipped steps), at worst
// one halving lower than it had to for a while.
//
// Why the gradients overflow at all: an op computes in f32 but stores its
// outputs in f16, weight gradients included (a sum over every token of the
// batch: a small Gated DeltaNet's overflowed f16 at 2^12 on lavapipe, not at 2^8).

export const INITIAL_SCALE = 2 ** 16
export const GROWTH_INTERVAL = 2000
/** Below this the scale cannot be what is wrong: the gradients are not finite at any scale. */
export const MIN_SCALE = 2 ** -14

export class LossScaler {
  private clean = 0
  /** Steps skipped because their gradients overflowed. */
  skipped = 0

  constructor(
    public scale = INITIAL_SCALE,
    private readonly growthInterval = GROWTH_INTERVAL,
  ) {}

  /**
   * Takes a finished step's gradient norm as read (of the scaled gradients). Returns false when
   * the step overflowed (it was skipped and the scale halved); throws once the scale falls below
   * MIN_SCALE, since then the gradients are not finite at any scale (the run diverged).
   */
  update(scaledNorm: number): boolean {
    if (Number.isFinite(scaledNorm)) {
      this.clean += 1
      if (this.clean >= this.growthInterval) {
        this.scale *= 2
        this.clean = 0
      }
      return true
    }
    this.skipped += 1
    this.clean = 0
    this.scale /= 2
    if (this.scale < MIN_SCALE) throw new Error(`the loss scale fell below ${MIN_SCALE}: the gradients are not finite at any scale`)
    return false
  }
}
