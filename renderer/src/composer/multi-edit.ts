// Editing several layers at once: what the side panel shows for a field
// across the selection (its value, or "mixed" when the layers disagree), and
// edits that apply one change to each selected layer as one undo step.
import type { ModelSpec } from '../../../electron/api/model-spec'
import { setLayerField, setLayerKind } from '../../../electron/api/spec-edit'

export type FieldValue = { mixed: false; value: unknown } | { mixed: true }

/** A field's value across layers: the one value they share, or mixed. An absent field and null differ. */
export function commonValue(layers: readonly Record<string, unknown>[], field: string): FieldValue {
  if (!layers.length) return { mixed: true }
  const key = (l: Record<string, unknown>) => (field in l ? JSON.stringify(l[field]) : '<absent>')
  const first = key(layers[0]!)
  return layers.every((l) => key(l) === first) ? { mixed: false, value: layers[0]![field] } : { mixed: true }
}

/** The kind the selected layers share, or 'mixed'. */
export function commonKind(layers: readonly { kind: string }[]): 'linear' | 'softmax' | 'mixed' {
  const kinds = new Set(layers.map((l) => l.kind))
  return kinds.size === 1 ? (kinds.has('softmax') ? 'softmax' : 'linear') : 'mixed'
}

/**
 * The fields a selection can edit together: a kind's own fields when every
 * layer is of that kind, else only the fields both kinds have (heads).
 */
export function sharedFields(kind: 'linear' | 'softmax' | 'mixed', linear: readonly string[], softmax: readonly string[]): string[] {
  if (kind === 'linear') return [...linear]
  if (kind === 'softmax') return [...softmax]
  return linear.filter((f) => softmax.includes(f))
}

/** Sets one field on each layer of `indices`; undefined removes an optional field. */
export function setFieldOn(spec: ModelSpec, indices: readonly number[], field: string, value: unknown): ModelSpec {
  return indices.reduce((s, i) => setLayerField(s, i, field, value), spec)
}

/** Turns each layer of `indices` into `kind`; the spec unchanged when all already are. */
export function setKindOn(spec: ModelSpec, indices: readonly number[], kind: 'linear' | 'softmax'): ModelSpec {
  const change = indices.filter((i) => spec.layers[i] && spec.layers[i]!.kind !== kind)
  return change.reduce((s, i) => setLayerKind(s, i, kind), spec)
}
