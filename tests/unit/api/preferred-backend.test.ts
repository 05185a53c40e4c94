// Template runs start on the preferred backend and device, unless the
// template, the person's overrides or a sweep chose them.
import { describe, expect, it } from 'vitest'
import { withPreferredBackend } from '../../../electron/api/preferences'

const template = (train: Record<string, unknown>, sweep: { path: string }[] = []) => ({ train, sweep })
const cuda1 = { defaultBackend: 'cuda' as const, device: 1, defaultPrecision: 'auto' as const }

describe('withPreferredBackend', () => {
  it("fills in the preference where the template leaves the backend to 'auto'", () => {
    expect(withPreferredBackend(template({ backend: 'auto', device: 0 }), { 'train.steps': 10 }, cuda1)).toEqual({
      'train.steps': 10,
      'train.backend': 'cuda',
      'train.device': 1,
    })
    expect(withPreferredBackend(template({}), {}, cuda1)).toEqual({ 'train.backend': 'cuda', 'train.device': 1 })
  })

  it('leaves a backend the template, an override or a sweep chose', () => {
    expect(withPreferredBackend(template({ backend: 'cpu' }), {}, cuda1)).toEqual({})
    expect(withPreferredBackend(template({ backend: 'auto' }), { 'train.backend': 'webgpu' }, cuda1)).toEqual({ 'train.backend': 'webgpu' })
    expect(withPreferredBackend(template({ backend: 'auto' }), { 'train.device': 2 }, cuda1)).toEqual({ 'train.device': 2 })
    expect(withPreferredBackend(template({ backend: 'auto' }, [{ path: 'train.backend' }]), {}, cuda1)).toEqual({})
  })

  it('adds nothing when the preferences are the defaults', () => {
    const overrides = { 'train.steps': 5 }
    expect(withPreferredBackend(template({ backend: 'auto' }), overrides, { defaultBackend: 'auto', device: 0, defaultPrecision: 'auto' })).toBe(overrides)
  })

  it("fills in the preferred precision where the template leaves it to 'auto', unless pinned", () => {
    const f32 = { defaultBackend: 'auto' as const, device: 0, defaultPrecision: 'f32' as const }
    expect(withPreferredBackend(template({ precision: 'auto' }), {}, f32)).toEqual({ 'train.precision': 'f32' })
    expect(withPreferredBackend(template({}), {}, f32)).toEqual({ 'train.precision': 'f32' })
    expect(withPreferredBackend(template({ precision: 'f64' }), {}, f32)).toEqual({})
    expect(withPreferredBackend(template({ precision: 'auto' }), { 'train.precision': 'bf16' }, f32)).toEqual({ 'train.precision': 'bf16' })
    expect(withPreferredBackend(template({ precision: 'auto' }), {}, cuda1)).toEqual({ 'train.backend': 'cuda', 'train.device': 1 })
  })
})
