// Row gather and its gradient, the scatter-add: embedding_fwd / gather_rows
// and embedding_bwd / scatter_add_rows.
//
// gather:  ids (N) i32   table (R, D)   y (N, D)    y[n, :] = table[ids[n], :]
// scatter: ids (N) i32   dy (N, D)      out (R, D)  out[r, :] = sum over n with ids[n] = r of dy[n, :]
//
// An id outside 0..R-1 is recorded in the dispatch's index-check slot (the
// driver throws it at the next read or synchronize, as the CPU throws at
// once) and its row reads as zeros. The scatter is a gather turned around:
// a workgroup owns one output row and COLUMNS columns and walks all ids in
// order, so each sum has one writer and a fixed order (no float atomics in
// WGSL, and results do not depend on scheduling). A workgroup owns ROWS
// output rows and COLUMNS columns, so the cost is R / ROWS x N id comparisons
// per column block: fine for the vocabularies Linea trains; a sort by id is
// the path for very large R.
import { indexCheckWgsl, paramsWgsl, type Kernel } from '../driver'
import { ELEMENTWISE_WGSL, WG } from './common'

/** Columns per scatter workgroup, its block of output rows, and the ids staged per step. */
export const COLUMNS = 64
export const ROWS = 32
const ID_TILE = 256

const gatherParams = [
  ['n', 'u32'],
  ['R', 'u32'],
  ['D', 'u32'],
  ['check_slot', 'u32'],
] as const

export const gatherRowsKernel: Kernel = {
  label: 'gather_rows',
  entry: 'main',
  params: gatherParams,
  code: `${paramsWgsl(gatherParams)}${ELEMENTWISE_WGSL}
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
${indexCheckWgsl(4)}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = element_index(wid, nwg, lid);
  if (i >= P.n) { return; }
  let pos = i / P.D;
  let d = i % P.D;
  let id = ids[pos];
  if (id < 0 || u32(id) >= P.R) {
    if (d == 0u) { flag_bad_index(P.check_slot, pos); }
    y[i] = 0.0;
    return;
  }
  y[i] = table[u32(id) * P.D + d];
}
`,
}

const scatterParams = [
  ['N', 'u32'],
  ['R', 'u32'],
  ['D', 'u32'],
  ['check_slot', 'u32'],
] as const

export const scatterAddRowsKernel: Kernel = {
  label: 'scatter_add_rows',
  entry: 'main',
  params: scatterParams,
  code: `${paramsWgsl(scatterParams)}
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${indexCheckWgsl(4)}
var<workgroup> tile: array<i32, ${ID_TILE}>;
// Workgroups: x = column block, y + z * (workgroups in y) = block of ROWS output rows (rowGrid()).
// Invocation d keeps the sums of its column for the block's rows in registers.
@compute @workgroup_size(${COLUMNS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let block = wid.y + wid.z * nwg.y;
  let r0 = block * ${ROWS}u;
  if (r0 >= P.R) { return; }
  let d = wid.x * ${COLUMNS}u + lid;
  let checker = wid.x == 0u && block == 0u;
  var acc: array<f32, ${ROWS}>;
  for (var i = 0u; i < ${ROWS}u; i++) { acc[i] = 0.0; }
  for (var n0 = 0u; n0 < P.N; n0 += ${ID_TILE}u) {
    for (var t = lid; t < ${ID_TILE}u; t += ${COLUMNS}u) {
      var id = -1;
      if (n0 + t < P.N) { id = ids[n0 + t]; }
      tile[t] = id;
      if (checker && n0 + t < P.N && (id < 0 || u32(id) >= P.R)) { flag_bad_index(P.check_slot, n0 + t); }
    }
    workgroupBarrier();
    let count = min(${ID_TILE}u, P.N - n0);
    if (d < P.D) {
      for (var t = 0u; t < count; t++) {
        let offset = u32(tile[t]) - r0; // wraps to a large value below r0 (and for -1)
        if (offset < ${ROWS}u) { acc[offset] += dy[(n0 + t) * P.D + d]; }
      }
    }
    workgroupBarrier();
  }
  if (d < P.D) {
    for (var i = 0u; i < ${ROWS}u; i++) {
      if (r0 + i < P.R) { out[(r0 + i) * P.D + d] = acc[i]; }
    }
  }
}
`,
}

/** Workgroups of a launch with `columnBlocks` in x and `rows` folded into y and z. */
export function rowGrid(columnBlocks: number, rows: number, maxPerDimension = 65535): [number, number, number] {
  if (rows <= maxPerDimension) return [columnBlocks, rows, 1]
  const z = Math.ceil(rows / maxPerDimension)
  return [columnBlocks, Math.ceil(rows / z), z]
}
