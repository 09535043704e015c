// The disruption controller: keeps each PodDisruptionBudget's status
// (currentHealthy, desiredHealthy, expectedPods, disruptionsAllowed, the
// DisruptionAllowed condition) from the pods it covers. The arithmetic is
// src/core/disruption.ts; this is the shell (informers → status writes).
import { keyOf, splitKey } from '../client/informer.ts';
import { deepEqual } from '../core/deep-equal.ts';
import { budgetStatus, DISRUPTED_POD_TIMEOUT_MS, needsControllerScale, pdbCovers } from '../core/disruption.ts';
import type { KubeObject } from '../core/types.ts';
import { DEPLOYMENTS, PODDISRUPTIONBUDGETS, REPLICASETS, STATEFULSETS } from '../core/well-known.ts';
import { applyActions, throwFirstError } from './actions.ts';
import { controllerRef, mergeCondition, type Condition } from './objects.ts';
import { enqueueMapped, enqueueSelf, newController, type Controller, type ControllerDeps } from './runtime.ts';

function replicasOf(obj: KubeObject | undefined): number | undefined {
  const r = (obj?.spec as { replicas?: unknown } | undefined)?.replicas;
  return typeof r === 'number' ? r : obj ? 1 : undefined;
}

export function disruptionController(deps: ControllerDeps, opts: { now?: () => number } = {}): Controller {
  const now = opts.now ?? Date.now;
  const pdbInf = deps.informers.informer(PODDISRUPTIONBUDGETS);
  const podInf = deps.informers.informer('pods');
  const rsInf = deps.informers.informer(REPLICASETS);
  const deployInf = deps.informers.informer(DEPLOYMENTS);
  const stsInf = deps.informers.informer(STATEFULSETS);
  const log = deps.logger.child({ controller: 'disruption' });

  /**
   * The scale (spec.replicas) of the controllers of `pods`, by controller uid, read
   * from the informers: a ReplicaSet's (its Deployment's when it has one, as
   * upstream) and a StatefulSet's. Pods of other controllers count one each.
   */
  const scales = (pods: readonly KubeObject[]): Map<string, number> => {
    const out = new Map<string, number>();
    for (const pod of pods) {
      const ref = controllerRef(pod);
      if (!ref || out.has(ref.uid)) continue;
      const ns = pod.metadata.namespace;
      let scale: number | undefined;
      if (ref.kind === 'ReplicaSet') {
        const rs = rsInf.getByName(ns, ref.name);
        if (rs?.metadata.uid !== ref.uid) continue;
        const dref = controllerRef(rs);
        const deploy = dref?.kind === 'Deployment' ? deployInf.getByName(ns, dref.name) : undefined;
        scale = deploy && deploy.metadata.uid === dref?.uid ? replicasOf(deploy) : replicasOf(rs);
      } else if (ref.kind === 'StatefulSet') {
        const sts = stsInf.getByName(ns, ref.name);
        if (sts?.metadata.uid === ref.uid) scale = replicasOf(sts);
      }
      if (scale !== undefined) out.set(ref.uid, scale);
    }
    return out;
  };

  const sync = async (key: string): Promise<void> => {
    const { namespace, name } = splitKey(key);
    const pdb = pdbInf.getByName(namespace, name);
    if (!pdb) return;
    const pods = podInf.list(namespace);
    const covered = pods.filter((p) => pdbCovers(pdb, p));
    const nowMs = now();
    const computed = budgetStatus({ pdb, pods, controllerScale: needsControllerScale(pdb) ? scales(covered) : new Map(), nowMs });
    const old = (pdb.status ?? {}) as { conditions?: Condition[] };
    const conditions = mergeCondition(old.conditions, computed.conditions[0], new Date(nowMs).toISOString());
    const status = { ...computed, conditions };
    if (computed.disruptedPods) controller.queue.addAfter(key, DISRUPTED_POD_TIMEOUT_MS + 1000);
    if (deepEqual(pdb.status, status)) return;
    const results = await applyActions(deps.client, [{ op: 'update', gr: PODDISRUPTIONBUDGETS, subresource: 'status', object: { ...pdb, status } }], {
      logger: log,
      component: 'disruption-controller',
    });
    throwFirstError(results);
  };

  const controller = newController('disruption', deps, sync);
  enqueueSelf(pdbInf, controller.queue);
  enqueueMapped(podInf, controller.queue, (pod) =>
    pdbInf.list(pod.metadata.namespace).filter((b) => pdbCovers(b, pod)).map((b) => keyOf(b.metadata.namespace, b.metadata.name ?? '')),
  );
  // A controller's scale changes expectedPods of the budgets over its pods.
  const byPodsOf = (owner: KubeObject): string[] =>
    pdbInf.list(owner.metadata.namespace).filter(needsControllerScale).map((b) => keyOf(b.metadata.namespace, b.metadata.name ?? ''));
  enqueueMapped(rsInf, controller.queue, byPodsOf);
  enqueueMapped(deployInf, controller.queue, byPodsOf);
  enqueueMapped(stsInf, controller.queue, byPodsOf);
  return controller;
}
