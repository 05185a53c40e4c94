import { resizeModel } from '../electron/api/resize'
import { nativeBackend } from '../electron/engine/native-backend'
import { preset } from '../electron/engine/presets'
import { trainModel } from '../electron/engine/train/trainer'
const [id, lr, steps] = [process.argv[2]!, Number(process.argv[3]), Number(process.argv[4])]
const model = resizeModel(preset(id), { d_model: 64, n_layers: 2, vocab_size: Number(process.env.V ?? 512) })
const t0 = performance.now()
await trainModel({ modelSpec: model, backend: nativeBackend('cpu'), trainSpec: {
  format: 'linea.train/1', task: { kind: 'mqar', seq_len: Number(process.env.T ?? 128), num_kv_pairs: Number(process.env.KV ?? 8), power_a: 0.01, vocab_size: Number(process.env.V ?? 512) },
  steps, batch_size: Number(process.env.BS ?? 64), optimizer: { kind: 'adamw', lr, beta1: 0.9, beta2: 0.98, eps: 1e-8, weight_decay: 0.1, grad_clip: 1 },
  schedule: { warmup_steps: 50, decay: 'constant', min_lr_ratio: 1 }, seed: 0, backend: 'cpu', device: 0, precision: 'f32',
  eval: { every: 100, batches: 2 }, early_stop_accuracy: 0.99, checkpoint_every: 0 },
  events: { onStep: (p) => { if (p.step % 25 === 0) console.log(id, lr, p.step, p.loss.toFixed(3), ((performance.now()-t0)/1000).toFixed(0)+'s', (p.memoryBytes/1e6).toFixed(1)+'MB', (process.memoryUsage().rss/1e6).toFixed(0)+'MB rss') }, onEval: (e) => console.log('  eval', e.step, e.headline.toFixed(3)) } })
