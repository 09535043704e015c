// The service proxy's shell: reads Services and EndpointSlices from the
// agent's one informer factory (no watches of its own), recomputes the
// desired tables (service-ports.ts, ruleset.ts: pure) when a relevant field
// changed, and applies them through the nftables adapter (one table per IP
// family, O(changes) transactions) from the bounded-frequency sync runner.
//
// The first sync waits for both caches to list, then is a full one against
// what the kernel holds: a previous agent's table is adopted (elements that
// are right stay, nothing is flushed that established connections depend on:
// their NAT lives in conntrack). A full resync also runs after a failed
// transaction (the adapter forgets its state) and every `resyncMs`.
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import type { InformerFactory } from '../client/informer-factory.ts';
import { changedIn, type Informer } from '../client/informer.ts';
import type { SlimEndpointSlice, SlimService } from '../client/slim-objects.ts';
import type { KubeObject } from '../core/types.ts';
import { ENDPOINTSLICES, SERVICE_NAME_LABEL } from '../core/well-known.ts';
import { ipFamily, parseCidr } from '../core/cidr.ts';
import { NftCommandRunner, type NftRunner } from '../nft/runner.ts';
import { NftTable } from '../nft/table-sync.ts';
import type { TableOwners } from '../nft/owners.ts';
import { BoundedFrequencyRunner, type SyncResult } from '../nft/sync-runner.ts';
import type { Clock } from '../nft/clock.ts';
import { ServicePortMemo, servicePorts, type IpFamily, type ServicePort } from './service-ports.ts';
import { proxyTable, proxyTableId, PROXY_OWNER } from './ruleset.ts';
import { deleteUdpFlows, removedFlows, udpFlows, type UdpFlow } from './conntrack.ts';

export interface ProxierOptions {
  informers: InformerFactory;
  nodeName: string;
  serviceCidrs: readonly string[];
  clusterCidrs: readonly string[];
  /** The cluster DNS address (node-local DNS answers its port 53). */
  clusterDns?: string;
  runner?: NftRunner;
  owners?: TableOwners;
  logger?: Logger;
  registry?: Registry;
  clock?: Clock;
  /** Between syncs once the burst is spent (default 100 ms). */
  minSyncIntervalMs?: number;
  /** Full resync period (default 5 min; 0: never). */
  resyncMs?: number;
  /** Delete conntrack entries of removed UDP endpoints (default true). */
  conntrack?: boolean;
}

const byFamily = (cidrs: readonly string[], f: IpFamily): string[] => cidrs.filter((c) => parseCidr(c).family === f);

/** What of a Service the proxy reads (slim copies hold little else; metadata changes do not matter). */
const serviceProjection = (o: KubeObject): unknown => o.spec;
const sliceProjection = (o: KubeObject): unknown => [o.metadata.labels?.[SERVICE_NAME_LABEL], (o as SlimEndpointSlice).addressType, (o as SlimEndpointSlice).endpoints, (o as SlimEndpointSlice).ports];

export class Proxier {
  private readonly services: Informer;
  private readonly slices: Informer;
  private readonly tables = new Map<IpFamily, NftTable>();
  private readonly sync: BoundedFrequencyRunner;
  private readonly log: Logger | undefined;
  private readonly families: IpFamily[];
  private readonly gauge: Gauge<'family'> | undefined;
  private udp = new Map<string, UdpFlow>();
  private readonly memo = new ServicePortMemo();
  private lastFullAt = 0;
  private stopped = false;
  /** Service ports of the last successful sync (tests, metrics). */
  lastPorts: ServicePort[] = [];

