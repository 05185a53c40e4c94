// The progress line of `linea train`: the latest step and the latest evaluation.
import { describe, expect, it } from 'vitest'
import type { StepProgress } from '../../../electron/api/runs'
import { ProgressLine } from '../../../electron/cli/train'

const step = (n: number, of = 4): StepProgress => ({
  step: n,
  steps: of,
  loss: 1,
  lr: 1e-3,
  gradNorm: 1,
  tokensPerSecond: 1000,
  elapsedSeconds: n,
  memoryBytes: 0,
  peakMemoryBytes: 0,
})

function capture(tty: boolean, now = () => 0) {
  const written: string[] = []
  return { written, line: new ProgressLine({ write: (s: string) => written.push(s) > 0 }, tty, now) }
}

describe('progress line', () => {
  it('on a terminal, an eval redraws the line of its step at once', () => {
    const { written, line } = capture(true)
    line.onStep(step(2))
    line.onEval({ step: 2, headline: 0.25, headlineName: 'accuracy' })
    line.onStep(step(4))
    line.onEval({ step: 4, headline: 0.75, headlineName: 'accuracy' })
    // eslint-disable-next-line no-control-regex -- the line ends with the terminal's erase-to-end-of-line escape, ESC [K
    expect(written.at(-1)).toMatch(/^\r.* 4\/4 loss .*\| eval acc 0\.7500 @4\x1b\[K$/)
  })

  it('in a log, the final step is printed again with the final eval', () => {
    let t = 0
    const { written, line } = capture(false, () => (t += 5000))
    line.onStep(step(2))
    line.onEval({ step: 2, headline: 0.25, headlineName: 'accuracy' })
    line.onStep(step(4))
    expect(written.at(-1)).toContain('| eval acc 0.2500 @2')
    line.onEval({ step: 4, headline: 0.75, headlineName: 'accuracy' })
    expect(written.at(-1)).toMatch(/ 4\/4 loss .*\| eval acc 0\.7500 @4\n$/)
  })

  it('an eval between printed lines waits for the next step', () => {
    const { written, line } = capture(false, () => 10_000)
    line.onStep(step(1, 10)) // printed (first line)
    line.onStep(step(2, 10)) // within 2 s: not printed
    line.onEval({ step: 2, headline: 0.5, headlineName: 'accuracy' })
    expect(written).toHaveLength(1)
  })
})
