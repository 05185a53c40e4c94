// Axis tick labels that read at a glance on log axes: 1 KiB, 512 KiB, 1 MiB;
// 100 µs, 1 ms, 1 s; 10 GFLOP/s. Pure; the profile charts (screen and report) use them.

/** Up to 3 significant digits, no trailing zeros, no exponent: 1, 1.5, 512, 0.25. */
export function trimNumber(x: number): string {
  if (!Number.isFinite(x)) return '–'
  if (x === 0) return '0'
  return String(Number(x.toPrecision(3)))
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

/** Bytes on a binary scale: 1024 -> "1 KiB", 524288 -> "512 KiB", 1.5 * 2^20 -> "1.5 MiB". */
export function formatBytesTick(bytes: number): string {
  if (!Number.isFinite(bytes)) return '–'
  let v = bytes
  let i = 0
  while (Math.abs(v) >= 1024 && i < BYTE_UNITS.length - 1) {
    v /= 1024
    i++
  }
  return `${trimNumber(v)} ${BYTE_UNITS[i]}`
}

/** A duration given in milliseconds: 0.1 -> "100 µs", 1 -> "1 ms", 2500 -> "2.5 s". */
export function formatMsTick(ms: number): string {
  if (!Number.isFinite(ms)) return '–'
  const a = Math.abs(ms)
  if (a === 0) return '0 ms'
  if (a >= 1000) return `${trimNumber(ms / 1000)} s`
  if (a >= 1) return `${trimNumber(ms)} ms`
  if (a >= 1e-3) return `${trimNumber(ms * 1000)} µs`
  return `${trimNumber(ms * 1e6)} ns`
}

const SI = [
  [1e15, 'P'],
  [1e12, 'T'],
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
] as const

/** A decimal quantity with an SI prefix: (2e10, 'FLOP/s') -> "20 GFLOP/s", (0.01, '') -> "0.01". */
export function formatSiTick(x: number, unit = ''): string {
  if (!Number.isFinite(x)) return '–'
  for (const [scale, prefix] of SI) if (Math.abs(x) >= scale) return `${trimNumber(x / scale)} ${prefix}${unit}`.trimEnd()
  return `${trimNumber(x)}${unit ? ` ${unit}` : ''}`
}
