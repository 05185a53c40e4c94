// Mutations of a valid LabApi call's parameters: drop, duplicate, rename or
// retype a field, huge or odd numbers and strings, deep nesting, and keys
// that reach a prototype (`__proto__`, `constructor`, `prototype`) anywhere,
// also as segments of the dotted paths startTemplate's inputs and overrides
// take ("train.__proto__.x").
import type { FuzzRng } from '../../fixtures/random'
import { deep, hugeString, PROTO_KEYS, randomString, randomValue, setOwn, jsonCopy } from './random'

type Container = Record<string, unknown> | unknown[]
/** A place in the value tree: `parent[key]`; the root sits in a holder `{ v }`. */
type Slot = { parent: Container; key: string | number }

function isContainer(v: unknown): v is Container {
  return typeof v === 'object' && v !== null
}

function slotsOf(holder: { v: unknown }): Slot[] {
  const out: Slot[] = [{ parent: holder as Record<string, unknown>, key: 'v' }]
  const stack: unknown[] = [holder.v]
  while (stack.length) {
    const v = stack.pop()
    if (!isContainer(v)) continue
    if (Array.isArray(v))
      v.forEach((child, i) => {
        out.push({ parent: v, key: i })
        stack.push(child)
      })
    else
      for (const k of Object.keys(v)) {
        out.push({ parent: v, key: k })
        stack.push(v[k])
      }
  }
  return out
}

const get = (s: Slot) => (s.parent as Record<string | number, unknown>)[s.key]
function put(s: Slot, value: unknown): void {
  if (Array.isArray(s.parent)) s.parent[s.key as number] = value
  else setOwn(s.parent, String(s.key), value)
}

const ODD_NUMBERS: unknown[] = [1e308, -1e308, 2 ** 53 + 1, -1, -0, 0, 0.5, -(2 ** 31), 2 ** 32, 1e-320, 'NaN', 'Infinity', null, '1', true]

/** Dotted paths into a template run document that walk into a prototype, or are malformed. */
const BAD_PATHS = [
  'train.__proto__.polluted',
  'model.__proto__.polluted',
  'train.constructor.prototype.polluted',
  'train.task.__proto__.polluted',
  'train.optimizer.constructor.polluted',
  'train.steps.__proto__',
  '__proto__.polluted',
  'constructor.prototype.polluted',
  'prototype',
  'train.prototype.x',
  'train..steps',
  'train.',
  '.train',
  'train.steps.x',
  'model.layers.0.heads',
  'train.task',
  'nope.x',
  'train.task.path',
  'train.steps',
]

/**
 * `params` (a JSON value) with 1 to 3 mutations. `pathRecords` names the
 * top-level fields that hold dotted-path records (startTemplate's inputs and
 * overrides): they also get bad paths as keys.
 */
export function mutate(rng: FuzzRng, params: unknown, pathRecords: readonly string[] = []): unknown {
  const holder = { v: jsonCopy(params) }
  for (let n = 1 + rng.int(3); n > 0; n--) {
    const slots = slotsOf(holder)
    const slot = rng.pick(slots)
    const value = get(slot)
    const op = rng.int(10)
    if (op === 0 && slot.parent !== (holder as unknown)) {
      // drop the field
      if (Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1)
      else delete slot.parent[slot.key as string]
    } else if (op === 1 && isContainer(value)) {
      // duplicate a field under another name, or an element
      if (Array.isArray(value)) value.push(jsonCopy(value[rng.int(value.length)] ?? null))
      else {
        const keys = Object.keys(value)
        const k = keys.length ? rng.pick(keys) : 'x'
        setOwn(value, rng.pick([`${k}2`, k.toUpperCase(), `${k}_`, ` ${k}`, `${k}\u0000`]), jsonCopy(value[k] ?? null))
      }
    } else if (op === 2) {
      put(slot, randomValue(rng))
    } else if (op === 3) {
      put(slot, rng.pick(ODD_NUMBERS))
    } else if (op === 4) {
      put(slot, rng.chance(0.3) ? hugeString(rng) : randomString(rng))
    } else if (op === 5) {
      // a prototype key in some object, made if need be
      const target = isContainer(value) && !Array.isArray(value) ? value : {}
      setOwn(target, rng.pick(PROTO_KEYS), rng.chance(0.5) ? { polluted: 1, NODE_OPTIONS: '--eval 1' } : randomValue(rng))
      if (target !== value) put(slot, target)
    } else if (op === 6 && pathRecords.length && isContainer(holder.v) && !Array.isArray(holder.v)) {
      const field = rng.pick(pathRecords)
      const record = isContainer(holder.v[field]) && !Array.isArray(holder.v[field]) ? (holder.v[field] as Record<string, unknown>) : {}
      setOwn(record, rng.pick(BAD_PATHS), rng.chance(0.5) ? { polluted: 1 } : randomValue(rng))
      setOwn(holder.v, field, record)
    } else if (op === 7) {
      put(slot, deep(rng, rng.pick([8, 31, 33, 200, 1000]), value ?? 1))
    } else if (op === 8 && isContainer(slot.parent) && !Array.isArray(slot.parent) && slot.parent !== (holder as unknown)) {
      // rename (a typo)
      const k = String(slot.key)
      delete slot.parent[k]
      setOwn(slot.parent, rng.pick([k.toLowerCase() + 'x', k.slice(1), `${k}s`, k.replace(/_/g, '')]) || 'x', value)
    } else {
      put(slot, randomValue(rng))
    }
  }
  return holder.v
}
