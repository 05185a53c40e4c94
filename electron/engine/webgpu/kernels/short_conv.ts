// short_conv_fwd / short_conv_bwd: causal depthwise convolution over time.
//
// x, y, dy, dx, g: (B, T, C)   weight, dweight: (C, W)   bias, dbias: (C)
//
//   pre[b, t, c] = bias[c] + sum_{j<W} weight[c, j] x[b, t - W + 1 + j, c]   (x = 0 at t < 0)
//   y = act(pre), act = identity or silu;  g = dy act'(pre)
//   dx[b, s, c]   = sum_j weight[c, j] g[b, s + W - 1 - j, c]   (terms past T dropped)
//   dweight[c, j] = sum_{b, t} g[b, t, c] x[b, t - W + 1 + j, c];  dbias[c] = sum_{b, t} g[b, t, c]
//
// The backward is three passes: g (skipped for identity: g = dy), dx per
// element, then dweight and dbias as column sums over the B T rows (64
// outputs by 4 row lanes per workgroup, added in lane order: deterministic).
import { paramsWgsl, type Kernel } from '../driver'
import { ELEMENTWISE_WGSL, SAFE_MATH_WGSL, WG } from './common'

export type ConvActivation = 'none' | 'silu'

const params = [
  ['B', 'u32'],
  ['T', 'u32'],
  ['C', 'u32'],
  ['W', 'u32'],
] as const

const HEADER = `${paramsWgsl(params)}${ELEMENTWISE_WGSL}${SAFE_MATH_WGSL}`
const ENTRY = `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = element_index(wid, nwg, lid);
  if (i >= P.B * P.T * P.C) { return; }
  let c = i % P.C;
  let t = (i / P.C) % P.T;`

/** pre-activation at element i (time t, channel c): a WGSL function over bindings x, weight and optional bias. */
const preWgsl = (hasBias: boolean): string => `
fn pre_activation(i: u32, t: u32, c: u32) -> f32 {
  var pre = ${hasBias ? 'bias[c]' : '0.0'};
  for (var j = 0u; j < P.W; j++) {
    if (t + j + 1u < P.W) { continue; } // x before time 0
    pre += weight[c * P.W + j] * x[i - (P.W - 1u - j) * P.C];
  }
  return pre;
}
fn activation_grad(pre: f32) -> f32 { return sigmoid(pre) * (1.0 + pre * sigmoid(-pre)); }
`

const cache = new Map<string, Kernel>()
function cached(label: string, code: () => string, kernelParams: Kernel['params'] = params): Kernel {
  let k = cache.get(label)
  if (!k) {
    k = { label, entry: 'main', params: kernelParams, code: code() }
    cache.set(label, k)
  }
  return k
}

export function shortConvFwdKernel(activation: ConvActivation, hasBias: boolean): Kernel {
  return cached(
    `short_conv_fwd/${activation}${hasBias ? '/bias' : ''}`,
    () => `${HEADER}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
${hasBias ? '@group(0) @binding(4) var<storage, read> bias: array<f32>;' : ''}
${preWgsl(hasBias)}
${ENTRY}
  let pre = pre_activation(i, t, c);
  y[i] = ${activation === 'silu' ? 'pre * sigmoid(pre)' : 'pre'};
}
`,
  )
}

/** g = dy act'(pre) (silu only; for identity the launcher uses dy as g). */
export function shortConvGradKernel(hasBias: boolean): Kernel {
  return cached(
    `short_conv_bwd/g${hasBias ? '/bias' : ''}`,
    () => `${HEADER}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> g: array<f32>;
${hasBias ? '@group(0) @binding(5) var<storage, read> bias: array<f32>;' : ''}
${preWgsl(hasBias)}
${ENTRY}
  g[i] = dy[i] * activation_grad(pre_activation(i, t, c));
}
`,
  )
}

export const shortConvDxKernel: Kernel = cached(
  'short_conv_bwd/dx',
  () => `${HEADER}
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
${ENTRY}
  var acc = 0.0;
  for (var j = 0u; j < P.W; j++) {
    let later = P.W - 1u - j; // g at time t + later
    if (t + later >= P.T) { continue; }
    acc += weight[c * P.W + j] * g[i + later * P.C];
  }
  dx[i] = acc;
}
`,
)

const COLUMNS = 64
const LANES = 4

/** dweight (C W values) and, with a bias, dbias (C more): one output per column of a column sum over the B T rows. */
export function shortConvDweightKernel(hasBias: boolean): Kernel {
  return cached(
    `short_conv_bwd/dweight${hasBias ? '/dbias' : ''}`,
    () => `${HEADER}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> dweight: array<f32>;
${hasBias ? '@group(0) @binding(4) var<storage, read_write> dbias: array<f32>;' : ''}
var<workgroup> partial: array<f32, ${COLUMNS * LANES}>;
@compute @workgroup_size(${COLUMNS}, ${LANES})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let o = wid.x * ${COLUMNS}u + lid.x;
  let outputs = P.C * P.W${hasBias ? ' + P.C' : ''};
  let is_bias = o >= P.C * P.W;
  let c = select(o / max(P.W, 1u), o - P.C * P.W, is_bias);
  let j = select(o % max(P.W, 1u), P.W - 1u, is_bias); // the bias pairs g with itself: tap W - 1 reads time t
  var acc = 0.0;
  if (o < outputs) {
    let back = P.W - 1u - j;
    for (var n = lid.y; n < P.B * P.T; n += ${LANES}u) {
      let t = n % P.T;
      if (t < back) { continue; }
      let gi = g[n * P.C + c];
      acc += select(gi * x[(n - back) * P.C + c], gi, is_bias);
    }
  }
  partial[lid.y * ${COLUMNS}u + lid.x] = acc;
  workgroupBarrier();
  if (lid.y == 0u && o < outputs) {
    var total = 0.0;
    for (var lane = 0u; lane < ${LANES}u; lane++) { total += partial[lane * ${COLUMNS}u + lid.x]; }
    ${hasBias ? 'if (is_bias) { dbias[c] = total; } else { dweight[o] = total; }' : 'dweight[o] = total;'}
  }
}
`,
  )
}
export const SHORT_CONV_COLUMNS = COLUMNS
