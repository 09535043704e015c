// The service proxy's shell: reads Services and EndpointSlices from the
// agent's one informer factory (no watches of its own), and applies the
// desired tables (service-ports.ts, ruleset.ts: pure) through the nftables
// adapter (one table per IP family) from the bounded-frequency sync runner.
//
// O(changes): informer events mark Services dirty; a sync recomputes the
// ports of the dirty Services only, replaces their fragments in the kept
// per-family fragment maps, and hands the adapter the dirty keys, so that
// nothing walks all Services or all chains on a sync.
//
// Cold start in chunks: a full sync of more than `chunkSize` Service ports
// is applied as several transactions (the base and the first chunk, then a
// chunk at a time), so that the first Services work while the rest are
// being added; a last non-partial pass retires what an earlier run left.
//
// The first sync waits for both caches to list, then is a full one against
// what the kernel holds: a previous agent's table is adopted (elements that
// are right stay, nothing is flushed that established connections depend on:
// their NAT lives in conntrack). A full resync also runs after a failed
// transaction (the adapter forgets its state) and every `resyncMs`.
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import type { InformerFactory } from '../client/informer-factory.ts';
import { changedIn, keyOf, type Informer } from '../client/informer.ts';
import type { SlimEndpointSlice, SlimService } from '../client/slim-objects.ts';
import type { KubeObject } from '../core/types.ts';
import { ENDPOINTSLICES, SERVICE_NAME_LABEL } from '../core/well-known.ts';
import { ipFamily, parseCidr } from '../core/cidr.ts';
import { NftCommandRunner, type NftRunner } from '../nft/runner.ts';
import { NftTable } from '../nft/table-sync.ts';
import type { TableOwners } from '../nft/owners.ts';
import { DEFAULT_RESYNC_MS, partSyncRunner, type BoundedFrequencyRunner, type PartSyncSettings, type SyncResult } from '../nft/sync-runner.ts';
import type { TableFragment } from '../nft/fragments.ts';
import { servicePortsOf, type IpFamily, type ServicePort } from './service-ports.ts';
import { portFragment, portKey, proxyBase, proxyTableId, PROXY_OWNER, type ProxyTableConfig } from './ruleset.ts';
import { deleteUdpFlows, removedFlows, udpFlows } from './conntrack.ts';
import { HealthCheckServers, type HealthCheck } from './health-check-server.ts';
import { ZONE_LABEL } from '../core/well-known.ts';

/** minSyncIntervalMs defaults to PROXY_MIN_SYNC_INTERVAL_MS; resyncMs to DEFAULT_RESYNC_MS. */
export interface ProxierOptions extends PartSyncSettings {
  informers: InformerFactory;
  nodeName: string;
  serviceCidrs: readonly string[];
  clusterCidrs: readonly string[];
  /** The cluster DNS address (node-local DNS answers its port 53). */
  clusterDns?: string;
  /** This node's zone (trafficDistribution PreferClose); without it, read from this Node's label (the shared Nodes cache). */
  nodeZone?: string;
  runner?: NftRunner;
  owners?: TableOwners;
  /** Delete conntrack entries of removed UDP endpoints (default true). */
  conntrack?: boolean;
  /** Service ports per transaction of a full sync (default 1000). */
  chunkSize?: number;
  /** Serve healthCheckNodePorts of eTP Local Services (default true). */
  healthChecks?: boolean;
  /** Address the health-check servers listen on (default 0.0.0.0). */
  healthCheckHost?: string;
}

/** The proxy's minimum interval between syncs once the burst is spent. */
export const PROXY_MIN_SYNC_INTERVAL_MS = 100;

const byFamily = (cidrs: readonly string[], f: IpFamily): string[] => cidrs.filter((c) => parseCidr(c).family === f);

/** What of a Service the proxy reads (slim copies hold little else; metadata changes do not matter). */
const serviceProjection = (o: KubeObject): unknown => [o.spec, (o as SlimService).status?.loadBalancer];
const sliceProjection = (o: KubeObject): unknown => [o.metadata.labels?.[SERVICE_NAME_LABEL], (o as SlimEndpointSlice).addressType, (o as SlimEndpointSlice).endpoints, (o as SlimEndpointSlice).ports];

