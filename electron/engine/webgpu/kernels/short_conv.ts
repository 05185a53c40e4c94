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
// element, then dweight and dbias as a chunked column sum over the B T rows
// (column_sum.ts: partials per chunk of rows, then the chunks added in order:
// deterministic).
import { paramsWgsl, type Kernel } from '../driver'
import { columnPartialWgsl } from './column_sum'
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

const dweightParams = [
  ['B', 'u32'],
  ['T', 'u32'],
  ['C', 'u32'],
  ['W', 'u32'],
  ['D', 'u32'], // outputs: C W, plus C with a bias
  ['rows_per_chunk', 'u32'],
] as const

/** Column o of the parameter gradients (dweight[c, j] at o = c W + j, then dbias[c]) at row n = b T + t. */
const termWgsl = `
fn term(n: u32, o: u32) -> f32 {
  let is_bias = o >= P.C * P.W;
  let c = select(o / max(P.W, 1u), o - P.C * P.W, is_bias);
  let j = select(o % max(P.W, 1u), P.W - 1u, is_bias); // the bias pairs g with itself: tap W - 1 reads time t
  let back = P.W - 1u - j;
  if (n % P.T < back) { return 0.0; }
  let gi = g[n * P.C + c];
  return select(gi * x[(n - back) * P.C + c], gi, is_bias);
}
`

/**
 * dweight (C W values) and, with a bias, dbias (C more), first pass: a chunked
 * column sum over the B T rows (column_sum.ts) into partials (chunks, outputs);
 * shortConvDweightTotalKernel adds the chunks in order (deterministic).
 */
export function shortConvDweightKernel(): Kernel {
  return cached(
    'short_conv_bwd/dweight',
    () => `${paramsWgsl(dweightParams)}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;
${termWgsl}
${columnPartialWgsl('term(r, d)', 'P.B * P.T')}`,
    dweightParams,
  )
}

const totalParams = [
  ['C', 'u32'],
  ['W', 'u32'],
  ['D', 'u32'],
  ['chunks', 'u32'],
] as const

/** dweight[o] (o < C W) or dbias[o - C W] = the chunks' partials of column o added in order; grid(outputs, WG). */
export function shortConvDweightTotalKernel(hasBias: boolean): Kernel {
  return cached(
    `short_conv_bwd/dweight_total${hasBias ? '/dbias' : ''}`,
    () => `${paramsWgsl(totalParams)}${ELEMENTWISE_WGSL}
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> dweight: array<f32>;
${hasBias ? '@group(0) @binding(3) var<storage, read_write> dbias: array<f32>;' : ''}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let o = element_index(wid, nwg, lid);
  if (o >= P.D) { return; }
  var total = 0.0;
  for (var k = 0u; k < P.chunks; k++) { total += partials[k * P.D + o]; }
  ${hasBias ? 'if (o >= P.C * P.W) { dbias[o - P.C * P.W] = total; } else { dweight[o] = total; }' : 'dweight[o] = total;'}
}
`,
    totalParams,
  )
}
