// WGSL pieces several kernels share: the workgroup size of elementwise
// kernels, float classification by bits (compilers may fold `x != x`), and
// the overflow-safe sigmoid, log1p and expm1 the CPU kernels use in double.
import { GROUP_INDEX_WGSL, type Kernel } from '../driver'

/** Invocations per workgroup of the elementwise and per-row kernels. */
export const WG = 256

/** Prelude of a 1-D elementwise kernel: `index(wid, nwg, lid)` is the element of a grid(n, WG) launch. */
export const ELEMENTWISE_WGSL = `${GROUP_INDEX_WGSL}fn element_index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 { return group_index(wid, nwg) * ${WG}u + lid; }\n`

/**
 * NaN and infinity tests on the bit pattern, a quiet NaN to write and -inf.
 * The bit patterns sit in private variables: a constant NaN or infinity is a
 * shader-creation error in WGSL.
 */
export const FLOAT_BITS_WGSL = `
var<private> quiet_nan_bits: u32 = 0x7fc00000u;
var<private> negative_infinity_bits: u32 = 0xff800000u;
fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn is_finite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }
fn quiet_nan() -> f32 { return bitcast<f32>(quiet_nan_bits); }
fn negative_infinity() -> f32 { return bitcast<f32>(negative_infinity_bits); }
`

/**
 * sigmoid, log1p, log(1 + exp(-|x|)) and expm1 without overflow or
 * cancellation (the CPU computes them in double). log1p and expm1 near 0 are
 * series, not log and exp: Vulkan allows log an absolute error of 2^-21 on
 * [0.5, 2] (seen on lavapipe: expm1 by Kahan's log trick was 0.7% off at
 * -1e-5), which is no relative accuracy at all for results near 0.
 */
export const SAFE_MATH_WGSL = `
fn sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}
// log(1 + u) for u in [0, 1]: 2 atanh(s), s = u / (2 + u) <= 1/3, to s^19 (relative error < 1e-9).
fn log1p_unit(u: f32) -> f32 {
  let s = u / (2.0 + u);
  let s2 = s * s;
  var series = 1.0 / 19.0;
  for (var k = 17.0; k > 0.0; k -= 2.0) { series = 1.0 / k + s2 * series; }
  return 2.0 * s * series;
}
fn log1p_exp_neg_abs(x: f32) -> f32 { return log1p_unit(exp(-abs(x))); }
// exp(d) - 1: a Taylor series to d^11 for |d| < 0.5, where exp(d) - 1 would cancel.
fn expm1(d: f32) -> f32 {
  if (abs(d) >= 0.5) { return exp(d) - 1.0; }
  var series = 1.0 / 39916800.0;
  var fact = 39916800.0;
  for (var k = 10.0; k > 0.0; k -= 1.0) {
    fact = fact / (k + 1.0);
    series = 1.0 / fact + d * series;
  }
  return d * series;
}
`

/**
 * A workgroup sum of one f32 per invocation (WG invocations), the same
 * order every run: `workgroup_sum(lid, v)` from uniform control flow.
 */
export const WORKGROUP_SUM_WGSL = `
var<workgroup> reduce_scratch: array<f32, ${WG}>;
fn workgroup_sum(lid: u32, v: f32) -> f32 {
  reduce_scratch[lid] = v;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { reduce_scratch[lid] += reduce_scratch[lid + s]; }
    workgroupBarrier();
  }
  let total = reduce_scratch[0];
  workgroupBarrier();
  return total;
}
`

/** workgroup_max(lid, v): the largest v over the workgroup (every invocation calls it). */
export const WORKGROUP_MAX_WGSL = `
var<workgroup> max_scratch: array<f32, ${WG}>;
fn workgroup_max(lid: u32, v: f32) -> f32 {
  max_scratch[lid] = v;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { max_scratch[lid] = max(max_scratch[lid], max_scratch[lid + s]); }
    workgroupBarrier();
  }
  let m = max_scratch[0];
  workgroupBarrier();
  return m;
}
`

/** The row of a per-row launch (rowGrid(1, rows)): rows folded into y and z. */
export const ROW_INDEX_WGSL = `fn row_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.y + wid.z * nwg.y; }\n`

const kernels = new Map<string, Kernel>()

/** The kernel named `label`, made once: a kernel's code is a pure function of its label. */
export function cachedKernel(label: string, make: () => Omit<Kernel, 'label'>): Kernel {
  let k = kernels.get(label)
  if (!k) {
    k = { label, ...make() }
    kernels.set(label, k)
  }
  return k
}

/** Invocations per row of the row kernels that give a row a group (feature maps' l2 norms, norms): D rounded up to a power of two, at least 32, at most WG. */
export function rowGroup(D: number): number {
  let g = 32
  while (g < D && g < WG) g *= 2
  return g
}

/**
 * group_sum(lid, v): the sum of v over the G invocations of lid's row group
 * (WG / G groups per workgroup; a tree over G lanes, every invocation gets its
 * group's total). Holds barriers: every invocation of the workgroup must call it.
 */
export const GROUP_SUM_WGSL = (G: number): string => `
var<workgroup> group_scratch: array<f32, ${WG}>;
fn group_sum(lid: u32, v: f32) -> f32 {
  group_scratch[lid] = v;
  workgroupBarrier();
  let lane = lid % ${G}u;
  for (var s = ${G / 2}u; s > 0u; s >>= 1u) {
    if (lane < s) { group_scratch[lid] += group_scratch[lid + s]; }
    workgroupBarrier();
  }
  let total = group_scratch[lid - lane];
  workgroupBarrier();
  return total;
}
`

/**
 * The entry of a row-group kernel (GROUP_SUM_WGSL included): `lane` (0 .. G-1),
 * `row` (WG / G rows per workgroup of a rowGrid(1, ceil(rows / (WG / G)))
 * launch; past `rows` for the last workgroup's spare groups: `live` false and
 * `end` 0, so every read and write is skipped while group_sum, which holds
 * barriers, is still joined), `base` (the row's first value) and `end` (P.D).
 * `rows` is the WGSL of the row count (P.rows, P.N).
 */
export const ROW_GROUP_ENTRY_WGSL = (G: number, rows: string): string => `${GROUP_SUM_WGSL(G)}@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let lane = lid % ${G}u;
  let row = row_index(wid, nwg) * ${WG / G}u + lid / ${G}u;
  let live = row < ${rows};
  let base = select(0u, row * P.D, live);
  let end = select(0u, P.D, live);`