const objectKey = (o: KubeObject): string => `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;
const sliceService = (o: KubeObject): string | undefined => {
  const svc = o.metadata.labels?.[SERVICE_NAME_LABEL];
  return svc ? `${o.metadata.namespace ?? 'default'}/${svc}` : undefined;
};

interface FamilyState {
  table: NftTable;
  cfg: ProxyTableConfig;
  fragments: Map<string, TableFragment>;
  dirty: Set<string>;
}

export class Proxier {
  private readonly services: Informer;
  private readonly slices: Informer;
  private readonly nodes: Informer | undefined;
  private readonly families = new Map<IpFamily, FamilyState>();
  private readonly sync: BoundedFrequencyRunner;
  private readonly log: Logger | undefined;
  private readonly gauge: Gauge<'family'> | undefined;
  /** EndpointSlices by Service key, then by slice key (kept from the informer's events). */
  private readonly sliceIndex = new Map<string, Map<string, SlimEndpointSlice>>();
  /** The ports of each Service as last computed. */
  private readonly portsByService = new Map<string, ServicePort[]>();
  private dirty = new Set<string>();
  private allDirty = true;
  private readonly health: HealthCheckServers | undefined;
  private readonly healthByService = new Map<string, number>();
  private lastFullAt = 0;
  private stopped = false;

  constructor(private readonly opts: ProxierOptions) {
    for (const c of [...opts.serviceCidrs, ...opts.clusterCidrs]) parseCidr(c); // bad input: a clear error before anything runs
    this.log = opts.logger?.child({ part: 'proxy' });
    this.services = opts.informers.informer('services');
    this.slices = opts.informers.informer(ENDPOINTSLICES);
    this.nodes = opts.nodeZone === undefined ? opts.informers.informer('nodes') : undefined;
    const fams = new Set<IpFamily>(opts.serviceCidrs.map((c) => parseCidr(c).family));
    const families = ([4, 6] as const).filter((f) => fams.has(f));
    if (!families.length) throw new Error('the proxy needs at least one Service CIDR');
    const runner = opts.runner ?? new NftCommandRunner();
    for (const family of families) {
      const table = new NftTable({ owner: PROXY_OWNER, table: proxyTableId(family), runner, ...(opts.owners ? { owners: opts.owners } : {}), ...(this.log ? { logger: this.log } : {}) });
      const cfg: ProxyTableConfig = {
        family,
        serviceCidrs: byFamily(opts.serviceCidrs, family),
        clusterCidrs: byFamily(opts.clusterCidrs, family),
        ...(opts.clusterDns && ipFamily(opts.clusterDns) === family ? { clusterDns: opts.clusterDns } : {}),
      };
      this.families.set(family, { table, cfg, fragments: new Map(), dirty: new Set() });
    }
    if (opts.healthChecks !== false) this.health = new HealthCheckServers({ ...(opts.healthCheckHost ? { host: opts.healthCheckHost } : {}), ...(this.log ? { logger: this.log } : {}) });
    this.sync = partSyncRunner(PROXY_OWNER, () => this.syncOnce(), PROXY_MIN_SYNC_INTERVAL_MS, { ...opts, ...(this.log ? { logger: this.log } : {}) });
    if (opts.registry) {
      this.gauge = new Gauge({ name: 'meshlet_proxy_service_ports', help: 'Service ports the proxy programs, by IP family', labelNames: ['family'], registers: [opts.registry] });
    }
  }

  /** Start: handlers on the shared caches, then the first (full) sync once both have listed. */
  async start(): Promise<void> {
    const mark = (key: string | undefined): void => {
      if (key !== undefined) this.dirty.add(key);
    };
    const index = (o: KubeObject, add: boolean): void => {
      const svc = sliceService(o);
      if (svc === undefined) return;
      let m = this.sliceIndex.get(svc);
      if (add) {
        if (!m) this.sliceIndex.set(svc, (m = new Map()));
        m.set(objectKey(o), o as SlimEndpointSlice);
      } else if (m) {
        m.delete(objectKey(o));
        if (!m.size) this.sliceIndex.delete(svc);
      }
      mark(svc);
      this.sync.trigger();
    };
    this.services.addHandlers({
      onAdd: (o) => (mark(objectKey(o)), this.sync.trigger()),
      onUpdate: (_old, o) => (mark(objectKey(o)), this.sync.trigger()),
      onDelete: (o) => (mark(objectKey(o)), this.sync.trigger()),
      relevant: changedIn(serviceProjection),
    });
    this.slices.addHandlers({
      onAdd: (o) => index(o, true),
      onUpdate: (old, o) => (index(old, false), index(o, true)),
      onDelete: (o) => index(o, false),
      relevant: changedIn(sliceProjection),
    });
    this.nodes?.addHandlers({
      onAdd: (o) => this.zoneMaybeChanged(o),
      onUpdate: (_old, o) => this.zoneMaybeChanged(o),
      relevant: changedIn((o) => o.metadata.labels?.[ZONE_LABEL]),
    });
    this.services.start();
    this.slices.start();
    this.nodes?.start();
    await Promise.all([this.services.synced(), this.slices.synced(), this.nodes?.synced()]);
    if (this.stopped) return;
    this.sync.start();
  }

  /** Syncs run so far (tests, debugging). */
  get syncs(): number {
    return this.sync.runs;
  }

  /** Resolves when no sync is running. */
  idle(): Promise<void> {
    return this.sync.whenIdle();
  }

  /** Service ports of the last sync (tests, metrics). */
  get lastPorts(): ServicePort[] {
    return [...this.portsByService.values()].flat();
  }

  /** healthCheckNodePorts served now (tests). */
  get healthCheckPorts(): number[] {
    return this.health?.ports ?? [];
  }

  /** Stop syncing; the rules stay (a new agent adopts them). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.sync.stop();
    await this.sync.whenIdle();
    await this.health?.close();
    await Promise.all([this.services.stop(), this.slices.stop(), this.nodes?.stop()]);
  }

  /** Remove the proxy's tables (not done on stop: only when the proxy is being turned off for good). */
  async remove(): Promise<void> {
    for (const f of this.families.values()) await f.table.delete();
  }

  private nodeZone(): string | undefined {
    return this.opts.nodeZone ?? this.nodes?.get(keyOf(undefined, this.opts.nodeName))?.metadata.labels?.[ZONE_LABEL];
  }

  private lastZone: string | undefined;

  /** This node's zone label changed: every Service's PreferClose choice may differ. */
  private zoneMaybeChanged(o: KubeObject): void {
    if (o.metadata.name !== this.opts.nodeName) return;
    const zone = o.metadata.labels?.[ZONE_LABEL];
    if (zone === this.lastZone) return;
    this.lastZone = zone;
    this.allDirty = true;
    this.sync.trigger();
  }

  /** Recompute the dirty Services' ports; update the fragments and the dirty port keys of each family. */
  private recompute(): { removedUdp: ReturnType<typeof removedFlows>; health: Map<string, { port: number; check: HealthCheck } | undefined> } {
    let keys: Iterable<string> = this.dirty;
    if (this.allDirty) {
      const all = new Set<string>(this.portsByService.keys());
      for (const s of this.services.list()) all.add(objectKey(s));
      keys = all;
      this.allDirty = false;
    }
    this.dirty = new Set();
    const zone = this.nodeZone();
    const removedUdp: ReturnType<typeof removedFlows> = [];
    const health = new Map<string, { port: number; check: HealthCheck } | undefined>();
    for (const key of keys) {
      const svc = this.services.get(key) as SlimService | undefined;
      const slices = [...(this.sliceIndex.get(key)?.values() ?? [])];
      const before = this.portsByService.get(key) ?? [];
      const after = svc ? servicePortsOf(svc, slices, this.opts.nodeName, zone) : [];
      if (after.length) this.portsByService.set(key, after);
      else this.portsByService.delete(key);
      for (const p of before) {
        const fam = this.families.get(p.family);
        if (!fam) continue;
        fam.fragments.delete(portKey(p));
        fam.dirty.add(portKey(p));
      }
      for (const p of after) {
        const fam = this.families.get(p.family);
        if (!fam) continue;
        fam.fragments.set(portKey(p), portFragment(p, fam.cfg));
        fam.dirty.add(portKey(p));
      }
      for (const f of removedFlows(udpFlows(before), udpFlows(after))) removedUdp.push(f);
      const hc = after.find((p) => p.healthCheckNodePort !== undefined);
      if (hc) {
        const local = new Set(after.flatMap((p) => p.localEndpoints.map((e) => e.ip)));
        health.set(key, { port: hc.healthCheckNodePort!, check: { namespace: hc.namespace, name: hc.name, localEndpoints: local.size } });
      } else if (this.healthByService.has(key)) health.set(key, undefined);
    }
    return { removedUdp, health };
  }

  private async syncOnce(): Promise<SyncResult> {
    const now = Date.now();
    const resync = this.opts.resyncMs ?? DEFAULT_RESYNC_MS;
    if (resync && this.lastFullAt && now - this.lastFullAt >= resync) for (const f of this.families.values()) f.table.invalidate();
    const { removedUdp, health } = this.recompute();
    let again: number | undefined;
    for (const [family, fam] of this.families) {
      const desired = { base: proxyBase(fam.cfg), fragments: fam.fragments };
      const dirty = fam.dirty;
      fam.dirty = new Set();
      let out;
      try {
        out = fam.table.state ? await fam.table.syncFragments(desired, { dirty }) : await this.fullSync(fam);
      } catch (err) {
        // The adapter forgot its state: the next sync is a full one.
        this.sync.trigger();
        throw err;
      }
      if (out.mode !== 'incremental') this.lastFullAt = now;
      if (out.staleDueAt !== undefined) again = Math.min(again ?? Infinity, Math.max(0, out.staleDueAt - Date.now()));
      this.gauge?.set({ family: String(family) }, fam.fragments.size);
      if (out.ops) this.log?.debug({ family, mode: out.mode, ops: out.ops }, 'proxy: synced');
    }
    if (removedUdp.length && this.opts.conntrack !== false) await deleteUdpFlows(removedUdp, this.log);
    await this.applyHealth(health);
    return again !== undefined ? { againInMs: again } : undefined;
  }

  /** A full sync, in chunks of `chunkSize` Service ports, each its own transaction. */
  private async fullSync(fam: FamilyState): Promise<{ mode: 'full' | 'rebuild' | 'incremental'; ops: number; staleDueAt?: number }> {
    const desired = { base: proxyBase(fam.cfg), fragments: fam.fragments };
    const size = Math.max(1, this.opts.chunkSize ?? 1000);
    if (fam.fragments.size <= size) return fam.table.syncFragments(desired);
    const keys = [...fam.fragments.keys()];
    const t0 = Date.now();
    const first = await fam.table.syncFragments(desired, { only: keys.slice(0, size) });
    let ops = first.ops;
    for (let i = size; i < keys.length; i += size) ops += (await fam.table.syncFragments(desired, { dirty: keys.slice(i, i + size) })).ops;
    // The last pass is not partial: it retires what an earlier run left (one walk, once per full sync).
    const last = await fam.table.syncFragments(desired);
    this.log?.info({ family: fam.cfg.family, servicePorts: keys.length, chunks: Math.ceil(keys.length / size), ms: Date.now() - t0 }, 'proxy: full sync in chunks');
    return { mode: first.mode, ops: ops + last.ops, ...(last.staleDueAt !== undefined ? { staleDueAt: last.staleDueAt } : {}) };
  }

  private async applyHealth(changes: Map<string, { port: number; check: HealthCheck } | undefined>): Promise<void> {
    if (!this.health) return;
    for (const [key, want] of changes) {
      const had = this.healthByService.get(key);
      if (had !== undefined && had !== want?.port) await this.health.delete(had);
      if (want) {
        await this.health.set(want.port, want.check);
        this.healthByService.set(key, want.port);
      } else this.healthByService.delete(key);
    }
  }
}
