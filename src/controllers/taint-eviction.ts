// Taint-based eviction (upstream's TaintEvictionController, the former
// NoExecuteTaintManager): a pod on a node with NoExecute taints is deleted
// when its tolerations run out. No toleration for one of the taints: at once;
// otherwise after the smallest tolerationSeconds among the tolerations used
// (for each taint the first toleration that tolerates it); tolerations
// without tolerationSeconds: never. The clock starts when the taint was added
// to the node (its timeAdded), or when the pod was bound there if that is
// later, so a leader change neither restarts nor shortens it. Its controller
// (a ReplicaSet) then makes a replacement, which the scheduler puts on a
// healthy node.
import type { KubeObject } from '../core/types.ts';
import type { Taint, Toleration } from '../scheduler/api-types.ts';
import { tolerates } from '../scheduler/node-selector.ts';
import { changedIn, objectKey } from '../client/informer.ts';
import { NODE_INDEX } from '../client/indexers.ts';
import { kubeTime } from '../core/time.ts';
import { applyActions, throwFirstError, type Action } from './actions.ts';
import { conditionOf, isBeingDeleted, mergeCondition, type Condition } from './objects.ts';
import { NodeLossMetrics } from './node-loss-metrics.ts';
import { newController, type Controller, type ControllerDeps } from './runtime.ts';

/** A node taint as stored (NoExecute ones carry the time they were added). */
export type NodeTaint = Taint & { timeAdded?: string };

export type EvictionDecision =
  /** No NoExecute taint, or every one tolerated without a time limit. */
  | { kind: 'keep'; reason: 'no NoExecute taint' | 'tolerated forever' }
  /** Delete at atMs (0: now, some taint is not tolerated at all). */
  | { kind: 'evict'; atMs: number; taint: NodeTaint; seconds?: number };

function parseTime(s: string | undefined): number | undefined {
  const t = s ? Date.parse(s) : NaN;
  return Number.isFinite(t) ? t : undefined;
}

/**
 * When a pod with these tolerations must leave a node with these taints. Pure.
 * startMs: when the pod's clock started if no taint says (the caller's first
 * sight of it); boundMs: when the pod was bound to the node, if known.
 */
export function evictionDecision(tolerations: readonly Toleration[], taints: readonly NodeTaint[], startMs: number, boundMs?: number): EvictionDecision {
  const noExecute = taints.filter((t) => t.effect === 'NoExecute');
  if (noExecute.length === 0) return { kind: 'keep', reason: 'no NoExecute taint' };
  let min: { seconds: number; taint: NodeTaint } | undefined;
  for (const taint of noExecute) {
    const used = tolerations.find((t) => tolerates(t, taint));
    if (!used) return { kind: 'evict', atMs: 0, taint };
    const s = used.tolerationSeconds;
    if (typeof s !== 'number') continue;
    const seconds = Math.max(0, s);
    if (!min || seconds < min.seconds) min = { seconds, taint };
  }
  if (!min) return { kind: 'keep', reason: 'tolerated forever' };
  // The clock of the limiting taint: since it was added, but not before the pod came.
  const added = parseTime(min.taint.timeAdded) ?? startMs;
  const since = Math.max(added, boundMs ?? -Infinity);
  return { kind: 'evict', atMs: since + min.seconds * 1000, taint: min.taint, seconds: min.seconds };
}

/** When the pod was bound to its node (its PodScheduled condition), if it says. */
export function boundAtMs(pod: KubeObject): number | undefined {
  const scheduled = conditionOf(pod, 'PodScheduled');
  return scheduled?.status === 'True' ? parseTime(scheduled.lastTransitionTime) : undefined;
}

