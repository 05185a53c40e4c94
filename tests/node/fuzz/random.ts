// Random values of the shapes the LabApi fuzz sends, drawn from the
// fuzzers' seeded PRNG (tests/fixtures/random.ts).
import type { FuzzRng } from '../../fixtures/random'

/** Keys that reach an object's prototype when a walker follows them. */
export const PROTO_KEYS = ['__proto__', 'constructor', 'prototype'] as const

/** Sets an own, enumerable property, even '__proto__' (plain assignment would set the prototype instead). */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
}

/** What JSON makes of a value: the copy a server sees (own '__proto__' keys stay own keys). */
export function jsonCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T
}

const NUMBERS = [
  0,
  -0,
  -1,
  1,
  0.5,
  -0.5,
  1e-320,
  2 ** 31,
  -(2 ** 31),
  2 ** 32,
  2 ** 53 + 1,
  -(2 ** 53),
  1e21,
  1e308,
  -1e308,
  Number.MAX_SAFE_INTEGER,
  1 << 24,
  (1 << 24) + 1,
  65537,
]
const STRINGS = [
  '',
  ' ',
  'x',
  'NaN',
  'Infinity',
  '-Infinity',
  '1e999',
  'null',
  'undefined',
  'true',
  '0',
  '-1',
  '../..',
  '../../etc/passwd',
  '/etc/passwd',
  'C:\\Windows',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff\ud800',
  '\u202e',
  '%00',
  '%',
  '%zz',
  '${x}',
  '{{x}}',
  '<script>alert(1)</script>',
  'a'.repeat(201),
  'é',
  '🦀',
  'constructor',
  '__proto__',
  'prototype',
  'toString',
  'hasOwnProperty',
]

/** A huge string: 10k to 1M characters. */
export function hugeString(rng: FuzzRng): string {
  return rng.pick(['a', 'é', '\\', '"', '🦀', '%', '\u0000']).repeat(rng.pick([10_000, 100_000, 1_000_000]))
}

export function randomString(rng: FuzzRng): string {
  const r = rng.uniform()
  if (r < 0.5) return rng.pick(STRINGS)
  if (r < 0.9) {
    let s = ''
    const n = rng.int(40)
    for (let i = 0; i < n; i++) s += String.fromCharCode(rng.chance(0.8) ? 32 + rng.int(95) : rng.int(0x10000))
    return s
  }
  return hugeString(rng)
}

/** Nested `depth` deep in arrays or objects. */
export function deep(rng: FuzzRng, depth: number, leaf: unknown = 1): unknown {
  let v = leaf
  const asArray = rng.chance(0.5)
  for (let i = 0; i < depth; i++) v = asArray ? [v] : { a: v }
  return v
}

/** Any JSON value, shallow unless it draws the deep or huge ones. */
export function randomValue(rng: FuzzRng, depth = 0): unknown {
  const r = rng.int(14)
  switch (r) {
    case 0:
      return null
    case 1:
      return rng.chance(0.5)
    case 2:
    case 3:
      return rng.pick(NUMBERS)
    case 4:
    case 5:
      return randomString(rng)
    case 6:
      return depth > 3 ? [] : Array.from({ length: rng.int(4) }, () => randomValue(rng, depth + 1))
    case 7: {
      if (depth > 3) return {}
      const o: Record<string, unknown> = {}
      for (let i = rng.int(4); i > 0; i--) setOwn(o, rng.chance(0.2) ? rng.pick(PROTO_KEYS) : randomString(rng).slice(0, 20), randomValue(rng, depth + 1))
      return o
    }
    case 8:
      return deep(rng, rng.pick([31, 32, 33, 100, 1000]))
    case 9:
      return Array.from({ length: rng.pick([1000, 100_000]) }, (_, i) => i)
    case 10: {
      const o: Record<string, unknown> = {}
      for (let i = 0; i < 5000; i++) o[`k${i}`] = i
      return o
    }
    case 11:
      return { polluted: 1, NODE_OPTIONS: '--eval 1' }
    case 12:
      return hugeString(rng)
    default:
      return rng.int(1000) - 500
  }
}
