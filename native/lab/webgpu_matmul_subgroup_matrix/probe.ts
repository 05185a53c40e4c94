// Lab probe: what Dawn offers for matrix-unit products on this adapter, under three sets of
// toggles, and, where it offers f16 subgroup matrices with f32 results, whether
// kernels/matmul_subgroup_matrix.ts computes the product (every staging layout, ragged edges,
// against f64 sums of the same f16 values) and how fast each tiling runs beside the portable
// kernel (kernels/matmul.ts) with the same f16 operands, in the same process.
//
//   npx esbuild native/lab/webgpu_matmul_subgroup_matrix/probe.ts --bundle --platform=node \
//     --format=esm --external:webgpu --outfile=.device/sgm-probe.mjs
//   node .device/sgm-probe.mjs [out.json]      (node_modules/webgpu beside it)
/// <reference types="@webgpu/types" />
import { writeFileSync } from 'node:fs'
import { f16FromFloat as f16BitsOf, f16ToFloat as f16ValueOf } from '../../../electron/engine/f16'
import { matmulKernel, stagingFor } from '../../../electron/engine/webgpu/kernels/matmul'
import { subgroupMatrixKernel, subgroupMatrixLayout, type FragmentShape, type SubgroupMatrixTiling } from '../../../electron/engine/webgpu/kernels/matmul_subgroup_matrix'
import type { Kernel } from '../../../electron/engine/webgpu/driver'

interface Dawn {
  create(options: string[]): GPU
  globals: object
}
type Shape = { n: number; p: number; q: number; sa0: number; sa1: number; sb0: number; sb1: number }

const TOGGLES: [string, string[]][] = [
  ['default', []],
  ['unsafe', ['enable-dawn-features=allow_unsafe_apis']],
  ['unsafe+nvidia-f16', ['enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia']],
]

/** A (rows, cols) operand stored row- or column-major, as f16 bits; its shape's strides. */
function operand(rows: number, cols: number, rowMajor: boolean, seed: number): { bits: Uint16Array; at: (r: number, c: number) => number; s0: number; s1: number } {
  let x = seed
  const bits = new Uint16Array(rows * cols)
  for (let i = 0; i < bits.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    bits[i] = f16BitsOf(((x >>> 8) / 2 ** 24 - 0.5) * 2)
  }
  const s0 = rowMajor ? cols : 1
  const s1 = rowMajor ? 1 : rows
  return { bits, at: (r, c) => f16ValueOf(bits[r * s0 + c * s1] ?? 0), s0, s1 }
}

const keepAlive: GPU[] = []

