// matmul on subgroup matrices (Dawn's chromium-experimental-subgroup-matrix: NVIDIA's
// cooperative matrices through Vulkan, Apple's simdgroup matrices through Metal): the same
// product as kernels/matmul.ts, C (n, p) = A (n, q) B (q, p) [+ bias], read through the same
// strides, for f16 operands (precision f16: two values to a 32-bit word) with f32 sums.
//
//   A(i, r) = a[i * sa0 + r * sa1]      B(r, j) = b[r * sb0 + j * sb1]
//
// A workgroup of sgRows x sgCols subgroups owns a tileRows x tileCols block of C. Each step
// stages depth columns of A's block and depth rows of B's in workgroup memory as f16, copying
// whole 32-bit words along whichever axis the operand is contiguous in (so the staged tile is
// row- or column-major as the operand is, and the matrix loads say which); past n, p or q the
// stage holds zeros, so any shape works as long as each operand's contiguous extent is even
// (a word never straddles the edge). Each subgroup multiplies its fragments (the adapter's
// config: fm x fk times fk x fn into fm x fn, f32 result) from the stage. At the end each
// fragment goes through workgroup memory to the subgroup's invocations, which add the bias
// and write C as f16 pairs (the CPU's rounding, cast16.ts), or f32 for split partial sums.
// Sums are f32, but in the matrix unit's order: not bit-equal to the portable kernel.
import { paramsWgsl, type Kernel } from '../driver'
import { F16_BITS_WGSL } from './cast16'
import { MATMUL_PARAMS as params } from './matmul'

/** A subgroup-matrix shape the adapter offers (GPUSubgroupMatrixConfig): left fm x fk, right fk x fn, f16 in, f32 out. */
export interface FragmentShape {
  fm: number
  fn: number
  fk: number
}

/** The block of C a workgroup owns and how it is cut among subgroups. */
export interface SubgroupMatrixTiling {
  tileRows: number
  tileCols: number
  sgRows: number
  sgCols: number
  /** Columns of A (rows of B) staged per step: a multiple of fk, even. */
  depth: number
  /** The adapter's largest subgroup: invocations per subgroup the workgroup size is counted in. */
  subgroupSize: number
  /** Extra f16 per staged row, against workgroup-memory bank conflicts. */
  pad: number
  /**
   * Load the fragments straight from the operands (viewed as f16 arrays) instead of staging
   * them in workgroup memory: only for products whose n, p and q are whole tiles (tileRows,
   * tileCols, depth), since a fragment load cannot stop at an edge.
   */
  direct?: boolean
}

/** Which axis each operand is contiguous along, and so how it is staged. */
export interface SubgroupMatrixLayout {
  /** A's rows are contiguous (sa1 = 1): staged row-major; else its columns (sa0 = 1): column-major. */
  aRowMajor: boolean
  /** B's rows are contiguous (sb1 = 1): staged row-major; else its columns (sb0 = 1). */
  bRowMajor: boolean
}

/** Whether a product's strides fit this kernel: each operand contiguous along one axis, its extents there even, word-aligned. */
export function subgroupMatrixLayout(s: {
  n: number
  p: number
  q: number
  sa0: number
  sa1: number
  sb0: number
  sb1: number
}): SubgroupMatrixLayout | undefined {
  const even = (v: number) => v % 2 === 0
  // A row-major: words along r, rows start at i * sa0 (sa0 and q even); column-major: words along i.
  const aRowMajor = s.sa1 === 1 && even(s.sa0) && even(s.q)
  const aColMajor = s.sa0 === 1 && even(s.sa1) && even(s.n)
  const bRowMajor = s.sb1 === 1 && even(s.sb0) && even(s.p)
  const bColMajor = s.sb0 === 1 && even(s.sb1) && even(s.q)
  if (!(aRowMajor || aColMajor) || !(bRowMajor || bColMajor)) return undefined
  return { aRowMajor, bRowMajor }
}

