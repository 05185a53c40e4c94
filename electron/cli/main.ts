// `linea`: the command line. Usage mistakes print the usage and exit 2.
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { formatEngineInfo } from './format'

const USAGE = `usage: linea <command> [options]

commands:
  info [--json]          the native engine: version, backends, devices, BLAS, ops
  train <model.json> <train.json> --out <dir> [--resume <checkpoint> | --init-from <checkpoint>] [--max-steps N]
        [--backend auto|cpu|cuda|cuda:N|webgpu] [--precision auto|f32|f64|bf16]
                         train a model; progress bar, metrics.jsonl and checkpoints in <dir>;
                         --max-steps stops after N steps, the schedule still that of the spec's steps;
                         --backend and --precision replace the train spec's; --init-from starts
                         from a checkpoint's weights (a fine-tune: same ModelSpec, new optimizer)
  run <workspace> <template-id | run.json> [--set path=value]... [--input path=value]...
                         queue a template's sweep (or one run) in a workspace and train it
  runs <workspace>       the runs of a workspace: status, task, steps, best accuracy, time
  profile <spec.json | preset> --report out.html [--pdf out.pdf] [--seq-len N] [--batch N] [--labels N]
          [--d-model N] [--sweep-lengths 512,1024,...] [--sweep-budget seconds]
          [--repeats N] [--probe-seconds S] [--trace out.trace.json]
          [--backend auto|cpu|cuda|cuda:N|webgpu] [--precision auto|f32|f64|bf16]
                         profile a model: time and memory per layer and op (median and spread
                         over the repeats), roofline, length sweep; --labels N puts the loss on
                         the last N positions of each sequence (a task's, e.g. MQAR's queries;
                         every position by default); --trace writes the timed step as a Chrome
                         trace (open in ui.perfetto.dev)
  inspect <run folder | checkpoint> --out inspect.json [--checkpoint checkpoints/step-N.safetensors]
          [--task <kind>] [--example N | --text "..."] [--heads 0,1] [--state-steps 0,63,127]
          [--max-attention-t N] [--pairs 1,2,4,8] [--examples N] [--lengths 64,128,256]
                         inspect a checkpoint: recall, state over time, attention maps
  export <run folder | checkpoint> --out <dir> [--checkpoint checkpoints/step-N.safetensors] [--data N]
         [--format torch|fla|both]
                         torch (default): a self-contained PyTorch folder: model.py (plain torch,
                         Linea's logits), config.json, model.safetensors (f32), README.txt, and
                         train.sh/train.py to continue training with torchrun; --data writes N
                         sequences of the run's task (and its eval sets) for train.py;
                         fla: flash-linear-attention's own folder (config.json, model.safetensors
                         under fla's names) when one of its model classes computes the model, else
                         the reason; both: the PyTorch folder, and the fla one in <dir>/fla/
  import <hf-folder> <workspace> [--name N]
                         a flash-linear-attention checkpoint (config.json + safetensors, sharded
                         or not; F32, BF16, F16) as a run of the workspace that inspect opens
  presets [--json]       the preset ModelSpecs
  serve [--port N] [--workspace <dir>]
                         headless mode: serve the app and the LabApi on 127.0.0.1
                         (prints the URL to open; opens nothing)
  help                   this text
`

class UsageError extends Error {}

const COMMANDS: Record<
  string,
  { options: ParseArgsConfig['options']; positionals?: number; run: (values: Record<string, unknown>, positionals: string[]) => Promise<number> }
