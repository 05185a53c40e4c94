// The WebGPU backend's launchers: for each op of the op table it has WGSL
// kernels for, how a planned call (the addon's planOp: shapes checked,
// defaults filled, outputs sized) becomes dispatches. The op table stays the
// one source of the rules; this file only maps a valid call onto kernels,
// and says (webGpuRefusal) which valid calls it cannot run and why.
import type { NativeOpPlan } from '../addon'
import { grid, type WebGpuDriver } from './driver'
import type { Storage } from './pool'
import { inBatchSlices } from './batch_slices'
import { accumulateKernel } from './kernels/accumulate'
import { elementwiseInvocations } from './kernels/elementwise'
import { adamwClippedKernel, adamwKernel } from './kernels/adamw'
import { binaryBwdKernel, binaryFwdKernel, type BinaryKind } from './kernels/binary'
import { columnChunks, columnPartialGrid, columnSumKernel, columnSumProductKernel, columnTotalKernel } from './kernels/column_sum'
import { rowGroup, WG } from './kernels/common'
import { crossEntropyBwdKernel, crossEntropyFwdKernel } from './kernels/cross_entropy'
import { FEATURE_MAP_KINDS, featureMapKernel, isRowwise, type FeatureMapKind } from './kernels/feature_map'
import { castFromF16Kernel, castToF16Kernel } from './kernels/cast16'
import { LARGE_TILE, matmulKernel, splitSumHalfKernel, splitSumKernel, stagingFor, TILE, type MatmulTile } from './kernels/matmul'
import {
  subgroupMatrixKernel,
  subgroupMatrixLayout,
  type FragmentShape,
  type SubgroupMatrixLayout,
  type SubgroupMatrixTiling,
} from './kernels/matmul_subgroup_matrix'
import { normBwdKernel, normDweightKernel, normFwdKernel, type NormKind } from './kernels/norm'
import { COLUMNS as ROW_COLUMNS, ROWS as ROW_BLOCK, gatherRowsKernel, rowGrid, scatterAddRowsKernel } from './kernels/rows'
import { rotaryKernel, rotaryTable } from './kernels/rotary'
import {
  shortConvDweightKernel,
  shortConvDweightTotalKernel,
  shortConvDxKernel,
  shortConvFwdKernel,
  shortConvGradKernel,
  type ConvActivation,
} from './kernels/short_conv'
import {
  attentionBlockedDkvKernel,
  attentionBlockedDqKernel,
  attentionBlockedFwdKernel,
  BLOCK_ROWS,
  BLOCKED_BWD_BYTES,
  BLOCKED_FWD_BYTES,
} from './kernels/softmax_attention_blocked'
import {
  attentionDeltaKernel,
  attentionDkvKernel,
  attentionDqKernel,
  attentionFwdKernel,
  attentionTiledDkvKernel,
  attentionTiledDqKernel,
  attentionTiledFwdKernel,
  MAX_HEAD_DIM,
  TILE_ROWS,
  TILED_BWD_BYTES,
  TILED_FWD_BYTES,
  TILED_MAX_DIM,
} from './kernels/softmax_attention'
import { fillKernel } from './kernels/fill'
import {
  CHUNK_COLUMNS,
  CHUNK_ROWS,
  chunkAttendKernel,
  chunkGateCumsumKernel,
  chunkGateGradKernel,
  chunkScanKernel,
  chunkStateKernel,
  type ChunkDecay,
} from './kernels/mixer_chunked'
import {
  DELTA_CHUNK,
  DELTA_COLUMNS,
  DELTA_MAX_K,
  deltaDvKernel,
  deltaGateAddKernel,
  deltaReverseScanKernel,
  deltaScanKernel,
  deltaWyBwdKernel,
  deltaWyGradKernel,
  deltaWyKernel,
} from './kernels/mixer_delta_chunked'
import { deltaReverseScanStagedKernel, deltaScanStagedKernel, stagedScanBytes } from './kernels/mixer_delta_scan_staged'
import { columnsKernel, denominatorBwdKernel, denominatorFwdKernel, inputGateBwdKernel, inputGateFoldKernel } from './kernels/mixer_chunked_wrap'
import { columnBlocks, MAX_MIXER_K, MAX_MIXER_V, mixerBwdKernel, mixerFwdKernel, sliceSumKernel, type MixerSwitches } from './kernels/mixer_recurrent'
import { SUM_GROUPS, sumSquaresPartialKernel, sumTotalKernel } from './kernels/sum_squares'
import { swigluKernel } from './kernels/swiglu'
import { UNARY_KINDS, unaryKernel, type UnaryKind } from './kernels/unary'

/** A planned call's memory: inputs by name (absent optional ones left out) and the outputs the plan allocates. */
export interface LaunchContext {
  driver: WebGpuDriver
  plan: NativeOpPlan
  inputs: Record<string, Storage | undefined>
  /** Element counts of the inputs, by name. */
  sizes: Record<string, number>
  /** Shapes of the inputs, by name (batch_slices.ts tells the [B, ...] ones from them). */
  shapes: Record<string, readonly number[]>
  outputs: Record<string, Storage>
  /** Scratch memory for this call only (released when the call is encoded). */
  scratch(bytes: number, what: string): Storage
  /** An f16 call run by its own f16 kernels (nativeF16): every float tensor is f16, two to a 32-bit word. */
  half?: boolean
}

type Launcher = (c: LaunchContext) => void

const need = (c: LaunchContext, name: string): GPUBuffer => {
  const s = c.inputs[name] ?? c.outputs[name]
  if (!s) throw new Error(`${c.plan.op}: ${name} is missing`)
  return s.buffer
}
const dim = (c: LaunchContext, name: string): number => {
  const d = c.plan.dims[name]
  if (d === undefined) throw new Error(`${c.plan.op}: the plan has no dim ${name}`)
  return d
}
const attr = <T extends number | boolean | string>(c: LaunchContext, name: string): T => c.plan.attrs[name] as T

/** C (n, p) = A (n, q) B (q, p) through strides (kernels/matmul.ts, or kernels/matmul_subgroup_matrix.ts for f16 on matrix units). */
function matmul(
  c: LaunchContext,
  a: GPUBuffer,
  b: GPUBuffer,
  out: GPUBuffer,
  shape: { n: number; p: number; q: number; sa0: number; sa1: number; sb0: number; sb1: number },
  bias?: GPUBuffer,
): void {
  // An f16 call's operands are f16; its C too, but split partial sums stay f32 until they are added.
  const half = c.half === true
  const units = half ? subgroupMatrixProduct(c, shape) : undefined
  // q = 0 is an empty sum: the kernel still writes every element (the bias, or zeros).
  const large = !units && largeProducts === LARGE_TILE && Math.ceil(shape.p / LARGE_TILE) * Math.ceil(shape.n / LARGE_TILE) >= LARGE_TILES_MIN
  const tileRows = units ? units.tiling.tileRows : large ? LARGE_TILE : TILE
  const tileCols = units ? units.tiling.tileCols : tileRows
  const tiles = Math.ceil(shape.p / tileCols) * Math.ceil(shape.n / tileRows)
  const wanted = bias || large ? 1 : splitsOf(tiles, shape.q)
  // A split's rows of q: whole steps of the kernel (its depth: the subgroup-matrix kernels' direct loads need it).
  const align = units ? units.tiling.depth : DEPTH_ALIGN
  const kSplit = Math.max(align, Math.ceil(shape.q / wanted / align) * align)
  const splits = wanted === 1 ? 1 : Math.ceil(shape.q / kSplit)
  const kernel = units
    ? subgroupMatrixKernel(units.fragment, units.tiling, units.layout, !!bias, splits === 1)
    : matmulKernel(large ? LARGE_TILE : TILE, !!bias, layoutStaging ? stagingFor(shape) : { aByRows: false, bByK: false }, matmulPipeline, {
        inputs: half,
        output: half && splits === 1,
      })
  const groups: [number, number, number] = [Math.ceil(shape.p / tileCols), Math.ceil(shape.n / tileRows), splits]
  if (splits === 1) {
    c.driver.dispatch(kernel, { ...shape, k_split: shape.q }, bias ? [a, b, out, bias] : [a, b, out], groups)
    return
  }
  // Few tiles and a long sum (a weight's gradient, x^T dy over every row): the sum in splits, each
  // its own workgroups, then the splits' partial products added in order (deterministic).
  const count = shape.n * shape.p
  const parts = c.scratch(splits * count * 4, `${c.plan.op} matmul partial sums`).buffer
  c.driver.dispatch(kernel, { ...shape, k_split: kSplit }, [a, b, parts], groups)
  if (half) c.driver.dispatch(splitSumHalfKernel, { count, splits }, [parts, out], grid(count / 2, WG))
  else c.driver.dispatch(splitSumKernel, { count, splits }, [parts, out], grid(count, WG))
}

/**
 * The subgroup-matrix kernel for an f16 product, where the device has f16 subgroup matrices
 * (device.ts) and the operands' layout fits (each contiguous along one axis, even extents
 * there): fragments loaded straight from the operands when n, p and q are whole tiles (64 x 128,
 * depth 32: the fastest on the H200, native/lab/webgpu_matmul_subgroup_matrix/), else staged
 * through workgroup memory (128 x 128, any edge). useSubgroupMatrixProducts(false) keeps the
 * portable kernel (the benchmark's control).
 */
function subgroupMatrixProduct(
  c: LaunchContext,
  shape: { n: number; p: number; q: number; sa0: number; sa1: number; sb0: number; sb1: number },
): { fragment: FragmentShape; tiling: SubgroupMatrixTiling; layout: SubgroupMatrixLayout } | undefined {
  const units = c.driver.gpu.info.subgroupMatrix
  if (!units || !subgroupMatrixProducts || shape.q === 0) return undefined
  const layout = subgroupMatrixLayout(shape)
  if (!layout) return undefined
  const direct = shape.n % DIRECT_TILING.tileRows === 0 && shape.p % DIRECT_TILING.tileCols === 0 && shape.q % DIRECT_TILING.depth === 0
  const tiling = { ...(direct ? DIRECT_TILING : STAGED_TILING), subgroupSize: units.subgroupSize }
  return { fragment: units, tiling, layout }
}
const DIRECT_TILING = { tileRows: 64, tileCols: 128, sgRows: 2, sgCols: 2, depth: 32, pad: 0, direct: true }
const STAGED_TILING = { tileRows: 128, tileCols: 128, sgRows: 4, sgCols: 2, depth: 32, pad: 8 }
let subgroupMatrixProducts = process.env.LINEA_WEBGPU_SUBGROUP_MATRIX_PRODUCTS !== '0'

