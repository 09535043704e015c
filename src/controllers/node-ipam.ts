// Node IPAM: the server leases every Node a pod subnet and writes it into
// Node.spec.podCIDR(s), the way flannel's kube subnet manager (pkg/subnet/kube)
// and kube-controller-manager's node-ipam controller do, so agents never
// touch the store: an agent reads its own subnet from its Node, and its peers
// from the other Nodes.
//
// The subnet pool stays in Redis (src/overlay/ipam.ts, flannel's lease rules:
// create-if-absent, a returning node gets its previous subnet back, permanent
// reservations, a TTL); only this controller, in the leader of the controller
// manager, calls it.
//
// Per Node (decideNodeSubnet, pure):
// - heartbeat fresh (its kube-node-lease Lease or Ready heartbeat within the
//   grace period): lease a subnet if it has none (its current podCIDR first,
//   else its previous one, else a free one), renew when due, and make
//   spec.podCIDR(s) show the lease;
// - silent: stop renewing. The lease lapses after its TTL; then the podCIDRs
//   are removed from the Node, and every agent withdraws that subnet's route,
//   neighbour and FDB entry (a peer is a Node with podCIDRs and a VTEP);
// - deleted: release its lease at once (a reservation stays: it is the
//   admin's). A Node created again under that name gets its old subnet back.
import type { Logger } from 'pino';
import type { KubeObject } from '../core/types.ts';
import { LEASES, NODE_LEASE_NAMESPACE } from '../core/well-known.ts';
import { Ipam, SubnetPoolExhaustedError, renewDueAt, DEFAULT_LEASE_TTL_MS, type Lease } from '../overlay/ipam.ts';
import { normalizeCidr } from '../core/cidr.ts';
import { podCidrSpec, podCidrsOfNode } from '../overlay/node-annotations.ts';
import { applyActions, throwFirstError } from './actions.ts';
import { lastHeartbeatMs, NODE_GRACE_MS } from './node-lifecycle.ts';
import { enqueueMapped, newController, type Controller, type ControllerDeps } from './runtime.ts';

/** What the decision needs of a Node. */
export interface NodeView {
  name: string;
  /** spec.podCIDRs (or spec.podCIDR), normalised. */
  podCIDRs: string[];
  lastHeartbeatMs: number;
}

export type NodeIpamAction =
  | { op: 'lease'; node: string; preferred?: string }
  | { op: 'renew'; node: string }
  | { op: 'release'; node: string }
  /** Make spec.podCIDR(s) show these subnets; [] removes them. */
  | { op: 'setPodCIDRs'; node: string; subnets: string[] };

export interface NodeIpamTimings {
  /** How long a heartbeat counts as fresh (default: the node grace, 40 s). */
  graceMs: number;
  /** Subnet lease TTL. */
  ttlMs: number;
}

/** A Node's podCIDRs as the controller compares them. Pure. */
export function podCidrsOf(node: KubeObject): string[] {
  return podCidrsOfNode(node).map((c) => {
    try {
      return normalizeCidr(String(c));
    } catch {
      return String(c);
    }
  });
}

export function nodeView(node: KubeObject, heartbeat: KubeObject | undefined): NodeView {
  return { name: node.metadata.name ?? '', podCIDRs: podCidrsOf(node), lastHeartbeatMs: lastHeartbeatMs(node, heartbeat) };
}

function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}

/**
 * What to do for one node name: its Node (undefined once deleted) and its live
 * subnet lease (undefined when it has none or it lapsed). Pure. A 'lease'
 * action comes alone: the caller carries it out and decides again with the
 * lease it got.
 */
export function decideNodeSubnet(name: string, node: NodeView | undefined, lease: Lease | undefined, nowMs: number, t: NodeIpamTimings): NodeIpamAction[] {
  if (!node) return lease && lease.expiresAt !== null ? [{ op: 'release', node: name }] : [];
  const fresh = nowMs - node.lastHeartbeatMs <= t.graceMs;
  if (!lease) {
    if (fresh) return [{ op: 'lease', node: name, ...(node.podCIDRs[0] ? { preferred: node.podCIDRs[0] } : {}) }];
    return node.podCIDRs.length > 0 ? [{ op: 'setPodCIDRs', node: name, subnets: [] }] : [];
  }
  const actions: NodeIpamAction[] = [];
  const due = renewDueAt(lease, t.ttlMs);
  if (fresh && due !== null && nowMs >= due) actions.push({ op: 'renew', node: name });
  const subnets = lease.subnets.map((s) => normalizeCidr(s));
  if (!same(node.podCIDRs, subnets)) actions.push({ op: 'setPodCIDRs', node: name, subnets });
  return actions;
}

/** The merge patch that makes a Node show `subnets` (none: removes the fields). */
export function podCidrPatch(subnets: readonly string[]): { spec: { podCIDR: string | null; podCIDRs: string[] | null } } {
  return subnets.length > 0 ? { spec: podCidrSpec([...subnets]) } : { spec: { podCIDR: null, podCIDRs: null } };
}

