// feature_map_fwd / feature_map_bwd: the feature maps on queries and keys.
//
// x, dx: (rows, D)   y, dy: (rows, E), rows = B T H; E = D except taylor2: E = 1 + D + D^2
//
//   identity, elu1 (x > 0 ? x + 1 : e^x), relu, silu: pointwise
//   l2norm, silu_l2norm: u = x or silu(x), y = u / sqrt(|u|^2 + eps)
//       du = (dy - y (y . dy)) / sqrt(|u|^2 + eps), dx = du u'(x)
//   taylor2: y = [1, x / D^(1/4), x_i x_j / sqrt(2 D)]
//       dx_a = dy_lin[a] / D^(1/4) + sum_j (dY[a, j] + dY[j, a]) x_j / sqrt(2 D)
//
// Pointwise kinds and taylor2 run one invocation per output element. The l2
// norms run a group of G invocations per row (G = rowGroup(D): D rounded up to
// a power of two, 32 to WG), WG / G rows per workgroup (rowGrid(1, ceil(rows
// / (WG / G)))): rows are a head's key dim (64, 128), and a whole workgroup
// per row left three quarters of it idle at D = 64 and reduced over all 256
// invocations. The kind and G are compiled in.
import { paramsWgsl, type Kernel } from '../driver'
import { ELEMENTWISE_WGSL, ROW_GROUP_ENTRY_WGSL, ROW_INDEX_WGSL, rowGroup, SAFE_MATH_WGSL, WG } from './common'

export const FEATURE_MAP_KINDS = ['identity', 'elu1', 'relu', 'silu', 'l2norm', 'silu_l2norm', 'taylor2'] as const
export type FeatureMapKind = (typeof FEATURE_MAP_KINDS)[number]

/** The pointwise map (or the l2 norms' pre-map) and its derivative, as WGSL of `x`. */
const POINTWISE: Record<Exclude<FeatureMapKind, 'taylor2'>, { value: string; grad: string }> = {
  identity: { value: 'x', grad: '1.0' },
  l2norm: { value: 'x', grad: '1.0' },
  elu1: { value: 'select(exp(x), x + 1.0, x > 0.0)', grad: 'select(exp(x), 1.0, x > 0.0)' },
  relu: { value: 'select(0.0, x, x > 0.0)', grad: 'select(0.0, 1.0, x > 0.0)' },
  silu: { value: 'x * sigmoid(x)', grad: 'sigmoid(x) * (1.0 + x * sigmoid(-x))' },
  silu_l2norm: { value: 'x * sigmoid(x)', grad: 'sigmoid(x) * (1.0 + x * sigmoid(-x))' },
}

/** Whether a kind runs one workgroup per row (the l2 norms). */
export const isRowwise = (kind: FeatureMapKind): boolean => kind === 'l2norm' || kind === 'silu_l2norm'

const params = [
  ['rows', 'u32'],
  ['D', 'u32'],
  ['E', 'u32'],
  ['eps', 'f32'],
  ['linear', 'f32'],
  ['quadratic', 'f32'],
] as const

const HEADER = `${paramsWgsl(params)}${ELEMENTWISE_WGSL}${ROW_INDEX_WGSL}${SAFE_MATH_WGSL}`
const ELEMENT_ENTRY = `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = element_index(wid, nwg, lid);`

/** The l2 norms' entry: a group of G invocations per row (common.ts). */
const ROW_ENTRY = (G: number) => ROW_GROUP_ENTRY_WGSL(G, 'P.rows')

const cache = new Map<string, Kernel>()

/** The kernel of `kind`; the l2 norms' for rows of D values (rowGroup(D) is compiled in). */
export function featureMapKernel(kind: FeatureMapKind, backward: boolean, D = 1): Kernel {
  const G = isRowwise(kind) ? rowGroup(D) : 0
  const label = `feature_map_${backward ? 'bwd' : 'fwd'}/${kind}${G ? `/g${G}` : ''}`
  let k = cache.get(label)
  if (!k) {
    k = { label, entry: 'main', params, code: `${HEADER}${backward ? backwardBody(kind, G) : forwardBody(kind, G)}` }
    cache.set(label, k)
  }
  return k
}

function forwardBody(kind: FeatureMapKind, G: number): string {
  const io = `@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
`
  if (kind === 'taylor2')
    return `${io}${ELEMENT_ENTRY}
  if (i >= P.rows * P.E) { return; }
  let row = i / P.E;
  let e = i % P.E;
  if (e == 0u) { y[i] = 1.0; return; }
  if (e <= P.D) { y[i] = xs[row * P.D + e - 1u] * P.linear; return; }
  let q = e - 1u - P.D;
  y[i] = xs[row * P.D + q / P.D] * P.quadratic * xs[row * P.D + q % P.D];
}
`
  const f = POINTWISE[kind]
  if (!isRowwise(kind))
    return `${io}${ELEMENT_ENTRY}
  if (i >= P.rows * P.D) { return; }
  let x = xs[i];
  y[i] = ${f.value};
}
`
  return `${io}fn pre(x: f32) -> f32 { return ${f.value}; }
${ROW_ENTRY(G)}
  var ss = 0.0;
  for (var i = lane; i < end; i += ${G}u) { let u = pre(xs[base + i]); ss += u * u; }
  let inv_norm = 1.0 / sqrt(group_sum(lid, ss) + P.eps);
  for (var i = lane; i < end; i += ${G}u) { y[base + i] = pre(xs[base + i]) * inv_norm; }
}
`
}

function backwardBody(kind: FeatureMapKind, G: number): string {
  const io = `@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
`
  if (kind === 'taylor2')
    return `${io}${ELEMENT_ENTRY}
  if (i >= P.rows * P.D) { return; }
  let row = i / P.D;
  let a = i % P.D;
  let x = row * P.D;
  let g = row * P.E;
  let quad = g + 1u + P.D; // dY (D, D), row-major
  var acc = 0.0;
  for (var j = 0u; j < P.D; j++) { acc += (dy[quad + a * P.D + j] + dy[quad + j * P.D + a]) * xs[x + j]; }
  dx[i] = dy[g + 1u + a] * P.linear + acc * P.quadratic;
}
`
  const f = POINTWISE[kind]
  if (!isRowwise(kind))
    return `${io}${ELEMENT_ENTRY}
  if (i >= P.rows * P.D) { return; }
  let x = xs[i];
  dx[i] = dy[i] * (${f.grad});
}
`
  return `${io}fn pre(x: f32) -> f32 { return ${f.value}; }
fn pre_grad(x: f32) -> f32 { return ${f.grad}; }
${ROW_ENTRY(G)}
  var ss = 0.0;
  var udy = 0.0;
  for (var i = lane; i < end; i += ${G}u) {
    let u = pre(xs[base + i]);
    ss += u * u;
    udy += u * dy[base + i];
  }
  let inv_norm = 1.0 / sqrt(group_sum(lid, ss) + P.eps);
  let y_dot_dy = group_sum(lid, udy) * inv_norm;
  for (var i = lane; i < end; i += ${G}u) {
    let x = xs[base + i];
    dx[base + i] = (dy[base + i] - pre(x) * inv_norm * y_dot_dy) * inv_norm * pre_grad(x);
  }
}
`
}
