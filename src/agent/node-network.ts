// The node's pod network, imperative shell: lease the node subnet from the
// IPAM, build the overlay (VXLAN device, bridge, forwarding, masquerade),
// publish the lease and VTEP on the Node, and keep exactly one route +
// neighbour + FDB entry per live remote node (pod-network-plan.ts decides
// which). Runs inside the node's network namespace.
//
// Level-triggered: every change (a Node event, a lease change, the periodic
// resync) schedules one reconcile that recomputes the whole desired overlay
// from the Node cache and the lease list and applies the difference. Reconciles
// never overlap; a trigger during one runs another right after.
import type { Logger } from 'pino';
import type { ApiClient } from '../client/types.ts';
import { Informer } from '../client/informer.ts';
import { isKubeError } from '../core/errors.ts';
import { Ipam, NoLeaseError, renewDueAt, type Lease, type LeaseWatcher } from '../overlay/ipam.ts';
import { gatewayOf, parseCidr } from '../core/cidr.ts';
import { Netlink } from '../overlay/netlink.ts';
import { applyOverlay } from '../overlay/overlay.ts';
import { desiredOverlay, VXLAN_OVERHEAD, VXLAN_PORT } from '../overlay/vxlan.ts';
import { bridgeMacFor, nodeNetworkPatch, nodeShowsPatch, overlayPeers } from './pod-network-plan.ts';
import type { PodNetwork } from '../kubelet/sandbox-plan.ts';
import type { KubeletIpam } from '../kubelet/kubelet.ts';

export interface NodeNetworkOptions {
  client: ApiClient;
  ipam: Ipam;
  nodeName: string;
  /** The VTEP address: the node IP on the underlay. */
  nodeIp: string;
  /** Underlay device (default: the one holding nodeIp). */
  underlayDev?: string;
  vni: number;
  /** Subnet lease TTL (default: the IPAM's, 24 h). */
  leaseTtlMs?: number;
  /** How often this agent reaps expired leases of any node (default 10 s). */
  reapEveryMs?: number;
  /** Full overlay reconcile period even without events (default 10 s). */
  resyncMs?: number;
  kubeletEndpoint?: string;
  logger: Logger;
}

export class NodeNetwork {
  private readonly log: Logger;
  private readonly nodes: Informer;
  private leases: Lease[] = [];
  private leaseWatcher: LeaseWatcher | undefined;
  private nl: Netlink | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  /** The current lease (set by start). */
  lease!: Lease;
  vtepMac = '';
  /** Overlay MTU: the underlay's minus the VXLAN overhead. */
  mtu = 0;
  underlayDev = '';
  private peerNames: string[] = [];

  constructor(private readonly opts: NodeNetworkOptions) {
    this.log = opts.logger.child({ component: 'node-network' });
    this.nodes = new Informer({ client: opts.client, gr: 'nodes', logger: this.log });
  }

  /** Leases the subnet, builds the overlay with every live peer, publishes the Node fields; resolves when the bridge exists. */
  async start(): Promise<void> {
    this.nl = Netlink.open();
    const links = await this.nl.listLinks();
    const addrs = await this.nl.listAddresses();
    this.underlayDev = this.opts.underlayDev ?? addrs.find((a) => a.cidr.split('/')[0] === this.opts.nodeIp)?.dev ?? '';
    const underlay = links.find((l) => l.name === this.underlayDev);
    if (!underlay) throw new Error(`no underlay device: ${this.opts.underlayDev ? `link ${this.opts.underlayDev} not found` : `no device holds ${this.opts.nodeIp}; give --underlay-dev`}`);
    this.mtu = underlay.mtu - VXLAN_OVERHEAD;

    const previous = await this.opts.ipam.getLease(this.opts.nodeName);
    this.lease = await this.opts.ipam.leaseSubnet(this.opts.nodeName, { ttlMs: this.ttlMs(), ...(previous ? { preferred: previous.subnets[0] } : {}) });
    this.log.info({ subnets: this.lease.subnets, expiresAt: this.lease.expiresAt, renewed: !!previous }, 'node subnet leased');

    const trigger = (): void => this.trigger();
    this.nodes.addHandlers({ onAdd: trigger, onUpdate: trigger, onDelete: trigger });
    this.nodes.start();
    this.leaseWatcher = await this.opts.ipam.watchLeases(
      (leases) => {
        this.leases = leases;
        this.trigger();
      },
      { resyncMs: 5000, reapEveryMs: this.opts.reapEveryMs ?? 10_000, onError: (err) => this.log.warn({ err }, 'lease watch failed') },
    );
    await this.nodes.synced();
    this.trigger();
    await this.idle();
    if (!this.vtepMac) throw new Error('the overlay could not be built (see the errors above)');
    this.scheduleRenewal();
    const resync = (): void => {
      this.trigger();
      this.resyncTimer = setTimeout(resync, this.opts.resyncMs ?? 10_000);
      this.resyncTimer.unref();
    };
    this.resyncTimer = setTimeout(resync, this.opts.resyncMs ?? 10_000);
    this.resyncTimer.unref();
  }

