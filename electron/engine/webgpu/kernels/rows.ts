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
// WGSL, and results do not depend on scheduling). Its cost is R x N id
// comparisons per column block: fine for the vocabularies Linea trains; a
// sort by id is the path for very large R.
import { indexCheckWgsl, paramsWgsl, type Kernel } from '../driver'
import { ELEMENTWISE_WGSL, WG } from './common'

/** Columns of one output row per scatter workgroup; ids staged per step. */
export const COLUMNS = 64
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
// Workgroups: x = column block, y + z * (workgroups in y) = output row (rowGrid()).
@compute @workgroup_size(${COLUMNS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y + wid.z * nwg.y;
  if (row >= P.R) { return; }
  let r = i32(row);
  let d = wid.x * ${COLUMNS}u + lid;
  let checker = wid.x == 0u && row == 0u;
  var acc = 0.0;
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
        if (tile[t] == r) { acc += dy[(n0 + t) * P.D + d]; }
      }
    }
    workgroupBarrier();
  }
  if (d < P.D) { out[u32(r) * P.D + d] = acc; }
}
`,
}

/** Workgroups of a launch with `columnBlocks` in x and `rows` folded into y and z. */
export function rowGrid(columnBlocks: number, rows: number, maxPerDimension = 65535): [number, number, number] {
  if (rows <= maxPerDimension) return [columnBlocks, rows, 1]
  const z = Math.ceil(rows / maxPerDimension)
  return [columnBlocks, Math.ceil(rows / z), z]
}
