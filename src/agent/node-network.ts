// The node's pod network, imperative shell: wait for the node-IPAM controller
// to write this node's subnet into its Node's spec.podCIDRs, build the overlay
// (VXLAN device, bridge, forwarding, masquerade), publish the VTEP and kubelet
// endpoint on the Node, and keep exactly one route + neighbour + FDB entry per
// remote Node that shows podCIDRs and a VTEP (pod-network-plan.ts decides).
// Runs inside the node's network namespace and holds no store credentials: it
// reads Nodes through the API, from an Informer its caller owns (so a shared
// informer factory can hand the same cache to every part of the agent).
//
// Level-triggered, but only on what matters: a Node event triggers a
// reconcile only when the node's overlay projection (podCIDRs, VTEP
// annotations, existence) changed, so the Node status every agent reposts
// every 40 s causes no netlink work. A slow resync (default 5 min) repairs
// kernel state changed behind our back. Reconciles run on the data plane's
// bounded-frequency sync runner (src/nft/sync-runner.ts, part "overlay"):
// never overlapping, triggers coalesced, at most a burst of two back to back
// and then one a second, a failure retried with back-off, and the sync
// latency in meshlet_dataplane_sync_duration_seconds{part="overlay"}.
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { ApiClient } from '../client/types.ts';
import type { Informer } from '../client/informer.ts';
import { isKubeError } from '../core/errors.ts';
import type { KubeObject } from '../core/types.ts';
import { contains, gatewayOf, parseCidr } from '../core/cidr.ts';
import { BoundedFrequencyRunner } from '../nft/sync-runner.ts';
import { Netlink } from '../overlay/netlink.ts';
import { applyOverlay } from '../overlay/overlay.ts';
import { desiredOverlay, VXLAN_OVERHEAD, VXLAN_PORT } from '../overlay/vxlan.ts';
import { bridgeMacFor, nodeNetworkPatch, nodeShowsPatch, overlayPeers, overlayProjection, ownSubnets, sameSubnets } from './pod-network-plan.ts';

export const DEFAULT_OVERLAY_RESYNC_MS = 5 * 60_000;

export type ReconcileReason = 'start' | 'node-change' | 'resync';

export interface NodeNetworkOptions {
  client: ApiClient;
  /** The Nodes informer (all Nodes). The caller starts and stops it. */
  nodes: Informer;
  nodeName: string;
  /** The VTEP address: the node IP on the underlay. */
  nodeIp: string;
  /** Underlay device (default: the one holding nodeIp). */
  underlayDev?: string;
  vni: number;
  /** The cluster's pod network(s): pod traffic leaving them is masqueraded. */
  clusterCidrs: string[];
  /** Full overlay reconcile period even without events (default 5 min). */
  resyncMs?: number;
  /** At least this long between reconciles once a burst of two is spent (default 1 s, kube-proxy's minSyncPeriod). */
  minSyncIntervalMs?: number;
  /** First retry delay after a failed reconcile, doubling to 30 s (default 1 s). */
  retryInitialMs?: number;
  kubeletEndpoint?: string;
  /** Where the reconcile counters go. */
  metrics?: Registry;
  /** This node's Node now shows other podCIDRs than the ones the overlay was built with. */
  onSubnetChange?: (from: string[], to: string[]) => void;
  logger: Logger;
}

export class NodeNetwork {
  private readonly log: Logger;
  private readonly nodes: Informer;
  private readonly projections = new Map<string, string>();
  private readonly reconciles: Counter<'reason'>;
  private readonly nodeEvents: Counter<'relevant'>;
  private nl: Netlink | undefined;
  private readonly runner: BoundedFrequencyRunner;
  /** Why the next reconcile runs (triggers since the last one began); none: the periodic resync. */
  private reasons = new Set<ReconcileReason>();
  /** Triggers asked for, and the last one a finished reconcile attempt covered (idle() waits for them to meet). */
  private asked = 0;
  private covered = 0;
  private idleWaiters: (() => void)[] = [];
  private stopped = false;
  private subnetWaiters: (() => void)[] = [];
  /** The node's subnets (one per family) from its Node's spec.podCIDRs, set by start. */
  subnets: string[] = [];
  vtepMac = '';
  /** Overlay MTU: the underlay's minus the VXLAN overhead. */
  mtu = 0;
  underlayDev = '';
  private peerNames: string[] = [];

