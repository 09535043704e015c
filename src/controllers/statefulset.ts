// StatefulSet controller: pods <sts>-<ordinal> with stable identities
// (hostname = pod name, subdomain = serviceName, so <pod>.<svc> resolves
// through the headless Service's DNS records), created in ordinal order
// (OrderedReady: each Running and Ready before the next; Parallel: all at once),
// removed in reverse order, and rolled to a new template from the highest
// ordinal down to the partition, one pod at a time. Templates are kept as
// ControllerRevisions; status names the current and update revisions.
// reconcileStatefulSet is pure; the shell below feeds it the informer caches.
import type { KubeObject, LabelSelector } from '../core/types.ts';
import { deepEqual } from '../core/deep-equal.ts';
import { CONTROLLER_REVISION_HASH_LABEL, CONTROLLERREVISIONS, POD_INDEX_LABEL, STATEFULSET_POD_NAME_LABEL, STATEFULSETS } from '../core/well-known.ts';
import type { Action } from './actions.ts';
import { planRevisions, type Revision } from './controller-revision.ts';
import { isBeingDeleted, isControlledBy, isPodAvailable, isPodReady, ownerRefTo, podPhase } from './objects.ts';
import { minReadyRequeue, podOwnerController } from './pod-owner.ts';
import { enqueueMapped, type Controller, type ControllerDeps } from './runtime.ts';

interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
}

interface StatefulSetSpec {
  replicas?: number;
  selector?: LabelSelector;
  template?: PodTemplate;
  serviceName?: string;
  podManagementPolicy?: 'OrderedReady' | 'Parallel';
  updateStrategy?: { type?: 'RollingUpdate' | 'OnDelete'; rollingUpdate?: { partition?: number } };
  minReadySeconds?: number;
  revisionHistoryLimit?: number;
  ordinals?: { start?: number };
}

export interface StatefulSetStatus {
  replicas: number;
  readyReplicas: number;
  availableReplicas: number;
  currentReplicas: number;
  updatedReplicas: number;
  currentRevision: string;
  updateRevision: string;
  collisionCount: number;
  observedGeneration?: number;
}

export interface StatefulSetSnapshot {
  sts: KubeObject;
  /** Pods of the StatefulSet's namespace. */
  pods: readonly KubeObject[];
  /** ControllerRevisions of the namespace. */
  revisions: readonly Revision[];
  nowMs: number;
  expectationsSatisfied: boolean;
}

export interface StatefulSetPlan {
  actions: Action[];
  creates: number;
  deletes: number;
  status: StatefulSetStatus;
}

/** The ordinal of `<sts>-<n>`, or undefined for any other name. */
export function ordinalOf(sts: KubeObject, podName: string): number | undefined {
  const prefix = `${sts.metadata.name}-`;
  if (!podName.startsWith(prefix)) return undefined;
  const rest = podName.slice(prefix.length);
  return /^(0|[1-9]\d*)$/.test(rest) ? Number(rest) : undefined;
}

/** The pod of one ordinal, from a template, labelled with its revision's name. */
export function statefulPod(sts: KubeObject, template: PodTemplate, ordinal: number, revision: string): KubeObject {
  const spec = sts.spec as StatefulSetSpec;
  const name = `${sts.metadata.name}-${ordinal}`;
  const podSpec = structuredClone(template.spec ?? {});
  podSpec.hostname = name;
  if (spec.serviceName) podSpec.subdomain = spec.serviceName;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: sts.metadata.namespace,
      labels: {
        ...(template.metadata?.labels ?? {}),
        [CONTROLLER_REVISION_HASH_LABEL]: revision,
        [STATEFULSET_POD_NAME_LABEL]: name,
        [POD_INDEX_LABEL]: String(ordinal),
      },
      ...(template.metadata?.annotations ? { annotations: { ...template.metadata.annotations } } : {}),
      ownerReferences: [ownerRefTo(sts)],
    },
    spec: podSpec,
  };
}

/** The template a revision stores. */
function revisionTemplate(rev: Revision | undefined): PodTemplate | undefined {
  const t = (rev?.data as { spec?: { template?: Record<string, unknown> } } | undefined)?.spec?.template;
  if (!t) return undefined;
  const { $patch: _patch, ...template } = t;
  return template as PodTemplate;
}

const healthy = (p: KubeObject): boolean => podPhase(p) === 'Running' && isPodReady(p) && !isBeingDeleted(p);
const revisionOf = (p: KubeObject): string => p.metadata.labels?.[CONTROLLER_REVISION_HASH_LABEL] ?? '';

