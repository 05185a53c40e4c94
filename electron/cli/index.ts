// Entry of the `linea` command (bundled to out/main/cli.js).
import { main } from './main'

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  // main reports its own errors and resolves to the exit code; this is for a
  // bug in that reporting, which would otherwise be an unhandled rejection.
  (err: unknown) => {
    process.stderr.write(`linea: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exitCode = 1
  },
)