async function main(): Promise<void> {
  const dawn = (await import('webgpu')) as unknown as Dawn
  Object.assign(globalThis, dawn.globals)
  const report: Record<string, unknown> = { probe: 'webgpu-matmul-subgroup-matrix', date: new Date().toISOString(), toggles: {} }
  let chosen: { name: string; options: string[]; config: FragmentShape } | undefined
  for (const [name, options] of TOGGLES) {
    const probeInstance = dawn.create(options)
    keepAlive.push(probeInstance)
    const adapter = await probeInstance.requestAdapter({ powerPreference: 'high-performance' })
    if (!adapter) {
      console.log(`${name}: no adapter`)
      continue
    }
    type Config = Record<'componentType' | 'resultComponentType' | 'M' | 'N' | 'K', unknown>
    const info = adapter.info as GPUAdapterInfo & { subgroupMatrixConfigs?: Config[]; subgroupMinSize?: number; subgroupMaxSize?: number }
    const configs = [...(info.subgroupMatrixConfigs ?? [])].map((c) => ({ in: String(c.componentType), out: String(c.resultComponentType), M: Number(c.M), N: Number(c.N), K: Number(c.K) }))
    const features = [...adapter.features].sort()
    ;(report.toggles as Record<string, unknown>)[name] = { adapter: info.description, features, configs, subgroupMinSize: info.subgroupMinSize, subgroupMaxSize: info.subgroupMaxSize }
    console.log(`${name}: ${info.description}; subgroups ${info.subgroupMinSize}-${info.subgroupMaxSize}`)
    console.log(`  features: ${features.join(' ')}`)
    console.log(`  subgroup matrices: ${configs.map((c) => `${c.in}->${c.out} ${c.M}x${c.N}x${c.K}`).join(', ') || 'none'}`)
    const f16 = configs.find((c) => c.in === 'f16' && c.out === 'f32')
    if (!chosen && f16 && features.includes('shader-f16')) chosen = { name, options, config: { fm: f16.M, fn: f16.N, fk: f16.K } }
  }
  const out = process.argv[2]
  // PROBE_HARNESS=1: run what the default adapter can (the ladder's f16 step) to check the harness itself.
  if (!chosen && process.env.PROBE_HARNESS === '1') chosen = { name: 'default', options: [], config: { fm: 16, fn: 16, fk: 16 } }
  if (!chosen) {
    console.log('no adapter offers f16 subgroup matrices with f32 results: nothing to run')
    if (out) writeFileSync(out, JSON.stringify(report, null, 1))
    return
  }
  console.log(`running under "${chosen.name}" with fragments ${chosen.config.fm}x${chosen.config.fn}x${chosen.config.fk}`)
  // Dawn's instance must outlive its adapter and device: keep it referenced (a collected one crashes the process).
  const instance = dawn.create([...chosen.options, 'disable-dawn-features=timestamp_quantization'])
  keepAlive.push(instance)
  const adapter = (await instance.requestAdapter({ powerPreference: 'high-performance' }))!
  const sgMax = (adapter.info as GPUAdapterInfo & { subgroupMaxSize?: number }).subgroupMaxSize ?? 32
  const device = await adapter.requestDevice({
    requiredFeatures: (['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix', 'timestamp-query'] as GPUFeatureName[]).filter((f) => adapter.features.has(f)),
    requiredLimits: {
      maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: adapter.limits.maxComputeWorkgroupSizeX,
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
    },
  })
  const errors: string[] = []
  device.addEventListener('uncapturederror', (e) => errors.push((e as GPUUncapturedErrorEvent).error.message))

  const pipelines = new Map<string, GPUComputePipeline>()
  const pipeline = (k: Kernel): GPUComputePipeline => {
    let p = pipelines.get(k.label + k.code.length)
    if (!p) {
      const module = device.createShaderModule({ code: k.code, label: k.label })
      void module.getCompilationInfo().then((info) => {
        for (const m of info.messages) if (m.type === 'error') console.log(`${k.label}: ${m.type} at ${m.lineNum}:${m.linePos}: ${m.message}\n  ${k.code.split('\n')[m.lineNum - 1]}`)
      })
      p = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: k.entry }, label: k.label })
      pipelines.set(k.label + k.code.length, p)
    }
    return p
  }
  const upload = (data: ArrayBufferView, usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST): GPUBuffer => {
    const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16)
    const b = device.createBuffer({ size, usage })
    device.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, data.byteLength)
    return b
  }
  const bind = (k: Kernel, values: Record<string, number>, buffers: GPUBuffer[]): GPUBindGroup => {
    const u = upload(new Uint32Array(k.params.map(([name]) => values[name] ?? 0)), GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST)
    return device.createBindGroup({ layout: pipeline(k).getBindGroupLayout(0), entries: [u, ...buffers].map((buffer, binding) => ({ binding, resource: { buffer } })) })
  }
  const run = (k: Kernel, group: GPUBindGroup, grid: [number, number, number], times: number): void => {
    const enc = device.createCommandEncoder()
    const pass = enc.beginComputePass()
    pass.setPipeline(pipeline(k))
    pass.setBindGroup(0, group)
    for (let t = 0; t < times; t++) pass.dispatchWorkgroups(...grid)
    pass.end()
    device.queue.submit([enc.finish()])
  }
  /** GPU time of `times` dispatches in one pass, from timestamp queries (ms). */
  const querySet = device.createQuerySet({ type: 'timestamp', count: 2 })
  const resolved = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC })
  const timed = async (k: Kernel, group: GPUBindGroup, grid: [number, number, number], times: number): Promise<number> => {
    const enc = device.createCommandEncoder()
    const pass = enc.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } })
    pass.setPipeline(pipeline(k))
    pass.setBindGroup(0, group)
    for (let t = 0; t < times; t++) pass.dispatchWorkgroups(...grid)
    pass.end()
    enc.resolveQuerySet(querySet, 0, 2, resolved, 0)
    device.queue.submit([enc.finish()])
    const ns = new BigUint64Array(await read(resolved, 16))
    return Number((ns[1] ?? 0n) - (ns[0] ?? 0n)) / 1e6 / times
  }
  const read = async (b: GPUBuffer, bytes: number): Promise<ArrayBuffer> => {
    const staging = device.createBuffer({ size: Math.ceil(bytes / 4) * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST })
    const enc = device.createCommandEncoder()
    enc.copyBufferToBuffer(b, 0, staging, 0, staging.size)
    device.queue.submit([enc.finish()])
    let timer: ReturnType<typeof setTimeout> | undefined
    const watchdog = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the read did not finish within 20 s (a GPU hang?)')), 20000)
    })
    await Promise.race([staging.mapAsync(GPUMapMode.READ), watchdog])
    clearTimeout(timer)
    const copy = staging.getMappedRange().slice(0)
    staging.unmap()
    return copy
  }


  // 0. A ladder of small kernels, each a step further, so a failure says which feature fails.
  const ladder: Record<string, string> = {}
  const step = async (name: string, code: string, inputs: ArrayBufferView[], outWords: number, groups: number, want: (i: number) => number, tol: number): Promise<boolean> => {
    try {
      const k: Kernel = { label: name, code, entry: 'main', params: [] }
      const outBuf = device.createBuffer({ size: outWords * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC })
      const mod = device.createShaderModule({ code, label: name })
      const info = await mod.getCompilationInfo()
      const errs = info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos} ${m.message}`)
      if (errs.length) throw new Error(`compile: ${errs.join('; ')}`)
      const pipe = device.createComputePipeline({ layout: 'auto', compute: { module: mod, entryPoint: 'main' } })
      pipelines.set(k.label + k.code.length, pipe)
      const group = device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: [...inputs.map((d) => upload(d)), outBuf].map((buffer, binding) => ({ binding, resource: { buffer } })) })
      run(k, group, [groups, 1, 1], 1)
      const got = new Float32Array(await read(outBuf, outWords * 4))
      let worst = 0
      for (let i = 0; i < outWords; i++) worst = Math.max(worst, Math.abs((got[i] ?? NaN) - want(i)))
      ladder[name] = worst <= tol ? 'ok' : `wrong: worst error ${worst}, first values ${[...got.slice(0, 4)].join(', ')}`
    } catch (err) {
      ladder[name] = `failed: ${(err as Error).message}`
    }
    console.log(`ladder ${name}: ${ladder[name]}${errors.length ? ` (device errors: ${errors.splice(0).join(' | ')})` : ''}`)
    return ladder[name] === 'ok'
  }
  const h16 = operand(16, 16, true, 21)
  const g16 = operand(16, 16, true, 23)
  const f32of = (o: typeof h16) => new Float32Array([...o.bits].map(f16ValueOf))
  const product = (i: number) => {
    let s = 0
    for (let r = 0; r < 16; r++) s += h16.at(Math.floor(i / 16), r) * g16.at(r, i % 16)
    return s
  }
  const ok1 = await step('f16 through workgroup memory', `enable f16;
@group(0) @binding(0) var<storage, read> a: array<u32>;
@group(0) @binding(1) var<storage, read_write> c: array<f32>;
var<workgroup> t: array<f16, 256>;
@compute @workgroup_size(128)
fn main(@builtin(local_invocation_index) lid: u32) {
  let v = bitcast<vec2<f16>>(a[lid]);
  t[2u * lid] = v.x;
  t[2u * lid + 1u] = v.y;
  workgroupBarrier();
  c[lid] = f32(t[255u - lid]);
}`, [h16.bits], 128, 1, (i) => h16.at(Math.floor((255 - i) / 16), (255 - i) % 16), 0)
  const ok2 = await step('subgroup matrix load and store, f32, storage', `enable subgroups;
enable chromium_experimental_subgroup_matrix;
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> c: array<f32>;
@compute @workgroup_size(32)
fn main() {
  let m = subgroupMatrixLoad<subgroup_matrix_result<f32, 16, 16>>(&a, 0u, true, 16u);
  subgroupMatrixStore(&c, 0u, m, false, 16u);
}`, [f32of(h16)], 256, 1, (i) => h16.at(i % 16, Math.floor(i / 16)), 0)
  const mma = (form: 'new' | 'deprecated', wg: boolean) => `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
@group(0) @binding(0) var<storage, read> a: array<f16>;
@group(0) @binding(1) var<storage, read> b: array<f16>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
${wg ? 'var<workgroup> ta: array<f16, 256>;\nvar<workgroup> tb: array<f16, 256>;\nvar<workgroup> tc: array<f32, 256>;' : ''}
@compute @workgroup_size(32)
fn main(@builtin(local_invocation_index) lid: u32) {
${wg ? '  for (var e = lid; e < 256u; e += 32u) { ta[e] = a[e]; tb[e] = b[e]; }\n  workgroupBarrier();' : ''}
  let l = ${form === 'new' ? `subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, false>(&${wg ? 'ta' : 'a'}, 0u, 16u)` : `subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&${wg ? 'ta' : 'a'}, 0u, false, 16u)`};
  let r = ${form === 'new' ? `subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, false>(&${wg ? 'tb' : 'b'}, 0u, 16u)` : `subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&${wg ? 'tb' : 'b'}, 0u, false, 16u)`};
  var acc = subgroup_matrix_result<f32, 16, 16>();
  acc = subgroupMatrixMultiplyAccumulate(l, r, acc);
${wg ? `  subgroupMatrixStore(&tc, 0u, acc, false, 16u);\n  workgroupBarrier();\n  for (var e = lid; e < 256u; e += 32u) { c[e] = tc[e]; }` : form === 'new' ? '  subgroupMatrixStore<false>(&c, 0u, acc, 16u);' : '  subgroupMatrixStore(&c, 0u, acc, false, 16u);'}
}`
  const ok3 = await step('f16 product from storage (new form)', mma('new', false), [h16.bits, g16.bits], 256, 1, product, 1e-3)
  const ok4 = await step('f16 product from storage (deprecated form)', mma('deprecated', false), [h16.bits, g16.bits], 256, 1, product, 1e-3)
  const ok5 = await step('f16 product through workgroup memory', mma('deprecated', true), [h16.bits, g16.bits], 256, 1, product, 1e-3)
  report.ladder = ladder
  if (!(ok1 && ok2 && (ok3 || ok4) && ok5)) {
    console.log('the ladder failed: the full kernel is not run')
    if (out) writeFileSync(out, JSON.stringify(report, null, 1))
    return
  }

  const TILINGS: [string, SubgroupMatrixTiling][] = [
    ['64x64 2x2 d32', { tileRows: 64, tileCols: 64, sgRows: 2, sgCols: 2, depth: 32, subgroupSize: sgMax, pad: 0 }],
    ['64x64 2x2 d32 pad8', { tileRows: 64, tileCols: 64, sgRows: 2, sgCols: 2, depth: 32, subgroupSize: sgMax, pad: 8 }],
    ['128x64 2x2 d32 pad8', { tileRows: 128, tileCols: 64, sgRows: 2, sgCols: 2, depth: 32, subgroupSize: sgMax, pad: 8 }],
    ['128x128 2x4 d32 pad8', { tileRows: 128, tileCols: 128, sgRows: 2, sgCols: 4, depth: 32, subgroupSize: sgMax, pad: 8 }],
    ['128x128 4x2 d32 pad8', { tileRows: 128, tileCols: 128, sgRows: 4, sgCols: 2, depth: 32, subgroupSize: sgMax, pad: 8 }],
    ['direct 64x128 2x2 d32', { tileRows: 64, tileCols: 128, sgRows: 2, sgCols: 2, depth: 32, subgroupSize: sgMax, pad: 0, direct: true }],
    ['direct 128x128 2x2 d32', { tileRows: 128, tileCols: 128, sgRows: 2, sgCols: 2, depth: 32, subgroupSize: sgMax, pad: 0, direct: true }],
    ['direct 128x128 2x4 d32', { tileRows: 128, tileCols: 128, sgRows: 2, sgCols: 4, depth: 32, subgroupSize: sgMax, pad: 0, direct: true }],
  ]

  // 1. Correctness: every layout, ragged edges, f16 C (and f32 C, as a split's partial sums), bias.
  const checks: unknown[] = []
  const cases: [number, number, number][] = [
    [200, 72, 98],
    [64, 64, 32],
    [130, 258, 66],
    [256, 256, 64],
  ]
  for (const [n, p, q] of cases)
    for (const aRow of [true, false])
      for (const bRow of [true, false])
        for (const [tname, tiling] of TILINGS.filter(([t]) => t !== '64x64 2x2 d32' && t !== '128x64 2x2 d32 pad8'))
          for (const half of [true, false]) {
            // A direct kernel needs whole tiles.
            if (tiling.direct && (n % tiling.tileRows || p % tiling.tileCols || q % tiling.depth)) continue
            const A = operand(n, q, aRow, 7 + n)
            const B = operand(q, p, bRow, 11 + p)
            const bias = operand(1, p, true, 13)
            const shape: Shape = { n, p, q, sa0: A.s0, sa1: A.s1, sb0: B.s0, sb1: B.s1 }
            const layout = subgroupMatrixLayout(shape)!
            const k = subgroupMatrixKernel(chosen.config, tiling, layout, half, half)
            if (process.env.PROBE_VERBOSE) console.log(`case ${n}x${p}x${q} ${aRow ? 'a rows' : 'a cols'} ${bRow ? 'b rows' : 'b cols'} ${tname} ${half ? 'f16' : 'f32'}`)
            const cBuf = device.createBuffer({ size: n * p * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC })
            const buffers = [upload(A.bits), upload(B.bits), cBuf, ...(half ? [upload(bias.bits)] : [])]
            run(k, bind(k, { ...shape, k_split: q }, buffers), [Math.ceil(p / tiling.tileCols), Math.ceil(n / tiling.tileRows), 1], 1)
            const raw = await read(cBuf, half ? n * p * 2 : n * p * 4)
            const got = half ? [...new Uint16Array(raw, 0, n * p)].map(f16ValueOf) : [...new Float32Array(raw, 0, n * p)]
            let worst = 0
            for (let i = 0; i < n; i++)
              for (let j = 0; j < p; j++) {
                let s = half ? bias.at(0, j) : 0
                for (let r = 0; r < q; r++) s += A.at(i, r) * B.at(r, j)
                const want = half ? f16ValueOf(f16BitsOf(s)) : s
                // f16 C: within one f16 ulp of the rounded sum (the sum's order differs); f32: 1e-5 relative to sqrt(q).
                // f16 C: the rounded sum may move by the f32 sum's error as well as one f16 step.
                const tol = half ? Math.max(Math.abs(want), 2 ** -14) * 2 ** -10 * 1.01 + 1e-5 * Math.sqrt(q) : 1e-5 * Math.sqrt(q)
                worst = Math.max(worst, Math.abs((got[i * p + j] ?? NaN) - want) / tol)
              }
            const row = { n, p, q, a: aRow ? 'row-major' : 'col-major', b: bRow ? 'row-major' : 'col-major', tiling: tname, c: half ? 'f16+bias' : 'f32', worstOverTol: +worst.toFixed(3), ok: worst <= 1 }
            checks.push(row)
            if (!row.ok) console.log(`MISMATCH ${JSON.stringify(row)}`)
          }
  const bad = checks.filter((c) => !(c as { ok: boolean }).ok).length
  console.log(`correctness: ${checks.length - bad} of ${checks.length} cases within tolerance${errors.length ? `; errors: ${errors.slice(0, 3).join(' | ')}` : ''}`)
  report.checks = checks

  // 2. Timing beside the portable kernel, same f16 operands, f16 C (no split).
  const timing: unknown[] = []
  const SHAPES: [string, number, number, number, boolean][] = [
    ['fwd 8192x256x256', 8192, 256, 256, true],
    ['fwd 8192x768x256', 8192, 768, 256, true],
    ['fwd 8192x256x768', 8192, 256, 768, true],
    ['dw 256x768 over 8192', 256, 768, 8192, false],
    ['square 4096', 4096, 4096, 4096, true],
  ]
  const REPS = 10
  for (const [label, n, p, q, aRow] of SHAPES) {
    const A = operand(n, q, aRow, 3)
    const B = operand(q, p, true, 5)
    const shape: Shape = { n, p, q, sa0: A.s0, sa1: A.s1, sb0: B.s0, sb1: B.s1 }
    const aBuf = upload(A.bits)
    const bBuf = upload(B.bits)
    const cBuf = device.createBuffer({ size: n * p * 2, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC })
    // The portable kernel in f32 too (the f32 training path's products), on the same values widened.
    const f32Bufs = [upload(new Float32Array([...A.bits].map(f16ValueOf))), upload(new Float32Array([...B.bits].map(f16ValueOf))), device.createBuffer({ size: n * p * 4, usage: GPUBufferUsage.STORAGE })]
    const half = [aBuf, bBuf, cBuf]
    const candidates: [string, Kernel, number, number, GPUBuffer[]][] = [
      ['portable 64 f32', matmulKernel(64, false, stagingFor(shape), false, { inputs: false, output: false }), 64, 64, f32Bufs],
      ['portable 64 f16', matmulKernel(64, false, stagingFor(shape), false, { inputs: true, output: true }), 64, 64, half],
      ...TILINGS.map(([t, tiling]): [string, Kernel, number, number, GPUBuffer[]] => [`sgm ${t}`, subgroupMatrixKernel(chosen!.config, tiling, subgroupMatrixLayout(shape)!, false, true), tiling.tileRows, tiling.tileCols, half]),
    ]
    const row: Record<string, unknown> = { shape: label, n, p, q }
    for (const [name, k, tm, tn, buffers] of candidates) {
      const group = bind(k, { ...shape, k_split: q }, buffers)
      const grid: [number, number, number] = [Math.ceil(p / tn), Math.ceil(n / tm), 1]
      run(k, group, grid, 2)
      await device.queue.onSubmittedWorkDone()
      const ms: number[] = []
      for (let rep = 0; rep < 5; rep++) ms.push(await timed(k, group, grid, REPS))
      ms.sort((x, y) => x - y)
      const median = ms[2] ?? NaN
      row[name] = { ms: +median.toFixed(4), tflops: +((2 * n * p * q) / median / 1e9).toFixed(2) }
    }
    timing.push(row)
    console.log(
      `${label}: ${candidates.map(([name]) => `${name} ${(row[name] as { ms: number }).ms} ms (${(row[name] as { tflops: number }).tflops} TFLOP/s)`).join('; ')}`,
    )
  }
  report.timing = timing
  report.errors = errors
  if (errors.length) console.log(`errors: ${errors.slice(0, 5).join(' | ')}`)
  if (out) writeFileSync(out, JSON.stringify(report, null, 1))
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  },
)
