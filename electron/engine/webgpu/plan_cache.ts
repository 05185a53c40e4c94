// Plans of calls seen before. A training step repeats the same few hundred calls (op, input
// shapes and dtypes, attributes) every step, and the addon's planOp costs 13-35 us a call on
// the build machine: on the H200, planning was the largest share of the WebGPU backend's
// own host time once the pool stopped re-creating buffers (bench/gpu/README.md, thirteenth
// session). The key holds everything planOp reads, so a hit is the plan planOp would return;
// a call the op table refuses throws every time and is never kept. Plans are frozen: kernels
// read them and must not change what the next hit gets.
import type { AttrValue, NativeOpPlan, NativeTensorDesc } from '../addon'

export type PlanFn = (
  op: string,
  inputs: Record<string, NativeTensorDesc | undefined>,
  attrs: Record<string, AttrValue | undefined>,
  outputs?: string[],
) => NativeOpPlan

/** Entries kept; past this the cache starts over (a model's calls are a few hundred). */
const PLANS = 4096
/** LINEA_WEBGPU_PLAN_CACHE=0 or usePlanCache(false): every call planned (the benchmark's control). */
let caching = process.env.LINEA_WEBGPU_PLAN_CACHE !== '0'

/** Turns the cache on or off; returns the previous setting. */
export function usePlanCache(on: boolean): boolean {
  const was = caching
  caching = on
  return was
}

export class PlanCache {
  private readonly plans = new Map<string, NativeOpPlan>()

  constructor(
    private readonly plan: PlanFn,
    private readonly limit = PLANS,
  ) {}

  get(op: string, inputs: Record<string, NativeTensorDesc | undefined>, attrs: Record<string, AttrValue | undefined>, outputs: string[] = []): NativeOpPlan {
    if (!caching) return this.plan(op, inputs, attrs, outputs)
    const key = planKey(op, inputs, attrs, outputs)
    const hit = this.plans.get(key)
    if (hit) return hit
    const made = deepFreeze(this.plan(op, inputs, attrs, outputs))
    if (this.plans.size >= this.limit) this.plans.clear()
    this.plans.set(key, made)
    return made
  }

  get size(): number {
    return this.plans.size
  }
}

/** op | name:dtype:shape per input, in order | name=JSON value per attribute set | outputs. */
export function planKey(
  op: string,
  inputs: Record<string, NativeTensorDesc | undefined>,
  attrs: Record<string, AttrValue | undefined>,
  outputs: readonly string[],
): string {
  let key = op
  for (const name in inputs) {
    const d = inputs[name]
    key += d ? `|${name}:${d.dtype}:${d.shape.join(',')}` : `|${name}:-`
  }
  key += '|'
  for (const name in attrs) {
    const v = attrs[name]
    if (v !== undefined) key += `|${name}=${JSON.stringify(v)}`
  }
  return `${key}|${outputs.join(',')}`
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value as object)) deepFreeze(v)
  }
  return value
}
