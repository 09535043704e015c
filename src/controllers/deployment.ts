// Deployment controller: one ReplicaSet per pod template (named by the
// template's hash), rolled from old to new by RollingUpdate or Recreate.
import type { KubeObject, LabelSelector } from '../core/types.ts';
import { keyOf, splitKey } from '../client/informer.ts';
import { deepEqual } from '../core/deep-equal.ts';
import { kubeTime } from '../core/time.ts';
import { applyActions, exceptAlreadyCreated, throwFirstError, type Action } from './actions.ts';
import {
  byAge,
  controllerRef,
  isBeingDeleted,
  isControlledBy,
  mergeCondition,
  ownerRefTo,
  selects,
  stableHash,
  canonicalJson,
  type Condition,
} from './objects.ts';
import { enqueueMapped, enqueueSelf, newController, type Controller, type ControllerDeps } from './runtime.ts';
import {
  DEPLOYMENTS,
  DEPLOYMENT_REVISION_ANNOTATION as REVISION_ANNOTATION,
  DESIRED_REPLICAS_ANNOTATION,
  POD_TEMPLATE_HASH_LABEL as HASH_LABEL,
  REPLICASETS,
} from '../core/well-known.ts';


type IntOrPercent = number | string;

interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: unknown;
}

interface DeploymentSpec {
  replicas?: number;
  selector?: LabelSelector;
  template?: PodTemplate;
  strategy?: { type?: 'RollingUpdate' | 'Recreate'; rollingUpdate?: { maxSurge?: IntOrPercent; maxUnavailable?: IntOrPercent } };
  minReadySeconds?: number;
  revisionHistoryLimit?: number;
  paused?: boolean;
}

interface RsSpec {
  replicas?: number;
  selector?: LabelSelector;
  template?: PodTemplate;
}

interface RsStatus {
  replicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
}

export interface DeploymentStatus {
  observedGeneration?: number;
  replicas: number;
  updatedReplicas: number;
  readyReplicas: number;
  availableReplicas: number;
  unavailableReplicas: number;
  conditions: Condition[];
  collisionCount?: number;
}

export interface DeploymentSnapshot {
  deployment: KubeObject;
  /** ReplicaSets of the deployment's namespace. */
  replicaSets: readonly KubeObject[];
  nowMs: number;
}

/** maxSurge/maxUnavailable as numbers of pods (percent: surge rounds up, unavailable down, like k8s). */
export function resolveIntOrPercent(value: IntOrPercent | undefined, total: number, roundUp: boolean, dflt: IntOrPercent): number {
  const v = value ?? dflt;
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  if (!m) return Number.parseInt(v, 10) || 0;
  const exact = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

export function rollingParams(d: KubeObject): { maxSurge: number; maxUnavailable: number } {
  const spec = d.spec as DeploymentSpec;
  const replicas = spec.replicas ?? 1;
  if (spec.strategy?.type === 'Recreate') return { maxSurge: 0, maxUnavailable: 0 };
  const ru = spec.strategy?.rollingUpdate;
  const maxSurge = resolveIntOrPercent(ru?.maxSurge, replicas, true, '25%');
  let maxUnavailable = resolveIntOrPercent(ru?.maxUnavailable, replicas, false, '25%');
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  return { maxSurge, maxUnavailable: Math.min(maxUnavailable, replicas) };
}

function withoutHash(template: PodTemplate | undefined): PodTemplate {
  const t = structuredClone(template ?? {});
  if (t.metadata?.labels) {
    delete t.metadata.labels[HASH_LABEL];
    if (Object.keys(t.metadata.labels).length === 0) delete t.metadata.labels;
  }
  return t;
}

/** The pod-template-hash of a deployment's template. */
export function podTemplateHash(template: PodTemplate | undefined, collisionCount = 0): string {
  return stableHash({ template: withoutHash(template), collisionCount });
}

function revisionOf(rs: KubeObject): number {
  return Number(rs.metadata.annotations?.[REVISION_ANNOTATION] ?? 0) || 0;
}

const specReplicas = (rs: KubeObject): number => (rs.spec as RsSpec).replicas ?? 0;
const st = (rs: KubeObject): RsStatus => (rs.status ?? {}) as RsStatus;

function newReplicaSet(d: KubeObject, hash: string, replicas: number, revision: number): KubeObject {
  const spec = d.spec as DeploymentSpec;
  const template = structuredClone(spec.template ?? {});
  template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [HASH_LABEL]: hash } };
  const selector: LabelSelector = structuredClone(spec.selector ?? {});
  selector.matchLabels = { ...(selector.matchLabels ?? {}), [HASH_LABEL]: hash };
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `${d.metadata.name}-${hash}`,
      namespace: d.metadata.namespace,
      labels: { ...(template.metadata.labels ?? {}) },
      annotations: {
        [REVISION_ANNOTATION]: String(revision),
        [DESIRED_REPLICAS_ANNOTATION]: String(spec.replicas ?? 1),
      },
      ownerReferences: [ownerRefTo(d)],
    },
    spec: { replicas, minReadySeconds: spec.minReadySeconds ?? 0, selector, template },
  };
}