export interface NodeIpamOptions {
  ipam: Ipam;
  /** Subnet lease TTL (default 24 h). */
  ttlMs?: number;
  /** Heartbeat freshness (default 40 s). */
  graceMs?: number;
  /** How often every node and lease is looked at again: renewals and lapses need no event (default: min(5 s, TTL/4)). */
  checkEveryMs?: number;
  now?: () => number;
}

export function nodeIpamController(deps: ControllerDeps, opts: NodeIpamOptions): Controller {
  const nodeInf = deps.informers.informer('nodes');
  const leaseInf = deps.informers.informer(LEASES);
  const log: Logger = deps.logger.child({ controller: 'node-ipam' });
  const ipam = opts.ipam;
  const now = opts.now ?? Date.now;
  const timings: NodeIpamTimings = { graceMs: opts.graceMs ?? NODE_GRACE_MS, ttlMs: opts.ttlMs ?? DEFAULT_LEASE_TTL_MS };
  const checkEveryMs = opts.checkEveryMs ?? Math.max(200, Math.min(5000, Math.floor(timings.ttlMs / 4)));
  let interval: NodeJS.Timeout | undefined;

  const view = (name: string): NodeView | undefined => {
    const node = nodeInf.getByName(undefined, name);
    return node ? nodeView(node, leaseInf.getByName(NODE_LEASE_NAMESPACE, name)) : undefined;
  };

  const sync = async (name: string): Promise<void> => {
    let lease = await ipam.getLease(name);
    for (let round = 0; round < 3; round++) {
      const node = view(name);
      const actions = decideNodeSubnet(name, node, lease, now(), timings);
      if (actions.length === 0) return;
      let leased = false;
      for (const a of actions) {
        switch (a.op) {
          case 'lease':
            try {
              lease = await ipam.leaseSubnet(name, { ttlMs: timings.ttlMs, ...(a.preferred ? { preferred: a.preferred } : {}) });
            } catch (err) {
              if (!(err instanceof SubnetPoolExhaustedError)) throw err;
              const obj = nodeInf.getByName(undefined, name);
              if (obj) await applyActions(deps.client, [{ op: 'event', regarding: obj, type: 'Warning', reason: 'CIDRNotAvailable', message: err.message }], { logger: log, component: 'node-ipam-controller' });
              throw err;
            }
            log.info({ node: name, subnets: lease.subnets, expiresAt: lease.expiresAt }, 'leased a node subnet');
            leased = true;
            break;
          case 'renew':
            lease = await ipam.leaseSubnet(name, { ttlMs: timings.ttlMs });
            log.debug({ node: name, expiresAt: lease.expiresAt }, 'renewed the node subnet lease');
            break;
          case 'release':
            if (await ipam.releaseSubnet(name)) log.info({ node: name, subnets: lease?.subnets }, 'released the subnet of a deleted node');
            break;
          case 'setPodCIDRs':
            throwFirstError(
              await applyActions(deps.client, [{ op: 'patch', gr: 'nodes', namespace: '', name, patch: podCidrPatch(a.subnets), patchType: 'merge' }], {
                logger: log,
                component: 'node-ipam-controller',
              }),
            );
            log.info({ node: name, podCIDRs: a.subnets }, a.subnets.length ? 'wrote the node subnet into spec.podCIDRs' : 'the node subnet lease lapsed; removed spec.podCIDRs');
            break;
        }
      }
      if (!leased) return;
    }
  };

  const sweep = async (): Promise<void> => {
    await ipam.reapExpired();
    const names = new Set(nodeInf.list().map((n) => n.metadata.name ?? ''));
    for (const l of await ipam.listLeases()) names.add(l.node);
    for (const n of names) if (n) controller.queue.add(n);
  };

  const controller = newController('node-ipam', deps, sync, {
    onStart: () => {
      const tick = (): void => void sweep().catch((err: unknown) => log.warn({ err }, 'node subnet sweep failed'));
      tick();
      interval = setInterval(tick, checkEveryMs);
      interval.unref();
    },
    onStop: () => clearInterval(interval),
  });
  // Only what the decision reads: Node existence and podCIDRs, and the heartbeat Lease.
  nodeInf.addHandlers({
    onAdd: (n) => controller.queue.add(n.metadata.name ?? ''),
    onUpdate: (old, n) => {
      if (!same(podCidrsOf(old), podCidrsOf(n))) controller.queue.add(n.metadata.name ?? '');
    },
    onDelete: (n) => controller.queue.add(n.metadata.name ?? ''),
  });
  enqueueMapped(leaseInf, controller.queue, (lease) => (lease.metadata.namespace === NODE_LEASE_NAMESPACE ? [lease.metadata.name ?? ''] : []));
  return controller;
}
