// Node lifecycle: a node whose heartbeat (its Lease in kube-node-lease, or its
// Ready condition) is older than the grace period becomes Ready=Unknown and
// gets the unreachable NoExecute taint; not-ready nodes get the not-ready taint.
import type { KubeObject } from '../core/types.ts';
import { applyActions, throwFirstError, type Action } from './actions.ts';
import { deepEqual } from '../core/deep-equal.ts';
import { kubeTime } from '../core/time.ts';
import { conditionOf, type Condition } from './objects.ts';
import { enqueueMapped, enqueueSelf, newController, type Controller, type ControllerDeps } from './runtime.ts';
import { LEASES, NODE_LEASE_NAMESPACE, NOT_READY_TAINT, UNREACHABLE_TAINT } from '../core/well-known.ts';

export const NODE_GRACE_MS = 40_000;
const NODE_CONDITIONS = ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'];

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

/** What to write for one node at nowMs. Pure. */
export function reconcileNode(node: KubeObject, lease: KubeObject | undefined, nowMs: number, graceMs = NODE_GRACE_MS): Action[] {
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
  const others = taints.filter((t) => !(t.effect === 'NoExecute' && (t.key === UNREACHABLE_TAINT || t.key === NOT_READY_TAINT)));
  const wantKey = readyStatus === 'Unknown' ? UNREACHABLE_TAINT : readyStatus === 'False' ? NOT_READY_TAINT : undefined;
  const desired = [...others];
  if (wantKey) {
    const existing = taints.find((t) => t.key === wantKey && t.effect === 'NoExecute');
    desired.push(existing ?? { key: wantKey, effect: 'NoExecute', timeAdded: now });
  }
  if (!deepEqual(desired, taints)) {
    actions.push({ op: 'patch', gr: 'nodes', namespace: '', name, patch: { spec: { taints: desired } }, patchType: 'merge' });
  }
  return actions;
}

export function nodeLifecycleController(deps: ControllerDeps, opts: { graceMs?: number; checkEveryMs?: number } = {}): Controller {
  const nodeInf = deps.informers.informer('nodes');
  const leaseInf = deps.informers.informer(LEASES);
  const log = deps.logger.child({ controller: 'node-lifecycle' });
  let interval: NodeJS.Timeout | undefined;

  const sync = async (key: string): Promise<void> => {
    const node = nodeInf.getByName(undefined, key);
    if (!node) return;
    const actions = reconcileNode(node, leaseInf.getByName(NODE_LEASE_NAMESPACE, key), Date.now(), opts.graceMs ?? NODE_GRACE_MS);
    throwFirstError(await applyActions(deps.client, actions, { logger: log, component: 'node-controller' }));
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
  return controller;
}
