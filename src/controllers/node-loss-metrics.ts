// Prometheus metrics of node loss (node lifecycle and taint eviction), one set
// per registry (leadership terms come and go; the series stay), after
// upstream's node_collector_* metrics.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ZoneRate } from './zone-disruption.ts';

export class NodeLossMetrics {
  private static readonly byRegistry = new WeakMap<Registry, NodeLossMetrics>();

  static for(registry: Registry): NodeLossMetrics {
    let m = NodeLossMetrics.byRegistry.get(registry);
    if (!m) NodeLossMetrics.byRegistry.set(registry, (m = new NodeLossMetrics(registry)));
    return m;
  }

  readonly evictions: Counter;
  readonly podsMarkedNotReady: Counter;
  private readonly zoneSize: Gauge<'zone'>;
  private readonly zoneUnhealthy: Gauge<'zone'>;
  private readonly zoneRate: Gauge<'zone'>;

  private constructor(registry: Registry) {
    const registers = [registry];
    this.evictions = new Counter({ name: 'meshlet_taint_evictions_total', help: 'Pods deleted because their toleration of a NoExecute taint ran out', registers });
    this.podsMarkedNotReady = new Counter({ name: 'meshlet_node_lifecycle_pods_marked_not_ready_total', help: 'Pods of lost nodes set Ready=False', registers });
    this.zoneSize = new Gauge({ name: 'meshlet_node_zone_size', help: 'Nodes per zone', labelNames: ['zone'], registers });
    this.zoneUnhealthy = new Gauge({ name: 'meshlet_node_zone_unhealthy_nodes', help: 'Nodes per zone whose Ready is not True (lapsed heartbeats count)', labelNames: ['zone'], registers });
    this.zoneRate = new Gauge({ name: 'meshlet_node_zone_eviction_rate', help: 'Nodes per second the zone may taint for eviction (0: stopped)', labelNames: ['zone'], registers });
  }

  zones(zones: Iterable<ZoneRate>): void {
    for (const z of zones) {
      const zone = z.zone.replace('\u0000', '') || '(none)';
      this.zoneSize.set({ zone }, z.size);
      this.zoneUnhealthy.set({ zone }, z.notReady);
      this.zoneRate.set({ zone }, z.rate);
    }
  }
}
