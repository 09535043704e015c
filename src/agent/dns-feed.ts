// The agent's side of the DNS feed (protocol in src/dns/feed.ts): the slim
// cached Services, EndpointSlices, Pods and Namespaces of the agent's one
// informer factory become feed objects (pure, below), sent to `meshlet dns`
// as a snapshot on every (re)connect and then as one delta per informer
// event. Each object goes through the DNS's own validation first, so an
// object the DNS would refuse is skipped (and logged) instead of closing the
// feed for everything else.
import { createConnection, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { KubeObject } from '../core/types.ts';
import { ENDPOINTSLICES } from '../core/well-known.ts';
import type { Informer } from '../client/informer.ts';
import type { SlimEndpointSlice, SlimPod, SlimService } from '../client/slim-objects.ts';
import {
  FeedError, parseEndpointSlice, parseNamespace, parsePod, parseService,
  type FeedKind, type FeedMessage, type FeedObject, type FeedSnapshot,
} from '../dns/feed.ts';

/** The label naming an EndpointSlice's Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** The informer resource each feed kind comes from. */
export const FEED_RESOURCES: Readonly<Record<FeedKind, string>> = {
  Service: 'services',
  EndpointSlice: ENDPOINTSLICES,
  Pod: 'pods',
  Namespace: 'namespaces',
};

/** Pure: the feed object for a slim cached object (validated as the DNS validates), or the reason it has none. */
export function feedObject(kind: FeedKind, obj: KubeObject): { object: FeedObject } | { skip: string } {
  const m = obj.metadata;
  try {
    switch (kind) {
      case 'Service': {
        const s = (obj as SlimService).spec ?? {};
        const clusterIPs = s.clusterIPs?.length ? s.clusterIPs : s.clusterIP ? [s.clusterIP] : [];
        return {
          object: parseService({
            namespace: m.namespace, name: m.name, type: s.type, clusterIPs: s.type === 'ExternalName' ? [] : clusterIPs,
            externalName: s.externalName, publishNotReadyAddresses: s.publishNotReadyAddresses,
            ports: (s.ports ?? []).map((p) => ({ name: p.name, port: p.port, protocol: p.protocol })),
          }),
        };
      }
      case 'EndpointSlice': {
        const e = obj as SlimEndpointSlice;
        const service = m.labels?.[SERVICE_NAME_LABEL];
        if (!service) return { skip: `no ${SERVICE_NAME_LABEL} label` };
        return {
          object: parseEndpointSlice({
            namespace: m.namespace, name: m.name, service, addressType: e.addressType,
            ports: (e.ports ?? []).filter((p) => p.port !== undefined).map((p) => ({ name: p.name, port: p.port, protocol: p.protocol })),
            endpoints: (e.endpoints ?? []).map((ep) => ({
              addresses: ep.addresses,
              ...(ep.conditions?.ready === false ? { ready: false } : {}),
              hostname: ep.hostname,
              podName: ep.targetRef?.kind === 'Pod' ? ep.targetRef.name : undefined,
            })),
          }),
        };
      }
      case 'Pod': {
        const p = obj as SlimPod;
        const ips = p.status?.podIPs?.length ? p.status.podIPs.map((x) => x.ip) : p.status?.podIP ? [p.status.podIP] : [];
        return {
          object: parsePod({
            namespace: m.namespace, name: m.name, ips, hostname: p.spec?.hostname, subdomain: p.spec?.subdomain, hostNetwork: p.spec?.hostNetwork,
          }),
        };
      }
      case 'Namespace':
        return { object: parseNamespace({ name: m.name }) };
    }
  } catch (err) {
    if (err instanceof FeedError) return { skip: err.message };
    throw err;
  }
}

export interface FeedSource {
  kind: FeedKind;
  list(): readonly KubeObject[];
}

/** Pure: the snapshot of everything cached, and the objects skipped (with why). */
export function snapshotOf(seq: number, sources: readonly FeedSource[]): { snapshot: FeedSnapshot; skipped: { kind: FeedKind; key: string; reason: string }[] } {
  const snapshot: FeedSnapshot = { type: 'snapshot', seq, services: [], endpointSlices: [], pods: [], namespaces: [] };
  const skipped: { kind: FeedKind; key: string; reason: string }[] = [];
  for (const src of sources) {
    for (const obj of src.list()) {
      const r = feedObject(src.kind, obj);
      if ('skip' in r) {
        skipped.push({ kind: src.kind, key: keyText(obj), reason: r.skip });
        continue;
      }
      switch (src.kind) {
        case 'Service': snapshot.services.push(r.object as FeedSnapshot['services'][number]); break;
        case 'EndpointSlice': snapshot.endpointSlices.push(r.object as FeedSnapshot['endpointSlices'][number]); break;
        case 'Pod': snapshot.pods.push(r.object as FeedSnapshot['pods'][number]); break;
        case 'Namespace': snapshot.namespaces.push(r.object as FeedSnapshot['namespaces'][number]); break;
      }
    }
  }
  return { snapshot, skipped };
}

/**
 * Pure: the delta for an informer event. An object that has become
 * unacceptable is deleted from the DNS (it must not keep serving a stale copy).
 */
export function deltaOf(seq: number, kind: FeedKind, event: 'upsert' | 'delete', obj: KubeObject): { message: FeedMessage; skipped?: string } {
  const name = obj.metadata.name ?? '';
  const del: FeedMessage = kind === 'Namespace'
    ? { type: 'delete', seq, kind, name }
    : { type: 'delete', seq, kind, namespace: obj.metadata.namespace ?? '', name };
  if (event === 'delete') return { message: del };
  const r = feedObject(kind, obj);
  if ('skip' in r) return { message: del, skipped: r.skip };
  return { message: { type: 'upsert', seq, kind, object: r.object } as FeedMessage };
}

function keyText(obj: KubeObject): string {
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : obj.metadata.name ?? '';
}

export interface DnsFeederOptions {
  socketPath: string;
  informers: Readonly<Record<FeedKind, Informer>>;
  logger: Logger;
  /** Delay before reconnecting (doubling up to maxRetryMs). */
  retryMs?: number;
  maxRetryMs?: number;
  /** Called on every ack (tests). */
  onAck?: (seq: number) => void;
  metrics?: Registry;
}

/** The feeder's Prometheus metrics (in the agent's registry). */
export class DnsFeederMetrics {
  readonly connected: Gauge;
  readonly messages: Counter<'type'>;
  readonly skipped: Counter<'kind'>;
  readonly refused: Counter;

  constructor(registry?: Registry) {
    const registers = registry ? [registry] : [];
    this.connected = new Gauge({ name: 'meshlet_agent_dns_feed_connected', help: '1 while the feed to the node DNS is connected and has sent its snapshot', registers });
    this.messages = new Counter({ name: 'meshlet_agent_dns_feed_messages_total', help: 'Feed messages sent to the node DNS, by type', labelNames: ['type'], registers });
    this.skipped = new Counter({ name: 'meshlet_agent_dns_feed_skipped_objects_total', help: 'Cached objects not fed because the DNS would refuse them, by kind', labelNames: ['kind'], registers });
    this.refused = new Counter({ name: 'meshlet_agent_dns_feed_errors_total', help: 'Errors the node DNS answered (each closes the feed; a snapshot follows)', registers });
  }
}

/**
 * Keeps `meshlet dns` fed: connects, sends the snapshot once every informer
 * has synced, then each event as a delta. When the connection drops (the DNS
 * process restarted) or the DNS answers an error, it reconnects and starts
 * again with a snapshot; events while disconnected are covered by that
 * snapshot. The DNS keeps serving its last data meanwhile.
 */
export class DnsFeeder {
  private sock?: Socket;
  /** Sequence of the last message sent on the current connection; 0: no snapshot yet. */
  private seq = 0;
  private stopped = false;
  private retry: number;
  private timer?: NodeJS.Timeout;
  private readonly removals: (() => void)[] = [];
  snapshots = 0;
  lastAck = 0;
  private readonly metrics: DnsFeederMetrics;

  constructor(private readonly o: DnsFeederOptions) {
    this.retry = o.retryMs ?? 100;
    this.metrics = new DnsFeederMetrics(o.metrics);
  }

  async start(): Promise<void> {
    for (const [kind, inf] of Object.entries(this.o.informers) as [FeedKind, Informer][]) {
      this.removals.push(inf.addHandlers({
        onAdd: (obj) => this.event(kind, 'upsert', obj),
        onUpdate: (_old, obj) => this.event(kind, 'upsert', obj),
        onDelete: (obj) => this.event(kind, 'delete', obj),
      }));
      inf.start();
    }
    await Promise.all(Object.values(this.o.informers).map((i) => i.synced()));
    this.connect();
  }

  private event(kind: FeedKind, type: 'upsert' | 'delete', obj: KubeObject): void {
    if (!this.sock || this.seq === 0) return; // the next snapshot carries it
    const { message, skipped } = deltaOf(this.seq + 1, kind, type, obj);
    if (skipped) {
      this.metrics.skipped.inc({ kind });
      this.o.logger.warn({ kind, object: keyText(obj), reason: skipped }, 'object not fed to the DNS');
    }
    this.send(message);
  }

  private send(m: FeedMessage): void {
    this.seq = m.seq;
    this.metrics.messages.inc({ type: m.type });
    this.sock?.write(`${JSON.stringify(m)}\n`);
  }

  private connect(): void {
    if (this.stopped) return;
    const sock = createConnection(this.o.socketPath);
    this.sock = sock;
    this.seq = 0;
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('connect', () => {
      const { snapshot, skipped } = snapshotOf(1, (Object.entries(this.o.informers) as [FeedKind, Informer][]).map(([kind, inf]) => ({ kind, list: () => inf.list() })));
      for (const s of skipped) {
        this.metrics.skipped.inc({ kind: s.kind });
        this.o.logger.warn(s, 'object not fed to the DNS');
      }
      this.send(snapshot);
      this.snapshots++;
      this.metrics.connected.set(1);
      this.retry = this.o.retryMs ?? 100;
      this.o.logger.info({ services: snapshot.services.length, endpointSlices: snapshot.endpointSlices.length, pods: snapshot.pods.length }, 'DNS feed connected; snapshot sent');
    });
    sock.on('data', (d: string) => {
      buf += d;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let r: { type?: string; seq?: number; message?: string };
        try {
          r = JSON.parse(line) as typeof r;
        } catch {
          continue;
        }
        if (r.type === 'ack' && typeof r.seq === 'number') {
          this.lastAck = r.seq;
          this.o.onAck?.(r.seq);
        } else if (r.type === 'error') {
          this.metrics.refused.inc();
          this.o.logger.error({ seq: r.seq, error: r.message }, 'the DNS refused a feed message; reconnecting with a snapshot');
          sock.destroy();
        }
      }
    });
    sock.on('error', (err) => this.o.logger.debug({ err }, 'DNS feed connection error'));
    sock.on('close', () => {
      if (this.sock === sock) this.sock = undefined;
      this.metrics.connected.set(0);
      if (this.stopped) return;
      const delay = this.retry;
      this.retry = Math.min(this.retry * 2, this.o.maxRetryMs ?? 1000);
      this.timer = setTimeout(() => this.connect(), delay);
    });
  }

  get connected(): boolean {
    return this.sock !== undefined && this.seq > 0;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const r of this.removals.splice(0)) r();
    this.sock?.destroy();
  }
}
