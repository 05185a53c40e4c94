import { describe, expect, it } from 'vitest'
import { outputNormOption } from '../../../../renderer/src/charts/output-norm'

describe('outputNormOption', () => {
  it('plots one point per step with the run described in the subtitle', () => {
    const option = outputNormOption({
      backend: 'cpu',
      seqLen: 3,
      heads: 2,
      dk: 4,
      dv: 5,
      outputNorm: [0.5, 1.5, 2.5],
      finalStateNorm: [1, 2],
      elapsedMs: 1,
    }) as { series: { data: number[][] }[]; title: { subtext: string }; xAxis: { max: number } }
    expect(option.series[0]!.data).toEqual([
      [0, 0.5],
      [1, 1.5],
      [2, 2.5],
    ])
    expect(option.title.subtext).toBe('cpu, T = 3, H = 2, dk = 4, dv = 5')
    expect(option.xAxis.max).toBe(2)
  })
})
