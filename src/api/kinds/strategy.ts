// What meshlet knows about one kind, in one typed value. Each module beside
// this one exports the KindStrategy of one kind (or of a small family of
// kinds sharing rules); index.ts maps every served resource (RESOURCES) to its
// strategy, and the generic machinery (validation.ts, patch.ts, tables.ts,
// object-rules.ts, registry.ts) asks the strategy instead of keeping tables of
// its own. Everything here is pure except `writeHooks`, which the registry
// runs around store writes.
import type { KubeObject, StatusCause } from '../../core/types.ts';
import type { Store } from '../../store/types.ts';
import type { ClusterIpAllocator } from '../cluster-ip.ts';
import type { NodePortAllocator } from '../node-ports.ts';
import type { PreparedWrite } from '../reservations.ts';
import type { Printer } from './printer.ts';
import type { DefaultTolerationSeconds } from '../default-tolerations.ts';

export type { PreparedWrite } from '../reservations.ts';

/** How a strategic-merge list at a path merges: by a key of its object elements, or as a set of primitives. Absent: atomic. */
export type ListStrategy = { mergeKey: string } | { set: true };

/** Dotted field path (list elements add no segment) → list strategy. */
export type ListStrategies = Readonly<Record<string, ListStrategy>>;

/** The string value a field selector compares; '' when absent. */
export type FieldGetter = (obj: KubeObject) => string;

/** How metadata.name is checked. */
export interface NameRule {
  test(name: string): boolean;
  message: string;
}

/**
 * A mutating admission step: the object about to be stored (after defaults,
 * before validation) and the stored one on update. Returns the object to
 * store; pure.
 */
export type AdmissionHook = (obj: KubeObject, old: KubeObject | undefined) => KubeObject;

/** The server's settings that admission steps read (upstream's admission plugin flags). */
export interface AdmissionSettings {
  defaultTolerations: DefaultTolerationSeconds;
}

/** A mutating admission step that runs on create only, with the server's settings; pure. */
export type CreateAdmissionHook = (obj: KubeObject, settings: AdmissionSettings) => KubeObject;


/** What the write hooks may use: the store and the server's allocators. */
export interface HookContext {
  store: Store;
  clusterIps: ClusterIpAllocator;
  nodePorts: NodePortAllocator;
}

/** Create/update/delete hooks with I/O (address and port allocation), run by the registry around store writes. */
export interface WriteHooks {
  beforeCreate(obj: KubeObject, ctx: HookContext): Promise<PreparedWrite>;
  beforeUpdate(old: KubeObject, next: KubeObject, ctx: HookContext): Promise<PreparedWrite>;
  afterDelete(deleted: KubeObject, ctx: HookContext): Promise<void>;
  /** At server start: frees allocations whose object is gone; returns how many. */
  repair?(ctx: HookContext): Promise<number>;
}

/** Kind-specific parts of DELETE. */
export interface DeletionRules {
  /** Seconds a DELETE waits before the object goes (pods' graceful deletion); absent: 0. */
  gracePeriod?(obj: KubeObject, requested: number | undefined): number;
  /** The kind's own finalizers still hold the object (a namespace's spec.finalizers). */
  heldBy?(obj: KubeObject): boolean;
  /** What marking the object for deletion changes besides metadata (a namespace turns Terminating). */
  onMark?(obj: KubeObject): void;
  /** A reason this object may never be deleted (protected namespaces); undefined: it may. */
  forbidden?(name: string): string | undefined;
}

export interface KindStrategy {
  /** "pods", "deployments.apps": the group-resource it serves (index.ts checks it against RESOURCES). */
  readonly groupResource: string;
  /** metadata.name rule; absent: a DNS-1123 subdomain. */
  readonly nameRule?: NameRule;
  /** Top-level fields besides apiVersion, kind and metadata (fieldValidation=Strict). */
  readonly topLevelFields: readonly string[];
  /** Causes for everything outside metadata; `old` on update for immutable fields. */
  validate?(obj: KubeObject, old?: KubeObject): StatusCause[];
  /** Fills the kind's defaults into a private copy, in place. */
  defaults?(obj: KubeObject): void;
  /** Mutating admission on create and update, in order. */
  readonly admission?: readonly AdmissionHook[];
  /** Mutating admission on create only (after `admission`), in order. */
  readonly createAdmission?: readonly CreateAdmissionHook[];
  /** Strategic-merge list keys (patchMergeKey / patchStrategy of the Go types). Absent lists are atomic. */
  readonly listStrategies?: ListStrategies;
  /** The `kubectl get` columns after Name; absent: Name and Age. */
  readonly printer?: Printer;
  /** Field selectors beyond metadata.name and metadata.namespace. */
  readonly fieldSelectors?: Readonly<Record<string, FieldGetter>>;
  /** A create keeps a status given in the body even though the kind has a status subresource (nodes). */
  readonly createKeepsStatus?: boolean;
  /** A PUT to an absent object creates it. */
  readonly createOnUpdate?: boolean;
  /** Pure update rules of the main resource, on the prepared copy `next` (in place). */
  prepareUpdate?(old: KubeObject, next: KubeObject): void;
  /** Pure rules of a status update beyond taking the new status (in place on `next`). */
  prepareStatusUpdate?(old: KubeObject, input: KubeObject, next: KubeObject): void;
  readonly deletion?: DeletionRules;
  readonly writeHooks?: WriteHooks;
}

// ------------------------------------------------------------ small builders the kind modules share

export const byKey = (mergeKey: string): ListStrategy => ({ mergeKey });
export const SET: ListStrategy = { set: true };

/** "a" + {"": s, "b": t} → {"a": s, "a.b": t} */
export function prefixed(prefix: string, table: ListStrategies): Record<string, ListStrategy> {
  return Object.fromEntries(Object.entries(table).map(([path, s]) => [path ? `${prefix}.${path}` : prefix, s]));
}

export const CONDITIONS: ListStrategies = { 'status.conditions': byKey('type') };

/** The string value at a dotted path; '' when absent or an object/list. `unset` is what an absent value reads as. */
export function pathValue(path: string, unset = ''): FieldGetter {
  const parts = path.split('.');
  return (obj) => {
    let cur: unknown = obj;
    for (const part of parts) {
      if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return '';
      cur = (cur as Record<string, unknown>)[part];
    }
    if (typeof cur === 'string') return cur;
    if (typeof cur === 'number' || typeof cur === 'boolean') return String(cur);
    return cur === undefined ? unset : '';
  };
}

/** Field selectors that read their own path, from a list of paths. */
export function pathSelectors(paths: readonly string[]): Record<string, FieldGetter> {
  return Object.fromEntries(paths.map((p) => [p, pathValue(p)]));
}