/** Whether f16 products use the subgroup matrices where the device has them; returns the previous setting. */
export function useSubgroupMatrixProducts(on: boolean): boolean {
  const was = subgroupMatrixProducts
  subgroupMatrixProducts = on
  return was
}

/**
 * Splits of a product's sum over q: with fewer than SPLIT_BELOW_TILES tiles of C (too few
 * workgroups for a large GPU) and q of at least 2 SPLIT_MIN_ROWS, enough splits for about
 * SPLIT_TARGET workgroups, each over at least SPLIT_MIN_ROWS rows of q. LINEA_WEBGPU_SPLIT_K=0
 * turns it off (the benchmark's control).
 */
function splitsOf(tiles: number, q: number): number {
  if (!splitK || tiles >= SPLIT_BELOW_TILES || q < 2 * SPLIT_MIN_ROWS) return 1
  return Math.max(1, Math.min(Math.ceil(SPLIT_TARGET / tiles), Math.floor(q / SPLIT_MIN_ROWS)))
}
const SPLIT_BELOW_TILES = 64
const SPLIT_TARGET = 128
const SPLIT_MIN_ROWS = 512
/** A split's rows of q: a whole number of the kernel's staged steps. */
const DEPTH_ALIGN = 16
let splitK = process.env.LINEA_WEBGPU_SPLIT_K !== '0'

/** Turns the split sum on or off (see splitsOf); returns the previous setting. */
export function useSplitK(on: boolean): boolean {
  const was = splitK
  splitK = on
  return was
}

/**
 * The tile of products with at least LARGE_TILES_MIN tiles of 128 x 128 (enough
 * workgroups to fill a large GPU): 64, since the 128 tile (half the workgroup-memory
 * reads per FMA) bought nothing on the H200 (timed to the nanosecond on 2026-12-01: the
 * forward of 8192 x 256 x 768 took 0.183 ms with it, 0.149 without; bench/gpu/README.md);
 * LINEA_WEBGPU_MATMUL_TILE=128 or useMatmulTile(128) picks it (the benchmark and the tests).
 */
let largeProducts: MatmulTile = process.env.LINEA_WEBGPU_MATMUL_TILE === '128' ? LARGE_TILE : TILE
const LARGE_TILES_MIN = 64

/** Sets the tile of large products (see largeProducts); returns the previous one. */
export function useMatmulTile(tile: MatmulTile): MatmulTile {
  const was = largeProducts
  largeProducts = tile
  return was
}

/**
 * Products pipelined over q (kernels/matmul.ts: two buffers of each tile, the next slice loaded
 * while the current one is multiplied, one barrier a step): opt-in until timed on a GPU
 * (LINEA_WEBGPU_MATMUL_PIPELINE=1 or useMatmulPipeline(true)).
 */
let matmulPipeline = process.env.LINEA_WEBGPU_MATMUL_PIPELINE === '1'

/** Turns the pipelined products on or off; returns the previous setting. */
export function useMatmulPipeline(on: boolean): boolean {
  const was = matmulPipeline
  matmulPipeline = on
  return was
}

/**
 * Staging that follows the operands' layout (kernels/matmul.ts); LINEA_WEBGPU_LAYOUT_STAGING=0
 * or useLayoutStaging(false) stages every product along k (the benchmark's control).
 */
let layoutStaging = process.env.LINEA_WEBGPU_LAYOUT_STAGING !== '0'

/** Turns layout-following staging on or off; returns the previous setting. */
export function useLayoutStaging(on: boolean): boolean {
  const was = layoutStaging
  layoutStaging = on
  return was
}

/**
 * The delta rule's scans with each chunk's rows staged in workgroup memory
 * (kernels/mixer_delta_scan_staged.ts) where the device has the workgroup memory
 * for them. On by default since the H200's Vulkan call of 2026-12-01 (bench/gpu/README.md): the
 * gated delta rule's scans at B = 16, T = 512, H = 2, K = V = 128 went from 1.90 / 2.16 ms
 * (forward / reverse) to 0.72 / 0.85 ms, the whole mixer forward + backward from 9.8 to 6.1 ms.
 * LINEA_WEBGPU_DELTA_STAGING=0 or useDeltaStaging(false): the plain scans (the control).
 */
let deltaStaging = process.env.LINEA_WEBGPU_DELTA_STAGING !== '0'

/**
 * Softmax attention's forward and backward in blocks of 32 x 32 with 2 x 2 scores per invocation
 * (kernels/softmax_attention_blocked.ts) instead of the 16 x 16 tiles. On by default since the
 * H200's Vulkan call of 2026-12-02 (bench/gpu/README.md, sixteenth session): at B 16, T 2048,
 * H 16, dk 128 the forward went from 196 to 80 ms and forward + backward from 554 to 223 ms, and
 * the Transformer preset's training from 194k to 283k tok/s. LINEA_WEBGPU_ATTENTION_BLOCKS=0 or
 * useAttentionBlocks(false): the 16 x 16 tiles (the control).
 */
let attentionBlocks = process.env.LINEA_WEBGPU_ATTENTION_BLOCKS !== '0'

/** Turns the blocked attention kernels on or off; returns the previous setting. */
export function useAttentionBlocks(on: boolean): boolean {
  const was = attentionBlocks
  attentionBlocks = on
  return was
}

/** Turns the staged delta scans on or off; returns the previous setting. */
export function useDeltaStaging(on: boolean): boolean {
  const was = deltaStaging
  deltaStaging = on
  return was
}

function stagedScan(c: LaunchContext, K: number, reverse: boolean): boolean {
  return deltaStaging && stagedScanBytes(K, reverse) <= c.driver.gpu.info.limits.maxComputeWorkgroupStorageSize
}

/** out[d] = sum over rows of x (times w): binary_bwd's broadcast db and linear_bwd's dbias. */
function columnSum(c: LaunchContext, R: number, D: number, x: GPUBuffer, out: GPUBuffer, w?: GPUBuffer): void {
  const { chunks, rowsPerChunk } = columnChunks(R)
  const partials = c.scratch(Math.max(chunks * D, 1) * 4, `${c.plan.op} column partials`).buffer
  c.driver.dispatch(
    w ? columnSumProductKernel : columnSumKernel,
    { R, D, rows_per_chunk: rowsPerChunk },
    w ? [x, w, partials] : [x, partials],
    columnPartialGrid(R, D),
  )
  columnTotal(c, D, chunks, partials, out)
}

/** out[d] = the chunks' partial sums added in order (column_sum.ts's second pass). */
function columnTotal(c: LaunchContext, D: number, chunks: number, partials: GPUBuffer, out: GPUBuffer): void {
  c.driver.dispatch(columnTotalKernel, { D, chunks }, [partials, out], grid(Math.max(D, 1), WG))
}

function gather(c: LaunchContext, what: string, idsName: string, tableName: string, outName: string, R: number, D: number): void {
  const positions = c.sizes[idsName]!
  const slot = c.driver.indexCheck((p) => `${c.plan.op}: ${idsName}[${p}] is outside ${what} 0..${R - 1}`)
  const n = positions * D
  c.driver.dispatch(
    gatherRowsKernel,
    { n, R, D, check_slot: slot },
    [need(c, idsName), need(c, tableName), need(c, outName), c.driver.checkStorage],
    grid(n, WG),
  )
}

function scatter(c: LaunchContext, what: string, idsName: string, dyName: string, outName: string, R: number, D: number): void {
  const N = c.sizes[idsName]!
  const slot = c.driver.indexCheck((p) => `${c.plan.op}: ${idsName}[${p}] is outside ${what} 0..${R - 1}`)
  c.driver.dispatch(
    scatterAddRowsKernel,
    { N, R, D, check_slot: slot },
    [need(c, idsName), need(c, dyName), need(c, outName), c.driver.checkStorage],
    rowGrid(Math.ceil(D / ROW_COLUMNS), Math.ceil(R / ROW_BLOCK)),
  )
}

/** Launch grid of a row-group kernel (kernels/common.ts) over `rows` rows of D values: WG / rowGroup(D) rows a workgroup. */
function rowGroupGrid(rows: number, D: number): [number, number, number] {
  return rowGrid(1, Math.ceil(rows / (WG / rowGroup(D))))
}

/** feature_map_fwd / _bwd: per element, or per row for the l2 norms (kernels/feature_map.ts). */
function featureMap(c: LaunchContext, backward: boolean): void {
  const kind = attr<FeatureMapKind>(c, 'kind')
  const [D, E] = [dim(c, 'D'), dim(c, 'E')]
  const rows = dim(c, 'B') * dim(c, 'T') * dim(c, 'H')
  const params = { rows, D, E, eps: attr<number>(c, 'eps'), linear: 1 / Math.pow(D, 0.25), quadratic: 1 / Math.sqrt(2 * D) }
  const buffers = backward ? [need(c, 'x'), need(c, 'dy'), need(c, 'dx')] : [need(c, 'x'), need(c, 'y')]
  const elements = rows * (backward ? D : E)
  c.driver.dispatch(featureMapKernel(kind, backward, D), params, buffers, isRowwise(kind) ? rowGroupGrid(rows, D) : grid(elements, WG))
}

