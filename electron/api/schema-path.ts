// Setting a value at a dotted path ("train.task.num_kv_pairs") in a document
// that a schema describes, following only fields the schema defines. Paths
// come from callers (template inputs and overrides), so a key such as
// __proto__ or constructor must never be walked: it is not a field of any
// schema, and is refused with the fields that are.
import type { z } from 'zod'
import { clip, UserError } from './errors'

export class SchemaPathError extends UserError {}

type AnySchema = z.core.$ZodType

function def(s: AnySchema): { type: string } & Record<string, unknown> {
  return (s as unknown as { _zod: { def: { type: string } & Record<string, unknown> } })._zod.def
}

/** The object schemas a value of `s` may be (wrappers unwrapped, union options listed). */
function objectForms(s: AnySchema, depth = 0): AnySchema[] {
  if (depth > 16) return []
  const d = def(s)
  switch (d.type) {
    case 'object':
      return [s]
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return objectForms(d.innerType as AnySchema, depth + 1)
    case 'pipe':
      return objectForms(d.in as AnySchema, depth + 1)
    case 'lazy':
      return objectForms((d.getter as () => AnySchema)(), depth + 1)
    case 'union':
      return (d.options as AnySchema[]).flatMap((o) => objectForms(o, depth + 1))
    case 'intersection':
      return [...objectForms(d.left as AnySchema, depth + 1), ...objectForms(d.right as AnySchema, depth + 1)]
    default:
      return []
  }
}

/** The schema of field `key` of a value of `s`, or the fields it does have. */
function field(s: AnySchema, key: string): { schema: AnySchema } | { fields: string[] } {
  const forms = objectForms(s)
  const fields = new Set<string>()
  const found: AnySchema[] = []
  for (const form of forms) {
    const shape = def(form).shape as Record<string, AnySchema>
    for (const k of Object.keys(shape)) fields.add(k)
    if (Object.hasOwn(shape, key)) found.push(shape[key]!)
  }
  return found.length ? { schema: found[0]! } : { fields: [...fields].sort() }
}

/**
 * Sets `value` at `path` inside `doc` (described by `schema`), creating
 * objects on the way (without prototypes, so no key can reach one). Throws a
 * SchemaPathError naming the first segment the schema does not define.
 */
export function setAtSchemaPath(doc: Record<string, unknown>, schema: AnySchema, path: readonly string[], value: unknown, what = path.join('.')): void {
  if (path.length === 0) throw new SchemaPathError(`'${clip(what, 120)}' is not a path`)
  let cur = doc
  let s = schema
  for (let i = 0; i < path.length; i++) {
    const key = path[i]!
    const f = field(s, key)
    if (!('schema' in f)) {
      const at = path.slice(0, i).join('.') || 'the document'
      throw new SchemaPathError(`'${clip(what, 120)}': '${clip(key, 60)}' is not a field of ${at}; valid: ${f.fields.join(', ') || 'none (not an object)'}`)
    }
    if (i === path.length - 1) {
      cur[key] = structuredClone(value)
      return
    }
    const next = Object.hasOwn(cur, key) ? cur[key] : undefined
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[key] = Object.create(null) as Record<string, unknown>
    cur = cur[key] as Record<string, unknown>
    s = f.schema
  }
}
