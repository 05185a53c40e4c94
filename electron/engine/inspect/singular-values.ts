// Singular values of a small dense matrix (a head's state, dk × dv) by
// one-sided Jacobi (Hestenes): rotate column pairs until all columns are
// orthogonal; the singular values are then the column norms. Accurate for
// small singular values too, which the effective rank depends on.

/** Singular values of the rows × cols row-major matrix `a`, largest first. */
export function singularValues(a: ArrayLike<number>, rows: number, cols: number): number[] {
  // Work on the orientation with fewer columns: n = min(rows, cols) columns of length m.
  const transpose = cols > rows
  const m = transpose ? cols : rows
  const n = transpose ? rows : cols
  const col: Float64Array[] = Array.from({ length: n }, (_, j) => {
    const c = new Float64Array(m)
    for (let i = 0; i < m; i++) c[i] = transpose ? a[j * cols + i]! : a[i * cols + j]!
    return c
  })
  const eps = 1e-15
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false
    for (let p = 0; p < n - 1; p++)
      for (let q = p + 1; q < n; q++) {
        const x = col[p]!
        const y = col[q]!
        let alpha = 0
        let beta = 0
        let gamma = 0
        for (let i = 0; i < m; i++) {
          alpha += x[i]! * x[i]!
          beta += y[i]! * y[i]!
          gamma += x[i]! * y[i]!
        }
        if (Math.abs(gamma) <= eps * Math.sqrt(alpha * beta) || gamma === 0) continue
        rotated = true
        const zeta = (beta - alpha) / (2 * gamma)
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta))
        const c = 1 / Math.sqrt(1 + t * t)
        const s = c * t
        for (let i = 0; i < m; i++) {
          const xi = x[i]!
          const yi = y[i]!
          x[i] = c * xi - s * yi
          y[i] = s * xi + c * yi
        }
      }
    if (!rotated) break
  }
  return col.map((c) => Math.hypot(...c)).sort((u, v) => v - u)
}

/** exp(entropy of σ / Σσ) (Roy and Vetterli's effective rank); 0 for the zero matrix. */
export function effectiveRank(singular: readonly number[]): number {
  const total = singular.reduce((s, x) => s + x, 0)
  if (!(total > 0)) return 0
  let h = 0
  for (const x of singular) if (x > 0) h -= (x / total) * Math.log(x / total)
  return Math.exp(h)
}
