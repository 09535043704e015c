// Prometheus metrics of a process's informers, one set per prom-client
// Registry (several factories may share one), labelled by informer key
// ("pods", "pods fields=spec.nodeName=n1", ...).
//
// Event lag is measured inside this process: from the moment a decoded watch
// event reaches the informer until the cache, its indexes and every handler
// it concerns are done (handlers only enqueue, so this is the informer's own
// delay before a part's queue holds the change). The time between the write
// and the event's arrival is not measured: watch events carry no write time
// (objects have none finer than creationTimestamp's second), so bench/api.bench.ts
// measures that leg end to end instead.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** What the metrics read from a running informer. */
export interface InformerGaugeSource {
  readonly key: string;
  readonly size: number;
  hasSynced(): boolean;
}

export class InformerMetrics {
  private static readonly byRegistry = new WeakMap<Registry, InformerMetrics>();

  /** The one metrics set of a registry. */
  static for(registry: Registry): InformerMetrics {
    let m = InformerMetrics.byRegistry.get(registry);
    if (!m) {
      m = new InformerMetrics(registry);
      InformerMetrics.byRegistry.set(registry, m);
    }
    return m;
  }

  readonly watchRestarts: Counter<'informer'>;
  readonly lists: Counter<'informer' | 'reason'>;
  readonly events: Counter<'informer' | 'type'>;
  readonly unchanged: Counter<'informer'>;
  readonly deliveries: Counter<'informer' | 'outcome'>;
  readonly eventLag: Histogram<'informer'>;
  private readonly sources = new Set<InformerGaugeSource>();

  private constructor(registry: Registry) {
    const registers = [registry];
    // Every figure is labelled by informer key; a counter may add one label of its own.
    const counter = <L extends string = never>(name: string, help: string, ...more: L[]): Counter<'informer' | L> =>
      new Counter({ name, help, labelNames: ['informer', ...more], registers });
    const sources = this.sources;
    const sourceGauge = (name: string, help: string, value: (s: InformerGaugeSource) => number): Gauge<'informer'> =>
      new Gauge({
        name,
        help,
        labelNames: ['informer'] as const,
        registers,
        collect() {
          this.reset();
          for (const s of sources) this.set({ informer: s.key }, value(s));
        },
      });
    this.watchRestarts = counter(
      'meshlet_informer_watch_restarts_total',
      'Watch streams opened after the first one of an informer (stream ended, failed, or expired with 410).',
    );
    this.lists = counter('meshlet_informer_lists_total', 'Full lists by reason: initial, or expired (the watch got 410 Gone).', 'reason');
    this.events = counter('meshlet_informer_events_total', 'Watch events received, by type (BOOKMARKs included).', 'type');
    this.unchanged = counter(
      'meshlet_informer_updates_unchanged_total',
      'Updates whose cached (possibly slim) copy equals the previous one except for resourceVersion; they reach no handler.',
    );
    this.deliveries = counter(
      'meshlet_informer_handler_deliveries_total',
      "Changes offered to handlers: delivered, or filtered by the handler's relevant() predicate.",
      'outcome',
    );
    this.eventLag = new Histogram({
      name: 'meshlet_informer_event_lag_seconds',
      help: 'From a watch event arriving at the informer until its cache, indexes and handlers are done.',
      labelNames: ['informer'] as const,
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1],
      registers,
    });
    sourceGauge('meshlet_informer_objects', 'Objects in the informer cache.', (s) => s.size);
    sourceGauge('meshlet_informer_synced', '1 once the informer has listed, 0 before.', (s) => (s.hasSynced() ? 1 : 0));
  }

  track(source: InformerGaugeSource): void {
    this.sources.add(source);
  }

  untrack(source: InformerGaugeSource): void {
    this.sources.delete(source);
  }
}
