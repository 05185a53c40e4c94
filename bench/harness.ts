// Shared pieces of the benchmarks: timing with warm-up and medians, the
// machine description every JSON carries, and writing the result.
import { writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { loadAddon } from '../electron/engine/addon'
import { projectRoot } from '../electron/engine/project-root'

export interface Timing {
  medianMs: number
  minMs: number
  repeats: number
}

/** Runs fn `warmup` times untimed, then `repeats` times; reports the median. */
export async function time(fn: () => void | Promise<void>, repeats = 7, warmup = 2): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn()
  const samples: number[] = []
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now()
    await fn()
    samples.push(performance.now() - t0)
  }
  samples.sort((a, b) => a - b)
  return { medianMs: samples[Math.floor(samples.length / 2)]!, minMs: samples[0]!, repeats }
}

export function machine() {
  const info = loadAddon().info()
  return {
    date: new Date().toISOString(),
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryBytes: totalmem(),
    platform: `${process.platform}-${process.arch}`,
    node: process.versions.node,
    engine: info.version,
    compiler: info.compiler,
    blas: info.blas,
    cpuThreads: info.cpuThreads,
    devices: info.devices,
  }
}

export function writeResult(name: string, result: unknown): string {
  const path = join(projectRoot(), 'bench', `${name}.json`)
  writeFileSync(path, JSON.stringify(result, null, 2) + '\n')
  return path
}