function scaleAction(d: KubeObject, rs: KubeObject, from: number, to: number): Action[] {
  return [
    {
      op: 'patch',
      gr: REPLICASETS,
      namespace: rs.metadata.namespace ?? '',
      name: rs.metadata.name ?? '',
      patch: { spec: { replicas: to } },
      patchType: 'merge',
    },
    {
      op: 'event',
      regarding: d,
      type: 'Normal',
      reason: 'ScalingReplicaSet',
      message: `Scaled ${to > from ? 'up' : 'down'} replica set ${rs.metadata.name} from ${from} to ${to}`,
    },
  ];
}

/** What to do for one Deployment. Pure. */
export function reconcileDeployment(s: DeploymentSnapshot): Action[] {
  const d = s.deployment;
  const spec = d.spec as DeploymentSpec;
  const ns = d.metadata.namespace ?? '';
  const name = d.metadata.name ?? '';
  const replicas = spec.replicas ?? 1;
  const now = kubeTime(s.nowMs);
  const actions: Action[] = [];
  if (isBeingDeleted(d)) return actions;

  // Ownership: ours, plus orphans our selector matches.
  const owned: KubeObject[] = [];
  for (const rs of s.replicaSets) {
    if ((rs.metadata.namespace ?? '') !== ns || isBeingDeleted(rs)) continue;
    if (isControlledBy(rs, d)) owned.push(rs);
    else if (!controllerRef(rs) && selects(spec.selector, rs.metadata.labels)) {
      actions.push({
        op: 'patch',
        gr: REPLICASETS,
        namespace: ns,
        name: rs.metadata.name ?? '',
        patch: { metadata: { ownerReferences: [...(rs.metadata.ownerReferences ?? []), ownerRefTo(d)] } },
        patchType: 'merge',
      });
      owned.push(rs);
    }
  }

  const status0 = (d.status ?? {}) as Partial<DeploymentStatus>;
  const hash = podTemplateHash(spec.template, status0.collisionCount ?? 0);
  const templateKey = canonicalJson(withoutHash(spec.template));
  let newRS =
    owned.find((rs) => rs.metadata.labels?.[HASH_LABEL] === hash) ??
    owned.find((rs) => canonicalJson(withoutHash((rs.spec as RsSpec).template)) === templateKey);
  const oldRSs = owned.filter((rs) => rs !== newRS).sort(byAge);
  const maxOldRevision = oldRSs.reduce((m, rs) => Math.max(m, revisionOf(rs)), 0);
  // Planned replica counts, updated as we decide.
  const planned = new Map<KubeObject, number>(owned.map((rs) => [rs, specReplicas(rs)]));
  const scale = (rs: KubeObject, to: number): void => {
    const from = planned.get(rs) ?? 0;
    if (to === from) return;
    planned.set(rs, to);
    if (rs.metadata.uid !== undefined) actions.push(...scaleAction(d, rs, from, to));
  };

  const recreate = spec.strategy?.type === 'Recreate';
  const { maxSurge, maxUnavailable } = rollingParams(d);
  let createdNew = false;

  if (!newRS && !spec.paused) {
    const oldPods = oldRSs.some((rs) => specReplicas(rs) > 0 || (st(rs).replicas ?? 0) > 0);
    let initial: number;
    if (recreate) initial = oldPods ? 0 : replicas;
    else {
      const total = oldRSs.reduce((n, rs) => n + specReplicas(rs), 0);
      initial = Math.max(0, Math.min(replicas + maxSurge - total, replicas));
    }
    const rs = newReplicaSet(d, hash, initial, maxOldRevision + 1);
    actions.push({ op: 'create', gr: REPLICASETS, object: rs });
    if (initial > 0) {
      actions.push({ op: 'event', regarding: d, type: 'Normal', reason: 'ScalingReplicaSet', message: `Scaled up replica set ${rs.metadata.name} from 0 to ${initial}` });
    }
    newRS = rs;
    planned.set(rs, initial);
    createdNew = true;
  } else if (newRS && revisionOf(newRS) <= maxOldRevision) {
    // A rollback to an older template: it becomes the newest revision.
    actions.push({
      op: 'patch',
      gr: REPLICASETS,
      namespace: ns,
      name: newRS.metadata.name ?? '',
      patch: { metadata: { annotations: { [REVISION_ANNOTATION]: String(maxOldRevision + 1) } } },
      patchType: 'merge',
    });
  }

  if (newRS && !createdNew) {
    if (spec.paused) {
      // Paused: only follow spec.replicas on the current ReplicaSet when nothing else runs.
      if (oldRSs.every((rs) => specReplicas(rs) === 0)) scale(newRS, replicas);
    } else if (recreate) {
      for (const rs of oldRSs) scale(rs, 0);
      const oldRunning = oldRSs.some((rs) => specReplicas(rs) > 0 || (st(rs).replicas ?? 0) > 0);
      if (!oldRunning) scale(newRS, replicas);
    } else {
      const sum = (): number => [...planned.values()].reduce((a, b) => a + b, 0);
      // Scale up the new ReplicaSet within the surge budget (or down when it has too many).
      const cur = planned.get(newRS) ?? 0;
      if (cur > replicas) scale(newRS, replicas);
      else if (cur < replicas) {
        const room = replicas + maxSurge - sum();
        if (room > 0) scale(newRS, cur + Math.min(room, replicas - cur));
      }
      // Scale down old ReplicaSets as far as availability allows.
      const minAvailable = replicas - maxUnavailable;
      const newUnavailable = Math.max(0, (planned.get(newRS) ?? 0) - (st(newRS).availableReplicas ?? 0));
      let budget = sum() - minAvailable - newUnavailable;
      // First the old pods that are not available anyway.
      for (const rs of oldRSs) {
        if (budget <= 0) break;
        const p = planned.get(rs) ?? 0;
        const unhealthy = Math.max(0, p - (st(rs).availableReplicas ?? 0));
        const down = Math.min(unhealthy, budget, p);
        if (down > 0) {
          scale(rs, p - down);
          budget -= down;
        }
      }
      // Then available ones, keeping minAvailable. A ReplicaSet whose status is older than its last scale-down
      // still counts the pods it is about to delete: at most its replicas stay available.
      const available = owned.reduce((n, rs) => n + Math.min(st(rs).availableReplicas ?? 0, specReplicas(rs)), 0);
      let canRemove = available - minAvailable;
      for (const rs of oldRSs) {
        if (canRemove <= 0) break;
        const p = planned.get(rs) ?? 0;
        const down = Math.min(p, canRemove);
        if (down > 0) {
          scale(rs, p - down);
          canRemove -= down;
        }
      }
    }
  }

  // Revision history: drop the oldest fully scaled-down ReplicaSets beyond the limit.
  const limit = spec.revisionHistoryLimit ?? 10;
  const idle = oldRSs
    .filter((rs) => (planned.get(rs) ?? 0) === 0 && (st(rs).replicas ?? 0) === 0)
    .sort((a, b) => revisionOf(a) - revisionOf(b));
  for (const rs of idle.slice(0, Math.max(0, idle.length - limit))) {
    actions.push({ op: 'delete', gr: REPLICASETS, namespace: ns, name: rs.metadata.name ?? '', options: { propagationPolicy: 'Background', preconditions: { uid: rs.metadata.uid } } });
  }

  // Status, from what the ReplicaSets report.
  const all = newRS ? [newRS, ...oldRSs] : oldRSs;
  const sumOf = (f: (rs: KubeObject) => number): number => all.reduce((n, rs) => n + f(rs), 0);
  const newStatus = newRS && !createdNew ? st(newRS) : {};
  const totalSpec = all.reduce((n, rs) => n + (planned.get(rs) ?? 0), 0);
  const available = sumOf((rs) => st(rs).availableReplicas ?? 0);
  const status: DeploymentStatus = {
    replicas: sumOf((rs) => st(rs).replicas ?? 0),
    updatedReplicas: newStatus.replicas ?? 0,
    readyReplicas: sumOf((rs) => st(rs).readyReplicas ?? 0),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, totalSpec - available),
    conditions: status0.conditions ?? [],
  };
  if (d.metadata.generation !== undefined) status.observedGeneration = d.metadata.generation;
  if (status0.collisionCount !== undefined) status.collisionCount = status0.collisionCount;
  const minAvailable = replicas - maxUnavailable;
  status.conditions = mergeCondition(
    status.conditions,
    available >= minAvailable
      ? { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.', lastUpdateTime: now }
      : { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.', lastUpdateTime: now },
    now,
  );
  const rsName = newRS?.metadata.name ?? '';
  const complete =
    newRS !== undefined &&
    status.updatedReplicas === replicas &&
    status.replicas === replicas &&
    available >= replicas &&
    oldRSs.every((rs) => (planned.get(rs) ?? 0) === 0);
  let progressing: Condition;
  if (spec.paused) progressing = { type: 'Progressing', status: 'Unknown', reason: 'DeploymentPaused', message: 'Deployment is paused', lastUpdateTime: now };
  else if (createdNew) progressing = { type: 'Progressing', status: 'True', reason: 'NewReplicaSetCreated', message: `Created new replica set "${rsName}"`, lastUpdateTime: now };
  else if (complete) progressing = { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${rsName}" has successfully progressed.`, lastUpdateTime: now };
  else progressing = { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: `ReplicaSet "${rsName}" is progressing.`, lastUpdateTime: now };
  status.conditions = mergeCondition(status.conditions, progressing, now);

  // Compare only the fields this controller writes (the server may keep others).
  const current: Record<string, unknown> = { unavailableReplicas: 0, replicas: 0, updatedReplicas: 0, readyReplicas: 0, availableReplicas: 0 };
  for (const k of Object.keys(status)) if ((status0 as Record<string, unknown>)[k] !== undefined) current[k] = (status0 as Record<string, unknown>)[k];
  if (!deepEqual(status, current)) {
    actions.push({ op: 'patch', gr: DEPLOYMENTS, namespace: ns, name, patch: { status }, patchType: 'merge', subresource: 'status' });
  }
  return actions;
}

export function deploymentController(deps: ControllerDeps): Controller {
  const depInf = deps.informers.informer(DEPLOYMENTS);
  const rsInf = deps.informers.informer(REPLICASETS);
  const log = deps.logger.child({ controller: 'deployment' });

  const sync = async (key: string): Promise<void> => {
    const { namespace, name } = splitKey(key);
    const d = depInf.getByName(namespace, name);
    if (!d) return;
    const actions = reconcileDeployment({ deployment: d, replicaSets: rsInf.list(namespace), nowMs: Date.now() });
    throwFirstError(exceptAlreadyCreated(await applyActions(deps.client, actions, { logger: log, component: 'deployment-controller' })));
  };

  const controller = newController('deployment', deps, sync);
  enqueueSelf(depInf, controller.queue);
  enqueueMapped(rsInf, controller.queue, (rs) => {
    const ref = controllerRef(rs);
    const ns = rs.metadata.namespace ?? '';
    if (ref) return ref.kind === 'Deployment' ? [keyOf(ns, ref.name)] : [];
    return depInf
      .list(ns)
      .filter((d) => selects((d.spec as DeploymentSpec).selector, rs.metadata.labels))
      .map((d) => keyOf(ns, d.metadata.name ?? ''));
  });
  return controller;
}
