// The four one-line answers on the report's first page and the Profile
// screen, from a recorded profile with figures set so the answers are known.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { ProfileResult, SweepSeries } from '../../../electron/api/profile'
import { profileAnswers } from '../../../electron/api/profile-summary'
import { buildReportHtml } from '../../../electron/reports/report-html'

const recorded = JSON.parse(readFileSync(join(__dirname, '../../fixtures/profile-gla-hybrid.json'), 'utf8')) as ProfileResult

const series = (name: string, ms: number[], slope: number | null, stopped?: string): SweepSeries => ({
  name,
  points: ms.map((t, i) => ({ seqLen: 512 << i, trainStepMs: t, prefillMs: t / 3, decodeMsPerToken: 1, peakBytes: 1 << 20 })),
  slopes: { trainStep: slope, prefill: slope },
  ...(stopped && { stopped }),
})

function known(): ProfileResult {
  return {
    ...recorded,
    step: { forwardMs: 30, backwardMs: 60, optimizerMs: 10, totalMs: 100, tokensPerSecond: 2048 },
    ceilings: { ...recorded.ceilings, flopsPerSecond: 100e9, bandwidthBytesPerSecond: 10e9 },
    ops: [
      // 1 FLOP/byte: memory-bound, 10 GB/s of 10 -> 100% for 10 ms
      { scope: 'layer 0', phase: 'forward', op: 'mixer_fwd', calls: 1, ms: 10, flops: 0.1e9, bytes: 0.1e9 },
      // 100 FLOP/byte: compute-bound, 50 GFLOP/s of 100 -> 50% for 30 ms
      { scope: 'layer 1', phase: 'backward', op: 'matmul', calls: 2, ms: 30, flops: 1.5e9, bytes: 0.015e9 },
    ],
    memory: { parameters: 4 << 20, gradients: 4 << 20, optimizerState: 8 << 20, activations: 16 << 20, workspace: 0, recurrentState: 1 << 20, peak: 40 << 20 },
    sweep: { model: series('GLA', [10, 20, 40], 1.0), transformer: series('Transformer', [10, 40], 2.0, 'stopped before T=2048: the time budget ran out') },
  }
}

describe('profile answers', () => {
  const a = profileAnswers(known())

  it('says where the time goes: phases, the largest part and op', () => {
    expect(a.time).toContain('100 ms (forward 30%, backward 60%, optimizer 10%), 2,050 tokens/s')
    expect(a.time).toContain('the largest part is layer 1 (75% of op time), the largest op matmul (75%)')
  })

  it('says where the memory goes: the peak and the largest category', () => {
    expect(a.memory).toContain('Peak 40.0 MiB')
    expect(a.memory).toContain('activations saved for backward, 16.0 MiB (50% of what a step holds)')
  })

  it('says how it scales, compares at the longest common length, and names where a sweep stopped', () => {
    expect(a.scaling).toContain('GLA grows as T^1.00, Transformer grows as T^2.00')
    expect(a.scaling).toContain('at T=1024 a training step is 2× faster than the Transformer')
    expect(a.scaling).toContain('Transformer: stopped before T=2048')
  })

  it('says how close to the hardware, weighted by time', () => {
    // (1.0 * 10 + 0.5 * 30) / 40 = 62.5%, shown to 2 digits
    expect(a.hardware).toContain('ops reach 63% of their roofline ceiling')
    expect(a.hardware).toContain('the heaviest, matmul in layer 1 (backward), is compute-bound at 50%')
  })

  it('opens the report', () => {
    const html = buildReportHtml(known())
    const inShort = html.indexOf('<h2>In short</h2>')
    expect(inShort).toBeGreaterThan(0)
    expect(inShort).toBeLessThan(html.indexOf('<h2>Machine and versions</h2>'))
    for (const answer of Object.values(a)) expect(html).toContain(answer.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'))
  })
})