function generate(f: FragmentShape, t: SubgroupMatrixTiling, layout: SubgroupMatrixLayout, hasBias: boolean, halfOutput: boolean): Kernel {
  const { fm, fn, fk } = f
  const { tileRows: TM, tileCols: TN, sgRows, sgCols, depth: D, subgroupSize, pad } = t
  const subgroups = sgRows * sgCols
  const W = subgroups * subgroupSize
  const rowsPerSg = TM / sgRows
  const colsPerSg = TN / sgCols
  const FR = rowsPerSg / fm
  const FC = colsPerSg / fn
  if (!Number.isInteger(FR) || !Number.isInteger(FC) || D % fk !== 0 || D % 2 !== 0 || TM % 2 !== 0 || TN % 2 !== 0)
    throw new Error(`subgroup-matrix matmul: tiling ${JSON.stringify(t)} does not fit fragments ${fm}x${fn}x${fk}`)
  // Staged A: row-major [TM][D + pad] or column-major [D][TM + pad]; B: row-major [D][TN + pad] or column-major [TN][D + pad].
  const aStride = layout.aRowMajor ? D + pad : TM + pad
  const bStride = layout.bRowMajor ? TN + pad : D + pad
  const aSize = layout.aRowMajor ? TM * aStride : D * aStride
  const bSize = layout.bRowMajor ? D * bStride : TN * bStride
  // One staged word: (outer, pair) in the operand's own layout. Outer counts rows of the tile for a
  // row-major A (pairs along r), ks for a column-major one (pairs along i); B likewise.
  const stageA = layout.aRowMajor
    ? {
        outer: TM,
        pairs: D / 2,
        outerIndex: 'row0 + o',
        outerLimit: 'P.n',
        innerIndex: 'k0 + 2u * w',
        innerLimit: 'k_end',
        element: '(row0 + o) * P.sa0 + k0 + 2u * w',
      }
    : {
        outer: D,
        pairs: TM / 2,
        outerIndex: 'k0 + o',
        outerLimit: 'k_end',
        innerIndex: 'row0 + 2u * w',
        innerLimit: 'P.n',
        element: '(k0 + o) * P.sa1 + row0 + 2u * w',
      }
  const stageB = layout.bRowMajor
    ? {
        outer: D,
        pairs: TN / 2,
        outerIndex: 'k0 + o',
        outerLimit: 'k_end',
        innerIndex: 'col0 + 2u * w',
        innerLimit: 'P.p',
        element: '(k0 + o) * P.sb0 + col0 + 2u * w',
      }
    : {
        outer: TN,
        pairs: D / 2,
        outerIndex: 'col0 + o',
        outerLimit: 'P.p',
        innerIndex: 'k0 + 2u * w',
        innerLimit: 'k_end',
        element: '(col0 + o) * P.sb1 + k0 + 2u * w',
      }
  const stage = (name: 'a' | 'b', s: typeof stageA, stride: number) => {
    const words = s.outer * s.pairs
    return `    for (var e = lid; e < ${words}u; e += ${W}u) {
      let o = e / ${s.pairs}u;
      let w = e % ${s.pairs}u;
      var v = vec2<f16>(0.0h);
      // The extent along the pairs is even, so a word is wholly inside or wholly past the edge.
      if (${s.outerIndex} < ${s.outerLimit} && ${s.innerIndex} < ${s.innerLimit}) { v = bitcast<vec2<f16>>(${name}[(${s.element}) >> 1u]); }
      tile_${name}[o * ${stride}u + 2u * w] = v.x;
      tile_${name}[o * ${stride}u + 2u * w + 1u] = v.y;
    }`
  }
  const seq = (n: number) => [...Array(n).keys()]
  // Fragment (fr, fc) of this subgroup: rows sr * rowsPerSg + fr * fm, columns sc * colsPerSg + fc * fn.
  const leftOffset = (fr: number, kk: number) =>
    layout.aRowMajor ? `(sr * ${rowsPerSg}u + ${fr * fm}u) * ${aStride}u + ${kk}u` : `${kk}u * ${aStride}u + sr * ${rowsPerSg}u + ${fr * fm}u`
  const rightOffset = (fc: number, kk: number) =>
    layout.bRowMajor ? `${kk}u * ${bStride}u + sc * ${colsPerSg}u + ${fc * fn}u` : `(sc * ${colsPerSg}u + ${fc * fn}u) * ${bStride}u + ${kk}u`
  // Direct: fragment (fr, fc) at k0 + kk of the operands themselves, through their strides.
  const directLeft = (fr: number, kk: number) =>
    layout.aRowMajor
      ? `(row0 + sr * ${rowsPerSg}u + ${fr * fm}u) * P.sa0 + k0 + ${kk}u, false, P.sa0`
      : `(k0 + ${kk}u) * P.sa1 + row0 + sr * ${rowsPerSg}u + ${fr * fm}u, true, P.sa1`
  const directRight = (fc: number, kk: number) =>
    layout.bRowMajor
      ? `(k0 + ${kk}u) * P.sb0 + col0 + sc * ${colsPerSg}u + ${fc * fn}u, false, P.sb0`
      : `(col0 + sc * ${colsPerSg}u + ${fc * fn}u) * P.sb1 + k0 + ${kk}u, true, P.sb1`
  const L = `subgroup_matrix_left<f16, ${fk}, ${fm}>`
  const R = `subgroup_matrix_right<f16, ${fn}, ${fk}>`
  const C = `subgroup_matrix_result<f32, ${fn}, ${fm}>`
  const multiply = seq(D / fk)
    .map((s) => {
      const kk = s * fk
      return [
        ...seq(FR).map((fr) =>
          t.direct
            ? `      let l${fr} = subgroupMatrixLoad<${L}>(&a16, ${directLeft(fr, kk)});`
            : `      let l${fr} = subgroupMatrixLoad<${L}>(&tile_a, ${leftOffset(fr, kk)}, ${!layout.aRowMajor}, ${aStride}u);`,
        ),
        ...seq(FC).map((fc) =>
          t.direct
            ? `      let r${fc} = subgroupMatrixLoad<${R}>(&b16, ${directRight(fc, kk)});`
            : `      let r${fc} = subgroupMatrixLoad<${R}>(&tile_b, ${rightOffset(fc, kk)}, ${!layout.bRowMajor}, ${bStride}u);`,
        ),
        ...seq(FR).flatMap((fr) => seq(FC).map((fc) => `      acc${fr}_${fc} = subgroupMatrixMultiplyAccumulate(l${fr}, r${fc}, acc${fr}_${fc});`)),
      ].join('\n')
    })
    .map((block) => `    {\n${block}\n    }`)
    .join('\n')
  const scratch = fm * fn
  const bias = (j: string) => (hasBias ? ` + f16_element(bias[(${j}) >> 1u], ${j})` : '')
  // Each fragment: stored to the subgroup's scratch, then written out by its invocations.
  const epilogue = seq(FR)
    .flatMap((fr) =>
      seq(FC).map(
        (fc) => `  subgroupMatrixStore(&out_tile, sg * ${scratch}u, acc${fr}_${fc}, false, ${fn}u);
  workgroupBarrier();
  {
    let i0 = row0 + sr * ${rowsPerSg}u + ${fr * fm}u;
    let j0 = col0 + sc * ${colsPerSg}u + ${fc * fn}u;
${
  halfOutput
    ? `    for (var e = lane; e < ${scratch / 2}u; e += ${subgroupSize}u) {
      let i = i0 + e / ${fn / 2}u;
      let j = j0 + 2u * (e % ${fn / 2}u);
      let s = sg * ${scratch}u + 2u * e;
      // p is even: columns j and j + 1 are both inside or both past it.
      if (i < P.n && j < P.p) { c[(out0 + i * P.p + j) >> 1u] = f16_pair(out_tile[s]${bias('j')}, out_tile[s + 1u]${bias('j + 1u')}); }
    }`
    : `    for (var e = lane; e < ${scratch}u; e += ${subgroupSize}u) {
      let i = i0 + e / ${fn}u;
      let j = j0 + e % ${fn}u;
      if (i < P.n && j < P.p) { c[out0 + i * P.p + j] = out_tile[sg * ${scratch}u + e]${bias('j')}; }
    }`
}
  }
  workgroupBarrier();`,
      ),
    )
    .join('\n')
  const label = `matmul/subgroup matrix ${fm}x${fn}x${fk}/${TM}x${TN}${t.direct ? '/direct' : ''}/${layout.aRowMajor ? 'a rows' : 'a cols'}/${layout.bRowMajor ? 'b rows' : 'b cols'}${hasBias ? '/bias' : ''}${halfOutput ? '/f16 out' : ''}`
  return {
    label,
    entry: 'main',
    params,
    code: `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
// Offsets depend on the subgroup's id: uniform over the subgroup, which the matrices need, not over the workgroup.
diagnostic(off, chromium_experimental.subgroup_matrix_uniformity);
${paramsWgsl(params)}${F16_BITS_WGSL}
${
  t.direct
    ? `@group(0) @binding(1) var<storage, read> a16: array<f16>;
@group(0) @binding(2) var<storage, read> b16: array<f16>;`
    : `@group(0) @binding(1) var<storage, read> a: array<u32>;
@group(0) @binding(2) var<storage, read> b: array<u32>;`
}
@group(0) @binding(3) var<storage, read_write> c: array<${halfOutput ? 'u32' : 'f32'}>;
${hasBias ? '@group(0) @binding(4) var<storage, read> bias: array<u32>;\n' : ''}
${t.direct ? '' : `var<workgroup> tile_a: array<f16, ${aSize}>;\nvar<workgroup> tile_b: array<f16, ${bSize}>;\n`}var<workgroup> out_tile: array<f32, ${subgroups * scratch}>; // [subgroup][fm][fn]

@compute @workgroup_size(${W})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_id) sg: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let row0 = wid.y * ${TM}u;
  let col0 = wid.x * ${TN}u;
  let sr = sg / ${sgCols}u;
  let sc = sg % ${sgCols}u;
  let k_begin = wid.z * P.k_split;
  let k_end = min(P.q, k_begin + P.k_split);
  let out0 = wid.z * P.n * P.p;
${seq(FR)
  .flatMap((fr) => seq(FC).map((fc) => `  var acc${fr}_${fc} = ${C}();`))
  .join('\n')}
  for (var k0 = k_begin; k0 < k_end; k0 += ${D}u) {
${t.direct ? multiply : `${stage('a', stageA, aStride)}\n${stage('b', stageB, bStride)}\n    workgroupBarrier();\n${multiply}\n    workgroupBarrier();`}
  }
${epilogue}
}
`,
  }
}

const kernels = new Map<string, Kernel>()
/** The kernel for a fragment shape, tiling, layout, bias or not and f16 or f32 C (built once each). */
export function subgroupMatrixKernel(f: FragmentShape, t: SubgroupMatrixTiling, layout: SubgroupMatrixLayout, hasBias: boolean, halfOutput: boolean): Kernel {
  const key = JSON.stringify([f, t, layout, hasBias, halfOutput])
  let k = kernels.get(key)
  if (!k) kernels.set(key, (k = generate(f, t, layout, hasBias, halfOutput)))
  return k
}