/** The attention kernels' parameters for a planned call (kernels/softmax_attention.ts). */
function attentionParams(c: LaunchContext, decode: boolean) {
  const [B, H, D, V] = [dim(c, 'B'), dim(c, 'H'), dim(c, 'D'), dim(c, 'V')]
  const scale = attr<number>(c, 'scale') === 0 ? 1 / Math.sqrt(D) : attr<number>(c, 'scale')
  const T = decode ? 1 : dim(c, 'T')
  const S = decode ? dim(c, 'S') : T
  return { B, H, D, V, Tq: T, Tk: S, position0: decode ? S - 1 : 0, window: attr<number>(c, 'window'), scale }
}

/**
 * Softmax attention's three forms, each with the rows a workgroup takes and the workgroup memory its
 * forward and backward need: 32 x 32 blocks (the default, useAttentionBlocks), 16 x 16 tiles, and a row
 * per workgroup (any head width, any adapter).
 */
const ATTENTION_FORMS = {
  blocked: {
    rows: BLOCK_ROWS,
    fwd: attentionBlockedFwdKernel,
    dq: attentionBlockedDqKernel,
    dkv: attentionBlockedDkvKernel,
    fwdBytes: BLOCKED_FWD_BYTES,
    bwdBytes: BLOCKED_BWD_BYTES,
  },
  tiled: {
    rows: TILE_ROWS,
    fwd: attentionTiledFwdKernel,
    dq: attentionTiledDqKernel,
    dkv: attentionTiledDkvKernel,
    fwdBytes: TILED_FWD_BYTES,
    bwdBytes: TILED_BWD_BYTES,
  },
  rows: { rows: 1, fwd: attentionFwdKernel(false), dq: attentionDqKernel, dkv: attentionDkvKernel, fwdBytes: 0, bwdBytes: 0 },
}

/** The form a call of this direction takes (by head dims and the adapter's workgroup memory), and its grid. */
function attentionKernels(c: LaunchContext, p: ReturnType<typeof attentionParams>, bytes: 'fwdBytes' | 'bwdBytes') {
  const room = c.driver.gpu.info.limits.maxComputeWorkgroupStorageSize
  const narrow = Math.max(p.D, p.V) <= TILED_MAX_DIM
  const form =
    narrow && attentionBlocks && room >= ATTENTION_FORMS.blocked[bytes] ? 'blocked' : narrow && room >= ATTENTION_FORMS.tiled[bytes] ? 'tiled' : 'rows'
  const kernels = ATTENTION_FORMS[form]
  return { ...kernels, grid: rowGrid(1, p.B * p.H * Math.ceil(p.Tq / kernels.rows)) }
}

/** The mixer's switches, dims and scale from a planned call (kernels/mixer_recurrent.ts). */
function mixerCall(c: LaunchContext) {
  const [B, T, H, K, V] = [dim(c, 'B'), dim(c, 'T'), dim(c, 'H'), dim(c, 'K'), dim(c, 'V')]
  const switches: MixerSwitches = { gate: attr(c, 'gate'), inputGate: attr(c, 'input_gate'), delta: attr(c, 'delta'), normalize: attr(c, 'normalize') }
  const scale = attr<number>(c, 'scale') === 0 ? 1 / Math.sqrt(K) : attr<number>(c, 'scale')
  return { B, T, H, K, V, switches, scale, eps: attr<number>(c, 'eps') }
}

/** A zeroed work buffer of `floats` f32 for this call. */
function zeroedWork(c: LaunchContext, floats: number, what: string): GPUBuffer {
  const work = c.scratch(Math.max(floats, 1) * 4, what).buffer
  c.driver.dispatch(fillKernel, { n: floats, bits: 0 }, [work], grid(floats, WG))
  return work
}

/**
 * Which kernels run a mixer call: the chunked ones (kernels/mixer_chunked.ts)
 * when the call asks for the chunked form (the op table's default) and its
 * switches are theirs (any forget gate; no input gate or a sigmoid or
 * softplus one, folded into k; no normalization or the denominator 'sum', an
 * extra value column: kernels/mixer_chunked_wrap.ts; no delta rule), or, for
 * the delta rule with no input gate, no normalization, a forget gate other
 * than the vector one and K up to DELTA_MAX_K, the WY form
 * (kernels/mixer_delta_chunked.ts); else the recurrent ones. Both compute the same function, so a chunked call the
 * chunked kernels do not cover runs the reference form instead of failing; a
 * call that asks for the recurrent form gets it. Without the op and dims (a
 * plan of attributes only) the delta rule counts as recurrent.
 */
export function webGpuMixerForm(plan: Pick<NativeOpPlan, 'attrs'> & Partial<Pick<NativeOpPlan, 'op' | 'dims'>>): 'chunked' | 'recurrent' {
  const a = plan.attrs
  if (a.form !== 'chunked') return 'recurrent'
  if (a.delta === true) return isChunkedDelta(plan) ? 'chunked' : 'recurrent'
  const covered = (a.input_gate === 'none' || a.input_gate === 'sigmoid' || a.input_gate === 'softplus') && (a.normalize === 'none' || a.normalize === 'sum')
  return covered ? 'chunked' : 'recurrent'
}

/** Whether a delta-rule call is one the WY kernels take (see webGpuMixerForm). */
function isChunkedDelta(plan: Pick<NativeOpPlan, 'attrs'> & Partial<Pick<NativeOpPlan, 'op' | 'dims'>>): boolean {
  const a = plan.attrs
  const K = plan.dims?.K
  const op = plan.op === 'mixer_fwd' || plan.op === 'mixer_bwd'
  return op && a.input_gate === 'none' && a.normalize === 'none' && a.gate !== 'vector' && K !== undefined && K >= 1 && K <= DELTA_MAX_K
}

/** The chunked kernels' sizes for a planned call: chunk length C, N chunks, how b varies and its width GK per step. */
function chunkedCall(c: LaunchContext) {
  const m = mixerCall(c)
  const C = attr<number>(c, 'chunk_size')
  if (C % CHUNK_ROWS !== 0 || C > WG) throw new Error(`${c.plan.op}: chunk_size ${C} is not a multiple of ${CHUNK_ROWS} up to ${WG}`)
  const gate = m.switches.gate
  const decay: ChunkDecay = gate === 'none' ? 'none' : gate === 'vector' ? 'vector' : 'scalar'
  const inputGate = m.switches.inputGate
  if (inputGate === 'exp' || m.switches.normalize === 'max1' || m.switches.delta)
    throw new Error(
      `${c.plan.op}: the chunked kernels take input_gate none, sigmoid or softplus, normalize none or sum, no delta rule; got input_gate ${inputGate}, normalize ${m.switches.normalize}, delta ${m.switches.delta}`,
    )
  // With the denominator V is the augmented mixer's V + 1 (the column of z); VO is o's.
  const sum = m.switches.normalize === 'sum'
  const common = { C, N: Math.ceil(m.T / C), BH: m.B * m.H, rows: m.B * m.T * m.H, gate, decay, GK: gate === 'vector' ? m.K : 1 }
  return { ...m, ...common, inputGate, sum, VO: m.V, V: m.V + (sum ? 1 : 0) }
}

type ChunkedCall = ReturnType<typeof chunkedCall>

/** b, the cumulative log decay inside each chunk, into work at bc_off (B H T GK). */
function chunkGateCumsum(c: LaunchContext, m: ChunkedCall, work: GPUBuffer, bcOff: number): void {
  if (m.gate === 'none') return
  const p = { B: m.B, T: m.T, H: m.H, C: m.C, N: m.N, GK: m.GK, bc_off: bcOff }
  c.driver.dispatch(chunkGateCumsumKernel(m.gate), p, [need(c, 'g'), work], grid(m.BH * m.N * m.GK, WG))
}

/** Phases 1 and 2: per chunk Σ_j (w_j ⊙ x_j) z_jᵀ (K x V) at m_off, then the scan that turns them into the states entering (or the gradients leaving) each chunk. */
function chunkStates(
  c: LaunchContext,
  m: ChunkedCall,
  work: GPUBuffer,
  x: GPUBuffer,
  z: GPUBuffer,
  o: { xScale: number; toEnd: boolean; bcOff: number; mOff: number; initOff: number; finalOff: number },
): void {
  const { K, V } = m
  const p = { B: m.B, T: m.T, H: m.H, C: m.C, N: m.N, DX: K, DZ: V, GK: m.GK, x_scale: o.xScale, bc_off: o.bcOff, m_off: o.mOff }
  c.driver.dispatch(chunkStateKernel(m.decay, o.toEnd), p, [x, z, work], rowGrid(Math.ceil(V / CHUNK_COLUMNS), m.BH * m.N * Math.ceil(K / CHUNK_ROWS)))
  const scan = { BH: m.BH, T: m.T, C: m.C, N: m.N, KV: K * V, V, GK: m.GK, bc_off: o.bcOff, m_off: o.mOff, init_off: o.initOff, final_off: o.finalOff }
  c.driver.dispatch(chunkScanKernel(m.decay, !o.toEnd), scan, [work], grid(m.BH * K * V, WG))
}

/** Phase 3: out (rows x DZ) from x, y (DX wide), z (DZ wide) and the per-chunk matrices at m_off. */
function chunkAttend(
  c: LaunchContext,
  m: ChunkedCall,
  work: GPUBuffer,
  bufs: { x: GPUBuffer; y: GPUBuffer; z: GPUBuffer; out: GPUBuffer; partner?: GPUBuffer; dots?: GPUBuffer; dotsOff?: number },
  o: { DX: number; DZ: number; xScale?: number; yScale?: number; zScale?: number; causal: boolean; transposed: boolean; bcOff: number; mOff: number },
): void {
  const p = {
    B: m.B,
    T: m.T,
    H: m.H,
    C: m.C,
    N: m.N,
    DX: o.DX,
    DZ: o.DZ,
    GK: m.GK,
    x_scale: o.xScale ?? 1,
    y_scale: o.yScale ?? 1,
    z_scale: o.zScale ?? 1,
    bc_off: o.bcOff,
    m_off: o.mOff,
    dots_off: bufs.dotsOff ?? 0,
  }
  const dots = !!(bufs.partner && bufs.dots)
  const k = chunkAttendKernel({ decay: m.decay, causal: o.causal, transposed: o.transposed, dots })
  const buffers = [bufs.x, bufs.y, bufs.z, work, bufs.out, ...(dots ? [bufs.partner, bufs.dots] : [])]
  c.driver.dispatch(k, p, buffers, rowGrid(Math.ceil(o.DZ / CHUNK_COLUMNS), m.BH * Math.ceil(m.T / CHUNK_ROWS)))
}

