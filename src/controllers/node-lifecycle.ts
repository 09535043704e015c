// Node lifecycle: a node whose heartbeat (its Lease in kube-node-lease, or its
// Ready condition) is older than the grace period becomes Ready=Unknown, its
// pods Ready=False (so EndpointSlices drop them at once, as upstream's
// MarkPodsNotReady), and it gets the unreachable NoExecute taint; not-ready
// nodes get the not-ready taint. New NoExecute taints (which start the pods'
// eviction, src/controllers/taint-eviction.ts) are handed out at each zone's
// rate (zone-disruption.ts); when every zone is fully disrupted none are, and
// the existing ones are lifted.
import type { KubeObject } from '../core/types.ts';
import { applyActions, throwFirstError, type Action } from './actions.ts';
import { deepEqual } from '../core/deep-equal.ts';
import { kubeTime } from '../core/time.ts';
import { NODE_INDEX } from '../client/indexers.ts';
import { changedIn } from '../client/informer.ts';
import { isKubeError } from '../core/errors.ts';
import { conditionOf, type Condition } from './objects.ts';
import { enqueueMapped, enqueueSelf, newController, type Controller, type ControllerDeps } from './runtime.ts';
import { LEASES, NODE_LEASE_NAMESPACE, NOT_READY_TAINT, UNREACHABLE_TAINT } from '../core/well-known.ts';
import { NodeLossMetrics } from './node-loss-metrics.ts';
import { DEFAULT_EVICTION_RATES, TokenBucket, disruptionView, zoneOf, type EvictionRateOptions, type ZoneState } from './zone-disruption.ts';

export const NODE_GRACE_MS = 40_000;
const NODE_CONDITIONS = ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'];
/** Pod conditions a lost node's pods lose (upstream sets Ready; ContainersReady follows it here). */
const POD_READY_CONDITIONS = ['Ready', 'ContainersReady'];

export interface Taint {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: string;
}

function time(s: string | undefined): number {
  const t = s ? Date.parse(s) : NaN;
  return Number.isFinite(t) ? t : 0;
}

/** The last sign of life of a node, in ms. Pure. */
export function lastHeartbeatMs(node: KubeObject, lease: KubeObject | undefined): number {
  const renew = time((lease?.spec as { renewTime?: string } | undefined)?.renewTime);
  const ready = time(conditionOf(node, 'Ready')?.lastHeartbeatTime);
  return Math.max(renew, ready, time(node.metadata.creationTimestamp));
}

/** The node's Ready status as it is (or is about to be written): Unknown once its heartbeat lapsed. Pure. */
export function effectiveReady(node: KubeObject, lease: KubeObject | undefined, nowMs: number, graceMs = NODE_GRACE_MS): string | undefined {
  if (nowMs - lastHeartbeatMs(node, lease) > graceMs) return 'Unknown';
  return conditionOf(node, 'Ready')?.status;
}

export interface ReconcileNodeOptions {
  graceMs?: number;
  /**
   * Asked before a NoExecute taint the node does not have yet is added (the
   * zone's rate limiter); false leaves it out for now. Default: always.
   */
  admitTaint?: (key: string) => boolean;
  /** Every zone is fully disrupted: no NoExecute taint of ours stays or is added. */
  liftTaints?: boolean;
}

