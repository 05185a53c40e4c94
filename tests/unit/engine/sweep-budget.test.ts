// The sweep stops before a length it could not finish within the budget:
// the next length's time is predicted from the slope seen so far.
import { describe, expect, it } from 'vitest'
import { predictSeconds } from '../../../electron/engine/profile/profiler'

describe('predicting the next sweep length', () => {
  it('knows nothing before the first length', () => {
    expect(predictSeconds([], 512)).toBeUndefined()
  })
  it('assumes quadratic growth after one length', () => {
    expect(predictSeconds([[512, 2]], 1024)).toBeCloseTo(8, 12)
  })
  it('follows the observed slope (linear, quadratic), never below linear', () => {
    expect(
      predictSeconds(
        [
          [512, 1],
          [1024, 2],
        ],
        4096,
      ),
    ).toBeCloseTo(8, 12)
    expect(
      predictSeconds(
        [
          [512, 1],
          [1024, 4],
        ],
        2048,
      ),
    ).toBeCloseTo(16, 12)
    // warm-up noise can make a longer length faster; still at least linear
    expect(
      predictSeconds(
        [
          [512, 2],
          [1024, 1.5],
        ],
        2048,
      ),
    ).toBeCloseTo(3, 12)
  })
})