/** Offsets (f32 elements) of consecutive regions of a work buffer, and the total. */
function layout(sizes: Record<string, number>): { at: Record<string, number>; total: number } {
  const at: Record<string, number> = {}
  let total = 0
  for (const [name, size] of Object.entries(sizes)) {
    at[name] = total
    total += size
  }
  return { at, total }
}

/** dst's W columns at dstOff (stride dstStride) of R rows from src (or `value`): kernels/mixer_chunked_wrap.ts. */
function columns(
  c: LaunchContext,
  src: GPUBuffer | number,
  dst: GPUBuffer,
  o: { R: number; W: number; srcStride?: number; srcOff?: number; dstStride: number; dstOff: number },
): void {
  const constant = typeof src === 'number'
  const p = { R: o.R, W: o.W, src_stride: o.srcStride ?? o.W, src_off: o.srcOff ?? 0, dst_stride: o.dstStride, dst_off: o.dstOff, value: constant ? src : 0 }
  c.driver.dispatch(columnsKernel(constant), p, constant ? [dst] : [src, dst], grid(o.R * o.W, WG))
}

/**
 * The chunked call's key input: k, or k' = w k with a sigmoid or softplus
 * input gate (a scratch buffer).
 */
function chunkedKeys(c: LaunchContext, m: ChunkedCall): GPUBuffer {
  const k = need(c, 'k')
  if (m.inputGate === 'none') return k
  const kw = c.scratch(Math.max(m.rows * m.K, 1) * 4, `${c.plan.op} gated keys`).buffer
  c.driver.dispatch(inputGateFoldKernel(m.inputGate), { rows: m.rows, K: m.K }, [need(c, 'i'), k, kw], grid(m.rows * m.K, WG))
  return kw
}

/** The chunked call's value input: v, or v' = [v | 1] with the denominator. */
function chunkedValues(c: LaunchContext, m: ChunkedCall): GPUBuffer {
  const v = need(c, 'v')
  if (!m.sum) return v
  const vb = c.scratch(Math.max(m.rows * m.V, 1) * 4, `${c.plan.op} values and ones`).buffer
  columns(c, v, vb, { R: m.rows, W: m.VO, dstStride: m.V, dstOff: 0 })
  columns(c, 1, vb, { R: m.rows, W: 1, dstStride: m.V, dstOff: m.VO })
  return vb
}

/** A K x V state (and z, the denominator's column) into work at `off`, which holds zeros; absent inputs stay 0. */
function chunkedStateIn(c: LaunchContext, m: ChunkedCall, work: GPUBuffer, off: number, s: string, z: string): void {
  const [S, Z] = [c.inputs[s], c.inputs[z]]
  const R = m.BH * m.K
  if (!m.sum) {
    if (S) c.driver.copy(S.buffer, work, R * m.V * 4, 0, off * 4)
    return
  }
  if (S) columns(c, S.buffer, work, { R, W: m.VO, dstStride: m.V, dstOff: off })
  if (Z) columns(c, Z.buffer, work, { R, W: 1, dstStride: m.V, dstOff: off + m.VO })
}

/** A K x V state in work at `off` out to the outputs s (and z). */
function chunkedStateOut(c: LaunchContext, m: ChunkedCall, work: GPUBuffer, off: number, s: string, z: string): void {
  const [S, Z] = [c.outputs[s], c.outputs[z]]
  const R = m.BH * m.K
  if (!m.sum) {
    if (S) c.driver.copy(work, S.buffer, R * m.V * 4, off * 4)
    return
  }
  if (S) columns(c, work, S.buffer, { R, W: m.VO, srcStride: m.V, srcOff: off, dstStride: m.VO, dstOff: 0 })
  if (Z) columns(c, work, Z.buffer, { R, W: 1, srcStride: m.V, srcOff: off + m.VO, dstStride: 1, dstOff: 0 })
}

/** mixer_fwd in the chunked form (kernels/mixer_chunked.ts, mixer_chunked_wrap.ts). */
function chunkedMixerFwd(c: LaunchContext): void {
  const m = chunkedCall(c)
  const KV = m.K * m.V
  const { at, total } = layout({ s0: m.BH * KV, s_final: m.BH * KV, b: m.gate === 'none' ? 0 : m.BH * m.T * m.GK, states: m.BH * m.N * KV })
  const work = c.scratch(Math.max(total, 1) * 4, 'mixer_fwd chunk states').buffer
  if (!c.inputs.s0 || m.sum) c.driver.dispatch(fillKernel, { n: m.BH * KV, bits: 0 }, [work], grid(m.BH * KV, WG))
  chunkedStateIn(c, m, work, at.s0!, 's0', 'z0')
  const [k, v] = [chunkedKeys(c, m), chunkedValues(c, m)]
  chunkGateCumsum(c, m, work, at.b!)
  const states = { bcOff: at.b!, mOff: at.states! }
  chunkStates(c, m, work, k, v, { ...states, xScale: 1, toEnd: true, initOff: at.s0!, finalOff: at.s_final! })
  const o = m.sum ? c.scratch(Math.max(m.rows * m.V, 1) * 4, 'mixer_fwd numerators and denominators').buffer : need(c, 'o')
  chunkAttend(c, m, work, { x: need(c, 'q'), y: k, z: v, out: o }, { ...states, DX: m.K, DZ: m.V, xScale: m.scale, causal: true, transposed: false })
  if (m.sum) c.driver.dispatch(denominatorFwdKernel, { rows: m.rows, V: m.VO, eps: m.eps }, [o, need(c, 'o')], grid(m.rows * m.VO, WG))
  chunkedStateOut(c, m, work, at.s_final!, 's_final', 'z_final')
}

/**
 * Where the gate's gradient is built (gate and dg asked for): the pieces the dq and
 * dk launches leave, 2 per row and K tile (per row and key dim for the vector gate)
 * each, then the fixed gate's per-head sums, in `dots`.
 */
function gatePieces(c: LaunchContext, m: ChunkedCall): { dg: GPUBuffer; dots: GPUBuffer; tiles: number; pieces: number } | undefined {
  const dg = m.gate === 'none' ? undefined : c.outputs.dg?.buffer
  if (!dg) return undefined
  const tiles = Math.ceil(m.K / CHUNK_COLUMNS)
  const pieces = (m.gate === 'vector' ? m.K : tiles) * m.rows * 2
  return { dg, tiles, pieces, dots: c.scratch((2 * pieces + m.BH) * 4, `${c.plan.op} gate gradient pieces`).buffer }
}

/**
 * dg from those pieces and the states and gradients per chunk (chunkGateGradKernel);
 * `more` dispatches what adds to it before the fixed gate's head sums are summed over b.
 */
function chunkGateGrad(
  c: LaunchContext,
  m: ChunkedCall,
  work: GPUBuffer,
  at: Record<string, number>,
  g: NonNullable<ReturnType<typeof gatePieces>>,
  more?: () => void,
): void {
  if (m.gate === 'none') return
  const p = {
    ...{ B: m.B, T: m.T, H: m.H, C: m.C, N: m.N, K: m.K, V: m.V, GK: m.GK, tiles: g.tiles },
    ...{ bc_off: at.b!, s_off: at.states!, g_off: at.grads!, dq_dots: 0, dk_dots: g.pieces, fixed_off: 2 * g.pieces },
  }
  const fixed = m.gate === 'fixed'
  const workgroups = m.BH * m.GK * (fixed ? 1 : m.N) // a workgroup per chunk, or per head for the fixed gate's sum
  c.driver.dispatch(chunkGateGradKernel(m.gate), p, [work, g.dots, ...(fixed ? [] : [g.dg])], rowGrid(1, workgroups))
  more?.()
  if (fixed) c.driver.dispatch(sliceSumKernel, { n: m.H, slices: m.B, first: 2 * g.pieces }, [g.dots, g.dg], grid(m.H, WG))
}

