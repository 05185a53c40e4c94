// The one-click profiling report: one self-contained HTML file (styles and
// charts inline as SVG, no scripts, no network) that states the machine, the
// versions, the spec with its diagrams, the settings and every figure.
import { formatBytes } from '../api/format'
import { layerSwitches } from '../api/layer-label'
import type { Layer } from '../api/model-spec'
import { profilePrecision, type ProfileResult, type Spread } from '../api/profile'
import { checkedProfile } from '../api/profile-checks'
import { ceilingUse, profileAnswers } from '../api/profile-summary'
import { memoryOption, MEMORY_CATEGORIES, partSpreadOption, rooflineOption, sweepOption, timeByLayerOption } from '../views/profile-charts'
import { diagramSvg, layerDiagram } from '../views/layer-diagram'
import { renderChartSvg } from './svg-charts'

const esc = (s: unknown) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
const num = (x: number, digits = 3) => (Number.isFinite(x) ? Number(x.toPrecision(digits)).toLocaleString('en-US') : '–')
const ms = (x: number) => `${num(x, 3)} ms`
/** "q1–q3" of a spread, or – without one. */
const iqr = (s: Spread | undefined, scale = 1) => (s && Number.isFinite(s.q1) ? `${num(s.q1 * scale)}–${num(s.q3 * scale)}` : '–')
const range = (s: Spread | undefined, scale = 1) => (s && Number.isFinite(s.min) ? `${num(s.min * scale)}–${num(s.max * scale)}` : '–')

function table(head: string[], rows: (string | number)[][], cls = ''): string {
  return `<table class="${cls}"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`
}

const STYLE = `
body { font: 13px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1d2330; margin: 24px 32px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; border-bottom: 1px solid #dde1e8; padding-bottom: 4px; }
h3 { font-size: 13px; margin: 16px 0 6px; } .muted { color: #5b6475; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 12px; } th, td { text-align: left; padding: 3px 10px 3px 0; border-bottom: 1px solid #eef0f4; }
th { color: #5b6475; font-weight: 500; } td:not(:first-child) { font-variant-numeric: tabular-nums; }
.kv td:first-child { color: #5b6475; } .answers td:first-child { width: 170px; vertical-align: top; } .answers td { font-size: 13px; padding: 5px 10px 5px 0; } .figure { margin: 8px 0 16px; page-break-inside: avoid; } .grid2 { display: flex; flex-wrap: wrap; gap: 8px; }
.note { background: #fff8e6; border: 1px solid #f1d48a; padding: 6px 10px; border-radius: 4px; }
.kernels { font-size: 11px; } .kernels td:nth-child(6), .kernels td:nth-child(7) { white-space: nowrap; }
.warning { background: #fdecea; border: 1px solid #e6a19b; padding: 6px 10px; border-radius: 4px; margin: 8px 0; }
@media print { body { margin: 12mm; } h2 { page-break-after: avoid; } }
`