  constructor(private readonly opts: NodeNetworkOptions) {
    this.log = opts.logger.child({ component: 'node-network' });
    this.nodes = opts.nodes;
    const registers = opts.metrics ? [opts.metrics] : [];
    this.reconciles = new Counter({
      name: 'meshlet_agent_overlay_reconciles_total',
      help: 'Overlay reconciles (netlink reads and writes) by what caused them',
      labelNames: ['reason'],
      registers,
    });
    this.nodeEvents = new Counter({
      name: 'meshlet_agent_node_events_total',
      help: 'Node events seen by the overlay, by whether they changed anything it programs',
      labelNames: ['relevant'],
      registers,
    });
    this.runner = new BoundedFrequencyRunner({
      part: 'overlay',
      sync: () => this.attempt(),
      minIntervalMs: opts.minSyncIntervalMs ?? 1000,
      burst: 2,
      maxIntervalMs: opts.resyncMs ?? DEFAULT_OVERLAY_RESYNC_MS,
      retryInitialMs: opts.retryInitialMs ?? 1000,
      retryMaxMs: 30_000,
      ...(opts.metrics ? { registry: opts.metrics } : {}),
      logger: this.log,
    });
  }

  /** Waits for this node's subnet, builds the overlay with every peer, publishes the VTEP; resolves when the bridge exists. */
  async start(): Promise<void> {
    this.nl = Netlink.open();
    const links = await this.nl.listLinks();
    const addrs = await this.nl.listAddresses();
    this.underlayDev = this.opts.underlayDev ?? addrs.find((a) => a.cidr.split('/')[0] === this.opts.nodeIp)?.dev ?? '';
    const underlay = links.find((l) => l.name === this.underlayDev);
    if (!underlay) throw new Error(`no underlay device: ${this.opts.underlayDev ? `link ${this.opts.underlayDev} not found` : `no device holds ${this.opts.nodeIp}; give --underlay-dev`}`);
    this.mtu = underlay.mtu - VXLAN_OVERHEAD;

    const seen = (node: KubeObject): void => {
      const name = node.metadata.name ?? '';
      const p = overlayProjection(node, this.opts.nodeName);
      const relevant = this.projections.get(name) !== p;
      this.nodeEvents.inc({ relevant: String(relevant) });
      if (!relevant) return;
      this.projections.set(name, p);
      if (name === this.opts.nodeName) for (const w of this.subnetWaiters.splice(0)) w();
      this.trigger('node-change');
    };
    this.nodes.addHandlers({
      onAdd: seen,
      onUpdate: (_old, node) => seen(node),
      onDelete: (node) => {
        this.nodeEvents.inc({ relevant: 'true' });
        this.projections.delete(node.metadata.name ?? '');
        this.trigger('node-change');
      },
    });
    await this.nodes.synced();
    this.subnets = await this.waitForSubnets();
    for (const s of this.subnets) {
      if (!this.opts.clusterCidrs.some((c) => contains(c, s))) {
        throw new Error(`this node's subnet ${s} (spec.podCIDRs) is outside --cluster-cidr ${this.opts.clusterCidrs.join(',')}: give the agent the server's --cluster-cidr`);
      }
    }
    this.log.info({ subnets: this.subnets }, 'node subnet assigned (spec.podCIDRs)');
    this.reasons.add('start');
    this.asked++;
    this.runner.start();
    await this.idle();
    if (!this.vtepMac) throw new Error('the overlay could not be built (see the errors above)');
  }

  private async waitForSubnets(): Promise<string[]> {
    let logged = false;
    for (;;) {
      if (this.stopped) throw new Error('stopped while waiting for the node subnet');
      const mine = ownSubnets(this.nodes.getByName(undefined, this.opts.nodeName));
      if (mine.length > 0) return mine;
      if (!logged) {
        this.log.info('waiting for the node-IPAM controller to write this Node\'s spec.podCIDRs');
        logged = true;
      }
      await new Promise<void>((resolve) => this.subnetWaiters.push(resolve));
    }
  }

