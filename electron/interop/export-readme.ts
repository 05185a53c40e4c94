// README.txt of a PyTorch export: what the folder holds and how to load it.
import { modelPosition, outputNormWeight, type ModelSpec } from '../api/model-spec'
import type { TrainSpec } from '../api/train-spec'
import type { TaskData } from './export-task-data'

export interface ExportReadmeInput {
  spec: ModelSpec
  trainSpec: TrainSpec
  data?: TaskData
  /** Whether flash-linear-attention computes the model too (export-fla-note.ts). */
  fla: string
  step: number
  source: string
  /** The weights are a design's initial ones (the composer's Export…), not a run's checkpoint. */
  design?: boolean
  parameters: number
  dims: { dk: number; dv: number }[]
}

function layerLine(spec: ModelSpec, i: number, dims: { dk: number; dv: number }): string {
  const l = spec.layers[i]!
  if (l.kind === 'softmax')
    return `  ${i}: softmax attention, ${l.heads} heads of ${dims.dk}, ${l.window ? `window ${l.window}` : 'full causal'}${l.rotary ? ', rotary' : ''}`
  const switches = [
    `feature map ${l.feature_map}`,
    `forget gate ${l.forget_gate}`,
    `input gate ${l.input_gate}`,
    `delta ${l.delta_rule}`,
    `denominator ${l.denominator}`,
    `output norm ${l.output_norm}${l.output_norm !== 'none' && outputNormWeight(l) === 'per_head' ? ' (weight per head)' : ''}`,
    `shortcut ${l.shortcut}`,
    `short conv ${l.short_conv}`,
    `output gate ${l.output_gate}`,
  ]
  return `  ${i}: linear mixer, ${l.heads} heads, dk ${dims.dk}, dv ${dims.dv}; ${switches.join(', ')}`
}

export function exportReadme(r: ExportReadmeInput): string {
  const s = r.spec
  return `${s.name}, exported from Linea to PyTorch
${'='.repeat(s.name.length + 32)}

Source: ${r.source} (step ${r.step})

This folder is a self-contained PyTorch model. It needs only torch (and uses
the safetensors package when installed):

  model.py           the model in plain torch: LineaModel(spec), load_linea(folder)
  config.json        the Linea ModelSpec the model is built from
  train_spec.json    ${r.design ? "Linea's default TrainSpec, train.py's default settings" : 'the TrainSpec the checkpoint was trained with'}
  model.safetensors  ${r.parameters} parameters in float32, under the module's names
  README.txt         this file
  train.py           continue training with torchrun (DistributedDataParallel)
  train.sh           torchrun on every GPU of this machine, or on several nodes
  convert_data.py    text or token rows into the data format train.py reads

Use it:

  import sys; sys.path.insert(0, "<this folder>")
  import model
  net = model.load_linea("<this folder>")   # also takes a Linea checkpoint .safetensors
  logits = net(ids)                          # ids (B, T) int64 -> (B, T, ${s.vocab_size})
  model.save_linea_checkpoint(net, "step-N.safetensors", train_spec, step)   # back to Linea

or check it from a shell: python3 model.py

${r.fla}.

The forward is Linea's: same logits as Linea's engine computes for these weights
(to float32 rounding). Linear mixers run chunk by chunk in plain torch
(form="chunked", the default) or one step at a time (form="recurrent", the
reference); both compute the same function. The exp input gate (mLSTM) always
steps, because its stabilizer is a per-step recurrence. form="fla" runs
flash-linear-attention's kernels on CUDA where they compute a layer (each
checked once against the torch form); net.describe_forms() says which.

The model: vocabulary ${s.vocab_size}, d_model ${s.d_model}, ${s.layers.length} layers, ${s.block} blocks${
    s.block === 'transformer' && s.mlp_expansion > 0 ? ` with a SwiGLU MLP (x${s.mlp_expansion})` : ''
  }, ${s.tie_embeddings ? 'tied' : 'untied'} head, position ${modelPosition(s)}.
${s.layers.map((_, i) => layerLine(s, i, r.dims[i]!)).join('\n')}

Continue training (one process per GPU; python3 train.py --help for options):

${dataLines(r)}
  bash train.sh                                  every GPU of this machine
  NNODES=2 MASTER=<node 0>:29500 bash train.sh   the same command on each of two nodes

train.py uses ${r.design ? "Linea's default" : "the Linea run's"} AdamW settings and schedule (train_spec.json),
bf16 autocast on GPUs, and writes Linea checkpoints to checkpoints/ (linea
inspect and the app open them).
`
}

function dataLines(r: ExportReadmeInput): string {
  const task = r.trainSpec.task.kind
  if (r.design && !r.data)
    return `  No data/ yet. Any text: python3 convert_data.py text corpus.txt --seq-len 512 --out data
  or token rows:          python3 convert_data.py jsonl rows.jsonl --out data
  (or train the design in Linea, then export the run with its task: linea export <run> --out <this folder> --data 20000)`
  if (!r.data)
    return `  No data/ yet. The run's task (${task}): linea export <run> --out <this folder> --data 20000
  or any text: python3 convert_data.py text corpus.txt --seq-len 512 --out data`
  const splits = Object.entries(r.data.splits).map(([name, s]) => `${name} ${s.rows} x ${s.seq_len}`)
  return `  data/ holds the run's task (${task}) from Linea's generator and seed: ${splits.join(', ')}.
  Other text: python3 convert_data.py text corpus.txt --seq-len 512 --out data`
}
