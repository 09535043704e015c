// DaemonSet controller: one pod of the current template on every node the
// template may run on (nodeSelector, required node affinity, taints against
// the template's tolerations plus the ones upstream adds to daemon pods),
// rolled to a new template by RollingUpdate (maxUnavailable, maxSurge) or
// OnDelete, with a ControllerRevision per template. Pods are bound directly:
// spec.nodeName plus the node-affinity term upstream writes (see DECISIONS).
// reconcileDaemonSet is pure; the shell below feeds it the informer caches.
import type { KubeObject, LabelSelector } from '../core/types.ts';
import { keyOf } from '../client/informer.ts';
import { deepEqual } from '../core/deep-equal.ts';
import {
  CONTROLLER_REVISION_HASH_LABEL,
  CONTROLLERREVISIONS,
  DAEMONSETS,
  DISK_PRESSURE_TAINT,
  MEMORY_PRESSURE_TAINT,
  NETWORK_UNAVAILABLE_TAINT,
  NOT_READY_TAINT,
  PID_PRESSURE_TAINT,
  UNREACHABLE_TAINT,
  UNSCHEDULABLE_TAINT,
} from '../core/well-known.ts';
import type { Node, Pod, Taint, Toleration } from '../scheduler/api-types.ts';
import { filterNodeAffinity } from '../scheduler/filters.ts';
import { toleratedBy } from '../scheduler/node-selector.ts';
import { podInfoOf } from '../scheduler/pod-info.ts';
import type { NodeInfo } from '../scheduler/snapshot.ts';
import type { Action } from './actions.ts';
import { planRevisions, type Revision } from './controller-revision.ts';
import { resolveIntOrPercent } from './deployment.ts';
import { byAge, isBeingDeleted, isControlledBy, isPodAvailable, isPodReady, ownerRefTo, podPhase } from './objects.ts';
import { minReadyRequeue, podOwnerController } from './pod-owner.ts';
import { enqueueMapped, type Controller, type ControllerDeps } from './runtime.ts';

type IntOrPercent = number | string;

interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown> & { tolerations?: Toleration[]; hostNetwork?: boolean; nodeName?: string; affinity?: Record<string, unknown> };
}

interface DaemonSetSpec {
  selector?: LabelSelector;
  template?: PodTemplate;
  minReadySeconds?: number;
  revisionHistoryLimit?: number;
  updateStrategy?: { type?: 'RollingUpdate' | 'OnDelete'; rollingUpdate?: { maxUnavailable?: IntOrPercent; maxSurge?: IntOrPercent } };
}

export interface DaemonSetStatus {
  desiredNumberScheduled: number;
  currentNumberScheduled: number;
  numberMisscheduled: number;
  numberReady: number;
  numberAvailable: number;
  numberUnavailable: number;
  updatedNumberScheduled: number;
  observedGeneration?: number;
}

/** The tolerations upstream's DaemonSet controller adds to every daemon pod (AddOrUpdateDaemonPodTolerations). */
export function daemonTolerations(hostNetwork: boolean): Toleration[] {
  return [
    { key: NOT_READY_TAINT, operator: 'Exists', effect: 'NoExecute' },
    { key: UNREACHABLE_TAINT, operator: 'Exists', effect: 'NoExecute' },
    { key: DISK_PRESSURE_TAINT, operator: 'Exists', effect: 'NoSchedule' },
    { key: MEMORY_PRESSURE_TAINT, operator: 'Exists', effect: 'NoSchedule' },
    { key: PID_PRESSURE_TAINT, operator: 'Exists', effect: 'NoSchedule' },
    { key: UNSCHEDULABLE_TAINT, operator: 'Exists', effect: 'NoSchedule' },
    ...(hostNetwork ? [{ key: NETWORK_UNAVAILABLE_TAINT, operator: 'Exists', effect: 'NoSchedule' } as Toleration] : []),
  ];
}

function withTolerations(existing: readonly Toleration[], extra: readonly Toleration[]): Toleration[] {
  const out = [...existing];
  for (const t of extra) if (!out.some((e) => e.key === t.key && e.effect === t.effect && (e.operator ?? 'Equal') === t.operator)) out.push(t);
  return out;
}