/** mixer_bwd in the chunked form: S_n per chunk again, the gradients G_n leaving each chunk, then dq, dk, dv per block and dg from them. */
function chunkedMixerBwd(c: LaunchContext): void {
  const m = chunkedCall(c)
  const KV = m.K * m.V
  const { at, total } = layout({
    s0: m.BH * KV,
    ds_final: m.BH * KV,
    s_final: m.BH * KV,
    ds0: m.BH * KV,
    b: m.gate === 'none' ? 0 : m.BH * m.T * m.GK,
    states: m.BH * m.N * KV,
    grads: m.BH * m.N * KV,
  })
  const work = c.scratch(Math.max(total, 1) * 4, 'mixer_bwd chunk states').buffer
  const gp = gatePieces(c, m)
  // s0 and ds_final (zeros when absent) start the two scans.
  if (!c.inputs.s0 || !c.inputs.ds_final || m.sum) c.driver.dispatch(fillKernel, { n: 2 * m.BH * KV, bits: 0 }, [work], grid(2 * m.BH * KV, WG))
  chunkedStateIn(c, m, work, at.s0!, 's0', 'z0')
  chunkedStateIn(c, m, work, at.ds_final!, 'ds_final', 'dz_final')
  chunkGateCumsum(c, m, work, at.b!)
  const [q, k, v] = [need(c, 'q'), chunkedKeys(c, m), chunkedValues(c, m)]
  const bcOff = at.b!
  chunkStates(c, m, work, k, v, { bcOff, mOff: at.states!, xScale: 1, toEnd: true, initOff: at.s0!, finalOff: at.s_final! })
  let d_o = need(c, 'do')
  if (m.sum) {
    // The augmented output o' again, then do', the gradient the augmented mixer sees.
    const ob = c.scratch(Math.max(m.rows * m.V, 1) * 4, 'mixer_bwd numerators and denominators').buffer
    chunkAttend(c, m, work, { x: q, y: k, z: v, out: ob }, { bcOff, mOff: at.states!, DX: m.K, DZ: m.V, xScale: m.scale, causal: true, transposed: false })
    const dob = c.scratch(Math.max(m.rows * m.V, 1) * 4, 'mixer_bwd augmented do').buffer
    c.driver.dispatch(denominatorBwdKernel, { rows: m.rows, V: m.VO, eps: m.eps }, [ob, d_o, dob], grid(m.rows, WG))
    d_o = dob
  }
  chunkStates(c, m, work, q, d_o, { bcOff, mOff: at.grads!, xScale: m.scale, toEnd: false, initOff: at.ds_final!, finalOff: at.ds0! })
  const dq = need(c, 'dq')
  const dk = m.inputGate === 'none' ? need(c, 'dk') : c.scratch(Math.max(m.rows * m.K, 1) * 4, 'mixer_bwd dk of the gated keys').buffer
  const dv = m.sum ? c.scratch(Math.max(m.rows * m.V, 1) * 4, 'mixer_bwd augmented dv').buffer : need(c, 'dv')
  const dqDots = gp && { partner: q, dots: gp.dots }
  const dkDots = gp && { partner: k, dots: gp.dots, dotsOff: gp.pieces }
  // dq_i = scale (e^{b_i} S_n do_i + Σ_{j<=i} e^{b_i - b_j} (do_i·v_j) k_j)
  const dqShape = { bcOff, mOff: at.states!, DX: m.V, DZ: m.K, xScale: m.scale, causal: true, transposed: true }
  chunkAttend(c, m, work, { x: d_o, y: v, z: k, out: dq, ...dqDots }, dqShape)
  // dk_j = e^{bL - b_j} G_n v_j + Σ_{i>=j} e^{b_i - b_j} (v_j·do_i) q̂_i
  const dkShape = { bcOff, mOff: at.grads!, DX: m.V, DZ: m.K, zScale: m.scale, causal: false, transposed: true }
  chunkAttend(c, m, work, { x: v, y: d_o, z: q, out: dk, ...dkDots }, dkShape)
  // dv_j = e^{bL - b_j} G_nᵀ k_j + Σ_{i>=j} e^{b_i - b_j} (k_j·q̂_i) do_i
  const dvShape = { bcOff, mOff: at.grads!, DX: m.K, DZ: m.V, yScale: m.scale, causal: false, transposed: false }
  chunkAttend(c, m, work, { x: k, y: q, z: d_o, out: dv }, dvShape)
  if (m.sum) columns(c, dv, need(c, 'dv'), { R: m.rows, W: m.VO, srcStride: m.V, dstStride: m.VO, dstOff: 0 })
  if (m.inputGate !== 'none') {
    const di = c.outputs.di?.buffer ?? c.scratch(Math.max(m.rows, 1) * 4, 'mixer_bwd di').buffer
    c.driver.dispatch(inputGateBwdKernel(m.inputGate), { rows: m.rows, K: m.K }, [need(c, 'i'), need(c, 'k'), dk, need(c, 'dk'), di], grid(m.rows, WG))
  }
  chunkedStateOut(c, m, work, at.ds0!, 'ds0', 'dz0')
  if (gp) chunkGateGrad(c, m, work, at, gp)
}

/** The chunked delta-rule kernels' sizes for a planned call: chunks of DELTA_CHUNK steps, b per step. */
function deltaCall(c: LaunchContext): ChunkedCall {
  const m = mixerCall(c)
  const gate = m.switches.gate
  if (gate === 'vector') throw new Error(`${c.plan.op}: the chunked delta-rule kernels take gate none, fixed or scalar, got vector`)
  const C = DELTA_CHUNK
  return {
    ...m,
    ...{ C, N: Math.ceil(m.T / C), BH: m.B * m.H, rows: m.B * m.T * m.H, gate, decay: gate === 'none' ? 'none' : 'scalar', GK: 1 },
    ...{ inputGate: 'none', sum: false, VO: m.V },
  }
}

/** X = [Ũ | W] per chunk, then the scan: the states entering each chunk (at.states), s_final and the new values U. */
function deltaForwardPasses(c: LaunchContext, m: ChunkedCall, work: GPUBuffer, at: Record<string, number>): { x: GPUBuffer; u: GPUBuffer } {
  const { K, V } = m
  const decay = m.gate === 'none' ? 'none' : 'scalar'
  const x = c.scratch(Math.max(m.rows * (V + K), 1) * 4, `${c.plan.op} delta WY form`).buffer
  const wy = { B: m.B, T: m.T, H: m.H, K, V, N: m.N, bc_off: at.b! }
  c.driver.dispatch(deltaWyKernel(decay), wy, [need(c, 'k'), need(c, 'v'), need(c, 'beta'), work, x], rowGrid(1, m.BH * m.N))
  const u = c.scratch(Math.max(m.rows * V, 1) * 4, `${c.plan.op} delta new values`).buffer
  const scan = { ...wy, m_off: at.states!, init_off: at.s0!, final_off: at.s_final! }
  const scanKernel = stagedScan(c, K, false) ? deltaScanStagedKernel(decay, K) : deltaScanKernel(decay, K)
  c.driver.dispatch(scanKernel, scan, [need(c, 'k'), x, work, u], rowGrid(Math.ceil(V / DELTA_COLUMNS), m.BH))
  return { x, u }
}

/**
 * mixer_fwd of the delta rule in the chunked (WY) form (kernels/mixer_delta_chunked.ts):
 * b per chunk of DELTA_CHUNK steps, X = [Ũ | W] per chunk, the scan that yields the
 * states entering each chunk and the new values U, then the additive attend with U.
 */
function chunkedDeltaFwd(c: LaunchContext): void {
  const m = deltaCall(c)
  const KV = m.K * m.V
  const { at, total } = layout({ s0: m.BH * KV, s_final: m.BH * KV, b: m.gate === 'none' ? 0 : m.BH * m.T, states: m.BH * m.N * KV })
  const work = c.scratch(Math.max(total, 1) * 4, 'mixer_fwd delta states').buffer
  if (c.inputs.s0) c.driver.copy(c.inputs.s0.buffer, work, m.BH * KV * 4, 0, at.s0! * 4)
  else c.driver.dispatch(fillKernel, { n: m.BH * KV, bits: 0 }, [work], grid(m.BH * KV, WG))
  chunkGateCumsum(c, m, work, at.b!)
  const { u } = deltaForwardPasses(c, m, work, at)
  const attend = { bcOff: at.b!, mOff: at.states!, DX: m.K, DZ: m.V, xScale: m.scale, causal: true, transposed: false }
  chunkAttend(c, m, work, { x: need(c, 'q'), y: need(c, 'k'), z: u, out: need(c, 'o') }, attend)
  if (c.outputs.s_final) c.driver.copy(work, c.outputs.s_final.buffer, m.BH * KV * 4, at.s_final! * 4)
}

/**
 * mixer_bwd of the delta rule in the chunked (WY) form: the forward's passes again,
 * scale Pᵀ dO (the additive dv launch over zero states), the reverse scan for the
 * gradients G_n leaving each chunk and dU, dq and dk's additive part with U for v,
 * then the WY form's share of dk, dv, dβ and of the gate's gradient
 * (kernels/mixer_delta_chunked.ts gives the formulas).
 */
function chunkedDeltaBwd(c: LaunchContext): void {
  const m = deltaCall(c)
  const { K, V } = m
  const KV = K * V
  const { at, total } = layout({
    s0: m.BH * KV,
    ds_final: m.BH * KV,
    grads: m.BH * m.N * KV,
    s_final: m.BH * KV,
    ds0: m.BH * KV,
    b: m.gate === 'none' ? 0 : m.BH * m.T,
    states: m.BH * m.N * KV,
  })
  const work = c.scratch(Math.max(total, 1) * 4, 'mixer_bwd delta states').buffer
  // s0, ds_final and grads are consecutive: zeros, then the inputs given. The grads region must read as
  // zero states for scale Pᵀ dO below; the reverse scan writes it afterwards.
  const zeroed = 2 * m.BH * KV + m.BH * m.N * KV
  c.driver.dispatch(fillKernel, { n: zeroed, bits: 0 }, [work], grid(zeroed, WG))
  if (c.inputs.s0) c.driver.copy(c.inputs.s0.buffer, work, m.BH * KV * 4, 0, at.s0! * 4)
  if (c.inputs.ds_final) c.driver.copy(c.inputs.ds_final.buffer, work, m.BH * KV * 4, 0, at.ds_final! * 4)
  chunkGateCumsum(c, m, work, at.b!)
  const { x, u } = deltaForwardPasses(c, m, work, at)
  const [q, k, d_o, beta] = [need(c, 'q'), need(c, 'k'), need(c, 'do'), need(c, 'beta')]
  const bcOff = at.b!
  const pdo = c.scratch(Math.max(m.rows * V, 1) * 4, 'mixer_bwd delta scale Pᵀ dO').buffer
  chunkAttend(c, m, work, { x: k, y: q, z: d_o, out: pdo }, { bcOff, mOff: at.grads!, DX: K, DZ: V, yScale: m.scale, causal: false, transposed: false })
  const decay = m.gate === 'none' ? 'none' : 'scalar'
  const du = c.scratch(Math.max(m.rows * V, 1) * 4, 'mixer_bwd delta dU').buffer
  const reverse = { B: m.B, T: m.T, H: m.H, K, V, N: m.N, bc_off: bcOff, m_off: at.grads!, init_off: at.ds_final!, final_off: at.ds0!, scale: m.scale }
  const reverseKernel = stagedScan(c, K, true) ? deltaReverseScanStagedKernel(decay, K) : deltaReverseScanKernel(decay, K)
  c.driver.dispatch(reverseKernel, reverse, [q, k, d_o, x, pdo, work, du], rowGrid(Math.ceil(V / DELTA_COLUMNS), m.BH))
  // dq and dk's additive part, with the gate gradient's pieces (mixer_chunked.ts: chunkGateGradKernel).
  const gp = gatePieces(c, m)
  const [dq, dk] = [need(c, 'dq'), need(c, 'dk')]
  const dqShape = { bcOff, mOff: at.states!, DX: V, DZ: K, xScale: m.scale, causal: true, transposed: true }
  chunkAttend(c, m, work, { x: d_o, y: u, z: k, out: dq, ...(gp && { partner: q, dots: gp.dots }) }, dqShape)
  const dkShape = { bcOff, mOff: at.grads!, DX: V, DZ: K, zScale: m.scale, causal: false, transposed: true }
  chunkAttend(c, m, work, { x: u, y: d_o, z: q, out: dk, ...(gp && { partner: k, dots: gp.dots, dotsOff: gp.pieces }) }, dkShape)
  // The WY form's share: dY, then dk, dβ and db, then dv.
  const wy = { B: m.B, T: m.T, H: m.H, K, V, N: m.N, bc_off: bcOff }
  const dy = c.scratch(Math.max(m.rows * (V + K), 1) * 4, 'mixer_bwd delta dY').buffer
  c.driver.dispatch(deltaWyBwdKernel(decay, K), { ...wy, s_off: at.states! }, [k, beta, du, work, dy], rowGrid(1, m.BH * m.N))
  const rowgrads = c.scratch(Math.max(m.rows * 2, 1) * 4, 'mixer_bwd delta dβ and db').buffer
  c.driver.dispatch(deltaWyGradKernel(decay), wy, [k, need(c, 'v'), beta, x, dy, work, dk, rowgrads], rowGrid(1, m.BH * m.N))
  c.driver.dispatch(deltaDvKernel, { rows: m.rows, V, K }, [beta, dy, rowgrads, need(c, 'dv'), need(c, 'dbeta')], grid(m.rows * V, WG))
  if (c.outputs.ds0) c.driver.copy(work, c.outputs.ds0.buffer, m.BH * KV * 4, at.ds0! * 4)
  const gate = m.gate
  if (!gp || gate === 'none' || gate === 'vector') return
  // The WY form's share of dg, added before the fixed gate's head sums are summed over b.
  const add = { B: m.B, T: m.T, H: m.H, N: m.N, fixed_off: 2 * gp.pieces }
  const invocations = gate === 'fixed' ? m.BH : m.BH * m.N // per head for the fixed gate's sum, else per chunk
  const wyShare = () => c.driver.dispatch(deltaGateAddKernel(gate), add, [rowgrads, gate === 'fixed' ? gp.dots : gp.dg], grid(invocations, WG))
  chunkGateGrad(c, m, work, at, gp, wyShare)
}