  /** Whether this node's Node shows the subnet the overlay was built with (else it must not hand out pod IPs). */
  holdsSubnet(): boolean {
    return sameSubnets(ownSubnets(this.nodes.getByName(undefined, this.opts.nodeName)), this.subnets);
  }

  /** Names of the peers programmed at the last reconcile. */
  peers(): string[] {
    return [...this.peerNames];
  }

  /** Waits until every reconcile asked for so far has been attempted (the runner may hold one back for its minimum interval). */
  async idle(): Promise<void> {
    while (this.covered < this.asked && !this.stopped) await new Promise<void>((r) => this.idleWaiters.push(r));
  }

  trigger(reason: ReconcileReason): void {
    if (this.stopped || this.subnets.length === 0) return;
    this.reasons.add(reason);
    this.asked++;
    this.runner.trigger();
  }

  /** One reconcile, run by the sync runner; a failure goes back to it (retry with back-off). */
  private async attempt(): Promise<void> {
    const upTo = this.asked;
    const reasons: ReconcileReason[] = this.reasons.size > 0 ? [...this.reasons] : ['resync'];
    this.reasons = new Set();
    for (const reason of reasons) this.reconciles.inc({ reason });
    try {
      await this.reconcile();
    } catch (err) {
      this.log.warn({ err }, 'node network reconcile failed; the sync runner retries it');
      for (const reason of reasons) this.reasons.add(reason); // the retry runs for the same causes
      throw err;
    } finally {
      this.covered = Math.max(this.covered, upTo);
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private async reconcile(): Promise<void> {
    if (!this.nl) return;
    const self = this.nodes.getByName(undefined, this.opts.nodeName);
    const shown = ownSubnets(self);
    if (shown.length > 0 && !sameSubnets(shown, this.subnets)) {
      this.log.error({ built: this.subnets, shown }, 'this Node now shows another subnet than the overlay was built with');
      this.opts.onSubnetChange?.(this.subnets, shown);
    }
    const peers = overlayPeers(this.nodes.list(), this.opts.nodeName, this.subnets);
    const desired = desiredOverlay(
      { name: this.opts.nodeName, vtepIp: this.opts.nodeIp, subnets: this.subnets, underlayDev: this.underlayDev },
      peers,
      { vni: this.opts.vni, port: VXLAN_PORT, underlayMtu: this.mtu + VXLAN_OVERHEAD, clusterCidrs: this.opts.clusterCidrs },
    );
    const res = await applyOverlay(desired, { netlink: this.nl, logger: this.log });
    const bridgeMac = bridgeMacFor(gatewayOf(parseCidr(this.subnets[0])));
    const bridge = await this.nl.getLink(desired.bridge.name);
    if (bridge && bridge.mac !== bridgeMac) {
      await this.nl.setLink(desired.bridge.name, { mac: bridgeMac });
      this.log.info({ bridge: desired.bridge.name, mac: bridgeMac }, 'pinned the bridge MAC');
    }
    this.vtepMac = res.vtepMac;
    this.peerNames = peers.map((p) => p.name);
    const patch = nodeNetworkPatch({ vtepIp: this.opts.nodeIp, vtepMac: res.vtepMac, kubeletEndpoint: this.opts.kubeletEndpoint });
    if (self && !nodeShowsPatch(self, patch)) {
      try {
        await this.opts.client.patch('nodes', '', this.opts.nodeName, patch, 'merge');
        this.log.info({ vtepMac: res.vtepMac }, 'published the VTEP and kubelet endpoint');
      } catch (err) {
        if (!isKubeError(err, 'NotFound')) throw err;
      }
    }
  }

  /** Stops reconciling; the kernel state stays (pods keep their network). The Nodes informer is the caller's. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.runner.stop();
    for (const w of [...this.subnetWaiters.splice(0), ...this.idleWaiters.splice(0)]) w();
    await this.runner.whenIdle();
    this.nl?.close();
    this.nl = undefined;
  }
}

