// Where an op runs, for the profiler: the model part (scope: "embedding",
// "layers.3.mixer", "head") and the phase (forward, backward, optimizer).
// The model opens scopes around its parts; the tape remembers the scope an
// op's backward belongs to and reopens it when the backward runs.

export type Phase = 'forward' | 'backward' | 'optimizer'

let currentScope = 'model'
let currentPhase: Phase = 'forward'

export function scope(): string {
  return currentScope
}

export function phase(): Phase {
  return currentPhase
}

/** Runs fn inside a scope (nested scopes replace, they do not stack). */
export function inScope<T>(name: string, fn: () => T): T {
  const saved = currentScope
  currentScope = name
  try {
    return fn()
  } finally {
    currentScope = saved
  }
}

export function inPhase<T>(p: Phase, fn: () => T): T {
  const saved = currentPhase
  currentPhase = p
  try {
    return fn()
  } finally {
    currentPhase = saved
  }
}

/** inPhase for async work: the phase holds until the promise settles (the engine runs one thing at a time). */
export async function inPhaseAsync<T>(p: Phase, fn: () => Promise<T>): Promise<T> {
  const saved = currentPhase
  currentPhase = p
  try {
    return await fn()
  } finally {
    currentPhase = saved
  }
}
