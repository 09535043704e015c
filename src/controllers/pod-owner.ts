// The imperative shell the pod-owning controllers share (ReplicaSet, DaemonSet,
// StatefulSet, Job): one key per owner; its pure plan is made with the
// owner's namespace from the informer caches while no earlier create/delete is
// still unseen (expectations), carried out through applyActions, with a failed
// pod create/delete counted as seen; the owner is synced again when its plan
// asks (minReadySeconds, backoff, deadlines) and whenever one of its pods changes.
import type { KubeObject } from '../core/types.ts';
import { splitKey, type Informer } from '../client/informer.ts';
import { applyActions, throwFirstError, type Action } from './actions.ts';
import { Expectations } from './expectations.ts';
import { controllerKeyOf, controllerRef } from './objects.ts';
import { enqueueMapped, enqueueSelf, newController, type Controller, type ControllerDeps } from './runtime.ts';

/** What a pod-owning controller's pure reconcile returns. */
export interface PodOwnerPlan {
  actions: readonly Action[];
  /** Pods this plan creates and deletes (the expectations to see). */
  creates: number;
  deletes: number;
  /** Sync this owner again after this long. */
  requeueAfterMs?: number;
}

/** What the shell hands a plan: the pods of the owner's namespace, the time, and whether it may create or delete pods now. */
export interface OwnerView {
  pods: readonly KubeObject[];
  nowMs: number;
  /** False while an earlier create/delete is still unseen: create and delete no pods now. */
  expectationsSatisfied: boolean;
}

export interface PodOwnerOptions {
  /** The controller's name (`replicaset`): its log field, queue and `<name>-controller` event source. */
  name: string;
  /** The owners' group/resource (`replicasets.apps`). */
  resource: string;
  /** The owners' kind, and apiVersion when it must match too, as pods' controller references name them. */
  kind: string;
  apiVersion?: string;
  /** The plan for one owner, from the pods of its namespace (see OwnerView). */
  plan: (owner: KubeObject, view: OwnerView) => PodOwnerPlan;
  /** The clock (tests inject one). */
  now?: () => number;
  /** The owner keys a pod concerns when it has no controller (a ReplicaSet adopting orphans). */
  orphanKeys?: (pod: KubeObject) => string[];
}

export interface PodOwnerController {
  controller: Controller;
  owners: Informer;
  /** The key of the owner of this kind controlling an object, as a list (for enqueueMapped). */
  ownerKeys: (obj: KubeObject) => string[];
}

export function podOwnerController(deps: ControllerDeps, opts: PodOwnerOptions): PodOwnerController {
  const owners = deps.informers.informer(opts.resource);
  const pods = deps.informers.informer('pods');
  const expectations = new Expectations();
  const log = deps.logger.child({ controller: opts.name });
  const now = opts.now ?? Date.now;
  const ownerKeys = (o: KubeObject): string[] => {
    const k = controllerKeyOf(o, opts.kind, opts.apiVersion);
    return k ? [k] : [];
  };

  const sync = async (key: string): Promise<void> => {
    const { namespace, name } = splitKey(key);
    const owner = owners.getByName(namespace, name);
    if (!owner) {
      expectations.delete(key);
      return;
    }
    const plan = opts.plan(owner, { pods: pods.list(namespace), nowMs: now(), expectationsSatisfied: expectations.satisfied(key) });
    if (plan.creates || plan.deletes) expectations.expect(key, plan.creates, plan.deletes);
    const results = await applyActions(deps.client, plan.actions, { logger: log, component: `${opts.name}-controller` });
    for (const r of results) {
      if (r.error === undefined || !('gr' in r.action) || r.action.gr !== 'pods') continue;
      // A create or delete that failed will never be seen: it counts as seen.
      if (r.action.op === 'create') expectations.observe(key, 'add');
      if (r.action.op === 'delete') expectations.observe(key, 'delete');
    }
    throwFirstError(results);
    if (plan.requeueAfterMs !== undefined) controller.queue.addAfter(key, plan.requeueAfterMs);
  };

  const controller = newController(opts.name, deps, sync);
  enqueueSelf(owners, controller.queue);
  pods.addHandlers({
    onAdd: (pod) => ownerKeys(pod).forEach((k) => expectations.observe(k, 'add')),
    onDelete: (pod) => ownerKeys(pod).forEach((k) => expectations.observe(k, 'delete')),
  });
  const orphanKeys = opts.orphanKeys;
  enqueueMapped(pods, controller.queue, (pod) => (orphanKeys && !controllerRef(pod) ? orphanKeys(pod) : ownerKeys(pod)));
  return { controller, owners, ownerKeys };
}

/** A minReadySeconds wait as a requeue (availability changes with time alone), or none. */
export const minReadyRequeue = (minReadySeconds: number | undefined): number | undefined =>
  minReadySeconds !== undefined && minReadySeconds > 0 ? minReadySeconds * 1000 : undefined;