/** What to write for one node at nowMs. Pure (admitTaint is the caller's). */
export function reconcileNode(node: KubeObject, lease: KubeObject | undefined, nowMs: number, opts: ReconcileNodeOptions = {}): Action[] {
  const graceMs = opts.graceMs ?? NODE_GRACE_MS;
  const actions: Action[] = [];
  const name = node.metadata.name ?? '';
  const now = kubeTime(nowMs);
  const conditions = ((node.status as { conditions?: Condition[] } | undefined)?.conditions) ?? [];
  let readyStatus = conditionOf(node, 'Ready')?.status;

  if (nowMs - lastHeartbeatMs(node, lease) > graceMs && readyStatus !== 'Unknown') {
    const byType = new Map(conditions.map((c) => [c.type, c]));
    for (const type of NODE_CONDITIONS) if (!byType.has(type) && type === 'Ready') byType.set(type, { type, status: 'Unknown' });
    const updated = [...byType.values()].map((c) =>
      NODE_CONDITIONS.includes(c.type)
        ? {
            ...c,
            status: 'Unknown' as const,
            reason: 'NodeStatusUnknown',
            message: 'Kubelet stopped posting node status.',
            lastTransitionTime: c.status === 'Unknown' && c.lastTransitionTime ? c.lastTransitionTime : now,
          }
        : c,
    );
    actions.push({ op: 'patch', gr: 'nodes', namespace: '', name, patch: { status: { conditions: updated } }, patchType: 'merge', subresource: 'status' });
    readyStatus = 'Unknown';
  }

  const taints = ((node.spec as { taints?: Taint[] } | undefined)?.taints) ?? [];
  const ours = (t: Taint): boolean => t.effect === 'NoExecute' && (t.key === UNREACHABLE_TAINT || t.key === NOT_READY_TAINT);
  const others = taints.filter((t) => !ours(t));
  const wantKey = opts.liftTaints ? undefined : readyStatus === 'Unknown' ? UNREACHABLE_TAINT : readyStatus === 'False' ? NOT_READY_TAINT : undefined;
  const desired = [...others];
  if (wantKey) {
    const existing = taints.find((t) => t.key === wantKey && t.effect === 'NoExecute');
    // A swap (not-ready ↔ unreachable) keeps the time the node was first tainted: the pods' clocks go on.
    const swapped = taints.find(ours);
    if (existing) desired.push(existing);
    else if (swapped) desired.push({ key: wantKey, effect: 'NoExecute', timeAdded: swapped.timeAdded ?? now });
    else if (opts.admitTaint?.(wantKey) ?? true) desired.push({ key: wantKey, effect: 'NoExecute', timeAdded: now });
  }
  if (!deepEqual(desired, taints)) {
    actions.push({ op: 'patch', gr: 'nodes', namespace: '', name, patch: { spec: { taints: desired } }, patchType: 'merge' });
  }
  return actions;
}

/**
 * A pod of a lost node with Ready (and ContainersReady) False, or undefined
 * when it has no Ready condition or they are False already. Pure.
 */
export function podNotReady(pod: KubeObject, nowMs: number): KubeObject | undefined {
  const status = (pod.status ?? {}) as { conditions?: Condition[] };
  const conditions = status.conditions ?? [];
  if (!conditions.some((c) => c.type === 'Ready')) return undefined;
  let changed = false;
  const next = conditions.map((c) => {
    if (!POD_READY_CONDITIONS.includes(c.type) || c.status === 'False') return c;
    changed = true;
    return { ...c, status: 'False' as const, lastTransitionTime: kubeTime(nowMs) };
  });
  return changed ? { ...pod, status: { ...status, conditions: next } } : undefined;
}

/** The writes that mark a lost node's pods not ready: a status update (optimistic, on the cached version) and a NodeNotReady event each. Pure. */
export function markPodsNotReady(pods: readonly KubeObject[], nowMs: number): Action[] {
  const actions: Action[] = [];
  for (const pod of pods) {
    const next = podNotReady(pod, nowMs);
    if (!next) continue;
    actions.push({ op: 'update', gr: 'pods', object: next, subresource: 'status' });
    actions.push({ op: 'event', regarding: { ...pod, apiVersion: 'v1', kind: 'Pod' }, type: 'Warning', reason: 'NodeNotReady', message: 'Node is not ready' });
  }
  return actions;
}

export interface NodeLifecycleOptions {
  graceMs?: number;
  checkEveryMs?: number;
  eviction?: EvictionRateOptions;
  now?: () => number;
}

