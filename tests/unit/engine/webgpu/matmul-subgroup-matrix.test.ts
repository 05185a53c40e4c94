// The subgroup-matrix product's generator (kernels/matmul_subgroup_matrix.ts). No adapter here
// has subgroup matrices (lavapipe offers none), so the kernel itself runs on the GPU box
// (webgpu-f16.test.ts, and the lab's probe); these check
// which products it takes and what the WGSL asks of the device.
import { describe, expect, it } from 'vitest'
import { subgroupMatrixKernel, subgroupMatrixLayout } from '../../../../electron/engine/webgpu/kernels/matmul_subgroup_matrix'

const fragment = { fm: 16, fn: 16, fk: 16 }
const staged = { tileRows: 128, tileCols: 128, sgRows: 4, sgCols: 2, depth: 32, subgroupSize: 32, pad: 8 }

describe('the subgroup-matrix product', () => {
  it("takes the linear layers' three products, and refuses operands it cannot stage in whole words", () => {
    const [N, K, M] = [70, 34, 66]
    // y = x W, dx = dy W^T, dw = x^T dy (ops.ts linear_fwd / linear_bwd).
    expect(subgroupMatrixLayout({ n: N, p: M, q: K, sa0: K, sa1: 1, sb0: M, sb1: 1 })).toEqual({ aRowMajor: true, bRowMajor: true })
    expect(subgroupMatrixLayout({ n: N, p: K, q: M, sa0: M, sa1: 1, sb0: 1, sb1: M })).toEqual({ aRowMajor: true, bRowMajor: false })
    expect(subgroupMatrixLayout({ n: K, p: M, q: N, sa0: 1, sa1: K, sb0: M, sb1: 1 })).toEqual({ aRowMajor: false, bRowMajor: true })
    // An odd row length puts a word across two rows; neither stride 1: no contiguous axis.
    expect(subgroupMatrixLayout({ n: N, p: M, q: 33, sa0: 33, sa1: 1, sb0: M, sb1: 1 })).toBeUndefined()
    expect(subgroupMatrixLayout({ n: N, p: M, q: K, sa0: 2 * K, sa1: 2, sb0: M, sb1: 1 })).toBeUndefined()
  })

  it('sizes the workgroup in whole subgroups and stages with the padded stride the loads read', () => {
    const k = subgroupMatrixKernel(fragment, staged, { aRowMajor: false, bRowMajor: true }, true, true)
    expect(k.code).toContain('@compute @workgroup_size(256)')
    expect(k.code).toMatch(/^enable f16;\nenable subgroups;\nenable chromium_experimental_subgroup_matrix;/)
    // A column-major: staged [depth][128 + 8], loaded column-major with that stride.
    expect(k.code).toContain('var<workgroup> tile_a: array<f16, 4352>;')
    expect(k.code).toMatch(/subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>\(&tile_a, [^;]*, true, 136u\)/)
    // B row-major: [depth][128 + 8], loaded row-major.
    expect(k.code).toMatch(/subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>\(&tile_b, [^;]*, false, 136u\)/)
    // Each subgroup 32 x 64 of C: 2 x 4 fragments, two steps of 16 per stage: 16 multiply-adds.
    expect(k.code.match(/subgroupMatrixMultiplyAccumulate/g)).toHaveLength(16)
    expect(k.code.match(/subgroupMatrixStore/g)).toHaveLength(8)
  })

  it('loads straight from the operands when asked, with no staged tiles, through their strides', () => {
    const k = subgroupMatrixKernel(
      fragment,
      { ...staged, tileRows: 64, sgRows: 2, sgCols: 2, pad: 0, direct: true },
      { aRowMajor: true, bRowMajor: false },
      false,
      false,
    )
    expect(k.code).not.toContain('tile_a')
    expect(k.code).toContain('var<storage, read> a16: array<f16>;')
    expect(k.code).toMatch(/subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>\(&a16, [^;]*\* P\.sa0 \+ k0 [^;]*, false, P\.sa0\)/)
    expect(k.code).toMatch(/subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>\(&b16, [^;]*\* P\.sb1 \+ k0 [^;]*, true, P\.sb1\)/)
    // f32 C (a split's partial sums): written as f32, no bias binding.
    expect(k.code).toContain('var<storage, read_write> c: array<f32>;')
    expect(k.code).not.toContain('bias')
  })

  it('refuses a tiling its fragments do not divide', () => {
    expect(() => subgroupMatrixKernel(fragment, { ...staged, tileRows: 120 }, { aRowMajor: true, bRowMajor: true }, false, true)).toThrow(
      /does not fit fragments 16x16x16/,
    )
  })
})