/** What to do for one StatefulSet. Pure. */
export function reconcileStatefulSet(s: StatefulSetSnapshot): StatefulSetPlan {
  const { sts, nowMs } = s;
  const spec = sts.spec as StatefulSetSpec;
  const ns = sts.metadata.namespace ?? '';
  const replicas = spec.replicas ?? 1;
  const start = spec.ordinals?.start ?? 0;
  const parallel = spec.podManagementPolicy === 'Parallel';
  const rolling = (spec.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
  const partition = spec.updateStrategy?.rollingUpdate?.partition ?? 0;
  const prior = (sts.status ?? {}) as Partial<StatefulSetStatus>;

  const mine = s.pods.filter((p) => (p.metadata.namespace ?? '') === ns && isControlledBy(p, sts) && ordinalOf(sts, p.metadata.name ?? '') !== undefined);
  const live = new Set(mine.map(revisionOf));
  const rev = planRevisions(sts, s.revisions, spec.template ?? {}, new Set([...live, prior.currentRevision ?? '']), spec.revisionHistoryLimit ?? 10);
  const updateRevision = rev.name;
  const owned = s.revisions.filter((r) => isControlledBy(r, sts));
  const currentRevision = prior.currentRevision && owned.some((r) => r.metadata.name === prior.currentRevision) ? prior.currentRevision : updateRevision;
  const currentTemplate = revisionTemplate(owned.find((r) => r.metadata.name === currentRevision)) ?? spec.template ?? {};
  const deleting = isBeingDeleted(sts);
  const actions: Action[] = deleting ? [] : [...rev.actions];

  const slots: (KubeObject | undefined)[] = Array.from({ length: replicas }, () => undefined);
  const condemned: KubeObject[] = [];
  for (const p of mine) {
    const ord = ordinalOf(sts, p.metadata.name ?? '') ?? -1;
    if (ord >= start && ord < start + replicas) slots[ord - start] = p;
    else condemned.push(p);
  }
  condemned.sort((a, b) => (ordinalOf(sts, b.metadata.name ?? '') ?? 0) - (ordinalOf(sts, a.metadata.name ?? '') ?? 0));

  const creates: KubeObject[] = [];
  const deletes: KubeObject[] = [];
  const newPod = (ordinal: number): KubeObject =>
    rolling && ordinal - start < partition && currentRevision !== updateRevision
      ? statefulPod(sts, currentTemplate, ordinal, currentRevision)
      : statefulPod(sts, spec.template ?? {}, ordinal, updateRevision);

  // Replicas in ordinal order; OrderedReady stops at the first that is not yet healthy.
  let blocked = false;
  for (let i = 0; i < replicas && !blocked; i++) {
    const p = slots[i];
    if (!p) {
      creates.push(newPod(start + i));
      if (!parallel) blocked = true;
      continue;
    }
    if (!isBeingDeleted(p) && (podPhase(p) === 'Failed' || podPhase(p) === 'Succeeded')) {
      deletes.push(p); // recreated under the same name on a later sync
      if (!parallel) blocked = true;
      continue;
    }
    if (!parallel && !healthy(p)) blocked = true;
  }
  // Condemned pods, highest ordinal first; OrderedReady: one at a time, once the rest are healthy.
  if (!blocked) {
    for (const p of condemned) {
      if (isBeingDeleted(p)) {
        if (!parallel) { blocked = true; break; }
        continue;
      }
      deletes.push(p);
      if (!parallel) { blocked = true; break; }
    }
  }
  // Rolling update: highest ordinal down to the partition, one pod at a time.
  if (!blocked && rolling && slots.every((p) => p !== undefined)) {
    for (let i = replicas - 1; i >= partition; i--) {
      const p = slots[i] as KubeObject;
      if (revisionOf(p) !== updateRevision && !isBeingDeleted(p)) {
        deletes.push(p);
        break;
      }
      if (!healthy(p)) break;
    }
  }

  let createCount = 0;
  let deleteCount = 0;
  if (!deleting && s.expectationsSatisfied) {
    for (const p of creates) {
      actions.push({ op: 'create', gr: 'pods', object: p });
      actions.push({ op: 'event', regarding: sts, type: 'Normal', reason: 'SuccessfulCreate', message: `create Pod ${p.metadata.name} in StatefulSet ${sts.metadata.name} successful` });
    }
    for (const p of deletes) {
      actions.push({ op: 'delete', gr: 'pods', namespace: ns, name: p.metadata.name ?? '', options: { preconditions: { uid: p.metadata.uid } } });
      actions.push({ op: 'event', regarding: sts, type: 'Normal', reason: 'SuccessfulDelete', message: `delete Pod ${p.metadata.name} in StatefulSet ${sts.metadata.name} successful` });
    }
    createCount = creates.length;
    deleteCount = deletes.length;
  }

  const counted = slots.filter((p): p is KubeObject => p !== undefined && !isBeingDeleted(p));
  const status: StatefulSetStatus = {
    replicas: mine.filter((p) => !isBeingDeleted(p)).length,
    readyReplicas: counted.filter(isPodReady).length,
    availableReplicas: counted.filter((p) => isPodAvailable(p, spec.minReadySeconds ?? 0, nowMs)).length,
    currentReplicas: counted.filter((p) => revisionOf(p) === currentRevision).length,
    updatedReplicas: counted.filter((p) => revisionOf(p) === updateRevision).length,
    currentRevision,
    updateRevision,
    collisionCount: prior.collisionCount ?? 0,
  };
  // A finished rollout makes the update revision current.
  if (status.updatedReplicas === replicas && status.readyReplicas === replicas && status.replicas === replicas) {
    status.currentRevision = updateRevision;
    status.currentReplicas = status.updatedReplicas;
  }
  if (sts.metadata.generation !== undefined) status.observedGeneration = sts.metadata.generation;
  const comparable = Object.fromEntries(Object.keys(status).map((k) => [k, (prior as Record<string, unknown>)[k]]));
  if (!deepEqual(status, comparable)) {
    actions.push({ op: 'patch', gr: STATEFULSETS, namespace: ns, name: sts.metadata.name ?? '', patch: { status }, patchType: 'merge', subresource: 'status' });
  }
  return { actions, creates: createCount, deletes: deleteCount, status };
}

export function statefulSetController(deps: ControllerDeps): Controller {
  const revInf = deps.informers.informer(CONTROLLERREVISIONS);
  const { controller, ownerKeys } = podOwnerController(deps, {
    name: 'statefulset',
    resource: STATEFULSETS,
    kind: 'StatefulSet',
    plan: (sts, view) => ({
      ...reconcileStatefulSet({ sts, ...view, revisions: revInf.list(sts.metadata.namespace) as Revision[] }),
      requeueAfterMs: minReadyRequeue((sts.spec as StatefulSetSpec).minReadySeconds),
    }),
  });
  enqueueMapped(revInf, controller.queue, ownerKeys);
  return controller;
}
