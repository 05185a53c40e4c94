// The autograd context of one forward (and backward) pass: the backend, a
// tape of backward steps, the gradients found so far, and a scope that owns
// every intermediate tensor so a step frees them all at once.
//
// `op` runs an op of the native table and records its backward as the
// gradient table (gradients.ts) declares it; the backward pass runs the
// tape in reverse and accumulates input gradients. `view` is the one
// differentiable call that is not an op: a reshape of the same memory.
//
// Mixed precision (autocast): a pass computes in `dtype`. A float input of
// another dtype (an f32 master weight in a bf16 pass) is cast once per pass,
// and the copy's gradient is cast back and accumulated into the master, so
// the optimizer sees gradients in the weights' dtype. Statistics inputs (a
// log-sum-exp, an rstd) keep their dtype; index tensors are i32 anyway.
import type { AttrValue, Backend } from '../backend'
import { statsInputs, withDefaults, type OpAttrs, type OpInputs, type OpName, type OpOutputs } from '../ops/generated'
import { inPhase, inScope, scope } from '../profile/scope'
import type { DType, Tensor } from '../tensor'
import { gradients, notDifferentiable, type GradientRule } from './gradients'
import { markNoGrad, needsGrad } from './no-grad'

type BackwardFn = () => void

/** The dtype a pass computes in: the weights' own, or bf16 or f16 over f32 weights (mixed precision). */
export type ComputeDType = 'f32' | 'f64' | 'bf16' | 'f16'

const isFloat = (dtype: DType) => dtype === 'f32' || dtype === 'f64' || dtype === 'bf16' || dtype === 'f16'

export class GradientError extends Error {}

export interface OpOptions {
  /** For a loss (an op whose gradient entry has a seed): d(loss)/d(Σ output), e.g. 1 / rows for a mean. */
  seed?: number
}

export class Ctx {
  private readonly tape: BackwardFn[] = []
  private readonly grads = new Map<Tensor, Tensor>()
  private readonly owned = new Set<Tensor>()
  /** Tensors that outlive the pass (parameters, their gradients, optimizer state). */
  private readonly kept = new Set<Tensor>()
  /** The copy in `dtype` of each tensor of another float dtype that an op took (autocast). */
  private readonly casts = new Map<Tensor, Tensor>()
  /** During backward: the tape position running now (-1: the seeds, or not in a backward). */
  private tapeCursor = -1
  /**
   * The tape position of the last contribution to each tensor's gradient in
   * the backward so far (positions count down, so the smallest): a
   * parameter's gradient is final once the pass has run that position.
   */
  private readonly lastContribution = new Map<Tensor, number>()

  constructor(
    readonly backend: Backend,
    /** The dtype ops compute in; float inputs of another dtype are cast to it. */
    readonly dtype: ComputeDType,
    /** False for evaluation: nothing is recorded. */
    readonly recording: boolean,
    /**
     * Multiplies every loss's seed, so every gradient of the pass is this many times the true
     * one (an f16 pass's loss scale, train/loss-scale.ts); 1 otherwise.
     */
    readonly lossScale = 1,
  ) {}

  /**
   * Runs `name` and, when recording, its backward later: the outputs are
   * owned by this pass. Throws a GradientError for an op without a gradient
   * entry in a recording pass.
   */
  op<N extends OpName>(name: N, inputs: OpInputs<N>, attrs: OpAttrs<N> = {}, options: OpOptions = {}): OpOutputs<N> {
    const rule = gradients.get(name)
    if (this.recording && !rule) {
      const why = notDifferentiable[name]?.why
      throw new GradientError(`${name} has no gradient${why ? ` (${why})` : ''}; run it outside a recording pass`)
    }
    const given = this.autocast(name, inputs as Record<string, Tensor | undefined>)
    if (rule?.passThrough && matches(withDefaults(name, attrs), rule.passThrough.when))
      return { [rule.passThrough.output]: given[rule.passThrough.input] } as OpOutputs<N>
    const out = this.run(name, given, attrs)
    if (rule) this.recordBackward(rule, given, attrs, out, options)
    return out as OpOutputs<N>
  }

