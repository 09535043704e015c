// The state of one kind at an older resourceVersion, rebuilt from the state now
// and the events since: what a continued list needs to stay one consistent
// snapshot on any server sharing the store. Pure.
import type { KubeObject } from '../core/types.ts';

/** The first change to a key after the version we want. */
export interface FirstChange {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  /** The object as it was before that change (the event at the change's previous version); absent for ADDED. */
  before?: KubeObject;
}

export function objectKey(obj: KubeObject): string {
  return `${obj.metadata.namespace ?? ''}/${obj.metadata.name ?? ''}`;
}

/**
 * Items at the older version: every key changed since is replaced by what it was
 * before its first change (gone if that change created it), every other key is as
 * it is now. Sorted by key, as lists are. Throws when a modified or deleted key has
 * no earlier state (the caller checked the history covers it).
 */
export function stateAt(current: readonly KubeObject[], firstChanges: ReadonlyMap<string, FirstChange>): KubeObject[] {
  const out: KubeObject[] = current.filter((o) => !firstChanges.has(objectKey(o)));
  for (const [key, change] of firstChanges) {
    if (change.type === 'ADDED') continue;
    if (!change.before) throw new Error(`no earlier state for ${key}`);
    out.push(change.before);
  }
  return out.sort(compareByKey);
}

export function compareByKey(a: KubeObject, b: KubeObject): number {
  const ka = objectKey(a);
  const kb = objectKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
