// norm_fwd / norm_bwd: RMSNorm or LayerNorm (no bias) over the last dim.
//
// x, y, dy, dx: (N, D)   weight, dweight: (D)   rstd: (N)   mu (scratch, layer only): (N)
//
//   rms:   rstd = 1 / sqrt(mean x^2 + eps),                  xhat = x * rstd
//   layer: mu = mean x, rstd = 1 / sqrt(mean (x - mu)^2 + eps), xhat = (x - mu) * rstd
//   y = xhat * weight;  g = dy * weight
//   dx = rstd * (g - [layer: mean g] - xhat * mean(g * xhat))
//   dweight = sum over rows of dy * xhat     (normDweightKernel: a chunked column sum, column_sum.ts)
//
// A group of G = rowGroup(D) invocations per row (D rounded up to a power of
// two, 32 to WG), WG / G rows per workgroup (rowGrid(1, ceil(N / (WG / G)))):
// the group strides over D and combines with group_sum, so a small model's
// rows (d_model 64) do not leave three quarters of a workgroup idle. The
// kind, the weight and G are compiled in.
import { paramsWgsl, type Kernel } from '../driver'
import { cachedKernel as cached, ROW_GROUP_ENTRY_WGSL, ROW_INDEX_WGSL, rowGroup } from './common'
import { columnPartialWgsl } from './column_sum'

export type NormKind = 'rms' | 'layer'

const rowParams = [
  ['D', 'u32'],
  ['N', 'u32'],
  ['eps', 'f32'],
] as const

/** mu of the row (0 for rms): WGSL statements that define `mu`. */
function meanWgsl(kind: NormKind, G: number): string {
  if (kind === 'rms') return 'let mu = 0.0;'
  return `var sx = 0.0;
  for (var i = lane; i < end; i += ${G}u) { sx += x[base + i]; }
  let mu = group_sum(lid, sx) / f32(P.D);`
}

/** The forward for rows of D values (rowGroup(D) is compiled in). */
export function normFwdKernel(kind: NormKind, hasWeight: boolean, D: number): Kernel {
  const G = rowGroup(D)
  return cached(`norm_fwd/${kind}${hasWeight ? '/weight' : ''}/g${G}`, () => ({
    entry: 'main',
    params: rowParams,
    code: `${paramsWgsl(rowParams)}${ROW_INDEX_WGSL}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> rstd_out: array<f32>;
${hasWeight ? '@group(0) @binding(4) var<storage, read> weight: array<f32>;' : ''}
${ROW_GROUP_ENTRY_WGSL(G, 'P.N')}
  ${meanWgsl(kind, G)}
  var ss = 0.0;
  for (var i = lane; i < end; i += ${G}u) { let c = x[base + i] - mu; ss += c * c; }
  let rstd = 1.0 / sqrt(group_sum(lid, ss) / f32(P.D) + P.eps);
  for (var i = lane; i < end; i += ${G}u) {
    y[base + i] = (x[base + i] - mu) * rstd${hasWeight ? ' * weight[i]' : ''};
  }
  if (live && lane == 0u) { rstd_out[row] = rstd; }
}
`,
  }))
}

/** dx row by row; writes mu (N) for the dweight pass when the kind is layer. rowGroup(D) is compiled in. */
export function normBwdKernel(kind: NormKind, hasWeight: boolean, D: number): Kernel {
  const g = (i: string): string => (hasWeight ? `dy[base + ${i}] * weight[${i}]` : `dy[base + ${i}]`)
  const G = rowGroup(D)
  return cached(`norm_bwd/${kind}${hasWeight ? '/weight' : ''}/g${G}`, () => ({
    entry: 'main',
    params: rowParams,
    code: `${paramsWgsl(rowParams)}${ROW_INDEX_WGSL}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> rstd_in: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
${kind === 'layer' ? '@group(0) @binding(5) var<storage, read_write> mu_out: array<f32>;' : ''}
${hasWeight ? `@group(0) @binding(${kind === 'layer' ? 6 : 5}) var<storage, read> weight: array<f32>;` : ''}
${ROW_GROUP_ENTRY_WGSL(G, 'P.N')}
  let rstd = select(0.0, rstd_in[select(0u, row, live)], live);
  ${meanWgsl(kind, G)}
  var sg = 0.0;
  var sgx = 0.0;
  for (var i = lane; i < end; i += ${G}u) {
    let g = ${g('i')};
    sg += g;
    sgx += g * (x[base + i] - mu) * rstd;
  }
  let mean_g = ${kind === 'layer' ? 'group_sum(lid, sg) / f32(P.D)' : '0.0'};
  let mean_gx = group_sum(lid, sgx) / f32(P.D);
  for (var i = lane; i < end; i += ${G}u) {
    let xhat = (x[base + i] - mu) * rstd;
    dx[base + i] = rstd * (${g('i')} - mean_g - xhat * mean_gx);
  }
  ${kind === 'layer' ? 'if (live && lane == 0u) { mu_out[row] = mu; }' : ''}
}
`,
  }))
}

const columnParams = [
  ['N', 'u32'],
  ['D', 'u32'],
  ['rows_per_chunk', 'u32'],
] as const

/**
 * dweight's first pass: partials[chunk, d] = sum over the chunk's rows n of
 * dy[n, d] * (x[n, d] - mu[n]) * rstd[n] (column_sum.ts's chunked form; its
 * columnTotalKernel adds the chunks in order: deterministic).
 */
export function normDweightKernel(kind: NormKind): Kernel {
  const mu = kind === 'layer' ? 'mu[r]' : '0.0'
  return cached(`norm_bwd/dweight/${kind}`, () => ({
    entry: 'main',
    params: columnParams,
    code: `${paramsWgsl(columnParams)}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> rstd: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;
${kind === 'layer' ? '@group(0) @binding(5) var<storage, read> mu: array<f32>;' : ''}
${columnPartialWgsl(`dy[r * P.D + d] * (x[r * P.D + d] - ${mu}) * rstd[r]`, 'P.N')}`,
  }))
}