/** The affinity upstream writes on a daemon pod: its required node affinity replaced by one term naming the node. */
function nodeAffinityFor(affinity: Record<string, unknown> | undefined, node: string): Record<string, unknown> {
  const nodeAffinity = { ...((affinity?.nodeAffinity as Record<string, unknown> | undefined) ?? {}) };
  nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution = {
    nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }],
  };
  return { ...(affinity ?? {}), nodeAffinity };
}

export function daemonPod(ds: KubeObject, node: string, hash: string): KubeObject {
  const template = ((ds.spec as DaemonSetSpec).template ?? {}) as PodTemplate;
  const spec = structuredClone(template.spec ?? {});
  spec.tolerations = withTolerations(spec.tolerations ?? [], daemonTolerations(spec.hostNetwork === true));
  spec.affinity = nodeAffinityFor(spec.affinity, node);
  spec.nodeName = node;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: `${ds.metadata.name}-`,
      namespace: ds.metadata.namespace,
      labels: { ...(template.metadata?.labels ?? {}), [CONTROLLER_REVISION_HASH_LABEL]: hash },
      ...(template.metadata?.annotations ? { annotations: { ...template.metadata.annotations } } : {}),
      ownerReferences: [ownerRefTo(ds)],
    },
    spec,
  };
}

/** Whether a daemon pod should be placed on the node, and whether one already there may stay (upstream's NodeShouldRunDaemonPod). */
export function nodeShouldRun(ds: KubeObject, node: Node): { shouldRun: boolean; shouldContinue: boolean } {
  const template = ((ds.spec as DaemonSetSpec).template ?? {}) as PodTemplate;
  const name = node.metadata.name ?? '';
  const no = { shouldRun: false, shouldContinue: false };
  if (template.spec?.nodeName && template.spec.nodeName !== name) return no;
  const probe = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'probe', namespace: ds.metadata.namespace }, spec: template.spec ?? {} } as Pod;
  const info = podInfoOf(probe);
  const nodeInfo = { name, labels: node.metadata.labels ?? {} } as NodeInfo;
  if (!filterNodeAffinity(info, nodeInfo).ok) return no;
  const tolerations = withTolerations(info.tolerations, daemonTolerations(template.spec?.hostNetwork === true));
  let shouldRun = true;
  for (const taint of (node.spec?.taints ?? []) as Taint[]) {
    if (taint.effect === 'PreferNoSchedule' || toleratedBy(tolerations, taint)) continue;
    if (taint.effect === 'NoExecute') return no;
    shouldRun = false;
  }
  return { shouldRun, shouldContinue: true };
}

/** The node a daemon pod is for: spec.nodeName, else the node its affinity names. */
export function podNode(pod: KubeObject): string {
  const spec = pod.spec as { nodeName?: string; affinity?: { nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: { matchFields?: { key: string; values?: string[] }[] }[] } } } } | undefined;
  if (spec?.nodeName) return spec.nodeName;
  const field = spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms?.[0]?.matchFields?.find((f) => f.key === 'metadata.name');
  return field?.values?.[0] ?? '';
}

export interface DaemonSetSnapshot {
  ds: KubeObject;
  nodes: readonly Node[];
  /** Pods of the DaemonSet's namespace. */
  pods: readonly KubeObject[];
  /** ControllerRevisions of the namespace. */
  revisions: readonly Revision[];
  nowMs: number;
  expectationsSatisfied: boolean;
}

export interface DaemonSetPlan {
  actions: Action[];
  creates: number;
  deletes: number;
  hash: string;
  status: DaemonSetStatus;
}

/** Deletes a pod; `force` (grace 0) for pods whose node is gone, as no kubelet will confirm their end. */
const deletePod = (pod: KubeObject, force: boolean): Action => ({
  op: 'delete',
  gr: 'pods',
  namespace: pod.metadata.namespace ?? '',
  name: pod.metadata.name ?? '',
  options: { preconditions: { uid: pod.metadata.uid }, ...(force ? { gracePeriodSeconds: 0 } : {}) },
});

