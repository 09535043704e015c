// ReplicaSet controller: keeps spec.replicas pods of the template alive.
import type { KubeObject, LabelSelector, OwnerReference } from '../core/types.ts';
import { keyOf } from '../client/informer.ts';
import { deepEqual } from '../core/deep-equal.ts';
import type { Action } from './actions.ts';
import {
  byAge,
  controllerRef,
  isBeingDeleted,
  isPodAvailable,
  isPodReady,
  isPodTerminal,
  isControlledBy,
  ownerRefTo,
  podPhase,
  selects,
} from './objects.ts';
import type { Controller, ControllerDeps } from './runtime.ts';
import { minReadyRequeue, podOwnerController } from './pod-owner.ts';
import { REPLICASETS } from '../core/well-known.ts';

/** Most pods one sync creates (the rest follow on the next sync). */
export const BURST_REPLICAS = 500;

interface ReplicaSetSpec {
  replicas?: number;
  minReadySeconds?: number;
  selector?: LabelSelector;
  template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: unknown };
}

export interface ReplicaSetStatus {
  replicas: number;
  fullyLabeledReplicas: number;
  readyReplicas: number;
  availableReplicas: number;
  observedGeneration?: number;
}

export interface ReplicaSetSnapshot {
  rs: KubeObject;
  /** Pods of the ReplicaSet's namespace. */
  pods: readonly KubeObject[];
  nowMs: number;
  /** False while pods created or deleted by an earlier sync are not yet in the cache. */
  expectationsSatisfied: boolean;
}

export interface ReplicaSetPlan {
  actions: Action[];
  /** Pods this plan creates and deletes (for expectations). */
  creates: number;
  deletes: number;
}

export function podFromTemplate(rs: KubeObject): KubeObject {
  const spec = rs.spec as ReplicaSetSpec;
  const meta = spec.template?.metadata ?? {};
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: `${rs.metadata.name}-`,
      namespace: rs.metadata.namespace,
      labels: { ...(meta.labels ?? {}) },
      ...(meta.annotations ? { annotations: { ...meta.annotations } } : {}),
      ownerReferences: [ownerRefTo(rs)],
    },
    spec: structuredClone(spec.template?.spec ?? {}),
  };
}

/** Order in which surplus pods go: unscheduled, then pending, unknown, running; not-ready before ready; newest first. */
export function deletionOrder(a: KubeObject, b: KubeObject): number {
  const assigned = (p: KubeObject): number => ((p.spec as { nodeName?: string } | undefined)?.nodeName ? 1 : 0);
  if (assigned(a) !== assigned(b)) return assigned(a) - assigned(b);
  const rank: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };
  const ra = rank[podPhase(a)] ?? 0;
  const rb = rank[podPhase(b)] ?? 0;
  if (ra !== rb) return ra - rb;
  const ready = (p: KubeObject): number => (isPodReady(p) ? 1 : 0);
  if (ready(a) !== ready(b)) return ready(a) - ready(b);
  return -byAge(a, b);
}

function withOwnerRefs(pod: KubeObject, refs: OwnerReference[]): Action {
  return {
    op: 'patch',
    gr: 'pods',
    namespace: pod.metadata.namespace ?? '',
    name: pod.metadata.name ?? '',
    patch: { metadata: { ownerReferences: refs, uid: pod.metadata.uid } },
    patchType: 'merge',
  };
}

export function replicaSetStatus(rs: KubeObject, active: readonly KubeObject[], nowMs: number): ReplicaSetStatus {
  const spec = rs.spec as ReplicaSetSpec;
  const templateLabels = spec.template?.metadata?.labels ?? {};
  const minReady = spec.minReadySeconds ?? 0;
  const status: ReplicaSetStatus = {
    replicas: active.length,
    fullyLabeledReplicas: active.filter((p) =>
      Object.entries(templateLabels).every(([k, v]) => p.metadata.labels?.[k] === v),
    ).length,
    readyReplicas: active.filter(isPodReady).length,
    availableReplicas: active.filter((p) => isPodAvailable(p, minReady, nowMs)).length,
  };
  if (rs.metadata.generation !== undefined) status.observedGeneration = rs.metadata.generation;
  return status;
}

