// One line per layer naming its switches, e.g. "linear mixer, 2 heads:
// φ identity, decay vector, rmsnorm, output gate"; for reports and the inspector.
import { outputNormWeight, type Layer } from './model-spec'

export function layerSwitches(l: Layer): string {
  if (l.kind === 'softmax') return `softmax attention, ${l.heads} heads, ${l.window ? `window ${l.window}` : 'full causal'}${l.rotary ? ', rotary' : ''}`
  const on = [
    `φ ${l.feature_map}`,
    l.rotary && 'rotary',
    l.input_gate !== 'none' && `input gate ${l.input_gate}`,
    l.forget_gate !== 'none' && `decay ${l.forget_gate}`,
    l.delta_rule !== 'off' && `delta ${l.delta_rule}`,
    l.denominator !== 'none' && `denominator ${l.denominator}`,
    l.output_norm !== 'none' && (outputNormWeight(l) === 'per_head' ? `${l.output_norm} (weight per head)` : l.output_norm),
    l.shortcut !== 'none' && (l.shortcut === 'd_skip_before_norm' ? 'D skip before norm' : 'D skip'),
    l.short_conv > 0 && `conv ${l.short_conv}`,
    l.output_gate !== 'none' && 'output gate',
  ].filter(Boolean)
  return `linear mixer, ${l.heads} heads: ${on.join(', ')}`
}
