import type { KubeObject, WatchEventType } from '../core/types.ts';
import type { KubeError } from '../core/errors.ts';

/**
 * The cluster store. Keys are group-resource strings ("pods", "deployments.apps"),
 * a namespace ('' for cluster-scoped kinds) and a name.
 *
 * Every create, update and delete takes the next value of one cluster-wide
 * resourceVersion counter and appends exactly one watch event, atomically.
 * The store writes metadata.resourceVersion; everything else in the object
 * (uid, timestamps, generation) is the caller's business.
 *
 * Errors are KubeError: NotFound, AlreadyExists, Conflict, Gone/Expired, and
 * ServiceUnavailable (with retryAfterSeconds) while the backing Redis is unreachable.
 */
export interface Store {
  get(gr: string, namespace: string, name: string): Promise<KubeObject | undefined>;

  /** A consistent snapshot of one kind (optionally one namespace) and the resourceVersion it is at. */
  list(gr: string, namespace?: string): Promise<ListResult>;

  /**
   * The items whose key ("namespace/name") sorts after afterKey, as they were at an
   * earlier resourceVersion of list (what a continued list serves). Rejects with
   * Expired when the kept history no longer reaches back to that version.
   */
  listAt(gr: string, namespace: string | undefined, resourceVersion: string, afterKey: string): Promise<ListResult>;

  /** Fails with AlreadyExists when the key is taken. */
  create(gr: string, obj: KubeObject): Promise<KubeObject>;

  /**
   * Replaces the stored object. When obj.metadata.resourceVersion is set, it must equal
   * the stored one or the call fails with Conflict. Fails with NotFound when absent.
   */
  update(gr: string, obj: KubeObject): Promise<KubeObject>;

  /**
   * Removes the object and returns it as last stored (with the deletion's resourceVersion).
   * preconditions: resourceVersion and uid must match when given (Conflict otherwise).
   */
  delete(gr: string, namespace: string, name: string, preconditions?: Preconditions): Promise<KubeObject>;

  /**
   * Watches one kind from a resourceVersion (exclusive): every later change,
   * exactly once, in order. Rejects with Gone when that version is older than
   * the kept history. namespace filters to one namespace.
   */
  watch(gr: string, opts: WatchOptions, handler: (event: StoreEvent) => void): Promise<StoreWatch>;

  /** The newest resourceVersion. */
  currentResourceVersion(): Promise<string>;

  /** TTL leases (Redis SET NX PX semantics), for subnets, leader election and heartbeats. */
  readonly leases: LeaseStore;

  close(): Promise<void>;
}

export interface Preconditions {
  resourceVersion?: string;
  uid?: string;
}

export interface ListResult {
  items: KubeObject[];
  resourceVersion: string;
}

export interface WatchOptions {
  namespace?: string;
  /** Deliver events with resourceVersion greater than this. */
  resourceVersion: string;
  /** Emit a BOOKMARK event at least this often while idle (ms); 0 or absent: never. */
  bookmarkIntervalMs?: number;
}

export type StoreEvent =
  | { type: Exclude<WatchEventType, 'BOOKMARK' | 'ERROR'>; object: KubeObject; resourceVersion: string }
  | { type: 'BOOKMARK'; resourceVersion: string }
  /** The watch ended abnormally (e.g. Gone after a long Redis outage); no event follows. */
  | { type: 'ERROR'; error: KubeError };

export interface StoreWatch {
  close(): void;
}

export interface LeaseStore {
  /** Takes the lease if free or already held by holder; true when holder now holds it. */
  acquire(key: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Extends the lease if holder holds it; false otherwise. */
  renew(key: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Drops the lease if holder holds it. */
  release(key: string, holder: string): Promise<boolean>;
  /** Permanent (no TTL) reservation for holder; fails (false) when someone else holds it. */
  reserve(key: string, holder: string): Promise<boolean>;
  holder(key: string): Promise<string | undefined>;
  /** Holders of every lease whose key starts with prefix. */
  list(prefix: string): Promise<Map<string, string>>;
}
