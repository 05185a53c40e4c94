// Runtime schemas for the parameters of every LabApi call (labapi.ts has
// the types and names). Checked where a call enters: the headless server
// and the Electron IPC handlers.
import { z } from 'zod'

export const DemoForwardParamsSchema = z.strictObject({
  seqLen: z.number().int().min(1).max(65536),
  heads: z.number().int().min(1).max(64),
  dk: z.number().int().min(1).max(512),
  dv: z.number().int().min(1).max(512),
  seed: z.number().int().min(0).max(2 ** 31 - 1),
})

/** Each call: its parameter schema. Results are typed in labapi.ts. */
export const LAB_API_METHODS = {
  engineInfo: z.strictObject({}),
  validateModelSpec: z.strictObject({ spec: z.unknown() }),
  validateTrainSpec: z.strictObject({ spec: z.unknown() }),
  demoForward: DemoForwardParamsSchema,
} as const

export type LabApiMethod = keyof typeof LAB_API_METHODS
export type LabApiParams<M extends LabApiMethod> = z.infer<(typeof LAB_API_METHODS)[M]>

