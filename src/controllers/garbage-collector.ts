// Garbage collector: deletes dependents whose owners are all gone, and carries
// out the foregroundDeletion and orphan finalizers of owners being deleted.
import type { KubeObject, ObjectMeta, OwnerReference } from '../core/types.ts';
import { RESOURCES, groupResource, resourceForKind } from '../core/resources.ts';
import { applyActions, throwFirstError, type Action } from './actions.ts';
import { isBeingDeleted } from './objects.ts';
import type { Informer } from '../client/informer.ts';
import { newController, type Controller, type ControllerDeps } from './runtime.ts';

export const FOREGROUND = 'foregroundDeletion';
export const ORPHAN = 'orphan';
/** Kinds the collector watches: all but events (which nothing owns). */
export const GC_RESOURCES = RESOURCES.filter((r) => r.resource !== 'events').map(groupResource);

export interface Tracked {
  gr: string;
  obj: KubeObject;
}

export type GcDecision =
  /** Every owner is gone: delete it (after the shell confirms the owners are gone). */
  | { kind: 'delete'; gr: string; obj: KubeObject; missing: OwnerReference[]; propagation: 'Background' | 'Foreground' }
  /** Drop these owner references (owners gone while others remain, or orphaning). */
  | { kind: 'removeRefs'; gr: string; obj: KubeObject; uids: string[]; missing: OwnerReference[] }
  | { kind: 'removeFinalizer'; gr: string; obj: KubeObject; finalizer: string };

/** Owner references whose kind we know (others cannot be judged, so are never treated as gone). */
function judgeable(ref: OwnerReference): boolean {
  return resourceForKind(ref.apiVersion, ref.kind) !== undefined;
}

/** What the collector should do, given every object it watches. Pure. */
export function reconcileGarbage(objects: readonly Tracked[]): GcDecision[] {
  const byUid = new Map<string, Tracked>();
  for (const t of objects) if (t.obj.metadata.uid) byUid.set(t.obj.metadata.uid, t);
  const dependents = new Map<string, Tracked[]>();
  for (const t of objects) {
    for (const ref of t.obj.metadata.ownerReferences ?? []) {
      const list = dependents.get(ref.uid) ?? [];
      list.push(t);
      dependents.set(ref.uid, list);
    }
  }
  const out: GcDecision[] = [];
  const decided = new Set<string>();

  // Owners being deleted with a policy the collector carries out.
  for (const owner of objects) {
    if (!isBeingDeleted(owner.obj)) continue;
    const fins = owner.obj.metadata.finalizers ?? [];
    const uid = owner.obj.metadata.uid ?? '';
    const deps = dependents.get(uid) ?? [];
    if (fins.includes(ORPHAN)) {
      for (const d of deps) {
        decided.add(d.obj.metadata.uid ?? '');
        out.push({ kind: 'removeRefs', gr: d.gr, obj: d.obj, uids: [uid], missing: [] });
      }
      if (deps.length === 0) out.push({ kind: 'removeFinalizer', gr: owner.gr, obj: owner.obj, finalizer: ORPHAN });
    } else if (fins.includes(FOREGROUND)) {
      for (const d of deps) {
        decided.add(d.obj.metadata.uid ?? '');
        if (!isBeingDeleted(d.obj)) out.push({ kind: 'delete', gr: d.gr, obj: d.obj, missing: [], propagation: 'Foreground' });
      }
      const blocking = deps.filter((d) =>
        d.obj.metadata.ownerReferences?.some((r) => r.uid === uid && r.blockOwnerDeletion === true),
      );
      if (blocking.length === 0) out.push({ kind: 'removeFinalizer', gr: owner.gr, obj: owner.obj, finalizer: FOREGROUND });
    }
  }

  // Dependents whose owners are gone.
  for (const t of objects) {
    const refs = t.obj.metadata.ownerReferences ?? [];
    if (refs.length === 0 || decided.has(t.obj.metadata.uid ?? '') || isBeingDeleted(t.obj)) continue;
    const missing = refs.filter((r) => judgeable(r) && !byUid.has(r.uid));
    if (missing.length === 0) continue;
    if (missing.length === refs.length) {
      out.push({ kind: 'delete', gr: t.gr, obj: t.obj, missing, propagation: 'Background' });
    } else {
      out.push({ kind: 'removeRefs', gr: t.gr, obj: t.obj, uids: missing.map((r) => r.uid), missing });
    }
  }
  return out;
}

