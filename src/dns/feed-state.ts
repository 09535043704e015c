// The feed's objects as last delivered, uncompiled: what a process holding the
// feed socket keeps so it can hand a (re)started worker one snapshot. Pure.
import type { FeedEndpointSlice, FeedMessage, FeedNamespace, FeedPod, FeedService, FeedSnapshot } from './feed.ts';

export class FeedState {
  private services = new Map<string, FeedService>();
  private slices = new Map<string, FeedEndpointSlice>();
  private pods = new Map<string, FeedPod>();
  private namespaces = new Map<string, FeedNamespace>();
  seq = 0;

  apply(m: FeedMessage): void {
    this.seq = m.seq;
    if (m.type === 'snapshot') {
      this.services = new Map(m.services.map((o) => [`${o.namespace}/${o.name}`, o]));
      this.slices = new Map(m.endpointSlices.map((o) => [`${o.namespace}/${o.name}`, o]));
      this.pods = new Map(m.pods.map((o) => [`${o.namespace}/${o.name}`, o]));
      this.namespaces = new Map(m.namespaces.map((o) => [o.name, o]));
      return;
    }
    const key = m.type === 'upsert' ? ('namespace' in m.object ? `${m.object.namespace}/${m.object.name}` : m.object.name) : m.kind === 'Namespace' ? m.name : `${m.namespace}/${m.name}`;
    const map = { Service: this.services, EndpointSlice: this.slices, Pod: this.pods, Namespace: this.namespaces }[m.kind] as Map<string, unknown>;
    if (m.type === 'upsert') map.set(key, m.object);
    else map.delete(key);
  }

  snapshot(): FeedSnapshot {
    return {
      type: 'snapshot', seq: this.seq,
      services: [...this.services.values()], endpointSlices: [...this.slices.values()],
      pods: [...this.pods.values()], namespaces: [...this.namespaces.values()],
    };
  }

  counts(): Record<string, number> {
    return { Service: this.services.size, EndpointSlice: this.slices.size, Pod: this.pods.size, Namespace: this.namespaces.size };
  }
}