export function buildReportHtml(profile: ProfileResult): string {
  const p = checkedProfile(profile)
  const m = p.machine
  const s = p.spec
  const answers = profileAnswers(p)
  const totalMs = p.ops.reduce((n, o) => n + o.ms, 0)
  const kinds = new Map<string, Layer>()
  for (const l of s.layers) kinds.set(JSON.stringify(l), l)
  const diagrams = [...kinds.values()]
    .slice(0, 3)
    .map((l) => `<div class="figure"><div class="muted">${esc(layerSwitches(l))}</div>${diagramSvg(layerDiagram(l))}</div>`)
  const scopesMs = new Map<string, { forward: number; backward: number }>()
  for (const o of p.ops) {
    const e = scopesMs.get(o.scope) ?? { forward: 0, backward: 0 }
    if (o.phase === 'forward') e.forward += o.ms
    else e.backward += o.ms
    scopesMs.set(o.scope, e)
  }
  const warnings = Array.isArray(p.warnings) ? p.warnings.filter((w) => typeof w === 'string') : []
  const stepSpread = p.step.spread
  const parts = Array.isArray(p.parts) ? p.parts.filter((x) => x && x.spread) : []
  const kernelRows = p.ops.map((o) => {
    const use = ceilingUse(o, p)
    return [
      o.scope,
      o.phase,
      o.op,
      o.calls,
      num(o.ms),
      iqr(o.spread),
      range(o.spread),
      `${num((100 * o.ms) / Math.max(totalMs, 1e-9), 3)}%`,
      num(o.flops / (o.ms / 1000) / 1e9),
      num(o.bytes / (o.ms / 1000) / 1e9),
      num(o.flops / Math.max(o.bytes, 1), 2),
      `${use.bound}, ${num(100 * use.fraction, 2)}%`,
    ]
  })
  const sweepTable = (series: ProfileResult['sweep']['model']) =>
    table(
      ['T', 'training step', 'prefill', 'decode / token', 'peak memory'],
      series.points.map((pt) => [pt.seqLen, ms(pt.trainStepMs), ms(pt.prefillMs), ms(pt.decodeMsPerToken), formatBytes(pt.peakBytes)]),
    ) +
    `<p class="muted">slope of log time on log T: training step ${series.slopes.trainStep === null ? '–' : series.slopes.trainStep.toFixed(2)}, prefill ${
      series.slopes.prefill === null ? '–' : series.slopes.prefill.toFixed(2)
    } (1 is linear, 2 quadratic)${series.stopped ? `; ${esc(series.stopped)}` : ''}</p>`
  const chart = (option: Parameters<typeof renderChartSvg>[0], w = 760, h = 360) => `<div class="figure">${renderChartSvg(option, w, h)}</div>`

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Linea profile: ${esc(s.name)}</title><style>${STYLE}</style></head>
<body>
<h1>Linea profile: ${esc(s.name)}</h1>
<p class="muted">${esc(new Date(p.createdMs).toISOString())} · ${esc(m.backend)} · ${num(p.parameters)} parameters · batch ${p.settings.batchSize} × T ${p.settings.seqLen} · ${profilePrecision(p)}</p>

${warnings.map((w) => `<p class="warning" data-warning>⚠ ${esc(w)}</p>`).join('\n')}
<h2>In short</h2>
<table class="kv answers"><tbody>${(
    [
      ['Where the time goes', answers.time],
      ['Where the memory goes', answers.memory],
      ['How it scales', answers.scaling],
      ['How close to the hardware', answers.hardware],
    ] as const
  )
    .map(([q, a]) => `<tr><td>${esc(q)}</td><td>${esc(a)}</td></tr>`)
    .join('')}</tbody></table>

<h2>Machine and versions</h2>
${table(
  ['', ''],
  [
    ['CPU', `${m.cpu} (${m.cores} threads)`],
    ['memory', formatBytes(m.memoryBytes)],
    ['backend', m.backend],
    ['device', `${m.device}, ${formatBytes(m.deviceMemoryBytes)}, ${m.deviceDetail}`],
    ['platform', m.platform],
    ['Linea engine', `${m.engineVersion} (${m.compiler})`],
    ['BLAS', m.blas],
    ['Node', m.node],
  ],
  'kv',
)}

<h2>Model</h2>
${table(
  ['', ''],
  [
    ['preset', s.preset ?? '–'],
    ['d_model', s.d_model],
    ['layers', `${s.layers.length} (${s.layers.filter((l) => l.kind === 'softmax').length} softmax; hybrid ratio ${s.hybrid.ratio}, ${s.hybrid.placement})`],
    ['block', `${s.block}${s.block === 'transformer' ? `, MLP ×${s.mlp_expansion}` : ''}`],
    ['vocabulary', s.vocab_size],
    ['parameters', num(p.parameters, 4)],
  ],
  'kv',
)}
${table(
  ['layer', 'switches'],
  s.layers.map((l, i) => [i, layerSwitches(l)]),
)}
<h3>Block diagrams</h3><div class="grid2">${diagrams.join('')}</div>

<h2>Settings</h2>
${table(
  ['', ''],
  [
    ['batch × sequence', `${p.settings.batchSize} × ${p.settings.seqLen}`],
    [
      'labelled positions per sequence',
      p.settings.labelsPerSequence === undefined ? 'all (a language model)' : `the last ${Math.min(p.settings.labelsPerSequence, p.settings.seqLen)}`,
    ],
    [
      'precision',
      profilePrecision(p) === 'bf16' || profilePrecision(p) === 'f16'
        ? `${profilePrecision(p)} (mixed: f32 weights, ${profilePrecision(p)} passes)`
        : profilePrecision(p),
    ],
    [
      'timing',
      `${p.settings.warmup} warm-up steps, then ${p.settings.repeats} repeats (steady clock around each op); medians, with the middle half (first to third quartile) and min–max of the repeats`,
    ],
    [
      'sweep',
      `T = ${p.settings.sweepLengths.join(', ')}; budget ${p.settings.sweepBudgetSeconds} s, memory limit ${formatBytes(p.settings.sweepMemoryLimitBytes)}`,
    ],
  ],
  'kv',
)}

<h2>Where the time goes</h2>
${table(['forward', 'backward', 'optimizer', 'step', 'tokens / s'], [[ms(p.step.forwardMs), ms(p.step.backwardMs), ms(p.step.optimizerMs), ms(p.step.totalMs), num(p.step.tokensPerSecond)]])}
${
  stepSpread
    ? `<h3>Spread over the ${p.settings.repeats} repeats (ms)</h3>${table(
        ['', 'min', 'first quartile', 'median', 'third quartile', 'max'],
        (
          [
            ['forward', stepSpread.forwardMs],
            ['backward', stepSpread.backwardMs],
            ['optimizer', stepSpread.optimizerMs],
            ['step', stepSpread.totalMs],
          ] as const
        ).map(([label, x]) => [label, num(x.min), num(x.q1), num(x.median), num(x.q3), num(x.max)]),
        'spread',
      )}`
    : ''
}
${chart(timeByLayerOption(p), 760, Math.max(300, 150 + 20 * scopesMs.size))}
${table(
  ['model part', 'forward', 'backward', 'share'],
  [...scopesMs.entries()].map(([scope, e]) => [scope, ms(e.forward), ms(e.backward), `${num((100 * (e.forward + e.backward)) / Math.max(totalMs, 1e-9), 3)}%`]),
)}
${
  parts.length
    ? `${chart(partSpreadOption(p), 760, Math.max(240, 60 + 16 * parts.length))}
<h3>Model parts over the repeats (ms)</h3>
${table(
  ['model part', 'phase', 'median', 'middle half', 'min–max'],
  parts.map((x) => [x.scope, x.phase, num(x.ms), iqr(x.spread), range(x.spread)]),
  'parts',
)}`
    : ''
}
<h3>Kernels, by time</h3>
${table(['model part', 'phase', 'op', 'calls', 'ms (median)', 'middle half', 'min–max', 'share', 'GFLOP/s', 'GB/s', 'FLOP/byte', 'bound, share of ceiling'], kernelRows, 'kernels')}

<h2>How close to the hardware</h2>
<p>Ceilings measured on this machine: ${num(p.ceilings.flopsPerSecond / 1e9)} GFLOP/s, ${num(p.ceilings.bandwidthBytesPerSecond / 1e9)} GB/s <span class="muted">(${esc(p.ceilings.method)})</span>.</p>
${
  p.ceilings.spread
    ? table(
        ['ceiling', 'median', 'middle half', 'min–max', 'repeats'],
        [
          [
            'compute, GFLOP/s',
            num(p.ceilings.spread.flopsPerSecond.median / 1e9),
            iqr(p.ceilings.spread.flopsPerSecond, 1e-9),
            range(p.ceilings.spread.flopsPerSecond, 1e-9),
            p.ceilings.spread.flopsPerSecond.n,
          ],
          [
            'bandwidth, GB/s',
            num(p.ceilings.spread.bandwidthBytesPerSecond.median / 1e9),
            iqr(p.ceilings.spread.bandwidthBytesPerSecond, 1e-9),
            range(p.ceilings.spread.bandwidthBytesPerSecond, 1e-9),
            p.ceilings.spread.bandwidthBytesPerSecond.n,
          ],
        ],
        'ceilings',
      )
    : ''
}
${chart(rooflineOption(p))}

<h2>Where the memory goes</h2>
${table(['category', 'bytes'], MEMORY_CATEGORIES.map(([key, label]) => [label, formatBytes(p.memory[key])]).concat([['peak of a training step', formatBytes(p.memory.peak)]]))}
${chart(memoryOption(p), 760, 280)}

<h2>How it scales with sequence length</h2>
<p class="muted">Batch 1, the same width and depth for the softmax Transformer. Decoding per token: one token's forward plus, per softmax layer, attention over the cached keys.</p>
<h3>${esc(p.sweep.model.name)}</h3>${sweepTable(p.sweep.model)}
<h3>${esc(p.sweep.transformer.name)}</h3>${sweepTable(p.sweep.transformer)}
<div class="grid2">${chart(sweepOption(p, 'trainStepMs'), 520, 320)}${chart(sweepOption(p, 'prefillMs'), 520, 320)}${chart(sweepOption(p, 'decodeMsPerToken'), 520, 320)}${chart(
    sweepOption(p, 'peakBytes'),
    520,
    320,
  )}</div>

<p class="muted">Generated by Linea ${esc(m.engineVersion)}. FLOPs and bytes are counted from each op's shapes (every input read once, every output written once); times are measured.</p>
</body></html>
`
}