/** The action that carries out a decision. Pure. */
export function gcAction(d: GcDecision): Action {
  const ns = d.obj.metadata.namespace ?? '';
  const name = d.obj.metadata.name ?? '';
  switch (d.kind) {
    case 'delete':
      return { op: 'delete', gr: d.gr, namespace: ns, name, options: { propagationPolicy: d.propagation, preconditions: { uid: d.obj.metadata.uid } } };
    case 'removeRefs':
      return metadataPatch(d.gr, d.obj, { ownerReferences: (d.obj.metadata.ownerReferences ?? []).filter((r) => !d.uids.includes(r.uid)) });
    case 'removeFinalizer':
      return metadataPatch(d.gr, d.obj, { finalizers: (d.obj.metadata.finalizers ?? []).filter((f) => f !== d.finalizer) });
  }
}

/** A merge patch of some metadata fields, conditional on the version the decision was made on. */
function metadataPatch(gr: string, obj: KubeObject, fields: Partial<ObjectMeta>): Action {
  return {
    op: 'patch',
    gr,
    namespace: obj.metadata.namespace ?? '',
    name: obj.metadata.name ?? '',
    patch: { metadata: { resourceVersion: obj.metadata.resourceVersion, ...fields } },
    patchType: 'merge',
  };
}

export function garbageCollector(deps: ControllerDeps): Controller {
  const informers: [string, Informer][] = GC_RESOURCES.map((gr) => [gr, deps.informers.informer(gr)]);
  const log = deps.logger.child({ controller: 'garbage-collector' });
  const KEY = 'all';
  let interval: NodeJS.Timeout | undefined;

  /** An owner is gone only if a live read says so (the caches of different kinds lag differently). */
  const ownerGone = async (ref: OwnerReference, namespace: string): Promise<boolean> => {
    const info = resourceForKind(ref.apiVersion, ref.kind);
    if (!info) return false;
    const live = await deps.client.get(groupResource(info), info.namespaced ? namespace : '', ref.name);
    return !live || live.metadata.uid !== ref.uid;
  };

  const sync = async (): Promise<void> => {
    if (!informers.every(([, inf]) => inf.hasSynced())) return;
    const objects: Tracked[] = informers.flatMap(([gr, inf]) => inf.list().map((obj) => ({ gr, obj })));
    const actions: Action[] = [];
    for (const d of reconcileGarbage(objects)) {
      if (d.kind !== 'removeFinalizer' && d.missing.length > 0) {
        const gone = await Promise.all(d.missing.map((r) => ownerGone(r, d.obj.metadata.namespace ?? '')));
        if (!gone.every(Boolean)) continue;
      }
      actions.push(gcAction(d));
    }
    if (actions.length) log.debug({ count: actions.length }, 'collecting');
    throwFirstError(await applyActions(deps.client, actions, { logger: log, component: 'garbage-collector' }));
  };

  const controller = newController('garbage-collector', deps, sync, {
    workers: 1,
    // Coarse and safe: any change anywhere schedules one pass over everything.
    onStart: () => {
      interval = setInterval(() => controller.queue.add(KEY), 30_000);
      interval.unref();
      controller.queue.add(KEY);
    },
    onStop: () => clearInterval(interval),
  });
  for (const [, inf] of informers) {
    inf.addHandlers({
      onAdd: () => controller.queue.add(KEY),
      onUpdate: () => controller.queue.add(KEY),
      onDelete: () => controller.queue.add(KEY),
    });
  }
  return controller;
}
