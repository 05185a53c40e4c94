// Ops of the small recall models (2 layers, d_model 64, T = 512, batch 128, 8192 classes), each
// timed alone on a backend: WARMUP calls, a wait for the device, then REPEATS calls and another
// wait, whose wall time over REPEATS is the op's time (no per-op events, so no host gaps counted).
// The training step's profile (gpu-train-bench.ts SMALL_PROFILE) says which ops matter; this says
// what each costs at its shape, and what a padded head dim would cost instead.
//
// Bundled: npx esbuild scripts/gpu-op-bench.ts --bundle --platform=node --format=esm --outfile=.device/gpu-op-bench.mjs
// Environment: LINEA_CHECK_BACKEND (cuda:0), OP_CASES (comma-separated names; all by default),
// OP_REPEATS (20). Writes $OUT/gpu-op-bench.json and prints one line per case.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { AttrValue, Backend } from '../electron/engine/backend'
import { loadAddon } from '../electron/engine/addon'
import { nativeBackend } from '../electron/engine/native-backend'
import type { Tensor } from '../electron/engine/tensor'

const BACKEND = process.env.LINEA_CHECK_BACKEND ?? 'cuda:0'
const REPEATS = Number(process.env.OP_REPEATS ?? 20)
const WARMUP = 3

interface OpCase {
  name: string
  op: string
  inputs: (b: Backend) => Record<string, Tensor>
  attrs?: Record<string, AttrValue>
  outputs?: string[]
  /** Bytes a single pass over inputs and outputs moves (for GB/s). */
  bytes: number
}

let seed = 12345
function random(n: number, lo: number, hi: number): Float32Array {
  const a = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0
    a[i] = lo + ((hi - lo) * seed) / 2 ** 32
  }
  return a
}

function bf16(b: Backend, shape: number[], lo = -1, hi = 1): Tensor {
  const n = shape.reduce((x, y) => x * y, 1)
  const f = b.upload(random(n, lo, hi), shape)
  const out = b.run('cast', { x: f }, { to: 'bf16' }).y
  b.dispose(f)
  if (!out) throw new Error('cast gave no output')
  return out
}

function f32(b: Backend, shape: number[], lo = -1, hi = 1): Tensor {
  return b.upload(
    random(
      shape.reduce((x, y) => x * y, 1),
      lo,
      hi,
    ),
    shape,
  )
}

function labels(b: Backend, n: number, classes: number): Tensor {
  const a = new Int32Array(n)
  for (let i = 0; i < n; i++) a[i] = (i * 2654435761) % classes
  return b.upload(a, [n])
}

const N = 8192
const C = 8192
const [B, T] = [128, 512]

function attention(H: number, D: number): OpCase[] {
  const act = B * T * H * D * 2
  const io = (b: Backend) => ({ q: bf16(b, [B, T, H, D]), k: bf16(b, [B, T, H, D]), v: bf16(b, [B, T, H, D]) })
  const attrs = { scale: 1 / Math.sqrt(32) }
  return [
    { name: `attn_fwd H${H} D${D}`, op: 'softmax_attn_fwd', inputs: io, attrs, bytes: 4 * act },
    {
      name: `attn_bwd H${H} D${D}`,
      op: 'softmax_attn_bwd',
      inputs: (b) => {
        const x = io(b)
        const f = b.run('softmax_attn_fwd', x, attrs)
        return { ...x, o: f.o, lse: f.lse, do: bf16(b, [B, T, H, D]) }
      },
      attrs,
      bytes: 8 * act,
    },
  ]
}