export const LAUNCHERS: Record<string, Launcher> = {
  mixer_fwd(c) {
    if (webGpuMixerForm(c.plan) === 'chunked') return c.plan.attrs.delta === true ? chunkedDeltaFwd(c) : chunkedMixerFwd(c)
    const m = mixerCall(c)
    const { B, T, H, K, V } = m
    const BH = B * H
    // z and m: a copy per column block (kernels/mixer_recurrent.ts), each starting as z0 and m0.
    const blocks = columnBlocks(BH, V)
    const NVB = blocks.NVB
    const regions = { s_off: 0, z_off: BH * K * V, m_off: BH * K * V + NVB * BH * K }
    const work = zeroedWork(c, BH * K * V + NVB * BH * (K + 1), 'mixer_fwd state')
    if (c.inputs.s0) c.driver.copy(c.inputs.s0.buffer, work, BH * K * V * 4, 0, regions.s_off * 4)
    for (let vb = 0; vb < NVB; vb++) {
      if (c.inputs.z0) c.driver.copy(c.inputs.z0.buffer, work, BH * K * 4, 0, (regions.z_off + vb * BH * K) * 4)
      if (c.inputs.m0) c.driver.copy(c.inputs.m0.buffer, work, BH * 4, 0, (regions.m_off + vb * BH) * 4)
    }
    const unused = {
      states_off: 0,
      zs_off: 0,
      ck: 1,
      nck: 1,
      ds_off: 0,
      dz_off: 0,
      dq_off: 0,
      dk_off: 0,
      dv_off: 0,
      dg_off: 0,
      dbeta_off: 0,
      gates_off: 0,
      di_off: 0,
      dot_off: 0,
      phase: 0,
      dqk_slice: 0,
      row_slice: 0,
      dg_slice: 0,
    }
    const p = { B, T, H, K, V, scale: m.scale, eps: m.eps, ...regions, ...unused, ...blocks }
    const buffers = [need(c, 'q'), need(c, 'k'), need(c, 'v'), work, c.inputs.g?.buffer, c.inputs.beta?.buffer, need(c, 'o'), c.inputs.i?.buffer]
    c.driver.dispatch(mixerFwdKernel(m.switches), p, buffers, rowGrid(1, BH * blocks.NVB))
    if (c.outputs.s_final) c.driver.copy(work, c.outputs.s_final.buffer, BH * K * V * 4, regions.s_off * 4)
    if (c.outputs.z_final) c.driver.copy(work, c.outputs.z_final.buffer, BH * K * 4, regions.z_off * 4)
    if (c.outputs.m_final) c.driver.copy(work, c.outputs.m_final.buffer, BH * 4, regions.m_off * 4)
  },

  mixer_bwd(c) {
    if (webGpuMixerForm(c.plan) === 'chunked') return c.plan.attrs.delta === true ? chunkedDeltaBwd(c) : chunkedMixerBwd(c)
    const m = mixerCall(c)
    const { B, T, H, K, V, switches } = m
    const BH = B * H
    const rows = B * T * H
    const gateFloats = switches.gate === 'vector' ? rows * K : switches.gate === 'scalar' ? rows : switches.gate === 'fixed' ? BH : 0
    // Regions of the work buffer, in f32 elements.
    // Checkpoints every ck ≈ √T steps plus one chunk's states: (T/ck + ck) states per head, not T.
    const ck = Math.max(1, Math.ceil(Math.sqrt(T)))
    const nck = Math.max(1, Math.ceil(T / ck))
    // Sums over value columns (dq, dk, dβ, dg, di, do · o) get one slice per column block, added up
    // below (or in the kernel); z, m and the kept gate scalars one copy per block.
    const blocks = columnBlocks(BH, V)
    const slices = blocks.NVB
    const sizes = {
      s_off: BH * K * V,
      z_off: slices * BH * K,
      m_off: slices * BH,
      states_off: BH * (nck + ck) * K * V,
      zs_off: slices * BH * (nck + ck) * K,
      gates_off: slices * BH * T * 3,
      ds_off: BH * K * V,
      dz_off: BH * K,
    }
    const grads = {
      dq_off: slices * rows * K,
      dk_off: slices * rows * K,
      dv_off: rows * V,
      dg_off: slices * gateFloats,
      dbeta_off: slices * rows,
      di_off: slices * rows,
      dot_off: switches.normalize === 'none' ? 0 : slices * rows,
    }
    const offsets: Record<string, number> = {}
    let total = 0
    for (const [name, size] of [...Object.entries(sizes), ...Object.entries(grads)]) {
      offsets[name] = total
      total += size
    }
    const work = zeroedWork(c, total, 'mixer_bwd states and gradients')
    const copyIn = (name: string, region: string, floats: number, at = 0) => {
      const t = c.inputs[name]
      if (t) c.driver.copy(t.buffer, work, floats * 4, 0, (offsets[region]! + at) * 4)
    }
    copyIn('s0', 's_off', BH * K * V)
    copyIn('ds_final', 'ds_off', BH * K * V)
    copyIn('dz_final', 'dz_off', BH * K)
    for (let vb = 0; vb < slices; vb++) {
      copyIn('z0', 'z_off', BH * K, vb * BH * K)
      copyIn('m0', 'm_off', BH, vb * BH)
    }
    const p = { B, T, H, K, V, scale: m.scale, eps: m.eps, ck, nck, ...offsets, ...blocks, dqk_slice: rows * K, row_slice: rows, dg_slice: gateFloats }
    const buffers = [need(c, 'q'), need(c, 'k'), need(c, 'v'), work, c.inputs.g?.buffer, c.inputs.beta?.buffer, need(c, 'do'), c.inputs.i?.buffer]
    // Phase 0, the forward pass, then phase 1, the walk back (it reads every block's do · o parts).
    for (const phase of [0, 1]) c.driver.dispatch(mixerBwdKernel(switches), { ...p, phase }, buffers, rowGrid(1, BH * slices))
    const copyOut = (name: string, region: string, floats: number) => {
      const t = c.outputs[name]
      if (t) c.driver.copy(work, t.buffer, floats * 4, offsets[region]! * 4)
    }
    // The column sums: a copy with one block, else the blocks' slices added up into the output.
    const gather = (name: string, region: string, n: number, count = slices) => {
      const t = c.outputs[name]
      if (!t) return
      if (count === 1) copyOut(name, region, n)
      else c.driver.dispatch(sliceSumKernel, { n, slices: count, first: offsets[region]! }, [work, t.buffer], grid(n, WG))
    }
    gather('dq', 'dq_off', rows * K)
    gather('dk', 'dk_off', rows * K)
    copyOut('dv', 'dv_off', rows * V)
    gather('dbeta', 'dbeta_off', rows)
    gather('di', 'di_off', rows)
    copyOut('ds0', 'ds_off', BH * K * V)
    copyOut('dz0', 'dz_off', BH * K)
    // The fixed gate's dg[h]: slices of H per batch row and block.
    if (switches.gate === 'fixed') gather('dg', 'dg_off', H, B * slices)
    else gather('dg', 'dg_off', gateFloats)
  },

  softmax_attn_fwd(c) {
    const p = attentionParams(c, false)
    const { fwd, grid: blocks } = attentionKernels(c, p, 'fwdBytes')
    c.driver.dispatch(fwd, p, [need(c, 'q'), need(c, 'k'), need(c, 'v'), need(c, 'o'), need(c, 'lse')], blocks)
  },

  softmax_attn_decode(c) {
    const p = attentionParams(c, true)
    c.driver.dispatch(attentionFwdKernel(true), p, [need(c, 'q'), need(c, 'k'), need(c, 'v'), need(c, 'o')], rowGrid(1, p.B * p.H))
  },

  softmax_attn_bwd(c) {
    const p = attentionParams(c, false)
    const rows = p.B * p.H * p.Tq
    const delta = c.scratch(Math.max(rows, 1) * 4, 'softmax_attn_bwd delta').buffer
    c.driver.dispatch(attentionDeltaKernel, p, [need(c, 'o'), need(c, 'do'), delta], rowGrid(1, rows))
    const inputs = [need(c, 'q'), need(c, 'k'), need(c, 'v'), need(c, 'lse'), need(c, 'do'), delta]
    const { dq, dkv, grid: blocks } = attentionKernels(c, p, 'bwdBytes')
    c.driver.dispatch(dq, p, [...inputs, need(c, 'dq')], blocks)
    c.driver.dispatch(dkv, p, [...inputs, need(c, 'dk'), need(c, 'dv')], blocks)
  },

  accumulate(c) {
    const n = c.sizes.dst!
    const alpha = attr<number>(c, 'alpha')
    const dst = c.inputs.dst!
    const half = c.half === true
    const groups = grid(elementwiseInvocations(n, half), WG)
    if (c.inputs.src!.buffer === dst.buffer) c.driver.dispatch(accumulateKernel(true, half), { n, alpha }, [dst.buffer], groups)
    else c.driver.dispatch(accumulateKernel(false, half), { n, alpha }, [dst.buffer, need(c, 'src')], groups)
  },

  cast(c) {
    // f32 to f32 only (webGpuRefusal): a copy.
    c.driver.copy(need(c, 'x'), need(c, 'y'), c.sizes.x! * 4)
  },

  unary_fwd(c) {
    const n = c.sizes.x!
    const k = unaryKernel(attr<UnaryKind>(c, 'kind'), false, c.half)
    c.driver.dispatch(k, { n, alpha: attr<number>(c, 'alpha') }, [need(c, 'x'), need(c, 'y')], grid(elementwiseInvocations(n, !!c.half), WG))
  },

  unary_bwd(c) {
    const n = c.sizes.x!
    const k = unaryKernel(attr<UnaryKind>(c, 'kind'), true, c.half)
    c.driver.dispatch(k, { n, alpha: attr<number>(c, 'alpha') }, [need(c, 'x'), need(c, 'dy'), need(c, 'dx')], grid(elementwiseInvocations(n, !!c.half), WG))
  },

  binary_fwd(c) {
    const n = c.sizes.a!
    const k = binaryFwdKernel(attr<BinaryKind>(c, 'kind'), attr<boolean>(c, 'broadcast'), c.half)
    c.driver.dispatch(k, { n, D: dim(c, 'D') }, [need(c, 'a'), need(c, 'b'), need(c, 'y')], grid(elementwiseInvocations(n, !!c.half), WG))
  },

  binary_bwd(c) {
    const n = c.sizes.a!
    const D = dim(c, 'D')
    const kind = attr<BinaryKind>(c, 'kind')
    const broadcast = attr<boolean>(c, 'broadcast')
    // f16 only without broadcast (nativeF16): db's column sum is an f32 kernel.
    const k = binaryBwdKernel(kind, broadcast, c.half)
    if (!broadcast) {
      const groups = grid(elementwiseInvocations(n, !!c.half), WG)
      c.driver.dispatch(k, { n, D }, [need(c, 'a'), need(c, 'b'), need(c, 'dy'), need(c, 'da'), need(c, 'db')], groups)
      return
    }
    c.driver.dispatch(k, { n, D }, [need(c, 'b'), need(c, 'dy'), need(c, 'da')], grid(n, WG))
    columnSum(c, D ? n / D : 0, D, need(c, 'dy'), need(c, 'db'), kind === 'mul' ? need(c, 'a') : undefined)
  },

  swiglu_fwd(c) {
    const n = c.sizes.gate!
    c.driver.dispatch(swigluKernel(false, c.half), { n }, [need(c, 'gate'), need(c, 'up'), need(c, 'y')], grid(elementwiseInvocations(n, !!c.half), WG))
  },

  swiglu_bwd(c) {
    const n = c.sizes.gate!
    const groups = grid(elementwiseInvocations(n, !!c.half), WG)
    c.driver.dispatch(swigluKernel(true, c.half), { n }, [need(c, 'gate'), need(c, 'up'), need(c, 'dy'), need(c, 'dgate'), need(c, 'dup')], groups)
  },

  feature_map_fwd(c) {
    featureMap(c, false)
  },

  feature_map_bwd(c) {
    featureMap(c, true)
  },

  short_conv_fwd(c) {
    const shape = { B: dim(c, 'B'), T: dim(c, 'T'), C: dim(c, 'C'), W: dim(c, 'W') }
    const bias = c.inputs.bias?.buffer
    const k = shortConvFwdKernel(attr<ConvActivation>(c, 'activation'), !!bias)
    const buffers = [need(c, 'x'), need(c, 'weight'), need(c, 'y'), ...(bias ? [bias] : [])]
    c.driver.dispatch(k, shape, buffers, grid(shape.B * shape.T * shape.C, WG))
  },

  short_conv_bwd(c) {
    const shape = { B: dim(c, 'B'), T: dim(c, 'T'), C: dim(c, 'C'), W: dim(c, 'W') }
    const n = shape.B * shape.T * shape.C
    const bias = c.inputs.bias?.buffer
    let g = need(c, 'dy')
    if (attr<ConvActivation>(c, 'activation') === 'silu') {
      g = c.scratch(Math.max(n, 1) * 4, 'short_conv_bwd g').buffer
      c.driver.dispatch(shortConvGradKernel(!!bias), shape, [need(c, 'x'), need(c, 'weight'), need(c, 'dy'), g, ...(bias ? [bias] : [])], grid(n, WG))
    }
    c.driver.dispatch(shortConvDxKernel, shape, [need(c, 'weight'), g, need(c, 'dx')], grid(n, WG))
    const dbias = c.outputs.dbias?.buffer
    const outputs = shape.C * shape.W + (dbias ? shape.C : 0)
    const rows = shape.B * shape.T
    const { chunks, rowsPerChunk } = columnChunks(rows)
    const partials = c.scratch(Math.max(chunks * outputs, 1) * 4, 'short_conv_bwd parameter partials').buffer
    c.driver.dispatch(
      shortConvDweightKernel(),
      { ...shape, D: outputs, rows_per_chunk: rowsPerChunk },
      [need(c, 'x'), g, partials],
      columnPartialGrid(rows, outputs),
    )
    c.driver.dispatch(
      shortConvDweightTotalKernel(!!dbias),
      { C: shape.C, W: shape.W, D: outputs, chunks },
      [partials, need(c, 'dweight'), ...(dbias ? [dbias] : [])],
      grid(Math.max(outputs, 1), WG),
    )
  },

  rotary_fwd(c) {
    const [B, T, H, D] = [dim(c, 'B'), dim(c, 'T'), dim(c, 'H'), dim(c, 'D')]
    const [base, offset, inverse] = [attr<number>(c, 'base'), attr<number>(c, 'offset'), attr<boolean>(c, 'inverse')]
    const key = `rotary ${T} ${D} ${base} ${offset} ${inverse}`
    let table: ReturnType<typeof rotaryTable> | undefined
    const tableOf = () => (table ??= rotaryTable(T, D, base, offset, inverse))
    const cos = c.driver.constant(`${key} cos`, () => tableOf().cos)
    const sin = c.driver.constant(`${key} sin`, () => tableOf().sin)
    const rows = B * T * H
    c.driver.dispatch(rotaryKernel, { rows, T, H, half: D / 2 }, [need(c, 'x'), cos, sin, need(c, 'y')], grid(rows * (D / 2), WG))
  },

  linear_fwd(c) {
    const K = dim(c, 'K')
    const M = dim(c, 'M')
    const N = K ? c.sizes.x! / K : c.outputs.y!.bytes / 4 / Math.max(M, 1)
    const trans = attr<boolean>(c, 'trans_w')
    // W(k, m) = w[k M + m], or w[m K + k] under trans_w.
    const shape = { n: N, p: M, q: K, sa0: K, sa1: 1, sb0: trans ? 1 : M, sb1: trans ? K : 1 }
    matmul(c, need(c, 'x'), need(c, 'w'), need(c, 'y'), shape, c.inputs.bias?.buffer)
  },

  linear_bwd(c) {
    const K = dim(c, 'K')
    const M = dim(c, 'M')
    const N = K ? c.sizes.x! / K : c.sizes.dy! / Math.max(M, 1)
    const trans = attr<boolean>(c, 'trans_w')
    const x = need(c, 'x')
    const dy = need(c, 'dy')
    // dx (N, K) = dy W^T: A(n, m) = dy[n M + m], B(m, k) = W(k, m).
    matmul(c, dy, need(c, 'w'), need(c, 'dx'), { n: N, p: K, q: M, sa0: M, sa1: 1, sb0: trans ? K : 1, sb1: trans ? 1 : M })
    // dw (K, M) = x^T dy, or (M, K) = dy^T x under trans_w: reductions over the N rows.
    if (trans) matmul(c, dy, x, need(c, 'dw'), { n: M, p: K, q: N, sa0: 1, sa1: M, sb0: K, sb1: 1 })
    else matmul(c, x, dy, need(c, 'dw'), { n: K, p: M, q: N, sa0: 1, sa1: K, sb0: M, sb1: 1 })
    if (c.outputs.dbias && c.half) {
      // f16: the column sums of dy widened to f32, then rounded once.
      const wide = c.scratch(Math.max(N * M, 1) * 4, 'linear_bwd dy in f32').buffer
      const sums = c.scratch(Math.max(M, 1) * 4, 'linear_bwd dbias in f32').buffer
      c.driver.dispatch(castFromF16Kernel, { n: N * M }, [dy, wide], grid(N * M, WG))
      columnSum(c, N, M, wide, sums)
      c.driver.dispatch(castToF16Kernel, { n: M }, [sums, c.outputs.dbias.buffer], grid(Math.ceil(M / 2), WG))
    } else if (c.outputs.dbias) columnSum(c, N, M, dy, c.outputs.dbias.buffer)
  },

  embedding_fwd(c) {
    gather(c, "the table's rows", 'ids', 'table', 'y', dim(c, 'R'), dim(c, 'D'))
  },

  embedding_bwd(c) {
    scatter(c, "the table's rows", 'ids', 'dy', 'dtable', dim(c, 'R'), dim(c, 'D'))
  },

  gather_rows(c) {
    gather(c, "x's rows", 'idx', 'x', 'y', dim(c, 'N'), dim(c, 'D'))
  },

  scatter_add_rows(c) {
    scatter(c, "x's rows", 'idx', 'dy', 'dx', dim(c, 'N'), dim(c, 'D'))
  },

  norm_fwd(c) {
    const D = dim(c, 'D')
    const N = D ? c.sizes.x! / D : 0
    const kind = attr<NormKind>(c, 'kind')
    const weight = c.inputs.weight?.buffer
    const buffers = [need(c, 'x'), need(c, 'y'), need(c, 'rstd'), ...(weight ? [weight] : [])]
    c.driver.dispatch(normFwdKernel(kind, !!weight, D), { D, N, eps: attr<number>(c, 'eps') }, buffers, rowGroupGrid(N, D))
  },

  norm_bwd(c) {
    const D = dim(c, 'D')
    const N = D ? c.sizes.x! / D : 0
    const kind = attr<NormKind>(c, 'kind')
    const weight = c.inputs.weight?.buffer
    const mu = kind === 'layer' ? c.scratch(Math.max(N, 1) * 4, 'norm_bwd mu').buffer : undefined
    const buffers = [need(c, 'x'), need(c, 'rstd'), need(c, 'dy'), need(c, 'dx'), ...(mu ? [mu] : []), ...(weight ? [weight] : [])]
    c.driver.dispatch(normBwdKernel(kind, !!weight, D), { D, N, eps: attr<number>(c, 'eps') }, buffers, rowGroupGrid(N, D))
    if (c.outputs.dweight) {
      const { chunks, rowsPerChunk } = columnChunks(N)
      const partials = c.scratch(Math.max(chunks * D, 1) * 4, 'norm_bwd dweight partials').buffer
      const cols = [need(c, 'x'), need(c, 'rstd'), need(c, 'dy'), partials, ...(mu ? [mu] : [])]
      c.driver.dispatch(normDweightKernel(kind), { N, D, rows_per_chunk: rowsPerChunk }, cols, columnPartialGrid(N, D))
      columnTotal(c, D, chunks, partials, c.outputs.dweight.buffer)
    }
  },

  cross_entropy_fwd(c) {
    const N = dim(c, 'N')
    const C = dim(c, 'C')
    const slot = c.driver.indexCheck((p) => `cross_entropy_fwd: labels[${p}] is outside -1..${C - 1} (-1 = ignored)`)
    const buffers = [need(c, 'logits'), need(c, 'labels'), need(c, 'nll'), need(c, 'lse'), need(c, 'correct'), c.driver.checkStorage]
    c.driver.dispatch(crossEntropyFwdKernel, { N, C, check_slot: slot }, buffers, rowGrid(1, N))
  },

  cross_entropy_bwd(c) {
    const N = dim(c, 'N')
    const C = dim(c, 'C')
    const slot = c.driver.indexCheck((p) => `cross_entropy_bwd: labels[${p}] is outside -1..${C - 1} (-1 = ignored)`)
    const buffers = [need(c, 'logits'), need(c, 'labels'), need(c, 'lse'), need(c, 'dlogits'), c.driver.checkStorage]
    c.driver.dispatch(crossEntropyBwdKernel, { N, C, scale: attr<number>(c, 'scale'), check_slot: slot }, buffers, rowGrid(1, N))
  },

  sum_squares(c) {
    const n = c.sizes.x!
    const groups = Math.max(1, Math.min(SUM_GROUPS, Math.ceil(n / (WG * 16))))
    const perGroup = Math.ceil(n / groups)
    const partial = c.scratch(groups * 4, 'sum_squares partial sums')
    c.driver.dispatch(sumSquaresPartialKernel, { n, per_group: perGroup }, [need(c, 'x'), partial.buffer], rowGrid(1, groups))
    c.driver.dispatch(sumTotalKernel, { n: groups, per_group: groups }, [partial.buffer, need(c, 'y')], [1, 1, 1])
  },

  adamw_step(c) {
    const names = ['param', 'grad', 'm', 'v'] as const
    names.forEach((first, i) => {
      for (const second of names.slice(i + 1))
        if (need(c, first) === need(c, second))
          throw new Error(`adamw_step: ${first} and ${second} are the same memory; param, grad, m and v must be four different tensors`)
    })
    const n = c.sizes.param!
    const a = c.plan.attrs as Record<string, number>
    const step = a.step!
    const params = {
      n,
      lr: a.lr!,
      beta1: a.beta1!,
      beta2: a.beta2!,
      eps: a.eps!,
      decay: 1 - a.lr! * a.weight_decay!,
      bc1: 1 - Math.pow(a.beta1!, step),
      bc2: 1 - Math.pow(a.beta2!, step),
      grad_scale: a.grad_scale!,
      max_norm: a.max_norm!,
    }
    const sq = c.inputs.grad_sq_sum?.buffer
    const buffers = [need(c, 'param'), need(c, 'grad'), need(c, 'm'), need(c, 'v'), ...(sq ? [sq] : [])]
    c.driver.dispatch(sq ? adamwClippedKernel : adamwKernel, params, buffers, grid(n, WG))
  },
}

