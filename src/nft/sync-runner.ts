// The bounded-frequency sync runner every data-plane part (masquerade, proxy,
// policy, DNS) drives its syncs with, after kube-proxy's
// BoundedFrequencyRunner: `trigger()` asks for a sync and coalesces with any
// pending one; syncs run one at a time, at most `burst` back to back and then
// no more often than one per `minIntervalMs` (a token bucket); a failed sync
// is retried with exponential back-off; an optional `maxIntervalMs` runs a
// sync even when nothing triggers (the slow periodic resync). A sync may ask
// to run again after a delay (stale chains to delete). Each part gets a
// sync-latency histogram and a failure counter, labelled `part`.
import { Counter, Histogram, register as defaultRegistry, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { realClock, type Clock } from './clock.ts';

/** What a sync may return: ask for another run `againInMs` from now (e.g. SyncOutcome.staleDueAt - now). */
export type SyncResult = void | { againInMs?: number };

export interface SyncRunnerOptions {
  /** The part's name, the metrics' `part` label. */
  part: string;
  sync: () => Promise<SyncResult>;
  /** At least this long between syncs once the burst is spent. */
  minIntervalMs: number;
  /** Syncs allowed back to back (default 2, kube-proxy's burstSyncs). */
  burst?: number;
  /** Sync at least this often even without a trigger (0: never). */
  maxIntervalMs?: number;
  /** Back-off after a failure: first delay, doubling to the maximum (defaults 1 s, 30 s). */
  retryInitialMs?: number;
  retryMaxMs?: number;
  clock?: Clock;
  registry?: Registry;
  logger?: Logger;
}

interface SyncMetrics {
  duration: Histogram<'part' | 'result'>;
  failures: Counter<'part'>;
}

const metricsByRegistry = new WeakMap<Registry, SyncMetrics>();

/** The shared metrics in `registry` (created once per registry, used by every part). */
export function syncMetrics(registry: Registry = defaultRegistry): SyncMetrics {
  let m = metricsByRegistry.get(registry);
  if (!m) {
    m = {
      duration: new Histogram({
        name: 'meshlet_dataplane_sync_duration_seconds',
        help: 'Latency of one data-plane sync (nftables programming), by part and result',
        labelNames: ['part', 'result'],
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers: [registry],
      }),
      failures: new Counter({ name: 'meshlet_dataplane_sync_failures_total', help: 'Failed data-plane syncs, by part', labelNames: ['part'], registers: [registry] }),
    };
    metricsByRegistry.set(registry, m);
  }
  return m;
}

export class BoundedFrequencyRunner {
  private readonly clock: Clock;
  private readonly burst: number;
  private tokens: number;
  private refilledAt: number;
  private pending = false;
  private running = false;
  private stopped = true;
  private backoffMs = 0;
  private notBefore = 0;
  private againAt: number | undefined;
  private lastRunAt: number;
  private timer: unknown;
  private readonly metrics: SyncMetrics;
  /** Syncs run so far, and how many failed. */
  runs = 0;
  failed = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: SyncRunnerOptions) {
    if (!(opts.minIntervalMs >= 0)) throw new Error('minIntervalMs must be ≥ 0');
    this.clock = opts.clock ?? realClock;
    this.burst = Math.max(1, opts.burst ?? 2);
    this.tokens = this.burst;
    this.refilledAt = this.clock.now();
    this.lastRunAt = this.clock.now();
    this.metrics = syncMetrics(opts.registry);
  }

  /** Start: runs a first sync at once. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.lastRunAt = this.clock.now();
    this.trigger();
  }

  /** Stop: no further syncs (one in progress finishes). */
  stop(): void {
    this.stopped = true;
    this.pending = false;
    this.cancelTimer();
  }

  /** Ask for a sync. Any number of triggers before it starts make one sync. */
  trigger(): void {
    if (this.stopped) return;
    this.pending = true;
    this.schedule();
  }

  /** Resolves when no sync is running or due now (tests, shutdown). */
  whenIdle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private refill(now: number): void {
    const min = this.opts.minIntervalMs;
    this.tokens = min === 0 ? this.burst : Math.min(this.burst, this.tokens + (now - this.refilledAt) / min);
    this.refilledAt = now;
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  /** Arm the one timer for the earliest moment something is due. */
  private schedule(): void {
    if (this.stopped || this.running) return; // a running sync reschedules when it ends
    const now = this.clock.now();
    this.refill(now);
    const due: number[] = [];
    if (this.pending) {
      const tokenAt = this.tokens >= 1 ? now : now + (1 - this.tokens) * this.opts.minIntervalMs;
      due.push(Math.max(now, tokenAt, this.notBefore));
    }
    if (this.againAt !== undefined) due.push(this.againAt);
    if (this.opts.maxIntervalMs) due.push(this.lastRunAt + this.opts.maxIntervalMs);
    this.cancelTimer();
    if (!due.length) return;
    const at = Math.min(...due);
    this.timer = this.clock.setTimer(() => this.wake(), at - now);
  }

  private wake(): void {
    this.timer = undefined;
    if (this.stopped || this.running) return;
    const now = this.clock.now();
    if (this.againAt !== undefined && now >= this.againAt) {
      this.againAt = undefined;
      this.pending = true;
    }
    if (this.opts.maxIntervalMs && now >= this.lastRunAt + this.opts.maxIntervalMs) this.pending = true;
    this.refill(now);
    if (this.pending && this.tokens >= 1 && now >= this.notBefore) void this.run();
    else this.schedule();
  }

  private async run(): Promise<void> {
    this.running = true;
    this.pending = false;
    this.tokens -= 1;
    const start = this.clock.now();
    this.lastRunAt = start;
    let result = 'success';
    try {
      const r = await this.opts.sync();
      this.backoffMs = 0;
      this.notBefore = 0;
      const again = r && typeof r === 'object' ? r.againInMs : undefined;
      if (again !== undefined) {
        const at = this.clock.now() + Math.max(0, again);
        this.againAt = this.againAt === undefined ? at : Math.min(this.againAt, at);
      }
    } catch (err) {
      result = 'error';
      this.failed++;
      this.metrics.failures.inc({ part: this.opts.part });
      const initial = this.opts.retryInitialMs ?? 1000;
      this.backoffMs = this.backoffMs ? Math.min(this.backoffMs * 2, this.opts.retryMaxMs ?? 30_000) : initial;
      this.notBefore = this.clock.now() + this.backoffMs;
      this.pending = true;
      this.opts.logger?.warn({ part: this.opts.part, err: err instanceof Error ? err.message : String(err), retryInMs: this.backoffMs }, 'data-plane sync failed; retrying');
    } finally {
      this.runs++;
      this.metrics.duration.observe({ part: this.opts.part, result }, (this.clock.now() - start) / 1000);
      this.running = false;
      for (const w of this.idleWaiters.splice(0)) w();
      this.schedule();
    }
  }
}

/** The sync settings every data-plane part takes from its own options (the proxy's, the policy enforcer's). */
export interface PartSyncSettings {
  /** Between syncs once the burst is spent (the part's default when absent). */
  minSyncIntervalMs?: number;
  /** Full resync period (default DEFAULT_RESYNC_MS; 0: never). */
  resyncMs?: number;
  clock?: Clock;
  registry?: Registry;
  logger?: Logger;
}

/** A full resync every 5 minutes unless a part says otherwise. */
export const DEFAULT_RESYNC_MS = 300_000;

/** The one place a part's options become its BoundedFrequencyRunner (defaults: the part's min interval, DEFAULT_RESYNC_MS). */
export function partSyncRunner(part: string, sync: () => Promise<SyncResult>, defaultMinIntervalMs: number, s: PartSyncSettings): BoundedFrequencyRunner {
  return new BoundedFrequencyRunner({
    part,
    sync,
    minIntervalMs: s.minSyncIntervalMs ?? defaultMinIntervalMs,
    maxIntervalMs: s.resyncMs ?? DEFAULT_RESYNC_MS,
    ...(s.clock ? { clock: s.clock } : {}),
    ...(s.registry ? { registry: s.registry } : {}),
    ...(s.logger ? { logger: s.logger } : {}),
  });
}