function mixer(kind: 'delta' | 'vector', H: number, K: number): OpCase[] {
  const act = B * T * H * K * 2
  const attrs: Record<string, AttrValue> =
    kind === 'delta' ? { gate: 'scalar', delta: true, scale: 1 / Math.sqrt(32) } : { gate: 'vector', scale: 1 / Math.sqrt(32) }
  const io = (b: Backend): Record<string, Tensor> => {
    const base = { q: bf16(b, [B, T, H, K]), k: bf16(b, [B, T, H, K], -0.18, 0.18), v: bf16(b, [B, T, H, K]) }
    return kind === 'delta'
      ? { ...base, g: bf16(b, [B, T, H], -0.1, -0.01), beta: bf16(b, [B, T, H], 0.2, 0.9) }
      : { ...base, g: bf16(b, [B, T, H, K], -0.1, -0.01) }
  }
  return [
    { name: `${kind}_fwd H${H} K${K}`, op: 'mixer_fwd', inputs: io, attrs, bytes: 4 * act },
    {
      name: `${kind}_bwd H${H} K${K}`,
      op: 'mixer_bwd',
      inputs: (b) => ({ ...io(b), do: bf16(b, [B, T, H, K]) }),
      attrs,
      outputs: kind === 'delta' ? ['dg', 'dbeta'] : ['dg'],
      bytes: 9 * act,
    },
  ]
}

const CASES: OpCase[] = [
  {
    name: 'cross_entropy_fwd',
    op: 'cross_entropy_fwd',
    inputs: (b) => ({ logits: bf16(b, [N, C], -4, 4), labels: labels(b, N, C) }),
    bytes: N * C * 2,
  },
  {
    name: 'cross_entropy_bwd',
    op: 'cross_entropy_bwd',
    inputs: (b) => ({ logits: bf16(b, [N, C], -4, 4), labels: labels(b, N, C), lse: f32(b, [N], 9, 10) }),
    attrs: { scale: 1 / N },
    bytes: N * C * 4,
  },
  ...attention(2, 32),
  ...attention(1, 64),
  ...mixer('delta', 2, 32),
  ...mixer('delta', 2, 64),
  ...mixer('vector', 2, 32),
  ...mixer('vector', 2, 64),
]

async function timeCase(b: Backend, c: OpCase): Promise<{ ms: number; gbps: number }> {
  const inputs = c.inputs(b)
  const once = () => {
    const out = b.run(c.op, inputs, c.attrs ?? {}, c.outputs ?? [])
    for (const t of Object.values(out)) b.dispose(t)
  }
  for (let i = 0; i < WARMUP; i++) once()
  await b.synchronize()
  const t0 = performance.now()
  for (let i = 0; i < REPEATS; i++) once()
  await b.synchronize()
  const ms = (performance.now() - t0) / REPEATS
  for (const t of Object.values(inputs)) b.dispose(t)
  return { ms, gbps: c.bytes / (ms * 1e6) }
}

async function main(): Promise<void> {
  if (!loadAddon().backends().includes(BACKEND)) {
    console.log(`gpu-op-bench: no ${BACKEND}: skipped`)
    return
  }
  const b = nativeBackend(BACKEND)
  const wanted = process.env.OP_CASES?.split(',')
  const rows = []
  for (const c of CASES) {
    if (wanted && !wanted.includes(c.name)) continue
    try {
      const r = await timeCase(b, c)
      rows.push({ case: c.name, op: c.op, ms: r.ms, gb_per_s: r.gbps })
      console.log(`op ${c.name.padEnd(22)} ${r.ms.toFixed(3).padStart(8)} ms  ${r.gbps.toFixed(0).padStart(5)} GB/s (one pass)`)
    } catch (err) {
      rows.push({ case: c.name, op: c.op, error: (err as Error).message })
      console.log(`op ${c.name.padEnd(22)} FAIL: ${(err as Error).message}`)
    }
  }
  if (process.env.OUT)
    writeFileSync(
      join(process.env.OUT, 'gpu-op-bench.json'),
      JSON.stringify({ backend: BACKEND, repeats: REPEATS, method: 'wall time of REPEATS calls between two device waits', rows }, null, 1),
    )
}

void main()
