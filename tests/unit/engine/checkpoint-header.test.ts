// A safetensors header is untrusted (issue 12): every field of every tensor
// entry is checked before it is used, so a corrupt or hostile file is a
// SafetensorsError (and, read as a checkpoint, a CheckpointError) naming the
// tensor and the field: never "shape.reduce is not a function", never a
// RangeError from an allocation sized by the file.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { isUserError } from '../../../electron/api/errors'
import { readCheckpoint } from '../../../electron/engine/checkpoint/checkpoint'
import { readSafetensors, writeSafetensors } from '../../../electron/engine/checkpoint/safetensors'

const dir = mkdtempSync(join(tmpdir(), 'linea-st-header-'))
let n = 0

/** A file with this header (JSON text, or a value to stringify) and `dataBytes` zero bytes of data. */
function file(header: unknown, dataBytes = 16, declaredLength?: bigint): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8')
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(declaredLength ?? BigInt(json.length))
  const path = join(dir, `f${n++}.safetensors`)
  writeFileSync(path, Buffer.concat([len, json, Buffer.alloc(dataBytes)]))
  return path
}

function errorOf(path: string, read: (p: string) => unknown = readSafetensors): Error {
  try {
    read(path)
  } catch (err) {
    return err as Error
  }
  throw new Error(`${path} was read without an error`)
}

const ok = { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] }

describe('safetensors headers are checked field by field', () => {
  it.each<[string, unknown, RegExp]>([
    ['shape not an array', { w: { ...ok, shape: 'two by two' } }, /tensor 'w' shape: a string, not an array of whole numbers/],
    ['shape entry negative', { w: { ...ok, shape: [2, -2] } }, /tensor 'w' shape\[1\]: -2 is not a whole number >= 0/],
    ['shape entry fractional', { w: { ...ok, shape: [2, 1.5] } }, /tensor 'w' shape\[1\]: 1\.5 is not a whole number >= 0/],
    ['shape entry a string', { w: { ...ok, shape: ['2', 2] } }, /tensor 'w' shape\[0\]: a string is not a whole number >= 0/],
    ['dtype unknown', { w: { ...ok, dtype: 'F16' } }, /tensor 'w' dtype: 'F16' is not read by Linea; valid: F32, F64, I32/],
    ['dtype missing', { w: { shape: [4], data_offsets: [0, 16] } }, /tensor 'w' dtype: missing; valid: F32, F64, I32/],
    ['data_offsets one number', { w: { ...ok, data_offsets: [0] } }, /tensor 'w' data_offsets: expected two whole numbers \[begin, end\]/],
    ['data_offsets a string', { w: { ...ok, data_offsets: '0-16' } }, /tensor 'w' data_offsets: expected two whole numbers/],
    ['data_offsets fractional', { w: { ...ok, data_offsets: [0, 15.5] } }, /tensor 'w' data_offsets: expected two whole numbers/],
    ['data_offsets reversed', { w: { ...ok, data_offsets: [16, 0] } }, /tensor 'w' data_offsets: begin 16 is after end 0/],
    ['data_offsets past the data', { w: { ...ok, data_offsets: [16, 32] } }, /tensor 'w' data_offsets: bytes 16\.\.32 are past the 16 bytes of data/],
    ['size not the shape', { w: { ...ok, data_offsets: [0, 8] } }, /tensor 'w'.*\[2, 2\] F32 is 16 bytes, data_offsets 0\.\.8 hold 8/],
    ['an entry that is null', { w: null }, /tensor 'w': null, not an object with dtype, shape and data_offsets/],
    ['an entry that is a number', { w: 7 }, /tensor 'w': a number, not an object/],
    ['the header null', 'null', /header is null, not an object of tensors/],
    ['the header an array', '[1,2]', /header is an array, not an object of tensors/],
    ['metadata not an object', { __metadata__: ['a'], w: ok }, /__metadata__: an array, not an object of strings/],
    ['metadata not strings', { __metadata__: { format: 5 }, w: ok }, /__metadata__\.format: a number, not a string/],
    ['a __proto__ tensor', `{"__proto__": ${JSON.stringify(ok)}}`, /tensor name '__proto__' is not allowed/],
    ['a __proto__ metadata key', `{"__metadata__": {"__proto__": "x"}, "w": ${JSON.stringify(ok)}}`, /__metadata__ key '__proto__' is not allowed/],
  ])('%s', (_what, header, pattern) => {
    const err = errorOf(file(header))
    expect(err.name, err.message).toBe('SafetensorsError')
    expect(err.message).toMatch(pattern)
  })

  it('refuses overlapping tensors, naming both', () => {
    const err = errorOf(file({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }))
    expect(err.message).toMatch(/tensors 'a' \(bytes 0\.\.16\) and 'b' \(bytes 8\.\.16\) overlap/)
  })

  it('refuses element counts that overflow, or that the file cannot hold', () => {
    const huge = errorOf(file({ w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 16] } }))
    expect(huge.name).toBe('SafetensorsError')
    expect(huge.message).toMatch(/tensor 'w' shape: \[1099511627776, 1099511627776\] holds more elements than Linea can count/)
    const big = errorOf(file({ w: { dtype: 'F64', shape: [1 << 20, 1 << 10], data_offsets: [0, 2 ** 33] } }))
    expect(big.message).toMatch(/tensor 'w' shape: \[1048576, 1024\] F64 is 8589934592 bytes; the file has 16 bytes of data/)
  })

  it('refuses a header length past the file or past any sane header, before reading it', () => {
    expect(errorOf(file({ w: ok }, 16, 2n ** 63n)).message).toMatch(/declares a 9223372036854775808-byte header/)
    expect(errorOf(file({ w: ok }, 16, 2n ** 64n - 1n)).message).toMatch(/declares a 18446744073709551615-byte header/)
    expect(errorOf(file('', 0, 0n)).message).toMatch(/header that is not valid JSON/)
  })

  it('reads an empty tensor and a valid file', () => {
    const path = join(dir, 'valid.safetensors')
    writeSafetensors(path, { a: new Float32Array([1, 2]), e: { dtype: 'F32', shape: [0, 3], data: new Float32Array(0) } }, { k: 'v' })
    const read = readSafetensors(path)
    expect(Array.from(read.tensors.a!.data)).toEqual([1, 2])
    expect(read.tensors.e!.shape).toEqual([0, 3])
    expect(read.metadata).toEqual({ k: 'v' })
  })

  it('as a checkpoint, the same problems are CheckpointErrors naming the tensor and field', () => {
    const err = errorOf(file({ __metadata__: { format: 'linea.checkpoint/1' }, w: { ...ok, shape: { length: 2 } } }), readCheckpoint)
    expect(err.name).toBe('CheckpointError')
    expect(isUserError(err)).toBe(true)
    expect(err.message).toMatch(/tensor 'w' shape: an object, not an array of whole numbers/)
    const notStrings = errorOf(file({ __metadata__: { format: 'linea.checkpoint/1', 'linea.step': 7 }, w: ok }), readCheckpoint)
    expect(notStrings.message).toMatch(/__metadata__\.linea\.step: a number, not a string/)
  })
})
