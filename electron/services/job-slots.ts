// A bound on engine jobs that run beside training: profiles and inspections
// each start an engine process that takes every core it can, so at most
// `limit` run at once and the rest wait, started in the order they came as
// slots free. One JobSlots can be shared by several services (one pool of
// processes), or each service keeps its own.
//   submit(key, run) -> 'running' (run called now) | 'queued' (called later)
//   cancel(key)      -> a queued job is dropped, never run
export class JobSlots {
  private active = 0
  private readonly waiting: { key: string; run: () => Promise<void> }[] = []

  constructor(readonly limit = 2) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`JobSlots limit ${limit} is not valid; it must be a whole number >= 1`)
  }

  /** Whether a job submitted now would start at once. */
  get free(): boolean {
    return this.active < this.limit && this.waiting.length === 0
  }

  get runningCount(): number {
    return this.active
  }

  queuedKeys(): string[] {
    return this.waiting.map((w) => w.key)
  }

  isQueued(key: string): boolean {
    return this.waiting.some((w) => w.key === key)
  }

  /**
   * Runs `run` now when a slot is free, else queues it behind the others. The
   * slot is held until the promise `run` returns settles (its errors are the
   * caller's to handle inside `run`; a rejection here only frees the slot).
   */
  submit(key: string, run: () => Promise<void>): 'running' | 'queued' {
    if (this.free) {
      this.launch(run)
      return 'running'
    }
    this.waiting.push({ key, run })
    return 'queued'
  }

  /** Drops a queued job; false when it is not waiting (running, done or unknown). */
  cancel(key: string): boolean {
    const i = this.waiting.findIndex((w) => w.key === key)
    if (i < 0) return false
    this.waiting.splice(i, 1)
    return true
  }

  /** Drops the queued jobs whose keys pass `which` (all by default); returns their keys. */
  clear(which: (key: string) => boolean = () => true): string[] {
    const dropped = this.waiting.filter((w) => which(w.key))
    for (const d of dropped) this.waiting.splice(this.waiting.indexOf(d), 1)
    return dropped.map((d) => d.key)
  }

  private launch(run: () => Promise<void>): void {
    this.active++
    let done: Promise<void>
    try {
      done = run()
    } catch (err) {
      done = Promise.reject(err)
    }
    void done
      .catch(() => undefined)
      .finally(() => {
        this.active--
        this.next()
      })
  }

  private next(): void {
    while (this.active < this.limit && this.waiting.length) this.launch(this.waiting.shift()!.run)
  }
}
