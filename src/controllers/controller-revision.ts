// ControllerRevisions of DaemonSets and StatefulSets: each pod template is
// stored once, as the strategic-merge patch `kubectl rollout history/undo`
// applies ({spec: {template: {..., $patch: replace}}}), named
// <owner>-<hash>, numbered in the order templates became current, and pruned
// to revisionHistoryLimit (never a revision a live pod still runs). Pure.
import type { KubeObject } from '../core/types.ts';
import { CONTROLLER_REVISION_HASH_LABEL, CONTROLLERREVISIONS } from '../core/well-known.ts';
import type { Action } from './actions.ts';
import { canonicalJson, isControlledBy, ownerRefTo, stableHash } from './objects.ts';

export type Revision = KubeObject & { data?: unknown; revision?: number };

/** What a revision stores for a template. */
export function revisionData(template: unknown): unknown {
  return { spec: { template: { ...(template as Record<string, unknown>), $patch: 'replace' } } };
}

/** The template hash a revision (and its pods) carry under controller-revision-hash. */
export function templateHash(template: unknown, collisionCount = 0): string {
  return stableHash({ template, collisionCount });
}

export interface RevisionPlan {
  /** The current template's hash and revision object name. */
  hash: string;
  name: string;
  /** Its revision number (existing or new). */
  revision: number;
  actions: Action[];
}

/**
 * The revision of `template` (reusing one with equal data, renumbered to the
 * newest when it was an older one: a rollback), and the old revisions to
 * delete beyond `historyLimit` (those no live pod's hash names). `revisions`
 * are the namespace's ControllerRevisions; only the owner's count.
 */
export function planRevisions(
  owner: KubeObject,
  revisions: readonly Revision[],
  template: unknown,
  liveHashes: ReadonlySet<string>,
  historyLimit: number,
): RevisionPlan {
  const owned = revisions.filter((r) => isControlledBy(r, owner));
  const hash = templateHash(template);
  const name = `${owner.metadata.name}-${hash}`;
  const ns = owner.metadata.namespace ?? '';
  const data = revisionData(template);
  const key = canonicalJson(data);
  const max = owned.reduce((m, r) => Math.max(m, r.revision ?? 0), 0);
  const actions: Action[] = [];
  const existing = owned.find((r) => r.metadata.name === name) ?? owned.find((r) => canonicalJson(r.data) === key);
  let revision: number;
  let current: string;
  if (existing) {
    current = existing.metadata.name ?? name;
    revision = existing.revision ?? 0;
    if (revision < max) {
      revision = max + 1;
      actions.push({ op: 'patch', gr: CONTROLLERREVISIONS, namespace: ns, name: current, patch: { revision }, patchType: 'merge' });
    }
  } else {
    current = name;
    revision = max + 1;
    const labels = { ...((template as { metadata?: { labels?: Record<string, string> } }).metadata?.labels ?? {}), [CONTROLLER_REVISION_HASH_LABEL]: hash };
    actions.push({
      op: 'create',
      gr: CONTROLLERREVISIONS,
      object: {
        apiVersion: 'apps/v1',
        kind: 'ControllerRevision',
        metadata: { name, namespace: ns, labels, ownerReferences: [ownerRefTo(owner)] },
        data,
        revision,
      } as Revision,
    });
  }
  const old = owned
    .filter((r) => r.metadata.name !== current && !liveHashes.has(r.metadata.labels?.[CONTROLLER_REVISION_HASH_LABEL] ?? '') && !liveHashes.has(r.metadata.name ?? ''))
    .sort((a, b) => (a.revision ?? 0) - (b.revision ?? 0));
  for (const r of old.slice(0, Math.max(0, old.length - historyLimit))) {
    actions.push({ op: 'delete', gr: CONTROLLERREVISIONS, namespace: ns, name: r.metadata.name ?? '', options: { preconditions: { uid: r.metadata.uid } } });
  }
  return { hash, name: current, revision, actions };
}
