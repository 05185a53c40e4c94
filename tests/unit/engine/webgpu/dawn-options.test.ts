import { describe, expect, it } from 'vitest'
import { withExactTimestamps } from '../../../../electron/engine/webgpu/device'

describe("Dawn's create() options", () => {
  it('turn timestamp rounding off, beside the features a caller disables', () => {
    expect(withExactTimestamps([])).toEqual(['disable-dawn-features=timestamp_quantization'])
    expect(withExactTimestamps(['backend=vulkan'])).toEqual(['backend=vulkan', 'disable-dawn-features=timestamp_quantization'])
    expect(withExactTimestamps(['disable-dawn-features=lazy_clear_resource_on_first_use', 'backend=vulkan'])).toEqual([
      'disable-dawn-features=lazy_clear_resource_on_first_use,timestamp_quantization',
      'backend=vulkan',
    ])
    const already = ['disable-dawn-features=timestamp_quantization,skip_validation']
    expect(withExactTimestamps(already)).toEqual(already)
  })
})
