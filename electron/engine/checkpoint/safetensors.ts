// The safetensors format (Hugging Face): an 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets: [begin, end]},
// "__metadata__": {string: string}}, then the raw little-endian data.
// Readable by PyTorch / Hugging Face tooling. Writes are atomic (temp file +
// rename); reads check every offset, so a truncated or foreign file is a
// clear error, never garbage.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { UserError } from '../../api/errors'

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

export function readSafetensors(path: string): SafetensorsFile {
  let buf: Buffer
  try {
    buf = readFileSync(path)
  } catch (err) {
    throw new SafetensorsError(path, `cannot be read: ${(err as Error).message}`)
  }
  if (buf.length < 8) throw new SafetensorsError(path, `is ${buf.length} bytes, too short for a safetensors file (truncated?)`)
  const headerLength = Number(buf.readBigUInt64LE(0))
  if (headerLength > MAX_HEADER_BYTES || 8 + headerLength > buf.length)
    throw new SafetensorsError(path, `declares a ${headerLength}-byte header but the file has ${buf.length} bytes (truncated or not safetensors)`)
  let header: Record<string, unknown>
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLength).toString('utf8'))
  } catch {
    throw new SafetensorsError(path, 'has a header that is not valid JSON (not a safetensors file?)')
  }
  const dataStart = 8 + headerLength
  const dataLength = buf.length - dataStart
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>
  const tensors: Record<string, NamedTensor> = {}
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue
    const info = raw as { dtype?: string; shape?: number[]; data_offsets?: [number, number] }
    if (!info || !(info.dtype === 'F32' || info.dtype === 'F64' || info.dtype === 'I32'))
      throw new SafetensorsError(path, `tensor ${name} has dtype ${String(info?.dtype)}; Linea reads F32, F64 and I32`)
    const [begin, end] = info.data_offsets ?? [-1, -1]
    const shape = info.shape ?? []
    const n = shape.reduce((a, b) => a * b, 1)
    const bytes = n * BYTES[info.dtype]
    if (!(begin >= 0 && end - begin === bytes && end <= dataLength))
      throw new SafetensorsError(path, `tensor ${name} [${shape.join(', ')}] ${info.dtype} needs bytes ${begin}..${end} of ${dataLength} (truncated?)`)
    // Copy into an aligned array: the data region need not be aligned in the file buffer.
    const bytesCopy = new Uint8Array(bytes)
    bytesCopy.set(buf.subarray(dataStart + begin, dataStart + end))
    const data =
      info.dtype === 'F32' ? new Float32Array(bytesCopy.buffer) : info.dtype === 'F64' ? new Float64Array(bytesCopy.buffer) : new Int32Array(bytesCopy.buffer)
    tensors[name] = { dtype: info.dtype, shape, data }
  }
  return { tensors, metadata }
}