/** The writes that evict a pod: the DisruptionTarget condition (as upstream), the deletion (with the pod's own grace), an event. Pure. */
export function evictionActions(pod: KubeObject, nowMs: number): Action[] {
  const ns = pod.metadata.namespace ?? '';
  const name = pod.metadata.name ?? '';
  const status = (pod.status ?? {}) as { conditions?: Condition[] };
  const conditions = mergeCondition(
    status.conditions,
    { type: 'DisruptionTarget', status: 'True', reason: 'DeletionByTaintManager', message: 'Taint manager: deleting due to NoExecute taint' },
    kubeTime(nowMs),
  );
  return [
    { op: 'update', gr: 'pods', object: { ...pod, status: { ...status, conditions } }, subresource: 'status' },
    { op: 'delete', gr: 'pods', namespace: ns, name, options: { preconditions: { uid: pod.metadata.uid } } },
    { op: 'event', regarding: { ...pod, apiVersion: 'v1', kind: 'Pod' }, type: 'Normal', reason: 'TaintManagerEviction', message: `Marking for deletion Pod ${ns}/${name}` },
  ];
}

const nodeTaints = (node: KubeObject): NodeTaint[] => ((node.spec as { taints?: NodeTaint[] } | undefined)?.taints) ?? [];
const noExecuteTaints = (node: KubeObject): NodeTaint[] => nodeTaints(node).filter((t) => t.effect === 'NoExecute');
const podTolerations = (pod: KubeObject): Toleration[] => ((pod.spec as { tolerations?: Toleration[] } | undefined)?.tolerations) ?? [];
const podNode = (pod: KubeObject): string | undefined => (pod.spec as { nodeName?: string } | undefined)?.nodeName || undefined;

export function taintEvictionController(deps: ControllerDeps, opts: { now?: () => number } = {}): Controller {
  const now = opts.now ?? Date.now;
  const podInf = deps.informers.informer('pods');
  const nodeInf = deps.informers.informer('nodes');
  const log = deps.logger.child({ controller: 'taint-eviction' });
  const metrics = deps.registry ? NodeLossMetrics.for(deps.registry) : undefined;
  /** First sight of a pod (by key) under NoExecute taints, for taints without timeAdded. */
  const seen = new Map<string, { uid: string; node: string; ms: number }>();

  const sync = async (key: string): Promise<void> => {
    const pod = podInf.get(key);
    const nodeName = pod && podNode(pod);
    const node = nodeName ? nodeInf.getByName(undefined, nodeName) : undefined;
    if (!pod || !nodeName || !node || isBeingDeleted(pod)) {
      seen.delete(key);
      return;
    }
    const t = now();
    const uid = pod.metadata.uid ?? '';
    let first = seen.get(key);
    if (!first || first.uid !== uid || first.node !== nodeName) seen.set(key, (first = { uid, node: nodeName, ms: t }));
    const decision = evictionDecision(podTolerations(pod), nodeTaints(node), first.ms, boundAtMs(pod));
    if (decision.kind === 'keep') {
      seen.delete(key);
      return;
    }
    if (decision.atMs > t) {
      controller.queue.addAfter(key, decision.atMs - t);
      return;
    }
    log.info({ pod: key, node: nodeName, taint: decision.taint.key, tolerationSeconds: decision.seconds ?? null }, 'evicting pod from tainted node');
    const results = await applyActions(deps.client, evictionActions(pod, t), { logger: log, component: 'taint-eviction-controller' });
    // The condition is best effort; the deletion is what counts.
    throwFirstError(results.filter((r) => r.action.op === 'delete'));
    seen.delete(key);
    metrics?.evictions.inc();
  };

  const controller = newController('taint-eviction', deps, sync, { workers: 4 });
  const podView = (p: KubeObject) => [p.metadata.uid, podNode(p), podTolerations(p), isBeingDeleted(p)];
  podInf.addHandlers({
    relevant: changedIn(podView),
    onAdd: (p) => {
      if (podNode(p)) controller.queue.add(objectKey(p));
    },
    onUpdate: (_o, p) => {
      if (podNode(p)) controller.queue.add(objectKey(p));
    },
    onDelete: (p) => controller.queue.add(objectKey(p)),
  });
  const podsOn = (node: KubeObject): void => {
    for (const p of podInf.byIndex(NODE_INDEX, node.metadata.name ?? '')) controller.queue.add(objectKey(p));
  };
  nodeInf.addHandlers({
    relevant: changedIn(noExecuteTaints),
    onAdd: (n) => {
      if (noExecuteTaints(n).length > 0) podsOn(n);
    },
    onUpdate: (_o, n) => podsOn(n),
  });
  return controller;
}
