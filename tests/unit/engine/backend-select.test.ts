// Backend selection's choice and messages from a backend's answers per call,
// with a fake accepts (no addon): refusals counted, reasons listed once.
import { describe, expect, it } from 'vitest'
import { chooseBackend, describeRefusals, refusals, type AcceptsFn, type Refusal } from '../../../electron/engine/backend-select'
import type { TracedCall } from '../../../electron/engine/trace-ops'

const call = (op: string, T = 8): TracedCall => ({ op, inputs: { x: { shape: [2, T, 16], dtype: 'f64' } }, attrs: {}, outputs: [] })
const calls = [call('linear_fwd'), call('mixer_fwd'), call('mixer_fwd', 16), call('mixer_bwd'), call('norm_fwd'), call('adamw_step')]

/** cuda:0 takes no f64 mixer call; the CPU takes everything. */
const accepts: AcceptsFn = (id, c) => (id === 'cuda:0' && c.op.startsWith('mixer') ? `backend ${id} has no kernel for ${c.op} in f64` : null)

describe('describeRefusals', () => {
  const refused = (...reasons: string[]): Refusal[] => reasons.map((reason) => ({ call: call('x'), reason }))

  it('counts the calls and lists each reason once, the first three', () => {
    expect(describeRefusals(refused('a', 'a', 'b'), 10)).toBe("3 of the model's 10 op calls (a; b)")
    expect(describeRefusals(refused('a', 'b', 'c', 'd', 'e'), 9)).toBe("5 of the model's 9 op calls (a; b; c; and 2 more reasons)")
    expect(describeRefusals(refused('a', 'b'), 4, 1)).toBe("2 of the model's 4 op calls (a; and 1 more reason)")
  })

  it('refusals keeps the call order and the backend’s reason', () => {
    expect(refusals('cuda:0', calls, accepts).map((r) => [r.call.op, r.reason])).toEqual([
      ['mixer_fwd', 'backend cuda:0 has no kernel for mixer_fwd in f64'],
      ['mixer_fwd', 'backend cuda:0 has no kernel for mixer_fwd in f64'],
      ['mixer_bwd', 'backend cuda:0 has no kernel for mixer_bwd in f64'],
    ])
    expect(refusals('cpu', calls, accepts)).toEqual([])
  })
})

describe('chooseBackend', () => {
  const both = ['cpu', 'cuda:0']

  it("'cuda' refused: names the first reasons, the count and what is valid", () => {
    expect(() => chooseBackend('cuda', 0, both, calls, accepts)).toThrow(
      "backend cuda:0 cannot train this model: it refuses 3 of the model's 6 op calls " +
        "(backend cuda:0 has no kernel for mixer_fwd in f64; backend cuda:0 has no kernel for mixer_bwd in f64); use backend 'cpu' or 'auto'",
    )
    expect(() => chooseBackend('cuda', 1, both, calls, accepts)).toThrow("backend 'cuda' device 1 is not available; available: cpu, cuda:0")
  })

  it("'auto': the CUDA device when it accepts every call, else cpu naming the first refusal and the count", () => {
    expect(chooseBackend('auto', 0, both, calls, accepts)).toEqual({
      id: 'cpu',
      reason: "auto picked cpu: cuda:0 refuses 3 of the model's 6 op calls (backend cuda:0 has no kernel for mixer_fwd in f64; and 1 more reason)",
    })
    const linearOnly = calls.filter((c) => !c.op.startsWith('mixer'))
    expect(chooseBackend('auto', 0, both, linearOnly, accepts)).toEqual({
      id: 'cuda:0',
      reason: "auto picked cuda:0: it accepts all 3 of the model's op calls",
    })
    expect(chooseBackend('cuda', 0, both, linearOnly, accepts)).toEqual({ id: 'cuda:0', reason: 'cuda:0 (asked for)' })
    expect(chooseBackend('auto', 0, ['cpu'], calls, accepts)).toEqual({ id: 'cpu', reason: 'auto picked cpu: no CUDA device' })
  })

  it('a call the CPU refuses is an error on the CPU too', () => {
    const cpuRefuses: AcceptsFn = (id, c) => (c.op === 'norm_fwd' ? `backend ${id} has no kernel for norm_fwd in f64` : null)
    for (const requested of ['cpu', 'auto'] as const)
      expect(() => chooseBackend(requested, 0, ['cpu'], calls, cpuRefuses)).toThrow(
        "backend cpu cannot train this model: it refuses 1 of the model's 6 op calls (backend cpu has no kernel for norm_fwd in f64)",
      )
  })

  it("'webgpu': refused without an adapter; with one, taken only when it accepts every call", () => {
    expect(() => chooseBackend('webgpu', 0, both, calls, accepts)).toThrow(
      "backend 'webgpu' is not available: no WebGPU adapter was found; available: cpu, cuda:0",
    )
    const noMixer: AcceptsFn = (id, c) => (id === 'webgpu' && c.op.startsWith('mixer') ? `backend webgpu has no kernel for ${c.op}` : null)
    expect(() => chooseBackend('webgpu', 0, [...both, 'webgpu'], calls, noMixer)).toThrow(
      "backend webgpu cannot train this model: it refuses 3 of the model's 6 op calls " +
        "(backend webgpu has no kernel for mixer_fwd; backend webgpu has no kernel for mixer_bwd); use backend 'cpu' or 'auto'",
    )
    const linearOnly = calls.filter((c) => !c.op.startsWith('mixer'))
    expect(chooseBackend('webgpu', 0, ['cpu', 'webgpu'], linearOnly, noMixer)).toEqual({ id: 'webgpu', reason: 'webgpu (asked for)' })
  })

  it("'auto': CUDA, else a listed WebGPU adapter that takes every call, else the CPU, saying why", () => {
    const noMixer: AcceptsFn = (id, c) => (id === 'webgpu' && c.op.startsWith('mixer') ? `backend webgpu has no kernel for ${c.op}` : null)
    const linearOnly = calls.filter((c) => !c.op.startsWith('mixer'))
    expect(chooseBackend('auto', 0, ['cpu', 'webgpu'], linearOnly, noMixer)).toEqual({
      id: 'webgpu',
      reason: 'auto picked webgpu: no CUDA device, and the WebGPU adapter accepts all 3 op calls',
    })
    expect(chooseBackend('auto', 0, ['cpu', 'webgpu'], calls, noMixer)).toEqual({
      id: 'cpu',
      reason: "auto picked cpu: no CUDA device; webgpu refuses 3 of the model's 6 op calls (backend webgpu has no kernel for mixer_fwd; and 1 more reason)",
    })
    // CUDA first when it takes the model; WebGPU when CUDA refuses and it does not.
    expect(chooseBackend('auto', 0, [...both, 'webgpu'], linearOnly, noMixer).id).toBe('cuda:0')
    expect(chooseBackend('auto', 0, [...both, 'webgpu'], calls, accepts)).toEqual({
      id: 'webgpu',
      reason:
        "auto picked webgpu: cuda:0 refuses 3 of the model's 6 op calls (backend cuda:0 has no kernel for mixer_fwd in f64; and 1 more reason), " +
        'and the WebGPU adapter accepts all 6 op calls',
    })
  })
})