  /**
   * `inputs` with every float tensor of another dtype than the pass's replaced
   * by its copy in the pass's dtype (made once per pass), except statistics.
   */
  private autocast(op: OpName, inputs: Record<string, Tensor | undefined>): Record<string, Tensor | undefined> {
    let out: Record<string, Tensor | undefined> | undefined
    for (const [name, t] of Object.entries(inputs)) {
      if (!t || t.dtype === this.dtype || !isFloat(t.dtype) || statsInputs[op].includes(name)) continue
      out ??= { ...inputs }
      out[name] = this.castOf(t)
    }
    return out ?? inputs
  }

  /** The pass's copy of `t` in `dtype`; its gradient flows back to `t` in t's dtype. */
  private castOf(t: Tensor): Tensor {
    const known = this.casts.get(t)
    if (known) return known
    const copy = this.run('cast', { x: t }, { to: this.dtype })['y']!
    this.casts.set(t, copy)
    if (!needsGrad(t)) markNoGrad(copy)
    else
      this.record(() => {
        const d = this.grad(copy)
        if (d) this.accumulate(t, this.run('cast', { x: d }, { to: t.dtype as ComputeDType })['y'])
        this.releaseGrad(copy)
      })
    return copy
  }

  /** A view with another shape of the same size; its gradient is the gradient's view. */
  view(x: Tensor, shape: readonly number[]): Tensor {
    const y = this.own(x.view(shape))
    this.record(() => {
      const dy = this.grad(y)
      if (dy) this.accumulate(x, this.own(dy.view(x.shape)))
      this.releaseGrad(y)
    })
    return y
  }

  /** Registers a tensor created in this pass; it is freed by dispose(). */
  own<T extends Tensor | undefined>(t: T): T {
    if (t) this.owned.add(t)
    return t
  }

  /** Marks tensors that must survive dispose() (e.g. parameters). */
  keep(...tensors: Tensor[]): void {
    for (const t of tensors) this.kept.add(t)
  }

  /** Records a backward step; it runs in the scope the forward op ran in. */
  record(fn: BackwardFn): void {
    if (!this.recording) return
    const where = scope()
    this.tape.push(() => inScope(where, fn))
  }

  /** The gradient of `t` found so far, if any. */
  grad(t: Tensor): Tensor | undefined {
    return this.grads.get(t)
  }

  /** The gradients of named parameters, by name; a parameter the loss does not reach has none. */
  gradsByName(params: readonly { name: string; tensor: Tensor }[]): Map<string, Tensor> {
    const out = new Map<string, Tensor>()
    for (const p of params) {
      const g = this.grads.get(p.tensor)
      if (g) out.set(p.name, g)
    }
    return out
  }

  /** Adds `g` to the gradient of `t` (takes ownership of g). */
  accumulate(t: Tensor, g: Tensor | undefined): void {
    if (!g) return
    this.lastContribution.set(t, this.tapeCursor)
    const existing = this.grads.get(t)
    if (!existing) {
      this.grads.set(t, this.own(g))
      return
    }
    this.backend.run('accumulate', { dst: existing, src: g }, { alpha: 1 })
    g.dispose()
    this.owned.delete(g)
  }

  /**
   * Frees the gradient of `t`, an output of an op of this pass, once the
   * backward step of that op has read it: every op that took `t` ran after it
   * in the forward, so their steps (which add to the gradient) came earlier in
   * the backward, and nothing reads it again. Without this every activation's
   * gradient lived until dispose(), doubling a step's peak memory. A view of
   * the gradient handed on keeps its memory (storage is shared and counted).
   */
  private releaseGrad(t: Tensor): void {
    const g = this.grads.get(t)
    if (!g || this.kept.has(t)) return
    this.grads.delete(t)
    this.owned.delete(g)
    g.dispose()
  }

