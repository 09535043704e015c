// A keyed work queue in client-go's style: a key waits at most once, one
// worker handles a given key at a time (a key added while it is being handled
// runs again afterwards), failures retry with per-key exponential backoff.

export interface WorkQueueOptions {
  /** First retry delay after a failure; doubles per consecutive failure of that key. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Called when a handler fails (the key is retried with backoff). */
  onError?: (key: string, err: unknown, failures: number) => void;
}

/** Per-key exponential backoff: base · 2^(failures-1), capped. Pure. */
export function backoffDelay(failures: number, baseMs: number, maxMs: number): number {
  if (failures <= 0) return 0;
  return Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
}

export class WorkQueue {
  private readonly queue: string[] = [];
  /** Keys waiting to run (in `queue`, or due to rerun after they finish processing). */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { timer: NodeJS.Timeout; dueAt: number }>();
  private readonly waiters: (() => void)[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private readonly workers: Promise<void>[] = [];
  private shuttingDown = false;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(private readonly opts: WorkQueueOptions = {}) {
    this.baseDelayMs = opts.baseDelayMs ?? 50;
    this.maxDelayMs = opts.maxDelayMs ?? 60_000;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    this.queue.push(key);
    this.waiters.shift()?.();
  }

  /**
   * Adds the key after a delay. A key already waiting keeps the earlier of its
   * two due times, as client-go's delaying queue does: a sooner addAfter moves
   * it up, a later one is ignored.
   */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const dueAt = Date.now() + delayMs;
    const waiting = this.timers.get(key);
    if (waiting) {
      if (waiting.dueAt <= dueAt) return;
      clearTimeout(waiting.timer);
    }
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, { timer, dueAt });
  }

  /** Re-adds a failed key after its backoff. */
  addRateLimited(key: string): void {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    this.addAfter(key, backoffDelay(n, this.baseDelayMs, this.maxDelayMs));
  }

  /** Clears a key's failure count. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  get length(): number {
    return this.queue.length;
  }

  /** Starts `workers` loops that hand keys to handler. */
  start(handler: (key: string) => Promise<void>, workers = 1): void {
    for (let i = 0; i < workers; i++) this.workers.push(this.work(handler));
  }

  private next(): Promise<string | undefined> {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    if (this.shuttingDown) return Promise.resolve(undefined);
    this.checkIdle();
    return new Promise((resolve) => this.waiters.push(() => resolve(this.shuttingDown ? undefined : this.queue.shift())));
  }

  private async work(handler: (key: string) => Promise<void>): Promise<void> {
    for (;;) {
      const key = await this.next();
      if (key === undefined) {
        if (this.shuttingDown) return;
        continue;
      }
      this.dirty.delete(key);
      this.processing.add(key);
      try {
        await handler(key);
        this.forget(key);
      } catch (err) {
        this.opts.onError?.(key, err, (this.failures.get(key) ?? 0) + 1);
        if (!this.shuttingDown) this.addRateLimited(key);
      } finally {
        this.processing.delete(key);
        if (this.dirty.has(key) && !this.shuttingDown) {
          this.queue.push(key);
          this.waiters.shift()?.();
        }
      }
    }
  }

  private checkIdle(): void {
    if (this.queue.length === 0 && this.processing.size === 0 && this.timers.size === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** Resolves once nothing is queued, running or waiting on a timer (for tests). */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.checkIdle();
    });
  }

  /** Stops taking keys, drops pending retries, waits for running handlers to finish. */
  async shutDown(): Promise<void> {
    this.shuttingDown = true;
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
    this.queue.length = 0;
    this.dirty.clear();
    for (const w of this.waiters.splice(0)) w();
    await Promise.all(this.workers);
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
