// The foundation's end-to-end slice: random q, k, v through the recurrent
// mixer forward on a backend, summarized as ‖o_t‖ over time.
import type { DemoForwardParams, DemoForwardResult } from '../api/labapi'
import type { Backend } from './backend'
import { mixerFwd } from './ops/generated'
import { Rng } from './random'

export async function demoForward(backend: Backend, p: DemoForwardParams): Promise<DemoForwardResult> {
  const { seqLen: T, heads: H, dk, dv } = p
  const rng = new Rng(p.seed)
  const q = backend.upload(rng.fillNormal(new Float32Array(T * H * dk)), [1, T, H, dk])
  const k = backend.upload(rng.fillNormal(new Float32Array(T * H * dk)), [1, T, H, dk])
  const v = backend.upload(rng.fillNormal(new Float32Array(T * H * dv)), [1, T, H, dv])
  const started = performance.now()
  const { o, s_final: sFinal } = mixerFwd(backend, { q, k, v }, { form: 'recurrent' }, ['s_final'])
  const out = await o.read()
  const state = await sFinal!.read()
  const elapsedMs = performance.now() - started
  for (const t of [q, k, v, o, sFinal!]) t.dispose()

  // o: (1, T, H, dv) -> mean over heads of ‖o_t,h‖
  const outputNorm = new Array<number>(T).fill(0)
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < H; h++) {
      let sq = 0
      for (let c = 0; c < dv; c++) sq += out[(t * H + h) * dv + c]! ** 2
      outputNorm[t]! += Math.sqrt(sq) / H
    }
  }
  // s_final: (1, H, dk, dv) -> ‖S_h‖_F
  const finalStateNorm = Array.from({ length: H }, (_, h) => {
    let sq = 0
    for (let i = 0; i < dk * dv; i++) sq += state[h * dk * dv + i]! ** 2
    return Math.sqrt(sq)
  })
  return { backend: backend.id, seqLen: T, heads: H, dk, dv, outputNorm, finalStateNorm, elapsedMs }
}