// A mixer call (either form) whose buffers would be over the device's binding limit runs in slices of its batch.
for (const op of ['mixer_fwd', 'mixer_bwd']) {
  const whole = LAUNCHERS[op]!
  LAUNCHERS[op] = (c) => inBatchSlices(c, whole)
}

/** The op table's unary kinds this backend compiles (all of them; a new kind in the table is refused until added). */
const UNARY = new Set<string>(UNARY_KINDS)
const FEATURE_MAPS = new Set<string>(FEATURE_MAP_KINDS)

/** The ops this backend has kernels for, in f32 (fwd and bwd where the op table has both). */
export const WEBGPU_OPS: readonly string[] = Object.keys(LAUNCHERS).sort()

/**
 * Null when the WebGPU backend runs this planned call, else why not (the
 * message the capability check shows and run() throws).
 */
/**
 * Whether an f16 call runs on its own f16 kernels (the products, reading and writing f16 pairs)
 * rather than the f32 kernels on converted copies (backend.ts throughF32): linear_fwd and linear_bwd
 * when every product's C has an even number of columns (C is written two f16 to a word).
 */
const ELEMENTWISE_F16 = new Set(['accumulate', 'unary_fwd', 'unary_bwd', 'binary_fwd', 'binary_bwd', 'swiglu_fwd', 'swiglu_bwd'])

