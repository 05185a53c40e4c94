// The first look at every request: prototype keys, depth and size are
// refused before any schema or handler walks the value.
import { describe, expect, it } from 'vitest'
import { untrustedProblem } from '../../../electron/api/untrusted'

describe('untrustedProblem', () => {
  it('passes ordinary requests', () => {
    expect(untrustedProblem({ id: 'run-1', overrides: { 'train.steps': 5 }, spec: { layers: [{ heads: 2 }] } })).toBeUndefined()
    expect(untrustedProblem(undefined)).toBeUndefined()
    expect(untrustedProblem(null)).toBeUndefined()
  })

  it('refuses a prototype key anywhere, naming where', () => {
    // JSON.parse makes __proto__ an own key, as a request body would.
    expect(untrustedProblem(JSON.parse('{"spec":{"layers":[{"__proto__":{"x":1}}]}}'))).toBe(
      "params.spec.layers[0].__proto__: the key '__proto__' is not allowed anywhere in a request",
    )
    expect(untrustedProblem({ a: { constructor: { prototype: {} } } })).toMatch(/params\.a\.constructor: the key 'constructor'/)
    expect(untrustedProblem([{ prototype: 1 }])).toMatch(/params\[0\]\.prototype/)
  })

  it('refuses nesting deeper than any spec without overflowing the stack', () => {
    let deep: unknown = 1
    for (let i = 0; i < 200_000; i++) deep = [deep]
    expect(untrustedProblem({ spec: deep })).toMatch(/^params\.spec(\[0\])+ is nested over 32 levels deep/)
    const deepText = '['.repeat(100_000) + ']'.repeat(100_000)
    expect(untrustedProblem(JSON.parse(deepText))).toMatch(/nested over 32 levels/)
  })

  it('refuses more values than a call needs', () => {
    expect(untrustedProblem({ a: new Array(2_000_001).fill(0) })).toMatch(/holds over 1000000 values/)
  })
})
