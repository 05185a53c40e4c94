// cross_entropy_fwd / cross_entropy_bwd: softmax cross-entropy per row.
//
// logits, dlogits: (N, C)   labels: (N) i32, -1 = ignored   nll, lse, correct: (N)
//
//   lse[n]  = max_n + log sum_c exp(logits[n, c] - max_n)
//   nll[n]  = log_sum - (logits[n, y] - max_n)         (0 where y = -1)
//   correct = [argmax_c logits[n, c] == y]             (lowest index on ties)
//   dlogits[n, c] = scale * (exp(logits[n, c] - lse[n]) - [c == y])   (0 where y = -1;
//                  at c = y as expm1, so a confident row keeps its small gradient)
//
// A row holding a NaN, or whose max is not finite, gives NaN lse (and NaN
// nll and dlogits unless ignored), as on the CPU. A label outside -1..C-1 is
// recorded in the index-check slot (thrown at the next read or synchronize)
// and its row is treated as ignored. One workgroup per row (rowGrid(1, N)).
import { indexCheckWgsl, paramsWgsl, type Kernel } from '../driver'
import { FLOAT_BITS_WGSL, ROW_INDEX_WGSL, SAFE_MATH_WGSL, WG, WORKGROUP_SUM_WGSL } from './common'

const fwdParams = [
  ['N', 'u32'],
  ['C', 'u32'],
  ['check_slot', 'u32'],
] as const

/** The row's max, its lowest index and whether any value is NaN: a workgroup reduction. */
const ROW_MAX_WGSL = `
var<workgroup> max_value: array<f32, ${WG}>;
var<workgroup> max_index: array<u32, ${WG}>;
var<workgroup> any_nan: array<u32, ${WG}>;
struct RowMax { value: f32, index: u32, nan: bool }
fn row_max(lid: u32, base: u32) -> RowMax {
  var m = negative_infinity();
  var mi = 0xffffffffu;
  var nan = 0u;
  for (var c = lid; c < P.C; c += ${WG}u) {
    let v = logits[base + c];
    if (is_nan(v)) { nan = 1u; }
    if (mi == 0xffffffffu || v > m) { m = v; mi = c; }
  }
  max_value[lid] = m;
  max_index[lid] = mi;
  any_nan[lid] = nan;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) {
      let om = max_value[lid + s];
      let oi = max_index[lid + s];
      let mi_here = max_index[lid];
      if (oi != 0xffffffffu && (mi_here == 0xffffffffu || om > max_value[lid] || (om == max_value[lid] && oi < mi_here))) {
        max_value[lid] = om;
        max_index[lid] = oi;
      }
      any_nan[lid] = any_nan[lid] | any_nan[lid + s];
    }
    workgroupBarrier();
  }
  let r = RowMax(max_value[0], max_index[0], any_nan[0] != 0u);
  workgroupBarrier();
  return r;
}
`

export const crossEntropyFwdKernel: Kernel = {
  label: 'cross_entropy_fwd',
  entry: 'main',
  params: fwdParams,
  code: `${paramsWgsl(fwdParams)}${ROW_INDEX_WGSL}${FLOAT_BITS_WGSL}${SAFE_MATH_WGSL}${WORKGROUP_SUM_WGSL}
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> nll: array<f32>;
@group(0) @binding(4) var<storage, read_write> lse: array<f32>;
@group(0) @binding(5) var<storage, read_write> correct: array<f32>;
${indexCheckWgsl(6)}${ROW_MAX_WGSL}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = row_index(wid, nwg);
  if (row >= P.N) { return; }
  let base = row * P.C;
  var label = labels[row];
  if (label < -1 || label >= i32(P.C)) {
    if (lid == 0u) { flag_bad_index(P.check_slot, row); }
    label = -1;
  }
  let rm = row_max(lid, base);
  // The max's own term is 1: sum the others, so log_sum = log1p(rest) keeps its precision when rest is small.
  var s = 0.0;
  for (var c = lid; c < P.C; c += ${WG}u) {
    if (c != rm.index) { s += exp(logits[base + c] - rm.value); }
  }
  let rest = workgroup_sum(lid, s);
  if (lid != 0u) { return; }
  if (rm.nan || !is_finite(rm.value)) {
    lse[row] = quiet_nan();
    nll[row] = select(quiet_nan(), 0.0, label == -1);
    correct[row] = 0.0;
    return;
  }
  let log_sum = select(log(1.0 + rest), log1p_unit(rest), rest <= 1.0);
  lse[row] = rm.value + log_sum;
  if (label == -1) {
    nll[row] = 0.0;
    correct[row] = 0.0;
    return;
  }
  nll[row] = log_sum - (logits[base + u32(label)] - rm.value);
  correct[row] = select(0.0, 1.0, rm.index == u32(label));
}
`,
}

const bwdParams = [
  ['N', 'u32'],
  ['C', 'u32'],
  ['scale', 'f32'],
  ['check_slot', 'u32'],
] as const

export const crossEntropyBwdKernel: Kernel = {
  label: 'cross_entropy_bwd',
  entry: 'main',
  params: bwdParams,
  code: `${paramsWgsl(bwdParams)}${ROW_INDEX_WGSL}${FLOAT_BITS_WGSL}${SAFE_MATH_WGSL}${WORKGROUP_SUM_WGSL}
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read> lse: array<f32>;
@group(0) @binding(4) var<storage, read_write> dlogits: array<f32>;
${indexCheckWgsl(5)}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = row_index(wid, nwg);
  if (row >= P.N) { return; }
  let base = row * P.C;
  var label = labels[row];
  if (label < -1 || label >= i32(P.C)) {
    if (lid == 0u) { flag_bad_index(P.check_slot, row); }
    label = -1;
  }
  var nans = 0.0;
  for (var c = lid; c < P.C; c += ${WG}u) { if (is_nan(logits[base + c])) { nans += 1.0; } }
  let has_nan = workgroup_sum(lid, nans) > 0.0;
  if (label == -1) {
    for (var c = lid; c < P.C; c += ${WG}u) { dlogits[base + c] = 0.0; }
    return;
  }
  let l = lse[row];
  let unusable = has_nan || !is_finite(l);
  for (var c = lid; c < P.C; c += ${WG}u) {
    var g = P.scale * exp(logits[base + c] - l);
    if (c == u32(label)) { g = P.scale * expm1(logits[base + c] - l); }
    dlogits[base + c] = select(g, quiet_nan(), unusable);
  }
}
`,
}
