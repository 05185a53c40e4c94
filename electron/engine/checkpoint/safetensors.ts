// The safetensors format (Hugging Face): an 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets: [begin, end]},
// "__metadata__": {string: string}}, then the raw little-endian data.
// Readable by PyTorch / Hugging Face tooling. Writes are atomic (temp file +
// rename); reads check every offset, so a truncated or foreign file is a
// clear error, never garbage.
import { constants as bufferConstants } from 'node:buffer'
import { closeSync, constants, fstatSync, fsyncSync, openSync, readSync, renameSync, statSync, writeSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { clip, UserError } from '../../api/errors'

export type SafetensorsDType = 'F32' | 'F64' | 'I32'
export type TypedArray = Float32Array | Float64Array | Int32Array

export interface NamedTensor {
  dtype: SafetensorsDType
  shape: number[]
  data: TypedArray
}

export class SafetensorsError extends UserError {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`)
    this.name = 'SafetensorsError'
  }
}

const BYTES: Record<SafetensorsDType, number> = { F32: 4, F64: 8, I32: 4 }
/** Headers over this are refused rather than parsed (a corrupt length). */
const MAX_HEADER_BYTES = 100 << 20

function dtypeOfArray(a: TypedArray): SafetensorsDType {
  return a instanceof Float32Array ? 'F32' : a instanceof Float64Array ? 'F64' : 'I32'
}

export function writeSafetensors(path: string, tensors: Record<string, TypedArray | NamedTensor>, metadata: Record<string, string>): void {
  const entries = Object.entries(tensors).map(([name, t]) => {
    const named: NamedTensor = ArrayBuffer.isView(t) ? { dtype: dtypeOfArray(t as TypedArray), shape: [(t as TypedArray).length], data: t as TypedArray } : t
    const n = named.shape.reduce((a, b) => a * b, 1)
    if (n !== named.data.length) throw new Error(`tensor ${name}: shape [${named.shape.join(', ')}] holds ${n} values, data has ${named.data.length}`)
    if (dtypeOfArray(named.data) !== named.dtype) throw new Error(`tensor ${name}: dtype ${named.dtype} but data is ${dtypeOfArray(named.data)}`)
    return [name, named] as const
  })
  const header: Record<string, unknown> = { __metadata__: metadata }
  let offset = 0
  for (const [name, t] of entries) {
    const bytes = t.data.length * BYTES[t.dtype]
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] }
    offset += bytes
  }
  // Pad the header with spaces so the data starts 8-byte aligned.
  let json = JSON.stringify(header)
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' '
  const headerBytes = Buffer.from(json, 'utf8')
  const lengthBytes = Buffer.alloc(8)
  lengthBytes.writeBigUInt64LE(BigInt(headerBytes.length))

  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`)
  const fd = openSync(tmp, 'w')
  try {
    writeSync(fd, lengthBytes)
    writeSync(fd, headerBytes)
    for (const [, t] of entries) writeSync(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
}

export interface SafetensorsFile {
  tensors: Record<string, NamedTensor>
  metadata: Record<string, string>
}

/** Keys that would reach an object's prototype when used as a property name. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype'])
/** More dimensions than any tensor Linea writes (or reads) has. */
const MAX_RANK = 16

/** A header value for messages, never its content: "null", "an array", "a string". */
function kind(v: unknown): string {
  if (v === null) return 'null'
  if (v === undefined) return 'missing'
  if (Array.isArray(v)) return 'an array'
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

/** The whole file, if it is a regular file (a FIFO or a device is never opened) that fits in one Buffer. */
function readWhole(path: string): Buffer {
  let st
  try {
    st = statSync(path)
  } catch (err) {
    throw new SafetensorsError(path, `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  if (!st.isFile()) throw new SafetensorsError(path, `is not a regular file (a ${st.isDirectory() ? 'folder' : 'FIFO, socket or device'})`)
  if (st.size > bufferConstants.MAX_LENGTH)
    throw new SafetensorsError(path, `is ${st.size} bytes, more than this process can hold at once (${bufferConstants.MAX_LENGTH})`)
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (err) {
    throw new SafetensorsError(path, `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  try {
    const now = fstatSync(fd)
    if (!now.isFile()) throw new SafetensorsError(path, 'is not a regular file')
    const buf = Buffer.allocUnsafe(now.size)
    let got = 0
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got)
      if (n === 0) break
      got += n
    }
    return buf.subarray(0, got)
  } catch (err) {
    if (err instanceof SafetensorsError) throw err
    throw new SafetensorsError(path, `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  } finally {
    closeSync(fd)
  }
}

/**
 * Reads and checks a whole file: the header length against the file, the
 * header as an object of tensors and string metadata, each tensor's dtype,
 * shape (whole numbers, a countable product that fits the data) and
 * data_offsets (two whole numbers, in order, inside the data, the size the
 * shape needs), and that no two tensors share bytes. Every problem is a
 * SafetensorsError naming the tensor and the field.
 */
export function readSafetensors(path: string): SafetensorsFile {
  const fail = (message: string) => new SafetensorsError(path, message)
  const buf = readWhole(path)
  if (buf.length < 8) throw fail(`is ${buf.length} bytes, too short for a safetensors file (truncated?)`)
  const declared = buf.readBigUInt64LE(0)
  if (declared > BigInt(MAX_HEADER_BYTES) || 8n + declared > BigInt(buf.length))
    throw fail(`declares a ${declared}-byte header but the file has ${buf.length} bytes (truncated or not safetensors)`)
  const headerLength = Number(declared)
  let header: unknown
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLength).toString('utf8'))
  } catch {
    throw fail('has a header that is not valid JSON (not a safetensors file?)')
  }
  if (!isObject(header)) throw fail(`header is ${kind(header)}, not an object of tensors`)
  const dataStart = 8 + headerLength
  const dataLength = buf.length - dataStart

  const metadata: Record<string, string> = {}
  if (Object.hasOwn(header, '__metadata__')) {
    const raw = header.__metadata__
    if (!isObject(raw)) throw fail(`__metadata__: ${kind(raw)}, not an object of strings`)
    for (const [key, value] of Object.entries(raw)) {
      if (PROTOTYPE_KEYS.has(key)) throw fail(`__metadata__ key '${key}' is not allowed`)
      if (typeof value !== 'string') throw fail(`__metadata__.${clip(key, 80)}: ${kind(value)}, not a string`)
      metadata[key] = value
    }
  }

  const checked: { name: string; dtype: SafetensorsDType; shape: number[]; begin: number; end: number }[] = []
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue
    if (PROTOTYPE_KEYS.has(name)) throw fail(`tensor name '${name}' is not allowed`)
    const t = `tensor '${clip(name, 120)}'`
    if (!isObject(info)) throw fail(`${t}: ${kind(info)}, not an object with dtype, shape and data_offsets`)
    const dtype = info.dtype
    if (typeof dtype !== 'string' || !Object.hasOwn(BYTES, dtype))
      throw fail(
        `${t} dtype: ${typeof dtype === 'string' ? `'${clip(dtype, 20)}' is not read by Linea` : dtype === undefined ? 'missing' : `${kind(dtype)} is not a dtype`}; valid: F32, F64, I32`,
      )
    const width = BYTES[dtype as SafetensorsDType]
    const shape = info.shape
    if (!Array.isArray(shape)) throw fail(`${t} shape: ${kind(shape)}, not an array of whole numbers`)
    if (shape.length > MAX_RANK) throw fail(`${t} shape: ${shape.length} dimensions; at most ${MAX_RANK}`)
    shape.forEach((d, i) => {
      if (!isCount(d)) throw fail(`${t} shape[${i}]: ${typeof d === 'number' ? d : kind(d)} is not a whole number >= 0`)
    })
    const dims = shape as number[]
    let count = 1
    if (dims.includes(0)) count = 0
    else
      for (const d of dims) {
        count *= d
        if (count > Number.MAX_SAFE_INTEGER) throw fail(`${t} shape: [${dims.join(', ')}] holds more elements than Linea can count`)
      }
    const bytes = count * width
    if (bytes > dataLength) throw fail(`${t} shape: [${dims.join(', ')}] ${dtype} is ${bytes} bytes; the file has ${dataLength} bytes of data (truncated?)`)
    const offsets = info.data_offsets
    if (!Array.isArray(offsets) || offsets.length !== 2 || !isCount(offsets[0]) || !isCount(offsets[1]))
      throw fail(
        `${t} data_offsets: expected two whole numbers [begin, end], found ${Array.isArray(offsets) ? `an array of ${offsets.length}` : kind(offsets)}`,
      )
    const [begin, end] = offsets as [number, number]
    if (begin > end) throw fail(`${t} data_offsets: begin ${begin} is after end ${end}`)
    if (end > dataLength) throw fail(`${t} data_offsets: bytes ${begin}..${end} are past the ${dataLength} bytes of data (truncated?)`)
    if (end - begin !== bytes) throw fail(`${t}: [${dims.join(', ')}] ${dtype} is ${bytes} bytes, data_offsets ${begin}..${end} hold ${end - begin}`)
    checked.push({ name, dtype: dtype as SafetensorsDType, shape: dims, begin, end })
  }
  const byStart = checked.filter((c) => c.end > c.begin).sort((a, b) => a.begin - b.begin || a.end - b.end)
  for (let i = 1; i < byStart.length; i++) {
    const [a, b] = [byStart[i - 1]!, byStart[i]!]
    if (b.begin < a.end)
      throw fail(`tensors '${clip(a.name, 120)}' (bytes ${a.begin}..${a.end}) and '${clip(b.name, 120)}' (bytes ${b.begin}..${b.end}) overlap`)
  }

  const tensors: Record<string, NamedTensor> = {}
  for (const { name, dtype, shape, begin, end } of checked) {
    // Copy into an aligned array: the data region need not be aligned in the file buffer.
    const bytesCopy = new Uint8Array(end - begin)
    bytesCopy.set(buf.subarray(dataStart + begin, dataStart + end))
    const data = dtype === 'F32' ? new Float32Array(bytesCopy.buffer) : dtype === 'F64' ? new Float64Array(bytesCopy.buffer) : new Int32Array(bytesCopy.buffer)
    tensors[name] = { dtype, shape, data }
  }
  return { tensors, metadata }
}