> = {
  train: {
    options: {
      out: { type: 'string' },
      resume: { type: 'string' },
      'init-from': { type: 'string' },
      'max-steps': { type: 'string' },
      backend: { type: 'string' },
      precision: { type: 'string' },
    },
    positionals: 2,
    run: async (values, positionals) => {
      if (typeof values.out !== 'string') throw new UsageError('train: --out <dir> is required')
      const { runTrainCommand, CliInputError } = await import('./train')
      try {
        return await runTrainCommand({
          modelPath: positionals[0]!,
          trainPath: positionals[1]!,
          outDir: values.out,
          resume: values.resume as string | undefined,
          initFrom: values['init-from'] as string | undefined,
          maxSteps: values['max-steps'] as string | undefined,
          backend: values.backend as string | undefined,
          precision: values.precision as string | undefined,
        })
      } catch (err) {
        if (err instanceof CliInputError) {
          process.stderr.write(`linea: ${err.message}\n`)
          return 2
        }
        throw err
      }
    },
  },
  run: {
    options: { set: { type: 'string', multiple: true }, input: { type: 'string', multiple: true } },
    positionals: 2,
    run: async (values, positionals) => {
      const { runCommand } = await import('./runs')
      const { CliInputError } = await import('./train')
      try {
        return await runCommand({
          workspace: positionals[0]!,
          what: positionals[1]!,
          sets: (values.set as string[] | undefined) ?? [],
          inputs: (values.input as string[] | undefined) ?? [],
        })
      } catch (err) {
        if (err instanceof CliInputError) {
          process.stderr.write(`linea: ${err.message}\n`)
          return 2
        }
        throw err
      }
    },
  },
  runs: {
    options: {},
    positionals: 1,
    run: async (_values, positionals) => {
      const { listRunsCommand } = await import('./runs')
      return listRunsCommand(positionals[0]!)
    },
  },
  profile: {
    options: {
      report: { type: 'string' },
      pdf: { type: 'string' },
      'seq-len': { type: 'string' },
      batch: { type: 'string' },
      labels: { type: 'string' },
      'd-model': { type: 'string' },
      'sweep-lengths': { type: 'string' },
      'sweep-budget': { type: 'string' },
      repeats: { type: 'string' },
      'probe-seconds': { type: 'string' },
      trace: { type: 'string' },
      backend: { type: 'string' },
      precision: { type: 'string' },
    },
    positionals: 1,
    run: async (values, positionals) => {
      if (typeof values.report !== 'string') throw new UsageError('profile: --report <out.html> is required')
      const { profileCommand } = await import('./profile')
      const { CliInputError } = await import('./train')
      try {
        return await profileCommand({
          spec: positionals[0]!,
          report: values.report,
          pdf: values.pdf as string | undefined,
          seqLen: values['seq-len'] as string | undefined,
          batch: values.batch as string | undefined,
          labels: values.labels as string | undefined,
          dModel: values['d-model'] as string | undefined,
          sweepLengths: values['sweep-lengths'] as string | undefined,
          sweepBudget: values['sweep-budget'] as string | undefined,
          repeats: values.repeats as string | undefined,
          probeSeconds: values['probe-seconds'] as string | undefined,
          trace: values.trace as string | undefined,
          backend: values.backend as string | undefined,
          precision: values.precision as string | undefined,
        })
      } catch (err) {
        if (err instanceof CliInputError) {
          process.stderr.write(`linea: ${err.message}\n`)
          return 2
        }
        throw err
      }
    },
  },
  inspect: {
    options: {
      out: { type: 'string' },
      checkpoint: { type: 'string' },
      task: { type: 'string' },
      example: { type: 'string' },
      text: { type: 'string' },
      heads: { type: 'string' },
      'state-steps': { type: 'string' },
      'max-attention-t': { type: 'string' },
      pairs: { type: 'string' },
      examples: { type: 'string' },
      lengths: { type: 'string' },
    },
    positionals: 1,
    run: async (values, positionals) => {
      if (typeof values.out !== 'string') throw new UsageError('inspect: --out <inspect.json> is required')
      const { inspectCommand } = await import('./inspect')
      const { CliInputError } = await import('./train')
      const s = (k: string) => values[k] as string | undefined
      try {
        return await inspectCommand({
          run: positionals[0]!,
          out: values.out,
          checkpoint: s('checkpoint'),
          task: s('task'),
          example: s('example'),
          text: s('text'),
          heads: s('heads'),
          stateSteps: s('state-steps'),
          maxAttentionT: s('max-attention-t'),
          pairs: s('pairs'),
          examples: s('examples'),
          lengths: s('lengths'),
        })
      } catch (err) {
        if (err instanceof CliInputError) {
          process.stderr.write(`linea: ${err.message}\n`)
          return 2
        }
        throw err
      }
    },
  },
  export: {
    options: { out: { type: 'string' }, checkpoint: { type: 'string' }, data: { type: 'string' }, format: { type: 'string' } },
    positionals: 1,
    run: async (values, positionals) => {
      if (typeof values.out !== 'string') throw new UsageError('export: --out <dir> is required')
      const { exportCommand } = await import('./export')
      const { CliInputError } = await import('./train')
      try {
        return exportCommand({
          run: positionals[0]!,
          out: values.out,
          checkpoint: values.checkpoint as string | undefined,
          data: values.data as string | undefined,
          format: values.format as string | undefined,
        })
      } catch (err) {
        if (err instanceof CliInputError) {
          process.stderr.write(`linea: ${err.message}\n`)
          return 2
        }
        throw err
      }
    },
  },
  import: {
    options: { name: { type: 'string' } },
    positionals: 2,
    run: async (values, positionals) => {
      const { importCommand } = await import('./import')
      const { CliInputError } = await import('./train')
      try {
        return importCommand({ folder: positionals[0]!, workspace: positionals[1]!, name: values.name as string | undefined })
      } catch (err) {
        if (err instanceof CliInputError) {
          process.stderr.write(`linea: ${err.message}\n`)
          return 2
        }
        throw err
      }
    },
  },
  presets: {
    options: { json: { type: 'boolean' } },
    run: async (values) => {
      const { presets } = await import('../api/presets')
      const list = presets()
      if (values.json) process.stdout.write(JSON.stringify(list, null, 2) + '\n')
      else for (const p of list) process.stdout.write(`${p.preset!.padEnd(26)} ${p.name}: ${p.description ?? ''}\n`)
      return 0
    },
  },
  info: {
    options: { json: { type: 'boolean' } },
    run: async (values) => {
      const { engineInfo } = await import('../engine/info')
      const info = await engineInfo()
      process.stdout.write(values.json ? JSON.stringify(info, null, 2) + '\n' : formatEngineInfo(info))
      return 0
    },
  },
  serve: {
    options: { port: { type: 'string' }, workspace: { type: 'string' } },
    run: async (values) => {
      let port = 0
      if (values.port !== undefined) {
        port = Number(values.port)
        if (!Number.isInteger(port) || port < 0 || port > 65535)
          throw new UsageError(`--port ${String(values.port)} is not a port number; valid: 0 (any free port) to 65535`)
      }
      const { startHeadless } = await import('../services/headless')
      const app = await startHeadless({ port, workspace: values.workspace as string | undefined })
      process.stdout.write(`Linea is serving on ${app.server.url}\nworkspace: ${app.workspaces.workspace.root}\nOpen: ${app.server.launchUrl}\n`)
      await new Promise<void>((resolve) => {
        const stop = () => resolve()
        process.once('SIGINT', stop)
        process.once('SIGTERM', stop)
      })
      await app.close()
      return 0
    },
  },
  help: {
    options: {},
    run: async () => {
      process.stdout.write(USAGE)
      return 0
    },
  },
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  try {
    if (!command) throw new UsageError('no command given')
    const spec = COMMANDS[command]
    if (!spec) throw new UsageError(`unknown command '${command}'`)
    let values: Record<string, unknown>
    let positionals: string[]
    try {
      const parsed = parseArgs({ args: rest, options: spec.options, strict: true, allowPositionals: (spec.positionals ?? 0) > 0 })
      values = parsed.values
      positionals = parsed.positionals
    } catch (err) {
      throw new UsageError(`${command}: ${(err as Error).message}`)
    }
    if (positionals.length !== (spec.positionals ?? 0)) throw new UsageError(`${command}: expected ${spec.positionals} arguments, got ${positionals.length}`)
    return await spec.run(values, positionals)
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`linea: ${err.message}\n\n${USAGE}`)
      return 2
    }
    process.stderr.write(`linea: ${err instanceof Error ? err.message : String(err)}\n`)
    return 1
  }
}