export function nodeLifecycleController(deps: ControllerDeps, opts: NodeLifecycleOptions = {}): Controller {
  const nodeInf = deps.informers.informer('nodes');
  const leaseInf = deps.informers.informer(LEASES);
  const podInf = deps.informers.informer('pods');
  const log = deps.logger.child({ controller: 'node-lifecycle' });
  const metrics = deps.registry ? NodeLossMetrics.for(deps.registry) : undefined;
  const graceMs = opts.graceMs ?? NODE_GRACE_MS;
  const rates = opts.eviction ?? DEFAULT_EVICTION_RATES;
  const clock = opts.now ?? Date.now;
  const buckets = new Map<string, TokenBucket>();
  const zoneStates = new Map<string, ZoneState>();
  let allDisrupted = false;
  let interval: NodeJS.Timeout | undefined;

  const leaseOf = (name: string): KubeObject | undefined => leaseInf.getByName(NODE_LEASE_NAMESPACE, name);

  const sync = async (key: string): Promise<void> => {
    const node = nodeInf.getByName(undefined, key);
    if (!node) return;
    const nowMs = clock();
    // Every node's readiness as of now (lapsed heartbeats count as Unknown before their patch lands),
    // so that nodes lost together are seen together.
    const view = disruptionView(
      nodeInf.list().map((n) => ({ zone: zoneOf(n), ready: effectiveReady(n, leaseOf(n.metadata.name ?? ''), nowMs, graceMs) })),
      rates,
    );
    metrics?.zones(view.zones.values());
    for (const z of view.zones.values()) {
      if (zoneStates.get(z.zone) !== z.state) {
        (z.state === 'Normal' ? log.info.bind(log) : log.warn.bind(log))({ zone: z.zone || '(none)', state: z.state, notReady: z.notReady, size: z.size, rate: z.rate }, 'zone state');
        zoneStates.set(z.zone, z.state);
      }
    }
    if (view.allFullyDisrupted !== allDisrupted) {
      allDisrupted = view.allFullyDisrupted;
      if (allDisrupted) log.warn('every node is not Ready: no evictions, NoExecute taints lifted (a control-plane partition is likelier than every node lost)');
      else log.info('some node is Ready again: evictions resume at the zones\' rates');
    }
    const zone = zoneOf(node);
    const rate = view.zones.get(zone)?.rate ?? 0;
    let bucket = buckets.get(zone);
    if (!bucket) buckets.set(zone, (bucket = new TokenBucket(rate, nowMs)));
    else bucket.setRate(rate, nowMs);
    let waiting = false;
    const lease = leaseOf(key);
    const actions = reconcileNode(node, lease, nowMs, {
      graceMs,
      liftTaints: view.allFullyDisrupted,
      admitTaint: () => {
        if (bucket.tryTake(nowMs)) return true;
        waiting = true;
        return false;
      },
    });
    const results = await applyActions(deps.client, actions, { logger: log, component: 'node-controller' });
    if (waiting) {
      const wait = bucket.waitMs(nowMs);
      // The zone state's own (warn) log says why; this repeats every sweep while the zone is stopped.
      log.debug({ node: key, zone: zone || '(none)', rate, waitMs: Number.isFinite(wait) ? wait : null }, 'NoExecute taint waits for the zone\'s eviction rate');
      if (Number.isFinite(wait)) controller.queue.addAfter(key, wait);
    }
    if (effectiveReady(node, lease, nowMs, graceMs) === 'Unknown') {
      const podResults = await applyActions(deps.client, markPodsNotReady(podInf.byIndex(NODE_INDEX, key), nowMs), { logger: log, component: 'node-controller' });
      metrics?.podsMarkedNotReady.inc(podResults.filter((r) => r.action.op === 'update' && r.error === undefined).length);
      // A pod changed meanwhile (Conflict) or is gone: its next event brings it back here.
      throwFirstError(podResults.filter((r) => !isIgnorable(r.error)));
    }
    throwFirstError(results);
  };

  const controller = newController('node-lifecycle', deps, sync, {
    onStart: () => {
      // Heartbeats age without any event: look at every node periodically.
      interval = setInterval(() => {
        for (const n of nodeInf.list()) controller.queue.add(n.metadata.name ?? '');
      }, opts.checkEveryMs ?? 5000);
      interval.unref();
    },
    onStop: () => clearInterval(interval),
  });
  enqueueSelf(nodeInf, controller.queue);
  enqueueMapped(leaseInf, controller.queue, (lease) =>
    lease.metadata.namespace === NODE_LEASE_NAMESPACE ? [lease.metadata.name ?? ''] : [],
  );
  // A pod that turns Ready (or arrives) on a lost node is marked not ready again.
  const podReadiness = (p: KubeObject) => [(p.spec as { nodeName?: string } | undefined)?.nodeName, ...POD_READY_CONDITIONS.map((t) => conditionOf(p, t)?.status)];
  podInf.addHandlers({
    relevant: changedIn(podReadiness),
    onAdd: (p) => enqueueNodeOf(p),
    onUpdate: (_o, p) => enqueueNodeOf(p),
  });
  function enqueueNodeOf(p: KubeObject): void {
    const nodeName = (p.spec as { nodeName?: string } | undefined)?.nodeName;
    const node = nodeName ? nodeInf.getByName(undefined, nodeName) : undefined;
    if (node && conditionOf(node, 'Ready')?.status === 'Unknown' && conditionOf(p, 'Ready')?.status === 'True') controller.queue.add(nodeName!);
  }
  return controller;
}

function isIgnorable(err: unknown): boolean {
  return err === undefined || isKubeError(err, 'Conflict') || isKubeError(err, 'NotFound');
}
