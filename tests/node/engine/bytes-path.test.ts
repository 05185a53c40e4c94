// The byte-level task's file, read in a real engine process: a FIFO or a
// device would block (or fill memory) forever, so only regular files are
// read, and at most 2 GiB of them; anything else is a TaskError naming the
// path and what it is.
import { execFileSync } from 'node:child_process'
import { truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { resizeModel } from '../../../electron/api/resize'
import { preset } from '../../../electron/api/presets'
import { EngineCallError, EngineProcess, forkLauncher } from '../../../electron/jobs/engine-process'
import { quickTrainSpec } from '../../fixtures/runs'
import { tempDir } from '../../fixtures/temp'

/** The limit on a task file: 2 GiB. */
const MAX_TASK_FILE_BYTES = 2 * 1024 ** 3

const started: EngineProcess[] = []
afterEach(() => {
  for (const e of started.splice(0)) e.stop()
})

const model = () => resizeModel(preset('gla'), { d_model: 32, vocab_size: 256, heads: 2 })
const bytesSpec = (path: string) => quickTrainSpec({ task: { kind: 'bytes', path, seq_len: 16, valid_fraction: 0.1 }, steps: 2, batch_size: 2 })

/** The engine's answer to training on `path`, or a timeout error (the engine blocked). */
async function trainOn(path: string, timeoutMs = 15_000): Promise<unknown> {
  const e = new EngineProcess(forkLauncher())
  started.push(e)
  await e.start()
  const outDir = tempDir('linea-bytes-out-')
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the engine did not answer within ${timeoutMs} ms (blocked reading ${path}?)`)), timeoutMs)
  })
  try {
    return await Promise.race([e.call('train', { modelSpec: model(), trainSpec: bytesSpec(path), outDir }), timeout])
  } catch (err) {
    return err
  } finally {
    clearTimeout(timer)
  }
}

describe('bytes task file', () => {
  it('refuses a FIFO at once instead of blocking on it', async () => {
    const fifo = join(tempDir('linea-fifo-'), 'text.fifo')
    execFileSync('mkfifo', [fifo])
    const err = await trainOn(fifo)
    expect(err).toBeInstanceOf(EngineCallError)
    expect((err as EngineCallError).userError).toBe(true)
    expect((err as Error).message).toBe(`task.path: '${fifo}' is a FIFO (named pipe), not a regular file; choose a text file`)
  })

  it('refuses a device such as /dev/zero', async () => {
    const err = await trainOn('/dev/zero')
    expect(err).toBeInstanceOf(EngineCallError)
    expect((err as Error).message).toBe(`task.path: '/dev/zero' is a character device, not a regular file; choose a text file`)
  })

  it('refuses a file over 2 GiB, naming its size and the limit', async () => {
    const big = join(tempDir('linea-big-'), 'big.txt')
    writeFileSync(big, '')
    truncateSync(big, MAX_TASK_FILE_BYTES + 1) // sparse: no disk used
    const err = await trainOn(big)
    expect(err).toBeInstanceOf(EngineCallError)
    expect((err as Error).message).toBe(
      `task.path: '${big}' has ${MAX_TASK_FILE_BYTES + 1} bytes (2.00 GiB); the limit is ${MAX_TASK_FILE_BYTES} bytes (2 GiB): use a smaller file`,
    )
  })

  it('still trains on a regular file', async () => {
    const text = join(tempDir('linea-text-'), 'text.txt')
    writeFileSync(text, 'the quick brown fox jumps over the lazy dog. '.repeat(40))
    const summary = (await trainOn(text)) as { status: string; steps: number }
    expect(summary).toMatchObject({ status: 'completed', steps: 2 })
  })
})
