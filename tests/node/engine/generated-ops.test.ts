// The typed op wrappers (electron/engine/ops/generated.ts) are generated
// from the addon's op table: the checked-in file must be what the generator
// writes for this build's table, and the generator must refuse tables it
// cannot name consistently.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { loadAddon, type NativeOpDef } from '../../../electron/engine/addon'
import { featureMapKindChoices, opDefaults, opNames } from '../../../electron/engine/ops/generated'
import { generate, generatedPath } from '../../../scripts/gen-ops.mjs'

const table = loadAddon().opTable()

describe('generated op wrappers', () => {
  it('are current: the checked-in file is what the generator writes for the built op table', () => {
    const checkedIn = readFileSync(generatedPath, 'utf8')
    // A plain boolean first, so a stale file fails with the fix in the message, not a 1500-line diff.
    expect(checkedIn === generate(table), 'electron/engine/ops/generated.ts is out of date: run npm run gen:ops').toBe(true)
  })

  it('carry the table: op names, enum choices and defaults as the addon reports them', () => {
    expect([...opNames]).toEqual(table.map((op) => op.name))
    const featureMap = table.find((op) => op.name === 'feature_map_fwd')!
    expect([...featureMapKindChoices]).toEqual(featureMap.attrs.find((a) => a.name === 'kind')!.choices)
    for (const op of table) {
      const defaults = opDefaults[op.name as keyof typeof opDefaults] as Record<string, unknown>
      expect(defaults, op.name).toEqual(Object.fromEntries(op.attrs.map((a) => [a.name, a.default])))
    }
  })

  it('do not depend on which backends a build has', () => {
    const withCuda = table.map((op) => ({ ...op, kernels: { ...op.kernels, 'cuda:0': ['f32'] } }) as NativeOpDef)
    expect(generate(withCuda)).toBe(generate(table))
  })

  it('change when the table does', () => {
    const renamed = table.map((op) =>
      op.name === 'swiglu_fwd' ? { ...op, attrs: [...op.attrs, { name: 'limit', type: 'float', default: 7, min: 0, max: 10, doc: 'clamp' }] } : op,
    ) as NativeOpDef[]
    const text = generate(renamed)
    expect(text).toContain('  limit?: number\n')
    expect(text).toContain('swiglu_fwd: { limit: 7 },')
  })

  it('refuse a family whose forward and backward disagree on an enum', () => {
    const broken = table.map((op) =>
      op.name === 'unary_bwd' ? { ...op, attrs: op.attrs.map((a) => (a.name === 'kind' ? { ...a, choices: ['identity', 'silu'] } : a)) } : op,
    )
    expect(() => generate(broken)).toThrow("unary_bwd.kind: choices [identity,silu] differ from unary_fwd.kind's")
  })

  it('refuse an op name they cannot turn into an identifier', () => {
    expect(() => generate([...table, { ...table[0]!, name: 'Mixer-2' }])).toThrow("op name 'Mixer-2' is not snake_case")
  })
})
