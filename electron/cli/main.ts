// `linea`: the command line. Usage mistakes print the usage and exit 2.
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { formatEngineInfo } from './format'

const USAGE = `usage: linea <command> [options]

commands:
  info [--json]          the native engine: version, backends, devices, BLAS, ops
  serve [--port N]       headless mode: serve the app and the LabApi on 127.0.0.1
                         (prints the URL to open; opens nothing)
  help                   this text
`

class UsageError extends Error {}

const COMMANDS: Record<string, { options: ParseArgsConfig['options']; run: (values: Record<string, unknown>) => Promise<number> }> = {
  info: {
    options: { json: { type: 'boolean' } },
    run: async (values) => {
      const { engineInfo } = await import('../engine/info')
      const info = engineInfo()
      process.stdout.write(values.json ? JSON.stringify(info, null, 2) + '\n' : formatEngineInfo(info))
      return 0
    },
  },
  serve: {
    options: { port: { type: 'string' } },
    run: async (values) => {
      let port = 0
      if (values.port !== undefined) {
        port = Number(values.port)
        if (!Number.isInteger(port) || port < 0 || port > 65535)
          throw new UsageError(`--port ${String(values.port)} is not a port number; valid: 0 (any free port) to 65535`)
      }
      const { startHeadless } = await import('../services/headless')
      const app = await startHeadless({ port })
      process.stdout.write(`Linea is serving on ${app.server.url}\nOpen: ${app.server.launchUrl}\n`)
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
    try {
      const parsed = parseArgs({ args: rest, options: spec.options, strict: true, allowPositionals: false })
      values = parsed.values
    } catch (err) {
      throw new UsageError(`${command}: ${(err as Error).message}`)
    }
    return await spec.run(values)
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`linea: ${err.message}\n\n${USAGE}`)
      return 2
    }
    process.stderr.write(`linea: ${err instanceof Error ? err.message : String(err)}\n`)
    return 1
  }
}
