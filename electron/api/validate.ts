// Turns schema failures into messages a person can act on: each names the
// field, the value found and what is valid, e.g.
//   layers[2].heads: 3 does not divide d_model 128
//   layers[0].feature_map: 'elu' is not valid; valid: identity, elu1, relu, ...
import type { z } from 'zod'
import { clip, UserError } from './errors'

export interface SpecError {
  /** Dotted path with indices, e.g. "layers[2].heads"; "" for the whole document. */
  path: string
  message: string
}

export type Validation<T> = { ok: true; value: T } | { ok: false; errors: SpecError[] }

export function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`
    else out += out ? `.${String(key)}` : String(key)
  }
  return out
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<PropertyKey, unknown>)[key]
  }
  return cur
}

/** Control and format characters (a newline, a bell, a right-to-left override) written as \uXXXX, so a message shows what was sent. */
const visible = (text: string) => text.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)

export function show(value: unknown): string {
  if (typeof value === 'string') return `'${visible(clip(value, 120))}'`
  if (value === undefined) return 'missing'
  if (Array.isArray(value)) return `an array of ${value.length}`
  if (value !== null && typeof value === 'object') return 'an object'
  return String(value)
}

function describeType(expected: string): string {
  if (expected === 'int') return 'an integer'
  if (expected === 'object' || expected === 'array') return `an ${expected}`
  return `a ${expected}`
}

type Issue = z.core.$ZodIssue

function message(issue: Issue, value: unknown): string {
  switch (issue.code) {
    case 'invalid_type':
      if (value === undefined) return `missing; expected ${describeType(issue.expected)}`
      // NaN comes only from a form's empty or unreadable number box (JSON has no NaN): say what to type.
      if (typeof value === 'number' && Number.isNaN(value)) return `empty or not a number: enter ${describeType(issue.expected)}`
      return `${show(value)} is not ${describeType(issue.expected)}`
    case 'invalid_value':
      if (value === undefined) return `missing; valid: ${issue.values.join(', ')}`
      return issue.values.length === 1
        ? `${show(value)} is not valid; expected ${show(issue.values[0])}`
        : `${show(value)} is not valid; valid: ${issue.values.join(', ')}`
    case 'too_small':
      if (issue.origin === 'array') return `has ${(value as unknown[]).length} items; needs at least ${issue.minimum}`
      if (issue.origin === 'string') return `is too short; needs at least ${issue.minimum} characters`
      return `${show(value)} is too small; valid: ${issue.inclusive === false ? '>' : '>='} ${issue.minimum}`
    case 'too_big':
      if (issue.origin === 'array') return `has ${(value as unknown[]).length} items; at most ${issue.maximum} allowed`
      if (issue.origin === 'string') return `is too long; at most ${issue.maximum} characters`
      return `${show(value)} is too large; valid: ${issue.inclusive === false ? '<' : '<='} ${issue.maximum}`
    case 'invalid_format':
      return `${show(value)} ${issue.message}`
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${clip(
        issue.keys
          .slice(0, 10)
          .map((k) => `'${clip(k, 60)}'`)
          .join(', '),
        400,
      )}${issue.keys.length > 10 ? ` and ${issue.keys.length - 10} more` : ''}`
    case 'invalid_union':
      return `${show(value)} matches none of the allowed forms`
    default:
      return issue.message
  }
}

/** One SpecError per schema issue, unions unwrapped to their discriminator. */
export function specErrors(issues: readonly Issue[], input: unknown, prefix: readonly PropertyKey[] = []): SpecError[] {
  const out: SpecError[] = []
  for (const issue of issues) {
    const full = [...prefix, ...issue.path]
    if (issue.code === 'invalid_union' && issue.discriminator) {
      // A wrong discriminator is reported at the discriminator field itself.
      const at = full[full.length - 1] === issue.discriminator ? full : [...full, issue.discriminator]
      const options = 'options' in issue ? (issue.options ?? []) : []
      out.push({
        path: formatPath(at),
        message: `${show(valueAt(input, at))}${valueAt(input, at) === undefined ? '' : ' is not valid'}; valid: ${options.join(', ')}`,
      })
      continue
    }
    out.push({ path: formatPath(full), message: message(issue, valueAt(input, full)) })
  }
  return out
}

export function validateWith<S extends z.ZodType>(schema: S, input: unknown): Validation<z.infer<S>> {
  const result = schema.safeParse(input)
  if (result.success) return { ok: true, value: result.data }
  return { ok: false, errors: specErrors(result.error.issues, input) }
}

/** "layers[2].heads: 3 does not divide d_model 128" */
export function formatErrors(errors: readonly SpecError[]): string {
  return errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join('\n')
}

export class SpecValidationError extends UserError {
  constructor(
    readonly what: string,
    readonly errors: SpecError[],
  ) {
    super(`invalid ${what}:\n${formatErrors(errors)}`)
    this.name = 'SpecValidationError'
  }
}
