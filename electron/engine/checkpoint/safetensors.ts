// The safetensors format (Hugging Face): an 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets: [begin, end]},
// "__metadata__": {string: string}}, then the raw little-endian data.
// Readable by PyTorch / Hugging Face tooling. Writes are atomic (temp file +
// rename); reads check every offset, so a truncated or foreign file is a
// clear error, never garbage. Linea's own checkpoints are read whole
// (readSafetensors: F32, F64, I32); Hugging Face checkpoints tensor by tensor
// (SafetensorsReader: F32, BF16, F16 decoded to float32 in chunks).
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

/** A tensor's place in a file, checked: offsets are relative to the data region. */
export interface TensorEntry<D extends string = SafetensorsDType> {
  name: string
  dtype: D
  shape: number[]
  begin: number
  end: number
}

/**
 * Checks a header (its JSON bytes) against `dataLength` bytes of data: an
 * object of tensors and string metadata, each tensor's dtype (one of
 * `widths`), shape and data_offsets, no two tensors sharing bytes.
 */
function checkHeader<D extends string>(
  fail: (message: string) => SafetensorsError,
  headerBytes: Uint8Array,
  dataLength: number,
  widths: Readonly<Record<D, number>>,
): { metadata: Record<string, string>; entries: TensorEntry<D>[] } {
  let header: unknown
  try {
    header = JSON.parse(Buffer.from(headerBytes.buffer, headerBytes.byteOffset, headerBytes.byteLength).toString('utf8'))
  } catch {
    throw fail('has a header that is not valid JSON (not a safetensors file?)')
  }
  if (!isObject(header)) throw fail(`header is ${kind(header)}, not an object of tensors`)

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

  const checked: TensorEntry<D>[] = []
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue
    if (PROTOTYPE_KEYS.has(name)) throw fail(`tensor name '${name}' is not allowed`)
    const t = `tensor '${clip(name, 120)}'`
    if (!isObject(info)) throw fail(`${t}: ${kind(info)}, not an object with dtype, shape and data_offsets`)
    const dtype = info.dtype
    if (typeof dtype !== 'string' || !Object.hasOwn(widths, dtype))
      throw fail(
        `${t} dtype: ${typeof dtype === 'string' ? `'${clip(dtype, 20)}' is not read by Linea` : dtype === undefined ? 'missing' : `${kind(dtype)} is not a dtype`}; valid: ${Object.keys(widths).join(', ')}`,
      )
    const width = widths[dtype as D]
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
    checked.push({ name, dtype: dtype as D, shape: dims, begin, end })
  }
  const byStart = checked.filter((c) => c.end > c.begin).sort((a, b) => a.begin - b.begin || a.end - b.end)
  for (let i = 1; i < byStart.length; i++) {
    const [a, b] = [byStart[i - 1]!, byStart[i]!]
    if (b.begin < a.end)
      throw fail(`tensors '${clip(a.name, 120)}' (bytes ${a.begin}..${a.end}) and '${clip(b.name, 120)}' (bytes ${b.begin}..${b.end}) overlap`)
  }
  return { metadata, entries: checked }
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
  const dataStart = 8 + headerLength
  const { metadata, entries: checked } = checkHeader(fail, buf.subarray(8, 8 + headerLength), buf.length - dataStart, BYTES)
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

// ---- streaming reads (Hugging Face checkpoints) ------------------------------------

/** Float dtypes the streaming reader decodes to float32, and their widths. */
const FLOAT_BYTES = { F32: 4, BF16: 2, F16: 2 } as const
export type StreamDType = keyof typeof FLOAT_BYTES
/** Bytes read and decoded at a time: a tensor never needs its raw bytes and its floats in memory at once. */
const CHUNK_BYTES = 4 << 20

let f16Table: Float32Array | undefined
/** float32 of every IEEE half bit pattern (subnormals, infinities and NaN included), built once. */
function halfToFloat(): Float32Array {
  if (f16Table) return f16Table
  const table = new Float32Array(65536)
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1
    const exp = (h >> 10) & 0x1f
    const frac = h & 0x3ff
    table[h] = exp === 0 ? sign * frac * 2 ** -24 : exp === 31 ? (frac ? NaN : sign * Infinity) : sign * (1 + frac / 1024) * 2 ** (exp - 15)
  }
  return (f16Table = table)
}

