// Task generators: one per Task kind of the TrainSpec (shared MATH.md, "Tasks").
import { TASK_KINDS, type Task } from '../../api/train-spec'
import { createBytes } from './bytes'
import { createInductionHeads } from './induction-heads'
import { createMqar } from './mqar'
import { createPermutation } from './permutations'
import { createSelectiveCopy } from './selective-copy'
import { createModularAddition, createParity } from './state-tracking'
import { TaskError, type TaskGenerator } from './types'

export type { Batch, EvalSet, TagInfo, TaskGenerator } from './types'
export { TaskError } from './types'

/** The generator for a task; throws TaskError when the task cannot be built. */
export function createTask(task: Task, seed: number): TaskGenerator {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new TaskError(`seed: ${seed} is not valid; must be an integer >= 0`)
  switch (task.kind) {
    case 'mqar':
      return createMqar(task, seed)
    case 'parity':
      return createParity(task, seed)
    case 'modular_addition':
      return createModularAddition(task, seed)
    case 'permutation':
      return createPermutation(task, seed)
    case 'selective_copy':
      return createSelectiveCopy(task, seed)
    case 'induction_heads':
      return createInductionHeads(task, seed)
    case 'bytes':
      return createBytes(task, seed)
    default: {
      const kind: unknown = (task as { kind: unknown }).kind
      throw new TaskError(`task.kind: ${String(kind)} is not valid; valid: ${TASK_KINDS.join(', ')}`)
    }
  }
}