export function nativeF16(plan: NativeOpPlan): boolean {
  if (plan.dtype !== 'f16') return false
  // K, M > 0: the launchers take a product's rows from an input's size, or from y's bytes when K = 0.
  const even = (d: string) => (plan.dims[d] ?? 0) > 0 && plan.dims[d]! % 2 === 0
  if (plan.op === 'linear_fwd') return even('M')
  if (plan.op === 'linear_bwd') return even('M') && even('K')
  // Elementwise ops (kernels/elementwise.ts): every float tensor of an f16 call is f16 (the addon's
  // rule), read and written in pairs; binary_bwd's broadcast db is a column sum the f32 kernel does.
  if (ELEMENTWISE_F16.has(plan.op)) return !(plan.op === 'binary_bwd' && plan.attrs.broadcast === true)
  return false
}

export function webGpuRefusal(plan: NativeOpPlan): string | null {
  const { op, dtype } = plan
  if (!(op in LAUNCHERS)) return `backend webgpu has no kernel for ${op}`
  // f16 calls without f16 kernels run the f32 kernels on f32 copies of their f16 tensors (backend.ts throughF32).
  if (dtype !== 'f32' && dtype !== 'f16') return `backend webgpu has no kernel for ${op} in ${dtype} (WebGPU computes in f32 and stores f32 or f16)`
  if (op === 'cast' && plan.attrs.to !== 'f32' && plan.attrs.to !== 'f16')
    return `backend webgpu has no kernel for cast to ${String(plan.attrs.to)} (f32 and f16 only)`
  if ((op === 'unary_fwd' || op === 'unary_bwd') && !UNARY.has(String(plan.attrs.kind)))
    return `backend webgpu has no kernel for ${op} with kind ${String(plan.attrs.kind)}`
  if (op === 'mixer_fwd' || op === 'mixer_bwd') {
    // The CPU's exp gate without a forget gate reads a gate that is not there: not a semantics to copy.
    if (plan.attrs.input_gate === 'exp' && plan.attrs.gate === 'none') return `backend webgpu has no kernel for ${op} with input_gate exp and gate none`
    if ((plan.dims.K ?? 0) > MAX_MIXER_K || (plan.dims.V ?? 0) > MAX_MIXER_V)
      return `backend webgpu has no kernel for ${op} with K over ${MAX_MIXER_K} or V over ${MAX_MIXER_V} (K ${plan.dims.K}, V ${plan.dims.V})`
  }
  if (op.startsWith('softmax_attn_') && Math.max(plan.dims.D ?? 0, plan.dims.V ?? 0) > MAX_HEAD_DIM)
    return `backend webgpu has no kernel for ${op} with head dims over ${MAX_HEAD_DIM} (D ${plan.dims.D}, V ${plan.dims.V})`
  if ((op === 'feature_map_fwd' || op === 'feature_map_bwd') && !FEATURE_MAPS.has(String(plan.attrs.kind)))
    return `backend webgpu has no kernel for ${op} with kind ${String(plan.attrs.kind)}`
  return null
}
