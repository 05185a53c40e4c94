import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Task } from '../../../../electron/api/train-spec'
import { createTask, TaskError } from '../../../../electron/engine/tasks'
import { Rng } from '../../../../electron/engine/random'
import { rowsOf } from './rows'

type Bytes = Extract<Task, { kind: 'bytes' }>
let dir = ''
const bytesTask = (path: string, o: Partial<Bytes> = {}): Bytes => ({ kind: 'bytes', path, seq_len: 16, valid_fraction: 0.1, ...o })

/** 1000 bytes: training part (first 900) in 0..127, validation part (last 100) in 128..255, so a leak shows. */
function splitFile(): Uint8Array {
  const rng = new Rng(42)
  return Uint8Array.from({ length: 1000 }, (_, i) => (i < 900 ? rng.int(128) : 128 + rng.int(128)))
}

function write(name: string, data: Uint8Array): string {
  const path = join(dir, name)
  writeFileSync(path, data)
  return path
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'linea-tasks-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('bytes', () => {
  it('reads a file as bytes with a bits-per-byte headline', () => {
    const g = createTask(bytesTask(write('text.bin', splitFile())), 1)
    expect([g.kind, g.vocabSize, g.seqLen, g.headline, g.tags]).toEqual(['bytes', 256, 16, 'bits_per_byte', {}])
  })

  it('trains on windows of the training part, each label the next byte', () => {
    const data = splitFile()
    const g = createTask(bytesTask(write('text.bin', data)), 1)
    const starts = new Set<number>()
    for (let step = 0; step < 20; step++) {
      const batch = g.trainBatch(step, 32)
      expect([batch.batchSize, batch.seqLen]).toEqual([32, 16])
      for (const row of rowsOf(batch)) {
        expect(
          row.inputs.every((x) => x < 128),
          'a training window reaches into validation',
        ).toBe(true)
        expect(
          row.labels.every((x) => x < 128),
          'a training label comes from validation',
        ).toBe(true)
        expect(Array.from(row.labels.subarray(0, 15))).toEqual(Array.from(row.inputs.subarray(1)))
        // The window is somewhere in the training part.
        const window = [...row.inputs, row.labels[15]!].join()
        const found: number[] = []
        for (let s = 0; s + 17 <= 900; s++) if (Array.from(data.subarray(s, s + 17)).join() === window) found.push(s)
        expect(found.length).toBeGreaterThan(0)
        starts.add(found[0]!)
      }
    }
    // 640 windows over 884 possible starts: the starts are spread out.
    expect(starts.size).toBeGreaterThan(300)
    expect(Math.min(...starts)).toBeLessThan(50)
    expect(Math.max(...starts)).toBeGreaterThan(834)
  })

  it('evaluates on consecutive validation windows, every validation byte after the first predicted once', () => {
    const data = splitFile()
    const g = createTask(bytesTask(write('text.bin', data)), 1)
    // 100 validation bytes hold floor(99 / 16) = 6 windows.
    const sets = g.evalSets(4, 10)
    expect(sets.map((s) => [s.name, s.seqLen])).toEqual([['valid', 16]])
    expect(sets[0]!.batches.map((b) => b.batchSize)).toEqual([4, 2])
    const rows = sets[0]!.batches.flatMap(rowsOf)
    rows.forEach((row, w) => {
      expect(Array.from(row.inputs)).toEqual(Array.from(data.subarray(900 + 16 * w, 900 + 16 * w + 16)))
      expect(Array.from(row.labels)).toEqual(Array.from(data.subarray(901 + 16 * w, 901 + 16 * w + 16)))
    })
    expect(g.evalSets(4, 1)[0]!.batches.map((b) => b.batchSize)).toEqual([4])
    expect(g.evalSets(4, 1)).toEqual(g.evalSets(4, 1))
  })

  it('splits off the last valid_fraction of the file', () => {
    const data = splitFile()
    const g = createTask(bytesTask(write('text.bin', data), { valid_fraction: 0.5, seq_len: 10 }), 1)
    // 500 validation bytes from byte 500: windows at 500, 510, …; 49 of them.
    const rows = g.evalSets(100, 1)[0]!.batches.flatMap(rowsOf)
    expect(rows).toHaveLength(49)
    expect(Array.from(rows[0]!.inputs)).toEqual(Array.from(data.subarray(500, 510)))
    for (let step = 0; step < 10; step++)
      for (const row of rowsOf(g.trainBatch(step, 16))) {
        const window = [...row.inputs, row.labels[9]!].join()
        let found = false
        for (let s = 0; s + 11 <= 500 && !found; s++) found = Array.from(data.subarray(s, s + 11)).join() === window
        expect(found).toBe(true)
      }
  })

  it('names the path and the reason when the file cannot be used', () => {
    const missing = join(dir, 'missing.txt')
    const empty = write('empty.txt', new Uint8Array(0))
    const short = write('short.txt', new Uint8Array(33)) // seq_len 16 needs 2 · 17 = 34
    const folder = join(dir, 'folder')
    mkdirSync(folder)
    const cases: [string, RegExp][] = [
      [missing, /cannot be read: ENOENT/],
      [empty, /is empty/],
      [short, /has 33 bytes; seq_len 16 needs at least 34/],
      [folder, /is a directory, not a regular file/],
    ]
    for (const [path, reason] of cases) {
      expect(() => createTask(bytesTask(path), 1)).toThrow(TaskError)
      expect(() => createTask(bytesTask(path), 1)).toThrow(`task.path: '${path}'`)
      expect(() => createTask(bytesTask(path), 1)).toThrow(reason)
    }
    expect(() => createTask(bytesTask(write('exact.txt', new Uint8Array(34)), { valid_fraction: 0.5 }), 1)).not.toThrow()
  })

  it('refuses a validation part too small for one window', () => {
    const path = write('text.bin', splitFile())
    expect(() => createTask(bytesTask(path, { valid_fraction: 0.01 }), 1)).toThrow(
      `task.valid_fraction: 0.01 of '${path}' (1000 bytes) is 10 bytes; one validation window needs seq_len + 1 = 17`,
    )
  })
})