/** Decodes `count` little-endian values of `dtype` from `bytes` into out[at ...]. */
export function decodeFloats(dtype: StreamDType, bytes: Uint8Array, out: Float32Array, at: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const n = bytes.byteLength / FLOAT_BYTES[dtype]
  if (dtype === 'F32') for (let i = 0; i < n; i++) out[at + i] = view.getFloat32(4 * i, true)
  else if (dtype === 'BF16') {
    // bf16 is the top half of a float32's bits
    const bits = new Uint32Array(out.buffer, out.byteOffset + 4 * at, n)
    for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16
  } else {
    const table = halfToFloat()
    for (let i = 0; i < n; i++) out[at + i] = table[view.getUint16(2 * i, true)]!
  }
}

/**
 * One safetensors file opened for reading tensor by tensor: the header is read
 * and checked when it opens (every offset against the file's size, so a
 * truncated file is refused then, naming the first tensor past its end), and
 * each read decodes one tensor in chunks into a fresh Float32Array. The file
 * stays open until close().
 */
export class SafetensorsReader {
  readonly entries: Map<string, TensorEntry<StreamDType>>
  readonly metadata: Record<string, string>
  private constructor(
    readonly path: string,
    private fd: number | undefined,
    private readonly dataStart: number,
    metadata: Record<string, string>,
    entries: TensorEntry<StreamDType>[],
  ) {
    this.metadata = metadata
    this.entries = new Map(entries.map((e) => [e.name, e]))
  }

  static open(path: string): SafetensorsReader {
    const fail = (message: string) => new SafetensorsError(path, message)
    let st
    try {
      st = statSync(path)
    } catch (err) {
      throw fail(`cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    if (!st.isFile()) throw fail(`is not a regular file (a ${st.isDirectory() ? 'folder' : 'FIFO, socket or device'})`)
    let fd: number
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
    } catch (err) {
      throw fail(`cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    try {
      const size = fstatSync(fd).size
      if (!fstatSync(fd).isFile()) throw fail('is not a regular file')
      if (size < 8) throw fail(`is ${size} bytes, too short for a safetensors file (truncated?)`)
      const lengthBytes = Buffer.alloc(8)
      readExactly(fd, lengthBytes, 0, fail)
      const declared = lengthBytes.readBigUInt64LE(0)
      if (declared > BigInt(MAX_HEADER_BYTES) || 8n + declared > BigInt(size))
        throw fail(`declares a ${declared}-byte header but the file has ${size} bytes (truncated or not safetensors)`)
      const headerBytes = Buffer.alloc(Number(declared))
      readExactly(fd, headerBytes, 8, fail)
      const dataStart = 8 + headerBytes.length
      const { metadata, entries } = checkHeader(fail, headerBytes, size - dataStart, FLOAT_BYTES)
      return new SafetensorsReader(path, fd, dataStart, metadata, entries)
    } catch (err) {
      closeSync(fd)
      if (err instanceof SafetensorsError) throw err
      throw fail(`cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
  }

  /** The tensor's values as float32 (BF16 and F16 widened exactly). */
  readFloat32(name: string): Float32Array {
    const e = this.entries.get(name)
    if (!e) throw new SafetensorsError(this.path, `has no tensor '${clip(name, 120)}'`)
    if (this.fd === undefined) throw new Error(`${this.path} is closed`)
    const width = FLOAT_BYTES[e.dtype]
    const out = new Float32Array((e.end - e.begin) / width)
    const chunk = Buffer.alloc(Math.min(CHUNK_BYTES, e.end - e.begin))
    const fail = (message: string) => new SafetensorsError(this.path, `tensor '${clip(name, 120)}': ${message}`)
    for (let at = e.begin; at < e.end; at += chunk.length) {
      const bytes = chunk.subarray(0, Math.min(chunk.length, e.end - at))
      readExactly(this.fd, bytes, this.dataStart + at, fail)
      decodeFloats(e.dtype, bytes, out, (at - e.begin) / width)
    }
    return out
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
  }
}

/** Fills `buf` from `position`, or fails saying the file ended (it was cut short, or shrank while open). */
function readExactly(fd: number, buf: Uint8Array, position: number, fail: (message: string) => SafetensorsError): void {
  let got = 0
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, position + got)
    if (n === 0) throw fail(`ends at byte ${position + got}, before the ${buf.length} bytes expected from byte ${position} (truncated?)`)
    got += n
  }
}
