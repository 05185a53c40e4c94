// column_sum: out[d] = sum over rows r of x[r, d] (or x[r, d] * w[r, d]):
// the broadcast gradient of binary_bwd and linear_bwd's dbias; and the
// second pass every chunked column sum shares (norm_bwd's dweight too).
//
// x, w: (R, D)   partials: (chunks, D)   out: (D)
// Two passes. The rows are cut into chunks (columnChunks: from R alone, at
// most MAX_CHUNKS), and workgroup (column block, chunk) sums its chunk's rows
// for 64 columns, its 4 row lanes striding over them and added in lane order,
// into partials[chunk, d]; then columnTotalKernel adds the chunks in order.
// So the result is deterministic, and a sum over many rows runs on many
// workgroups: one workgroup per 64 columns walking every row (the earlier
// form) gave a d_model of 256 four workgroups for a whole batch's rows.
import { paramsWgsl, type Kernel } from '../driver'
import { ELEMENTWISE_WGSL, WG } from './common'

/** Columns per workgroup, and row lanes: COLUMNS x LANES invocations. */
export const COLUMNS = 64
export const LANES = 4
/** Chunks of rows at most. */
export const MAX_CHUNKS = 128

/** How the R rows of a chunked column sum are cut: at least 64 rows a chunk, at most MAX_CHUNKS chunks. */
export function columnChunks(R: number): { chunks: number; rowsPerChunk: number } {
  const rowsPerChunk = Math.max(64, Math.ceil(R / MAX_CHUNKS))
  return { chunks: Math.max(1, Math.ceil(R / rowsPerChunk)), rowsPerChunk }
}

/** Grid of a chunked column sum's first pass over D columns and R rows. */
export function columnPartialGrid(R: number, D: number): [number, number, number] {
  return [Math.ceil(D / COLUMNS), columnChunks(R).chunks, 1]
}

/**
 * WGSL of a first pass: `term` (of row r and column d) summed over the chunk's
 * rows into partials[chunk, d]. The module declares P (with D and rows_per_chunk,
 * and R for the rows) and `partials`.
 */
export function columnPartialWgsl(term: string, rows: string): string {
  return `var<workgroup> lane_sums: array<f32, ${COLUMNS * LANES}>;
@compute @workgroup_size(${COLUMNS}, ${LANES})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let d = wid.x * ${COLUMNS}u + lid.x;
  let first = wid.y * P.rows_per_chunk;
  let end = min(first + P.rows_per_chunk, ${rows});
  var acc = 0.0;
  if (d < P.D) {
    for (var r = first + lid.y; r < end; r += ${LANES}u) { acc += ${term}; }
  }
  lane_sums[lid.y * ${COLUMNS}u + lid.x] = acc;
  workgroupBarrier();
  if (lid.y == 0u && d < P.D) {
    var total = 0.0;
    for (var lane = 0u; lane < ${LANES}u; lane++) { total += lane_sums[lane * ${COLUMNS}u + lid.x]; }
    partials[wid.y * P.D + d] = total;
  }
}
`
}

const partialParams = [
  ['R', 'u32'],
  ['D', 'u32'],
  ['rows_per_chunk', 'u32'],
] as const

function columnSum(product: boolean): Kernel {
  const bindings = product
    ? `@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;`
    : `@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;`
  const term = product ? 'x[r * P.D + d] * w[r * P.D + d]' : 'x[r * P.D + d]'
  return {
    label: product ? 'column_sum/product' : 'column_sum',
    entry: 'main',
    params: partialParams,
    code: `${paramsWgsl(partialParams)}${bindings}
${columnPartialWgsl(term, 'P.R')}`,
  }
}

export const columnSumKernel = columnSum(false)
export const columnSumProductKernel = columnSum(true)

const totalParams = [
  ['D', 'u32'],
  ['chunks', 'u32'],
] as const

/** out[d] = sum over chunks k, in order, of partials[k, d]; one invocation per column (grid(D, WG)). */
export const columnTotalKernel: Kernel = {
  label: 'column_sum/total',
  entry: 'main',
  params: totalParams,
  code: `${paramsWgsl(totalParams)}${ELEMENTWISE_WGSL}
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let d = element_index(wid, nwg, lid);
  if (d >= P.D) { return; }
  var total = 0.0;
  for (var k = 0u; k < P.chunks; k++) { total += partials[k * P.D + d]; }
  out[d] = total;
}
`,
}
