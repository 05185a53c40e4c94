// How an engine utility process ended, in one message like the fork
// launcher's (electron/jobs/engine-process.ts): exit code, V8's fatal error
// when there was one, the last lines it wrote to stderr.
export const STDERR_TAIL_CHARS = 2000
const STDERR_TAIL_LINES = 5

export function appendTail(tail: string, chunk: string): string {
  return (tail + chunk).slice(-STDERR_TAIL_CHARS)
}

export function describeEngineExit(code: number, stderrTail: string, fatal?: string): string {
  const lines = stderrTail.trim().split('\n').slice(-STDERR_TAIL_LINES).join('\n')
  return `engine process exited with code ${code}${fatal ? ` (${fatal})` : ''}${lines ? `; its last output:\n${lines}` : ''}`
}