/** What to do for one DaemonSet. Pure. */
export function reconcileDaemonSet(s: DaemonSetSnapshot): DaemonSetPlan {
  const { ds, nowMs } = s;
  const spec = ds.spec as DaemonSetSpec;
  const ns = ds.metadata.namespace ?? '';
  const minReady = spec.minReadySeconds ?? 0;
  const mine = s.pods.filter((p) => (p.metadata.namespace ?? '') === ns && isControlledBy(p, ds));
  const liveHashes = new Set(mine.map((p) => p.metadata.labels?.[CONTROLLER_REVISION_HASH_LABEL] ?? ''));
  const rev = planRevisions(ds, s.revisions, spec.template ?? {}, liveHashes, spec.revisionHistoryLimit ?? 10);
  const hash = rev.hash;
  const deleting = isBeingDeleted(ds);
  const actions: Action[] = deleting ? [] : [...rev.actions];
  const isNew = (p: KubeObject): boolean => p.metadata.labels?.[CONTROLLER_REVISION_HASH_LABEL] === hash;
  const available = (p: KubeObject): boolean => isPodAvailable(p, minReady, nowMs);

  const byNode = new Map<string, KubeObject[]>();
  for (const p of mine) {
    const n = podNode(p);
    byNode.set(n, [...(byNode.get(n) ?? []), p]);
  }
  const creates: string[] = [];
  const deletes: KubeObject[] = [];
  const status: DaemonSetStatus = {
    desiredNumberScheduled: 0,
    currentNumberScheduled: 0,
    numberMisscheduled: 0,
    numberReady: 0,
    numberAvailable: 0,
    numberUnavailable: 0,
    updatedNumberScheduled: 0,
  };
  /** Nodes that should run a pod, with their live (not terminating, not failed) pods. */
  const running: { node: string; pods: KubeObject[] }[] = [];
  const known = new Set<string>();
  for (const node of s.nodes) {
    const name = node.metadata.name ?? '';
    known.add(name);
    const { shouldRun, shouldContinue } = nodeShouldRun(ds, node);
    const pods = byNode.get(name) ?? [];
    const live = pods.filter((p) => !isBeingDeleted(p) && podPhase(p) !== 'Failed' && podPhase(p) !== 'Succeeded');
    for (const p of pods) if (!isBeingDeleted(p) && (podPhase(p) === 'Failed' || podPhase(p) === 'Succeeded')) deletes.push(p);
    if (shouldRun) status.desiredNumberScheduled++;
    if (live.length > 0) {
      if (shouldRun) status.currentNumberScheduled++;
      else status.numberMisscheduled++;
    }
    if (!shouldContinue) {
      deletes.push(...live);
      continue;
    }
    if (!shouldRun) continue;
    if (live.length === 0) creates.push(name);
    else running.push({ node: name, pods: [...live].sort(byAge) });
    if (live.some(isPodReady)) status.numberReady++;
    if (live.some(available)) status.numberAvailable++;
    if (live.some(isNew)) status.updatedNumberScheduled++;
  }
  // Pods bound to nodes that are gone.
  const orphaned = new Set<string>();
  for (const [node, pods] of byNode) {
    if (known.has(node)) continue;
    for (const p of pods) {
      // Gone nodes' pods go at once (upstream's pod GC force-deletes them), even when already terminating.
      deletes.push(p);
      orphaned.add(p.metadata.uid ?? '');
    }
  }
  status.numberUnavailable = status.desiredNumberScheduled - status.numberAvailable;

  const strategy = spec.updateStrategy ?? {};
  if ((strategy.type ?? 'RollingUpdate') === 'RollingUpdate') {
    const desired = status.desiredNumberScheduled;
    const ru = strategy.rollingUpdate ?? {};
    const maxSurge = resolveIntOrPercent(ru.maxSurge, desired, true, 0);
    let maxUnavailable = resolveIntOrPercent(ru.maxUnavailable, desired, true, 1);
    if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
    let unavailable = creates.length + running.filter((r) => !r.pods.some(available)).length;
    let surging = running.filter((r) => r.pods.some(isNew) && r.pods.some((p) => !isNew(p))).length;
    for (const { node, pods } of running) {
      const newPods = pods.filter(isNew);
      const oldPods = pods.filter((p) => !isNew(p));
      if (newPods.length > 1) deletes.push(...newPods.slice(1));
      if (oldPods.length === 0) continue;
      const oldAvailable = oldPods.some(available);
      if (newPods.length > 0) {
        // Surged: the old pod goes once the new one is available (or when the old one is not).
        if (newPods.some(available) || !oldAvailable) deletes.push(...oldPods);
        continue;
      }
      if (!oldAvailable) {
        // Already unavailable: replacing it costs nothing.
        if (maxSurge > 0) creates.push(node);
        else deletes.push(...oldPods);
      } else if (maxSurge > 0) {
        if (surging < maxSurge) {
          creates.push(node);
          surging++;
        }
      } else if (unavailable < maxUnavailable) {
        deletes.push(...oldPods);
        unavailable++;
      }
    }
  } else {
    // OnDelete: duplicates still go (the oldest stays).
    for (const { pods } of running) if (pods.length > 1) deletes.push(...pods.slice(1));
  }

  let createCount = 0;
  let deleteCount = 0;
  if (!deleting && s.expectationsSatisfied) {
    for (const node of creates) actions.push({ op: 'create', gr: 'pods', object: daemonPod(ds, node, hash) });
    const uniq = [...new Map(deletes.map((p) => [p.metadata.uid ?? p.metadata.name, p])).values()];
    for (const p of uniq) actions.push(deletePod(p, orphaned.has(p.metadata.uid ?? '')));
    createCount = creates.length;
    deleteCount = uniq.length;
    if (createCount > 0) actions.push({ op: 'event', regarding: ds, type: 'Normal', reason: 'SuccessfulCreate', message: `Created ${createCount} pod(s) on: ${creates.join(', ')}` });
    if (deleteCount > 0) actions.push({ op: 'event', regarding: ds, type: 'Normal', reason: 'SuccessfulDelete', message: `Deleted pod(s): ${uniq.map((p) => p.metadata.name).join(', ')}` });
  }
  if (ds.metadata.generation !== undefined) status.observedGeneration = ds.metadata.generation;
  const current = (ds.status ?? {}) as Record<string, unknown>;
  const comparable = Object.fromEntries(Object.keys(status).map((k) => [k, current[k] ?? (k === 'observedGeneration' ? undefined : 0)]));
  if (!deepEqual(JSON.parse(JSON.stringify(status)), JSON.parse(JSON.stringify(comparable)))) {
    actions.push({ op: 'patch', gr: DAEMONSETS, namespace: ns, name: ds.metadata.name ?? '', patch: { status }, patchType: 'merge', subresource: 'status' });
  }
  return { actions, creates: createCount, deletes: deleteCount, hash, status };
}

export function daemonSetController(deps: ControllerDeps): Controller {
  const nodeInf = deps.informers.informer('nodes');
  const revInf = deps.informers.informer(CONTROLLERREVISIONS);
  const { controller, owners, ownerKeys } = podOwnerController(deps, {
    name: 'daemonset',
    resource: DAEMONSETS,
    kind: 'DaemonSet',
    plan: (ds, view) => ({
      ...reconcileDaemonSet({ ds, ...view, nodes: nodeInf.list() as Node[], revisions: revInf.list(ds.metadata.namespace) as Revision[] }),
      requeueAfterMs: minReadyRequeue((ds.spec as DaemonSetSpec).minReadySeconds),
    }),
  });
  enqueueMapped(revInf, controller.queue, ownerKeys);
  // A node joining, leaving or changing labels or taints concerns every DaemonSet.
  enqueueMapped(nodeInf, controller.queue, () => owners.list().map((d) => keyOf(d.metadata.namespace, d.metadata.name ?? '')));
  return controller;
}
