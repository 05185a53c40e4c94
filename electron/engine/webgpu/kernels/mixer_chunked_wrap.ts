// The switches the chunked form covers by reduction to the additive mixer of
// mixer_chunked.ts, each exact (no approximation), so its phases run unchanged:
//
// - the denominator (normalize 'sum'): z_t = Diag(a_t) z_{t-1} + k_t is the
//   state's extra value column for a value column of ones, so the chunked
//   mixer runs with v' = [v | 1] (V' = V + 1), S' = [S | z]; its output o' =
//   [S_tᵀ q̂ | q̂ᵀ z_t] gives o = o'[:V] / (o'[V] + eps). Backward: with
//   den' = o'[V] + eps, do' = [do / den' | -(do·o) / den'], the gradient of
//   the augmented mixer's output; dv = dv'[:V] (dv'[V] is that of the ones).
// - the input gates sigmoid and softplus: w_t (a scalar per (b, t, h))
//   scales the write w_t k_t v_tᵀ (and w_t k_t into z), so the mixer runs
//   with k' = w k, and dk = w dk', di = (dk'·k) dw/di. The same k' in the
//   scores is right: the intra-chunk terms are (q_i·w_j k_j) v_j.
//
// rows: B T H.   k, dk, dk': (rows, K)   i, di: (rows)   o, do: (rows, V)
// o', do', v', dv': (rows, V + 1)
import { paramsWgsl, type Kernel } from '../driver'
import { cachedKernel as cached, ELEMENTWISE_WGSL, SAFE_MATH_WGSL, WG } from './common'

/** The input gates that fold into k. */
export type FoldedInputGate = 'sigmoid' | 'softplus'

const ENTRY = `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let id = element_index(wid, nwg, lid);`

const columnsParams = [
  ['R', 'u32'],
  ['W', 'u32'],
  ['src_stride', 'u32'],
  ['src_off', 'u32'],
  ['dst_stride', 'u32'],
  ['dst_off', 'u32'],
  ['value', 'f32'],
] as const

/**
 * W columns of R rows: dst[dst_off + r dst_stride + c] = src[src_off + r
 * src_stride + c], or `value` (`constant`: dst binds at 1, no src). Packs v
 * into v', s0 and z0 into S'_0, and unpacks o', dv', s_final', ds0'.
 */
export function columnsKernel(constant: boolean): Kernel {
  return cached(`mixer_chunked/columns/${constant ? 'constant' : 'copy'}`, () => ({
    entry: 'main',
    params: columnsParams,
    code: `${paramsWgsl(columnsParams)}${ELEMENTWISE_WGSL}
${constant ? '' : '@group(0) @binding(1) var<storage, read> src: array<f32>;'}
@group(0) @binding(${constant ? 1 : 2}) var<storage, read_write> dst: array<f32>;
${ENTRY}
  if (id >= P.R * P.W) { return; }
  let r = id / P.W;
  let c = id % P.W;
  dst[P.dst_off + r * P.dst_stride + c] = ${constant ? 'P.value' : 'src[P.src_off + r * P.src_stride + c]'};
}
`,
  }))
}

const denParams = [
  ['rows', 'u32'],
  ['V', 'u32'],
  ['eps', 'f32'],
] as const

/** o (rows, V) = o'[:V] / (o'[V] + eps), one invocation per element. */
export const denominatorFwdKernel: Kernel = {
  label: 'mixer_chunked/denominator_fwd',
  entry: 'main',
  params: denParams,
  code: `${paramsWgsl(denParams)}${ELEMENTWISE_WGSL}
@group(0) @binding(1) var<storage, read> ob: array<f32>;
@group(0) @binding(2) var<storage, read_write> o: array<f32>;
${ENTRY}
  if (id >= P.rows * P.V) { return; }
  let row = id / P.V;
  let W = P.V + 1u;
  o[id] = ob[row * W + id % P.V] / (ob[row * W + P.V] + P.eps);
}
`,
}

/** do' (rows, V + 1) from o' and do: [do / den' | -(Σ_c do_c o'_c / den') / den'], one invocation per row. */
export const denominatorBwdKernel: Kernel = {
  label: 'mixer_chunked/denominator_bwd',
  entry: 'main',
  params: denParams,
  code: `${paramsWgsl(denParams)}${ELEMENTWISE_WGSL}
@group(0) @binding(1) var<storage, read> ob: array<f32>;
@group(0) @binding(2) var<storage, read> d_o: array<f32>;
@group(0) @binding(3) var<storage, read_write> dob: array<f32>;
${ENTRY}
  if (id >= P.rows) { return; }
  let W = P.V + 1u;
  let dn = ob[id * W + P.V] + P.eps;
  var dot = 0.0;
  for (var c = 0u; c < P.V; c++) {
    let d = d_o[id * P.V + c];
    dob[id * W + c] = d / dn;
    dot += d * (ob[id * W + c] / dn);
  }
  dob[id * W + P.V] = -dot / dn;
}
`,
}

const gateParams = [
  ['rows', 'u32'],
  ['K', 'u32'],
] as const

/** w(pre): sigmoid, or softplus = max(x, 0) + log(1 + e^-|x|) (both without overflow). */
const weightWgsl = (gate: FoldedInputGate) =>
  `fn weight(x: f32) -> f32 { return ${gate === 'sigmoid' ? 'sigmoid(x)' : 'max(x, 0.0) + log1p_exp_neg_abs(x)'}; }\n`

/** k' = w k (rows, K), one invocation per element. */
export function inputGateFoldKernel(gate: FoldedInputGate): Kernel {
  return cached(`mixer_chunked/input_gate_fold/${gate}`, () => ({
    entry: 'main',
    params: gateParams,
    code: `${paramsWgsl(gateParams)}${ELEMENTWISE_WGSL}${SAFE_MATH_WGSL}${weightWgsl(gate)}
@group(0) @binding(1) var<storage, read> ig: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read_write> kw: array<f32>;
${ENTRY}
  if (id >= P.rows * P.K) { return; }
  kw[id] = weight(ig[id / P.K]) * k[id];
}
`,
  }))
}

/**
 * dk = w dk', di = (dk'·k) dw/dx, one invocation per row: dw/dx = w (1 - w)
 * (sigmoid), sigmoid(x) (softplus).
 */
export function inputGateBwdKernel(gate: FoldedInputGate): Kernel {
  return cached(`mixer_chunked/input_gate_bwd/${gate}`, () => ({
    entry: 'main',
    params: gateParams,
    code: `${paramsWgsl(gateParams)}${ELEMENTWISE_WGSL}${SAFE_MATH_WGSL}${weightWgsl(gate)}
@group(0) @binding(1) var<storage, read> ig: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> dkw: array<f32>;
@group(0) @binding(4) var<storage, read_write> dk: array<f32>;
@group(0) @binding(5) var<storage, read_write> di: array<f32>;
${ENTRY}
  if (id >= P.rows) { return; }
  let x = ig[id];
  let w = weight(x);
  var dot = 0.0;
  for (var a = 0u; a < P.K; a++) {
    let e = id * P.K + a;
    dot += dkw[e] * k[e];
    dk[e] = w * dkw[e];
  }
  di[id] = dot * ${gate === 'sigmoid' ? 'w * (1.0 - w)' : 'sigmoid(x)'};
}
`,
  }))
}