/** What to do for one ReplicaSet. Pure. */
export function reconcileReplicaSet(s: ReplicaSetSnapshot): ReplicaSetPlan {
  const { rs, nowMs } = s;
  const spec = rs.spec as ReplicaSetSpec;
  const actions: Action[] = [];
  const deleting = isBeingDeleted(rs);
  const ns = rs.metadata.namespace ?? '';
  const pods = s.pods.filter((p) => (p.metadata.namespace ?? '') === ns);

  const mine: KubeObject[] = [];
  for (const pod of pods) {
    const matches = selects(spec.selector, pod.metadata.labels);
    if (isControlledBy(pod, rs)) {
      if (matches) mine.push(pod);
      else if (!isBeingDeleted(pod)) {
        // Released: it no longer matches our selector.
        actions.push(withOwnerRefs(pod, (pod.metadata.ownerReferences ?? []).filter((r) => r.uid !== rs.metadata.uid)));
      }
    } else if (!controllerRef(pod) && matches && !deleting && !isBeingDeleted(pod) && !isPodTerminal(pod)) {
      // Adopt an orphan that matches.
      actions.push(withOwnerRefs(pod, [...(pod.metadata.ownerReferences ?? []), ownerRefTo(rs)]));
      mine.push(pod);
    }
  }
  const active = mine.filter((p) => !isPodTerminal(p) && !isBeingDeleted(p));

  let creates = 0;
  let deletes = 0;
  if (!deleting && s.expectationsSatisfied) {
    const want = spec.replicas ?? 1;
    const diff = active.length - want;
    if (diff < 0) {
      creates = Math.min(-diff, BURST_REPLICAS);
      for (let i = 0; i < creates; i++) actions.push({ op: 'create', gr: 'pods', object: podFromTemplate(rs) });
      actions.push({ op: 'event', regarding: rs, type: 'Normal', reason: 'SuccessfulCreate', message: `Created ${creates} pod(s)` });
    } else if (diff > 0) {
      const victims = [...active].sort(deletionOrder).slice(0, Math.min(diff, BURST_REPLICAS));
      deletes = victims.length;
      for (const pod of victims) {
        actions.push({
          op: 'delete',
          gr: 'pods',
          namespace: ns,
          name: pod.metadata.name ?? '',
          options: { preconditions: { uid: pod.metadata.uid } },
        });
      }
      actions.push({
        op: 'event',
        regarding: rs,
        type: 'Normal',
        reason: 'SuccessfulDelete',
        message: `Deleted pod(s): ${victims.map((p) => p.metadata.name).join(', ')}`,
      });
    }
  }

  const status = replicaSetStatus(rs, active, nowMs);
  const current = (rs.status ?? {}) as Partial<ReplicaSetStatus>;
  const currentComparable = {
    replicas: current.replicas ?? 0,
    fullyLabeledReplicas: current.fullyLabeledReplicas ?? 0,
    readyReplicas: current.readyReplicas ?? 0,
    availableReplicas: current.availableReplicas ?? 0,
    ...(current.observedGeneration !== undefined ? { observedGeneration: current.observedGeneration } : {}),
  };
  if (!deepEqual(status, currentComparable)) {
    actions.push({ op: 'patch', gr: REPLICASETS, namespace: ns, name: rs.metadata.name ?? '', patch: { status }, patchType: 'merge', subresource: 'status' });
  }
  return { actions, creates, deletes };
}

export function replicaSetController(deps: ControllerDeps): Controller {
  const { controller, owners } = podOwnerController(deps, {
    name: 'replicaset',
    resource: REPLICASETS,
    kind: 'ReplicaSet',
    plan: (rs, view) => ({
      ...reconcileReplicaSet({ rs, ...view }),
      requeueAfterMs: minReadyRequeue((rs.spec as ReplicaSetSpec).minReadySeconds),
    }),
    // An orphan concerns every ReplicaSet of its namespace that selects it (adoption).
    orphanKeys: (pod) => {
      const ns = pod.metadata.namespace ?? '';
      return owners
        .list(ns)
        .filter((rs) => selects((rs.spec as ReplicaSetSpec).selector, pod.metadata.labels))
        .map((rs) => keyOf(ns, rs.metadata.name ?? ''));
    },
  });
  return controller;
}