  /**
   * Seeds d(loss)/d(t) and runs the tape backwards. `afterStep(i)` runs after
   * tape position i (they count down to 0): a data-parallel step reduces the
   * gradients that are final there (lastContributionAt) while the rest of the
   * backward is still to come.
   */
  backward(seeds: [Tensor, Tensor][], afterStep?: (position: number) => void): void {
    if (!this.recording) throw new GradientError('backward() on a context that did not record a tape')
    inPhase('backward', () => {
      for (const [t, g] of seeds) this.accumulate(t, g)
      for (let i = this.tape.length - 1; i >= 0; i--) {
        this.tapeCursor = i
        this.tape[i]!()
        afterStep?.(i)
      }
      this.tapeCursor = -1
    })
    this.tape.length = 0
  }

  /** The tape position of the last contribution to `t`'s gradient in this pass's backward; undefined when none came. */
  lastContributionAt(t: Tensor): number | undefined {
    return this.lastContribution.get(t)
  }

  /** Frees every tensor of the pass except the kept ones. */
  dispose(): void {
    for (const t of this.owned) if (!this.kept.has(t)) t.dispose()
    this.owned.clear()
    this.grads.clear()
    this.casts.clear()
    this.lastContribution.clear()
    this.tape.length = 0
  }

  private run(op: OpName, inputs: Record<string, Tensor | undefined>, attrs: Record<string, AttrValue | undefined>, want: string[] = []) {
    const out = this.backend.run(op, inputs, attrs, want)
    for (const t of Object.values(out)) this.own(t)
    return out
  }

  /**
   * The backward step of one call, wired as its gradient entry says: saved
   * inputs and outputs plus the upstream gradients in, each gradient out
   * accumulated into the input it belongs to.
   */
  private recordBackward(rule: GradientRule, inputs: Record<string, Tensor | undefined>, attrs: object, out: Record<string, Tensor>, options: OpOptions): void {
    if (!this.recording) return
    let backwardAttrs = (rule.attrs ? rule.attrs(attrs as Record<string, unknown>) : attrs) as Record<string, AttrValue | undefined>
    if (rule.seedAttr) {
      if (options.seed === undefined) throw new GradientError(`${rule.forward} is a loss: give its seed (d loss / d Σ output) in a recording pass`)
      backwardAttrs = { ...backwardAttrs, [rule.seedAttr]: options.seed * this.lossScale }
    }
    this.record(() => {
      const upstream = Object.entries(rule.upstream).map(([output, arg]) => [arg, this.grad(out[output]!)] as const)
      // Nothing flowed into the first output: this call did not reach the loss.
      if (upstream.length && !upstream[0]![1]) return
      const args: Record<string, Tensor | undefined> = {}
      for (const name of rule.save) args[name] = inputs[name]
      for (const [output, arg] of Object.entries(rule.saveOutputs)) args[arg] = out[output]
      for (const [arg, g] of upstream) args[arg] = g
      // Optional gradients are asked for when their input was given and is not frozen.
      const wanted = (input: string) => inputs[input] !== undefined && needsGrad(inputs[input]!)
      const want = Object.entries(rule.grads)
        .filter(([, input]) => wanted(input))
        .map(([grad]) => grad)
      const g = this.run(rule.backward, args, backwardAttrs, want)
      for (const [grad, input] of Object.entries(rule.grads)) {
        if (wanted(input)) this.accumulate(inputs[input]!, g[grad])
      }
      for (const o of Object.values(out)) this.releaseGrad(o)
    })
  }
}

function matches(attrs: Record<string, unknown>, when: Readonly<Record<string, unknown>>): boolean {
  return Object.entries(when).every(([name, value]) => attrs[name] === value)
}
