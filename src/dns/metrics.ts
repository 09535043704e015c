// The DNS server's Prometheus metrics. The per-request counters are plain
// numbers on the hot path, folded into prom-client only when scraped.
import { Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';
import { registerProcessMetrics } from '../core/process-metrics.ts';
import { RCODE_NAMES, TYPE_NAMES } from './wire.ts';

/** One histogram as prom-client's registry reads it from a metric's get(). */
interface HistogramValues {
  name: string;
  help: string;
  type: 'histogram';
  aggregator: 'sum';
  values: { metricName: string; labels: Record<string, string | number>; value: number }[];
}

const REQUEST_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5];

/**
 * A label-less Prometheus histogram whose observe is a bucket search and three additions (prom-client's
 * Histogram.observe hashes labels on every call: a few per cent of a query's cost). Exposed through the
 * registry in prom-client's own shape, so the cluster aggregator sums it across workers like any histogram.
 */
export class RequestHistogram {
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(readonly name: string, readonly help: string, private readonly buckets: readonly number[], registry: Registry) {
    this.counts = new Float64Array(buckets.length);
    const self = this;
    registry.registerMetric({
      name, help, type: 'histogram', aggregator: 'sum',
      get: async () => self.snapshot(),
      reset: () => self.reset(),
    } as unknown as Metric);
  }

  observe(seconds: number): void {
    const b = this.buckets;
    for (let i = 0; i < b.length; i++) {
      if (seconds <= b[i]) {
        this.counts[i]++;
        break;
      }
    }
    this.sum += seconds;
    this.count++;
  }

  private reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }

  snapshot(): HistogramValues {
    const values: HistogramValues['values'] = [];
    let acc = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      acc += this.counts[i];
      values.push({ metricName: `${this.name}_bucket`, labels: { le: this.buckets[i] }, value: acc });
    }
    values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf' }, value: this.count });
    values.push({ metricName: `${this.name}_sum`, labels: {}, value: this.sum });
    values.push({ metricName: `${this.name}_count`, labels: {}, value: this.count });
    return { name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values };
  }
}

const COUNTED_TYPES = new Set(['A', 'AAAA', 'SRV', 'PTR', 'TXT', 'CNAME', 'SOA', 'NS', 'MX', 'ANY']);

export class DnsMetrics {
  readonly registry: Registry;
  private readonly byTypeRcode = new Map<number, number>();
  private readonly cacheCounts = new Map<string, { hits: number; misses: number }>();
  private readonly drops = new Map<string, number>();
  readonly requestSeconds: RequestHistogram;
  readonly upstreamSeconds: Histogram<'server' | 'outcome'>;
  readonly autopath: Counter<'result'>;
  readonly tcpConnections: Gauge<string>;

  constructor(opts: { defaultMetrics?: boolean; registry?: Registry } = {}) {
    this.registry = opts.registry ?? new Registry();
    if (opts.defaultMetrics) registerProcessMetrics(this.registry, 'meshlet_dns_');
    const self = this;
    new Counter({
      name: 'meshlet_dns_requests_total',
      help: 'DNS requests answered, by query type and response code',
      labelNames: ['type', 'rcode'],
      registers: [this.registry],
      collect() {
        for (const [k, n] of self.byTypeRcode) {
          const t = TYPE_NAMES[Math.floor(k / 4096)] ?? 'other';
          this.inc({ type: COUNTED_TYPES.has(t) ? t : 'other', rcode: RCODE_NAMES[k % 4096] ?? String(k % 4096) }, n);
        }
        self.byTypeRcode.clear();
      },
    });
    // Hits and misses fold into prom-client only when scraped, and start again from zero.
    const cacheCounter = (field: 'hits' | 'misses', name: string, help: string): void => {
      new Counter({
        name,
        help,
        labelNames: ['cache'],
        registers: [this.registry],
        collect() {
          for (const [c, v] of self.cacheCounts) if (v[field]) this.inc({ cache: c }, v[field]);
          for (const v of self.cacheCounts.values()) v[field] = 0;
        },
      });
    };
    cacheCounter('hits', 'meshlet_dns_cache_hits_total', 'Answers served from a prebuilt or cached answer, by cache (zone, upstream, autopath)');
    cacheCounter('misses', 'meshlet_dns_cache_misses_total', 'Lookups that found no prebuilt or cached answer, by cache');
    new Counter({
      name: 'meshlet_dns_dropped_total',
      help: 'Packets dropped without an answer, by reason',
      labelNames: ['reason'],
      registers: [this.registry],
      collect() {
        for (const [r, n] of self.drops) this.inc({ reason: r }, n);
        self.drops.clear();
      },
    });
    this.requestSeconds = new RequestHistogram('meshlet_dns_request_duration_seconds', 'Time from receiving a query to handing its answer to the socket', REQUEST_BUCKETS, this.registry);
    this.upstreamSeconds = new Histogram({
      name: 'meshlet_dns_upstream_duration_seconds',
      help: 'Upstream query latency, by upstream and outcome',
      labelNames: ['server', 'outcome'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
    this.autopath = new Counter({ name: 'meshlet_dns_autopath_total', help: 'Search-path short-cuts tried, by result (success, nxdomain)', labelNames: ['result'], registers: [this.registry] });
    this.tcpConnections = new Gauge({ name: 'meshlet_dns_tcp_connections', help: 'Open TCP client connections', registers: [this.registry] });
  }

  answered(qtype: number, rcode: number): void {
    const k = qtype * 4096 + rcode;
    this.byTypeRcode.set(k, (this.byTypeRcode.get(k) ?? 0) + 1);
  }

  cache(name: string, hit: boolean): void {
    let c = this.cacheCounts.get(name);
    if (!c) this.cacheCounts.set(name, (c = { hits: 0, misses: 0 }));
    if (hit) c.hits++;
    else c.misses++;
  }

  dropped(reason: string): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
  }
}

/** The feed's metrics, kept by the process that holds the feed socket. */
export class FeedMetrics {
  readonly registry = new Registry();
  readonly seq = new Gauge({ name: 'meshlet_dns_feed_sequence', help: 'Sequence number of the last feed message applied', registers: [this.registry] });
  readonly connected = new Gauge({ name: 'meshlet_dns_feed_connected', help: '1 while a feeder (the agent) is connected', registers: [this.registry] });
  readonly messages = new Counter({ name: 'meshlet_dns_feed_messages_total', help: 'Feed messages applied, by type', labelNames: ['type'], registers: [this.registry] });
  readonly objects = new Gauge({ name: 'meshlet_dns_objects', help: 'Objects held from the feed, by kind', labelNames: ['kind'], registers: [this.registry] });
}
