import { describe, expect, it } from 'vitest'
import { subgroupMatrixOptions, withExactTimestamps } from '../../../../electron/engine/webgpu/device'

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

describe('the subgroup matrices, asked for unless LINEA_WEBGPU_SUBGROUP_MATRIX=0', () => {
  it('allow unsafe APIs and f16 on NVIDIA beside the toggles a caller enables, once each', () => {
    expect(subgroupMatrixOptions(['backend=vulkan'], false)).toEqual(['backend=vulkan'])
    expect(subgroupMatrixOptions(['backend=vulkan'], true)).toEqual(['backend=vulkan', 'enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia'])
    expect(subgroupMatrixOptions(['enable-dawn-features=allow_unsafe_apis,dump_shaders'], true)).toEqual([
      'enable-dawn-features=allow_unsafe_apis,dump_shaders,vulkan_enable_f16_on_nvidia',
    ])
  })
})
