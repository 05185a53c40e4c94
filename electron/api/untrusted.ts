// A first look at anything a LabApi caller or a workspace file hands us,
// before any schema or code walks it: no key that reaches an object's
// prototype (__proto__, constructor, prototype), nesting no deeper than a
// spec ever is, and a bounded number of values. Iterative, so a document
// nested a million deep cannot overflow the stack here.

/** Keys that would walk into or replace an object's prototype when used as a property name. */
export const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype'])

export const UNTRUSTED_LIMITS = { maxDepth: 32, maxValues: 1_000_000 } as const

/** Why `value` is refused ("params.spec.__proto__: ..."), or undefined when it may be parsed further. */
export function untrustedProblem(value: unknown, where = 'params', limits: { maxDepth: number; maxValues: number } = UNTRUSTED_LIMITS): string | undefined {
  const stack: { v: unknown; path: string; depth: number }[] = [{ v: value, path: where, depth: 0 }]
  let seen = 0
  while (stack.length) {
    const { v, path, depth } = stack.pop()!
    if (++seen > limits.maxValues) return `${where} holds over ${limits.maxValues} values; no LabApi call needs that many`
    if (v === null || typeof v !== 'object') continue
    if (depth >= limits.maxDepth) return `${path} is nested over ${limits.maxDepth} levels deep; no LabApi call needs that`
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push({ v: v[i], path: `${path}[${i}]`, depth: depth + 1 })
      continue
    }
    for (const key of Object.keys(v)) {
      const child = `${path}.${key.length > 40 ? `${key.slice(0, 40)}…` : key}`
      if (PROTOTYPE_KEYS.has(key)) return `${child}: the key '${key}' is not allowed anywhere in a request`
      stack.push({ v: (v as Record<string, unknown>)[key], path: child, depth: depth + 1 })
    }
  }
  return undefined
}