  constructor(private readonly opts: ProxierOptions) {
    for (const c of [...opts.serviceCidrs, ...opts.clusterCidrs]) parseCidr(c); // bad input: a clear error before anything runs
    this.log = opts.logger?.child({ part: 'proxy' });
    this.services = opts.informers.informer('services');
    this.slices = opts.informers.informer(ENDPOINTSLICES);
    const fams = new Set<IpFamily>(opts.serviceCidrs.map((c) => parseCidr(c).family));
    this.families = ([4, 6] as const).filter((f) => fams.has(f));
    if (!this.families.length) throw new Error('the proxy needs at least one Service CIDR');
    const runner = opts.runner ?? new NftCommandRunner();
    for (const f of this.families) {
      this.tables.set(f, new NftTable({ owner: PROXY_OWNER, table: proxyTableId(f), runner, ...(opts.owners ? { owners: opts.owners } : {}), ...(this.log ? { logger: this.log } : {}) }));
    }
    this.sync = new BoundedFrequencyRunner({
      part: PROXY_OWNER,
      sync: () => this.syncOnce(),
      minIntervalMs: opts.minSyncIntervalMs ?? 100,
      maxIntervalMs: opts.resyncMs ?? 300_000,
      ...(opts.clock ? { clock: opts.clock } : {}),
      ...(opts.registry ? { registry: opts.registry } : {}),
      ...(this.log ? { logger: this.log } : {}),
    });
    if (opts.registry) {
      this.gauge = new Gauge({ name: 'meshlet_proxy_service_ports', help: 'Service ports the proxy programs, by IP family', labelNames: ['family'], registers: [opts.registry] });
    }
  }

  /** Start: handlers on the shared caches, then the first (full) sync once both have listed. */
  async start(): Promise<void> {
    const trigger = (): void => this.sync.trigger();
    this.services.addHandlers({ onAdd: trigger, onUpdate: trigger, onDelete: trigger, relevant: changedIn(serviceProjection) });
    this.slices.addHandlers({ onAdd: trigger, onUpdate: trigger, onDelete: trigger, relevant: changedIn(sliceProjection) });
    this.services.start();
    this.slices.start();
    await Promise.all([this.services.synced(), this.slices.synced()]);
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

  /** Stop syncing; the rules stay (a new agent adopts them). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.sync.stop();
    await this.sync.whenIdle();
    await Promise.all([this.services.stop(), this.slices.stop()]);
  }

  /** Remove the proxy's tables (not done on stop: only when the proxy is being turned off for good). */
  async remove(): Promise<void> {
    for (const t of this.tables.values()) await t.delete();
  }

  private input(): { services: SlimService[]; slicesByService: Map<string, SlimEndpointSlice[]> } {
    const slicesByService = new Map<string, SlimEndpointSlice[]>();
    for (const s of this.slices.list() as SlimEndpointSlice[]) {
      const svc = s.metadata.labels?.[SERVICE_NAME_LABEL];
      if (!svc) continue;
      const k = `${s.metadata.namespace}/${svc}`;
      const list = slicesByService.get(k);
      if (list) list.push(s);
      else slicesByService.set(k, [s]);
    }
    return { services: this.services.list() as SlimService[], slicesByService };
  }

  private async syncOnce(): Promise<SyncResult> {
    const now = Date.now();
    const resync = this.opts.resyncMs ?? 300_000;
    if (resync && this.lastFullAt && now - this.lastFullAt >= resync) for (const t of this.tables.values()) t.invalidate();
    const ports = servicePorts({ ...this.input(), nodeName: this.opts.nodeName }, this.memo);
    let again: number | undefined;
    for (const [family, table] of this.tables) {
      const desired = proxyTable(ports, {
        family,
        serviceCidrs: byFamily(this.opts.serviceCidrs, family),
        clusterCidrs: byFamily(this.opts.clusterCidrs, family),
        ...(this.opts.clusterDns && ipFamily(this.opts.clusterDns) === family ? { clusterDns: this.opts.clusterDns } : {}),
      });
      const out = await table.sync(desired);
      if (out.mode !== 'incremental') this.lastFullAt = now;
      if (out.staleDueAt !== undefined) again = Math.min(again ?? Infinity, Math.max(0, out.staleDueAt - Date.now()));
      this.gauge?.set({ family: String(family) }, ports.filter((p) => p.family === family).length);
      if (out.ops) this.log?.debug({ family, mode: out.mode, ops: out.ops }, 'proxy: synced');
    }
    this.lastPorts = ports;
    const udp = udpFlows(ports);
    const removed = removedFlows(this.udp, udp);
    this.udp = udp;
    if (removed.length && this.opts.conntrack !== false) await deleteUdpFlows(removed, this.log);
    return again !== undefined ? { againInMs: again } : undefined;
  }
}
