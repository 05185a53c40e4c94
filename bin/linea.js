#!/usr/bin/env node
// The `linea` command (package.json "bin", so `npx linea` and an installed
// `linea` work as `npm run linea` does): runs the CLI bundle that
// `npm run build` writes to out/main/cli.js, which reads process.argv itself.
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'out', 'main', 'cli.js')
if (!existsSync(cli)) {
  process.stderr.write(`linea: the CLI is not built yet (${cli} is missing); run: npm run build\n`)
  process.exit(1)
}
await import(pathToFileURL(cli).href)