  private ttlMs(): number | undefined {
    return this.opts.leaseTtlMs;
  }

  /** The IPAM adapter the Kubelet allocates pod IPs through. */
  kubeletIpam(): KubeletIpam {
    const node = this.opts.nodeName;
    const ipam = this.opts.ipam;
    return {
      allocate: async (key: string): Promise<PodNetwork> => {
        const ip = await ipam.allocateIp(node, key);
        const subnet = parseCidr(this.lease.subnets[0]);
        return { ip, prefixLength: subnet.prefix, gateway: gatewayOf(subnet) };
      },
      release: async (key: string) => void (await ipam.releaseIp(node, key)),
      reclaim: async (live: Set<string>) => {
        const released = await ipam.reclaim(node, live);
        if (released.length) this.log.info({ released }, 'reclaimed pod IPs held by no pod');
      },
    };
  }

  /** Names of the peers programmed at the last reconcile. */
  peers(): string[] {
    return [...this.peerNames];
  }

  /** Waits for the reconcile in progress (and the one it triggered) to end. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  trigger(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.reconcile();
        } catch (err) {
          this.log.warn({ err }, 'node network reconcile failed; retrying at the next resync');
        }
      } while (this.again && !this.stopped);
      this.running = undefined;
    })();
  }

  private async reconcile(): Promise<void> {
    if (!this.nl) return;
    const peers = overlayPeers(this.nodes.list(), this.leases, this.opts.nodeName);
    const desired = desiredOverlay(
      { name: this.opts.nodeName, vtepIp: this.opts.nodeIp, subnets: this.lease.subnets, underlayDev: this.underlayDev },
      peers,
      { vni: this.opts.vni, port: VXLAN_PORT, underlayMtu: this.mtu + VXLAN_OVERHEAD, clusterCidrs: this.opts.ipam.clusterCidrs },
    );
    const res = await applyOverlay(desired, { netlink: this.nl, logger: this.log });
    const bridgeMac = bridgeMacFor(gatewayOf(parseCidr(this.lease.subnets[0])));
    const bridge = await this.nl.getLink(desired.bridge.name);
    if (bridge && bridge.mac !== bridgeMac) {
      await this.nl.setLink(desired.bridge.name, { mac: bridgeMac });
      this.log.info({ bridge: desired.bridge.name, mac: bridgeMac }, 'pinned the bridge MAC');
    }
    this.vtepMac = res.vtepMac;
    this.peerNames = peers.map((p) => p.name);
    const patch = nodeNetworkPatch({ subnets: this.lease.subnets, vtepIp: this.opts.nodeIp, vtepMac: res.vtepMac, kubeletEndpoint: this.opts.kubeletEndpoint });
    const self = this.nodes.get(this.opts.nodeName);
    if (self && !nodeShowsPatch(self, patch)) {
      try {
        await this.opts.client.patch('nodes', '', this.opts.nodeName, patch, 'merge');
        this.log.info({ podCIDRs: patch.spec.podCIDRs, vtepMac: res.vtepMac }, 'published the node subnet and VTEP');
      } catch (err) {
        if (!isKubeError(err, 'NotFound')) throw err;
      }
    }
  }

  private scheduleRenewal(): void {
    if (this.stopped) return;
    const due = renewDueAt(this.lease, this.ttlMs());
    if (due === null) return;
    const delay = Math.max(1000, due - Date.now());
    this.renewTimer = setTimeout(() => void this.renew(), delay);
    this.renewTimer.unref();
  }

  private async renew(): Promise<void> {
    try {
      this.lease = await this.opts.ipam.renewSubnet(this.opts.nodeName, { ttlMs: this.ttlMs() });
      this.log.debug({ expiresAt: this.lease.expiresAt }, 'node subnet lease renewed');
    } catch (err) {
      if (err instanceof NoLeaseError) {
        const want = this.lease.subnets[0];
        this.lease = await this.opts.ipam.leaseSubnet(this.opts.nodeName, { ttlMs: this.ttlMs(), preferred: want }).catch(async (e: unknown) => {
          this.log.error({ err: e }, 'the node subnet lease expired and the subnet is gone; leasing another');
          return this.opts.ipam.leaseSubnet(this.opts.nodeName, { ttlMs: this.ttlMs() });
        });
        this.log.warn({ subnets: this.lease.subnets }, 'node subnet lease had expired; leased again');
        this.trigger();
      } else {
        this.log.warn({ err }, 'lease renewal failed; retrying');
        this.renewTimer = setTimeout(() => void this.renew(), 2000);
        this.renewTimer.unref();
        return;
      }
    }
    this.scheduleRenewal();
  }

  /** Stops watching and renewing; the kernel state stays (pods keep their network). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.renewTimer) clearTimeout(this.renewTimer);
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    await this.idle();
    await this.leaseWatcher?.stop();
    await this.nodes.stop();
    this.nl?.close();
    this.nl = undefined;
  }
}

