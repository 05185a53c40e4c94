// The Start screen's quick start, the MQAR recall sweep scaled down for a
// CPU: expanded from the real template as the engine does, every run valid
// for the engine's schema and the Train form's checks, and much smaller.
import { describe, expect, it } from 'vitest'
import { TrainSpecSchema } from '../../../electron/api/train-spec'
import { expandTemplate, findTemplate } from '../../../electron/workspace/templates'
import { trainSpecErrors } from '../../../renderer/src/runs/train-form'
import { QUICK_START_BACKEND, QUICK_START_OVERRIDES, QUICK_START_TEMPLATE } from '../../../renderer/src/start/quick-start'

describe('the quick start', () => {
  const template = findTemplate(QUICK_START_TEMPLATE)
  const runs = expandTemplate(template, {}, { ...QUICK_START_OVERRIDES })
  const full = expandTemplate(template)[0]!.trainSpec

  it('expands the whole sweep, every run valid for the engine and the Train form', () => {
    expect(runs).toHaveLength(12)
    for (const r of runs) {
      expect(TrainSpecSchema.safeParse(r.trainSpec).success, r.name).toBe(true)
      expect(trainSpecErrors(r.trainSpec, r.modelSpec), r.name).toEqual([])
    }
  })

  it('is scaled down well below the template, on the CPU', () => {
    for (const r of runs) {
      expect(r.trainSpec.backend).toBe(QUICK_START_BACKEND)
      expect(r.trainSpec.steps).toBeLessThanOrEqual(300)
      const tokens = r.trainSpec.steps * r.trainSpec.batch_size * r.trainSpec.task.seq_len
      expect(tokens).toBeLessThanOrEqual((full.steps * full.batch_size * full.task.seq_len) / 50)
    }
  })
})
