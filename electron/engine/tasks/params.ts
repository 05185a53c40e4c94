// Parameter checks that throw TaskError naming the field, the value found and
// what is valid. The TrainSpec schema already checks most of this; the
// generators check again because they can be built from any Task object.
import { TaskError } from './types'

function show(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`
  if (value === undefined) return 'missing'
  return String(value)
}

function range(min: number, max: number): string {
  return max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`
}

export function checkInt(field: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new TaskError(`task.${field}: ${show(value)} is not valid; must be an integer ${range(min, max)}`)
  return value
}

/** A number in (lowExclusive, high]. */
export function checkNumber(field: string, value: unknown, lowExclusive: number, high: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= lowExclusive || value > high)
    throw new TaskError(`task.${field}: ${show(value)} is not valid; must be a number in (${lowExclusive}, ${high}]`)
  return value
}

export function checkIntList(field: string, value: unknown, min: number): number[] {
  if (!Array.isArray(value)) throw new TaskError(`task.${field}: ${show(value)} is not valid; must be an array of integers >= ${min}`)
  return value.map((v, i) => checkInt(`${field}[${i}]`, v, min))
}

export function checkOneOf<T extends string>(field: string, value: unknown, valid: readonly T[]): T {
  if (!valid.includes(value as T)) throw new TaskError(`task.${field}: ${show(value)} is not valid; valid: ${valid.join(', ')}`)
  return value as T
}

/** Arguments from the caller (step, batch size): a programming error, not a bad task. */
export function checkArg(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${name}: ${value} is not valid; must be an integer >= ${min}`)
}
