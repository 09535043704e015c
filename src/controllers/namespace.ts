// Namespace controller: empties a namespace being deleted, then releases its
// `kubernetes` finalizer so the API server removes it.
import type { KubeObject } from '../core/types.ts';
import { RESOURCES, groupResource } from '../core/resources.ts';
import { applyActions, throwFirstError, type Action } from './actions.ts';
import { isBeingDeleted } from './objects.ts';
import { enqueueSelf, newController, type Controller, type ControllerDeps } from './runtime.ts';
import type { Tracked } from './garbage-collector.ts';

export const NAMESPACED_RESOURCES = RESOURCES.filter((r) => r.namespaced).map(groupResource);
export const FINALIZER = 'kubernetes';

function terminating(ns: KubeObject): boolean {
  return isBeingDeleted(ns) || (ns.status as { phase?: string } | undefined)?.phase === 'Terminating';
}

/** What to do for one namespace, given everything still in it. Pure. */
export function reconcileNamespace(ns: KubeObject, contents: readonly Tracked[]): Action[] {
  if (!terminating(ns)) return [];
  const name = ns.metadata.name ?? '';
  const left = contents.filter((t) => t.obj.metadata.namespace === name);
  if (left.length > 0) {
    return left
      .filter((t) => !isBeingDeleted(t.obj))
      .map((t) => ({
        op: 'delete' as const,
        gr: t.gr,
        namespace: name,
        name: t.obj.metadata.name ?? '',
        options: { propagationPolicy: 'Background' as const },
      }));
  }
  const finalizers = ((ns.spec as { finalizers?: string[] } | undefined)?.finalizers) ?? [];
  if (finalizers.includes(FINALIZER)) {
    return [{ op: 'finalize', object: { ...ns, spec: { ...(ns.spec as object), finalizers: finalizers.filter((f) => f !== FINALIZER) } } }];
  }
  // Finalized: a delete now removes it, unless other finalizers still hold it.
  if (finalizers.length === 0 && (ns.metadata.finalizers ?? []).length === 0) {
    return [{ op: 'delete', gr: 'namespaces', namespace: '', name }];
  }
  return [];
}

export function namespaceController(deps: ControllerDeps): Controller {
  const nsInf = deps.informers.informer('namespaces');
  const log = deps.logger.child({ controller: 'namespace' });

  const sync = async (key: string): Promise<void> => {
    const ns = nsInf.getByName(undefined, key);
    if (!ns || !terminating(ns)) return;
    // Live lists, not caches: finalizing must never leave anything behind.
    const contents: Tracked[] = [];
    for (const gr of NAMESPACED_RESOURCES) {
      const { items } = await deps.client.list(gr, { namespace: key });
      for (const obj of items) contents.push({ gr, obj });
    }
    const actions = reconcileNamespace(ns, contents);
    throwFirstError(await applyActions(deps.client, actions, { logger: log, component: 'namespace-controller' }));
    // Objects held by finalizers or grace periods: look again shortly.
    if (contents.length > 0) controller.queue.addAfter(key, 1000);
  };

  const controller = newController('namespace', deps, sync);
  enqueueSelf(nsInf, controller.queue);
  return controller;
}
