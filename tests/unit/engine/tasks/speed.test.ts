import { describe, expect, it } from 'vitest'
import { createTask } from '../../../../electron/engine/tasks'

describe('generation speed', () => {
  it('makes a 64 × 256 MQAR batch in well under 10 ms', () => {
    const g = createTask({ kind: 'mqar', seq_len: 256, num_kv_pairs: 16, power_a: 0.01, vocab_size: 8192 }, 1)
    for (let s = 0; s < 20; s++) g.trainBatch(s, 64) // warm up the JIT
    const times: number[] = []
    for (let s = 0; s < 50; s++) {
      const t0 = performance.now()
      g.trainBatch(100 + s, 64)
      times.push(performance.now() - t0)
    }
    times.sort((a, b) => a - b)
    const median = times[25]!
    console.log(`MQAR 64 × 256: median ${median.toFixed(3)} ms, max ${times[49]!.toFixed(3)} ms`)
    expect(median).toBeLessThan(5)
  })
})
