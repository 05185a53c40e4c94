// The recurrent mixer forward on the CPU backend: time and achieved GFLOP/s
// (per step: K·V multiply-adds for the write, K·V for the read → 4·K·V FLOPs).
import { nativeBackend } from '../electron/engine/native-backend'
import { mixerForward } from '../electron/engine/ops/mixer'
import { Rng } from '../electron/engine/random'
import { machine, time, writeResult } from './harness'

const cpu = nativeBackend('cpu')
const shapes = [
  { B: 4, T: 2048, H: 4, K: 64, V: 64 },
  { B: 1, T: 8192, H: 4, K: 64, V: 64 },
]
const rows = []
for (const s of shapes) {
  const rng = new Rng(1)
  const q = cpu.upload(rng.fillNormal(new Float32Array(s.B * s.T * s.H * s.K)), [s.B, s.T, s.H, s.K])
  const k = cpu.upload(rng.fillNormal(new Float32Array(s.B * s.T * s.H * s.K)), [s.B, s.T, s.H, s.K])
  const v = cpu.upload(rng.fillNormal(new Float32Array(s.B * s.T * s.H * s.V)), [s.B, s.T, s.H, s.V])
  const t = await time(() => {
    const { o } = mixerForward(cpu, { q, k, v }, { form: 'recurrent' })
    o.dispose()
  })
  const flops = 4 * s.B * s.T * s.H * s.K * s.V
  rows.push({ op: 'mixer_fwd', form: 'recurrent', dtype: 'f32', ...s, ...t, gflops: flops / (t.medianMs * 1e6) })
}
const path = writeResult('mixer-recurrent', { benchmark: 'mixer-recurrent', machine: machine(), rows })
console.log('op         form       shape (B,T,H,K,V)        median ms   GFLOP/s')
for (const r of rows)
  console.log(`${r.op}  ${r.form}  ${`${r.B},${r.T},${r.H},${r.K},${r.V}`.padEnd(22)}  ${r.medianMs.toFixed(2).padStart(9)}  ${r.gflops.toFixed(2).padStart(8)}`)
console.log(`wrote ${path}`)
