// The API server's scrape of the kubelets' usage summaries, as metrics-server
// scrapes the kubelets' resource metrics: GET KUBELET_USAGE_PATH on each
// node's kubelet endpoint with that node's token (kubelet-client.ts).
// - Each node's answer (or failure) is kept for cacheTtlMs, and a scrape in
//   flight is shared, so repeated `kubectl top` calls and the HPA controller
//   cost one request per node per TTL at most.
// - Each request is abandoned after timeoutMs: a dead or hung node costs that
//   once per TTL, never more, and is left out of the answer.
// - At most `concurrency` kubelets are asked at once.
// Failures are logged and counted (Prometheus, on the API server's registry).
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { KubeObject } from '../core/types.ts';
import { KUBELET_ENDPOINT_ANNOTATION } from '../core/well-known.ts';
import { KUBELET_USAGE_PATH, type UsageSummary } from '../core/usage-summary.ts';
import type { TokenSet } from './auth.ts';
import { kubeletGetJson, kubeletOfNode, type KubeletAccess, type KubeletGetOptions } from './kubelet-client.ts';
import { isNodeReady, parseUsageSummary } from './metrics-api-model.ts';

export const DEFAULT_SCRAPE_TIMEOUT_MS = 2_000;
export const DEFAULT_SCRAPE_CACHE_TTL_MS = 5_000;
export const DEFAULT_SCRAPE_CONCURRENCY = 16;

export interface UsageScraperOptions {
  tokens: TokenSet;
  logger: Logger;
  /** Where the scrape metrics go (the API server's registry). */
  registry: Registry;
  timeoutMs?: number;
  cacheTtlMs?: number;
  concurrency?: number;
  /** Milliseconds now (tests). */
  now?: () => number;
  /** The GET itself (tests); default kubeletGetJson. */
  get?: (access: KubeletAccess, path: string, opts: KubeletGetOptions) => Promise<unknown>;
}

interface CacheEntry {
  /** The endpoint it was fetched from: a Node that moves is fetched again. */
  endpoint: string;
  expiresAt: number;
  summary: Promise<UsageSummary | undefined>;
}

export type LeftOutReason = 'not-ready' | 'scrape-failed';

export class UsageScraper {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly timeoutMs: number;
  private readonly ttlMs: number;
  private readonly concurrency: number;
  private readonly now: () => number;
  private readonly get: NonNullable<UsageScraperOptions['get']>;
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly scrapes: Counter<'result'>;
  private readonly errors: Counter<'node'>;
  private readonly duration: Histogram;
  private readonly leftOut: Counter<'reason'>;
  private readonly cacheHits: Counter;

  constructor(private readonly opts: UsageScraperOptions) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_SCRAPE_TIMEOUT_MS;
    this.ttlMs = opts.cacheTtlMs ?? DEFAULT_SCRAPE_CACHE_TTL_MS;
    this.concurrency = Math.max(1, opts.concurrency ?? DEFAULT_SCRAPE_CONCURRENCY);
    this.now = opts.now ?? Date.now;
    this.get = opts.get ?? kubeletGetJson;
    const registers = [opts.registry];
    this.scrapes = new Counter({ name: 'apiserver_kubelet_usage_scrapes_total', help: 'Scrapes of kubelet usage summaries (metrics.k8s.io), by result.', labelNames: ['result'] as const, registers });
    this.errors = new Counter({ name: 'apiserver_kubelet_usage_scrape_errors_total', help: 'Failed kubelet usage scrapes, by node.', labelNames: ['node'] as const, registers });
    this.duration = new Histogram({
      name: 'apiserver_kubelet_usage_scrape_duration_seconds',
      help: 'Time to scrape one kubelet usage summary (failures included).',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
      registers,
    });
    this.leftOut = new Counter({ name: 'apiserver_metrics_nodes_left_out_total', help: 'Nodes left out of a metrics.k8s.io answer, by reason.', labelNames: ['reason'] as const, registers });
    this.cacheHits = new Counter({ name: 'apiserver_kubelet_usage_cache_hits_total', help: 'metrics.k8s.io answers served from a cached kubelet summary.', registers });
  }

  /** The summaries of the Ready ones among these Nodes that answered (node name → summary). */
  async summaries(nodes: readonly KubeObject[]): Promise<Map<string, UsageSummary>> {
    const ready = nodes.filter((n) => {
      if (isNodeReady(n)) return true;
      this.leftOut.inc({ reason: 'not-ready' });
      this.opts.logger.debug({ node: n.metadata.name }, 'metrics: node is not Ready, left out');
      return false;
    });
    const results = await Promise.all(ready.map(async (n) => [n.metadata.name ?? '', await this.summaryOf(n)] as const));
    const out = new Map<string, UsageSummary>();
    for (const [name, summary] of results) {
      if (summary) out.set(name, summary);
      else this.leftOut.inc({ reason: 'scrape-failed' });
    }
    return out;
  }

  private summaryOf(node: KubeObject): Promise<UsageSummary | undefined> {
    const name = node.metadata.name ?? '';
    const endpoint = node.metadata.annotations?.[KUBELET_ENDPOINT_ANNOTATION] ?? '';
    const now = this.now();
    const cached = this.cache.get(name);
    if (cached && cached.endpoint === endpoint && cached.expiresAt > now) {
      this.cacheHits.inc();
      return cached.summary;
    }
    const entry: CacheEntry = { endpoint, expiresAt: Number.POSITIVE_INFINITY, summary: this.scrape(node) };
    // The TTL runs from when the answer came: a slow scrape is not stale the moment it lands.
    void entry.summary.then(() => (entry.expiresAt = this.now() + this.ttlMs));
    this.cache.set(name, entry);
    this.prune(now);
    return entry.summary;
  }

  /** Drops expired entries (nodes that went away). */
  private prune(now: number): void {
    for (const [name, e] of this.cache) if (e.expiresAt <= now) this.cache.delete(name);
  }

  private async scrape(node: KubeObject): Promise<UsageSummary | undefined> {
    const name = node.metadata.name ?? '';
    await this.slot();
    const started = process.hrtime.bigint();
    try {
      const access = kubeletOfNode(node, this.opts.tokens);
      const summary = parseUsageSummary(await this.get(access, KUBELET_USAGE_PATH, { timeoutMs: this.timeoutMs }), name);
      this.scrapes.inc({ result: 'success' });
      return summary;
    } catch (err) {
      this.scrapes.inc({ result: 'error' });
      this.errors.inc({ node: name });
      this.opts.logger.warn({ node: name, err: (err as Error).message }, 'metrics: cannot scrape the kubelet usage summary; node left out');
      return undefined;
    } finally {
      this.duration.observe(Number(process.hrtime.bigint() - started) / 1e9);
      this.release();
    }
  }

  private slot(): Promise<void> {
    if (this.running < this.concurrency) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }
}
