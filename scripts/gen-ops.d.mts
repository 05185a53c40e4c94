// Types of scripts/gen-ops.mjs, for the test that checks the generated file is current.
import type { NativeOpDef } from '../electron/engine/addon'

/** Where the generated wrappers live: electron/engine/ops/generated.ts. */
export const generatedPath: string
/** The TypeScript source of the generated file for an op table. */
export function generate(table: readonly NativeOpDef[]): string
/** The op table of the built addon (LINEA_ADDON when set). */
export function loadOpTable(): NativeOpDef[]
