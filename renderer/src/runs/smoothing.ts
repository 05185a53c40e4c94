// Exponential moving average of a noisy curve (a loss per step), debiased
// the way TensorBoard does it so the first points are not pulled to zero:
//   m_t = w m_{t-1} + (1 − w) y_t,   s_t = m_t / (1 − w^t)
// Non-finite values are passed through as they are and do not enter the
// average (a NaN step must not poison the rest of the curve).

/** weight in [0, 1): 0 returns the values unchanged, near 1 smooths hardest. */
export function emaSmooth(values: readonly number[], weight: number): number[] {
  if (!(weight >= 0 && weight < 1)) throw new RangeError(`smoothing weight ${weight} is not valid; valid: 0 <= weight < 1`)
  if (weight === 0) return [...values]
  const out: number[] = new Array(values.length)
  let m = 0
  let n = 0
  for (let i = 0; i < values.length; i++) {
    const y = values[i]!
    if (!Number.isFinite(y)) {
      out[i] = y
      continue
    }
    m = weight * m + (1 - weight) * y
    n++
    out[i] = m / (1 - weight ** n)
  }
  return out
}
