import { describe, expect, it } from 'vitest'
import { memoryInUse } from '../../../../renderer/src/engine/device-memory'

describe('memoryInUse', () => {
  it('total minus free, with its share; a dash when the free memory is unknown', () => {
    expect(memoryInUse({ memoryBytes: 8 * 2 ** 30, freeBytes: 6 * 2 ** 30 })).toBe('2.0 GiB (25%)')
    expect(memoryInUse({ memoryBytes: 8 * 2 ** 30 })).toBe('—')
    expect(memoryInUse({ memoryBytes: 0, freeBytes: 0 })).toBe('—')
    // free over total (a driver's rounding) reads as nothing in use, never negative
    expect(memoryInUse({ memoryBytes: 100, freeBytes: 120 })).toBe('0 B (0%)')
  })
})
