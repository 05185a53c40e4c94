// IEEE binary16 (f16) bit patterns on the host: the same rounding as the
// addon's f16_from_float (native/src/core/tensor.cpp) and the WebGPU kernels'
// (webgpu/kernels/cast16.ts): to nearest, ties to even; past 65504 to
// infinity; below 2^-14 to subnormals; NaN stays NaN.

const word = new DataView(new ArrayBuffer(4))

/** The f16 bit pattern nearest to x (x is taken as an f32 first). */
export function f16FromFloat(x: number): number {
  word.setFloat32(0, x, true)
  const bits = word.getUint32(0, true)
  const sign = (bits >>> 16) & 0x8000
  const mag = bits & 0x7fffffff
  if (mag > 0x7f800000) return sign | 0x7e00 // NaN: quiet
  if (mag >= 0x477ff000) return sign | 0x7c00 // 65520 and up round to infinity
  if (mag < 0x38800000) {
    // Below 2^-14: a subnormal in units of 2^-24 (the scaling is exact), ties to even.
    word.setUint32(0, mag, true)
    return sign | roundHalfEven(word.getFloat32(0, true) * 16777216)
  }
  let r = mag - 0x38000000 // exponent rebiased 127 -> 15
  r += 0x0fff + ((r >>> 13) & 1) // the 13 dropped bits rounded to nearest, ties to even
  return sign | (r >>> 13)
}

/** The value of an f16 bit pattern (exact). */
export function f16ToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1
  const exponent = (h >>> 10) & 0x1f
  const mantissa = h & 0x3ff
  if (exponent === 0) return sign * mantissa * 2 ** -24
  if (exponent === 31) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY
  return sign * (1024 + mantissa) * 2 ** (exponent - 25)
}

function roundHalfEven(x: number): number {
  const floor = Math.floor(x)
  const rest = x - floor
  return rest > 0.5 || (rest === 0.5 && floor % 2 === 1) ? floor + 1 : floor
}

/** Values as f16 patterns, two to a 32-bit word (element 2i in the low half), the last word's high half 0 when n is odd. */
export function packF16(values: ArrayLike<number>): Uint32Array {
  const out = new Uint32Array(Math.ceil(values.length / 2))
  for (let i = 0; i < values.length; i++) out[i >>> 1]! |= f16FromFloat(values[i]!) << (16 * (i & 1))
  return out
}

/** The first n f16 values of packed words, widened. */
export function unpackF16(words: Uint32Array, n: number): Float32Array {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = f16ToFloat((words[i >>> 1]! >>> (16 * (i & 1))) & 0xffff)
  return out
}
