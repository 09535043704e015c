// List + watch one kind into a local, indexed cache and tell handlers what
// changed. Relists when the watch's version is too old (410 Gone), re-watches
// from the last seen version when a stream ends, backs off on errors.
//
// InformerCore is the machinery (one list+watch, one cache); Informer is a
// part's handle on one. `new Informer(opts)` owns a private core (start/stop
// run it); InformerFactory hands out handles on shared cores, whose stop()
// only removes that handle's handlers, so many parts share one watch.
import { performance } from 'node:perf_hooks';
import { deepEqual } from '../core/deep-equal.ts';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { isKubeError } from '../core/errors.ts';
import type { KubeObject, WatchEvent } from '../core/types.ts';
import { IndexedStore, NAMESPACE_INDEX, type IndexFunc } from './cache-store.ts';
import { InformerMetrics } from './informer-metrics.ts';
import type { ObjectTransform } from './slim-objects.ts';
import type { ApiClient, ClientWatch } from './types.ts';
import { backoffDelay } from './work-queue.ts';

export interface InformerHandlers {
  onAdd?(obj: KubeObject): void;
  onUpdate?(oldObj: KubeObject, newObj: KubeObject): void;
  onDelete?(obj: KubeObject): void;
  /**
   * Whether an update matters to this handler; false keeps it from onUpdate
   * (adds and deletes always arrive). Build one from a projection with
   * changedIn(). Updates that change nothing cached but resourceVersion never
   * reach any handler, whatever this says.
   */
  relevant?(oldObj: KubeObject, newObj: KubeObject): boolean;
}

/** A relevant() predicate: the update matters when project(old) and project(new) differ (deep equality). */
export function changedIn(project: (obj: KubeObject) => unknown): (oldObj: KubeObject, newObj: KubeObject) => boolean {
  return (a, b) => !deepEqual(project(a), project(b));
}

export interface InformerOptions {
  client: ApiClient;
  /** Group-resource, e.g. "pods", "deployments.apps". */
  gr: string;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  logger?: Logger;
  /** Backoff after failures (doubling up to maxBackoffMs). */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** Applied to every listed and watched object before it is cached (e.g. a slim copy). */
  transform?: ObjectTransform;
  /** Indexes beyond the namespace index every cache has. */
  indexers?: Readonly<Record<string, IndexFunc>>;
  /** List in pages of this many objects (client-go's 500 by default; 0: one request). */
  pageSize?: number;
  /** Where the informer's metrics go (none without). */
  registry?: Registry;
  /** The informer's name in logs and metrics (default: gr and selectors). */
  key?: string;
}

/** "namespace/name", or "name" for cluster-scoped objects. */
export function objectKey(obj: KubeObject): string {
  return keyOf(obj.metadata.namespace, obj.metadata.name ?? '');
}

export function keyOf(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export type CacheChange =
  | { type: 'add'; obj: KubeObject }
  | { type: 'update'; old: KubeObject; obj: KubeObject }
  | { type: 'delete'; obj: KubeObject };

/** What replacing the cache with a fresh list changes. Pure. */
export function diffRelist(cache: ReadonlyMap<string, KubeObject>, items: readonly KubeObject[]): CacheChange[] {
  const changes: CacheChange[] = [];
  const seen = new Set<string>();
  for (const obj of items) {
    const key = objectKey(obj);
    seen.add(key);
    const old = cache.get(key);
    if (!old) changes.push({ type: 'add', obj });
    else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) changes.push({ type: 'update', old, obj });
  }
  for (const [key, obj] of cache) if (!seen.has(key)) changes.push({ type: 'delete', obj });
  return changes;
}

/** A selector's requirements in a fixed order (they are ANDed), so equal selectors name one informer. */
export function canonicalSelector(selector: string | undefined): string {
  if (!selector) return '';
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  parts.push(cur.trim());
  return parts.filter(Boolean).sort().join(',');
}

/** What one informer lists and watches. */
export interface InformerSelection {
  namespace?: string;
  fieldSelector?: string;
  labelSelector?: string;
}

/** The informer's identity: kind plus namespace and selectors, e.g. "pods fields=spec.nodeName=n1". */
export function informerKey(gr: string, sel: InformerSelection = {}): string {
  let key = gr;
  if (sel.namespace) key += ` namespace=${sel.namespace}`;
  const fields = canonicalSelector(sel.fieldSelector);
  if (fields) key += ` fields=${fields}`;
  const labels = canonicalSelector(sel.labelSelector);
  if (labels) key += ` labels=${labels}`;
  return key;
}

/** Equal but for metadata.resourceVersion: nothing a reader of the cached copy could see changed. */
export function sameButVersion(a: KubeObject, b: KubeObject): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (k === 'metadata') continue;
    if (!deepEqual(a[k], b[k])) return false;
  }
  const ma = a.metadata as Record<string, unknown>;
  const mb = b.metadata as Record<string, unknown>;
  const mk = Object.keys(ma).filter((k) => k !== 'resourceVersion');
  if (mk.length !== Object.keys(mb).filter((k) => k !== 'resourceVersion').length) return false;
  return mk.every((k) => deepEqual(ma[k], mb[k]));
}

/** The shared machinery behind Informer handles: one list+watch loop, one indexed cache, many handlers. */
export class InformerCore {
  readonly gr: string;
  readonly key: string;
  readonly transform: ObjectTransform | undefined;
  private readonly store = new IndexedStore();
  private readonly handlers = new Set<InformerHandlers>();
  private resourceVersion: string | undefined;
  private syncedFlag = false;
  private syncedWaiters: (() => void)[] = [];
  private stopped = false;
  private running: Promise<void> | undefined;
  private watch: ClientWatch | undefined;
  private wake: (() => void) | undefined;
  private watchesOpened = 0;
  private readonly log: Logger | undefined;
  private readonly metrics: InformerMetrics | undefined;

  constructor(private readonly opts: InformerOptions) {
    this.gr = opts.gr;
    this.key = opts.key ?? informerKey(opts.gr, opts);
    this.transform = opts.transform;
    this.log = opts.logger?.child({ informer: this.key });
    for (const [name, fn] of Object.entries(opts.indexers ?? {})) this.store.addIndex(name, fn);
    this.metrics = opts.registry ? InformerMetrics.for(opts.registry) : undefined;
    this.metrics?.track(this);
  }

  get size(): number {
    return this.store.size;
  }

  /** Registers handlers (a late one first hears an add for everything cached); returns their removal. */
  addHandlers(h: InformerHandlers): () => void {
    this.handlers.add(h);
    if (h.onAdd) for (const obj of this.store.entries.values()) this.call(() => h.onAdd!(obj));
    return () => void this.handlers.delete(h);
  }

  get handlerCount(): number {
    return this.handlers.size;
  }

  addIndexer(name: string, fn: IndexFunc): void {
    this.store.addIndex(name, fn);
  }

  get(key: string): KubeObject | undefined {
    return this.store.get(key);
  }

  list(namespace?: string): KubeObject[] {
    return namespace === undefined ? this.store.list() : this.store.byIndex(NAMESPACE_INDEX, namespace);
  }

  byIndex(index: string, value: string): KubeObject[] {
    return this.store.byIndex(index, value);
  }

  indexKeys(index: string, value: string): string[] {
    return this.store.indexKeys(index, value);
  }

  indexValues(index: string): string[] {
    return this.store.indexValues(index);
  }

  hasSynced(): boolean {
    return this.syncedFlag;
  }

  /** Resolves once the first list is cached (or the core is stopped). */
  synced(): Promise<void> {
    if (this.syncedFlag || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.syncedWaiters.push(resolve));
  }

  lastResourceVersion(): string | undefined {
    return this.resourceVersion;
  }

  start(): void {
    if (!this.running && !this.stopped) this.running = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watch?.close();
    this.wake?.();
    await this.running;
    for (const w of this.syncedWaiters.splice(0)) w();
    this.metrics?.untrack(this);
  }

  private call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log?.error({ err }, 'informer handler failed');
    }
  }

  private emit(change: CacheChange): void {
    if (change.type === 'update' && sameButVersion(change.old, change.obj)) {
      this.metrics?.unchanged.inc({ informer: this.key });
      return;
    }
    let delivered = 0;
    let filtered = 0;
    for (const h of [...this.handlers]) {
      if (change.type === 'add') {
        if (h.onAdd) this.call(() => h.onAdd!(change.obj)), delivered++;
      } else if (change.type === 'delete') {
        if (h.onDelete) this.call(() => h.onDelete!(change.obj)), delivered++;
      } else if (h.onUpdate) {
        let relevant = true;
        if (h.relevant) {
          try {
            relevant = h.relevant(change.old, change.obj);
          } catch (err) {
            this.log?.error({ err }, 'informer relevant() failed; delivering');
          }
        }
        if (!relevant) {
          filtered++;
          continue;
        }
        this.call(() => h.onUpdate!(change.old, change.obj));
        delivered++;
      }
    }
    if (this.metrics) {
      if (delivered) this.metrics.deliveries.inc({ informer: this.key, outcome: 'delivered' }, delivered);
      if (filtered) this.metrics.deliveries.inc({ informer: this.key, outcome: 'filtered' }, filtered);
    }
  }

  private shape(obj: KubeObject): KubeObject {
    return this.transform ? this.transform(obj) : obj;
  }

  /** Every page of the list, transformed page by page (so the whole raw list is never held at once). */
  private async listAll(): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    const { client, gr, namespace, labelSelector, fieldSelector } = this.opts;
    const limit = this.opts.pageSize ?? 500;
    const items: KubeObject[] = [];
    let resourceVersion: string | undefined;
    let cont: string | undefined;
    do {
      const page = await client.list(gr, { namespace, labelSelector, fieldSelector, ...(limit > 0 ? { limit } : {}), ...(cont ? { continue: cont } : {}) });
      // The first page's version: a watch from there replays whatever changed while later pages were read.
      resourceVersion ??= page.resourceVersion;
      for (const obj of page.items) items.push(this.shape(obj));
      cont = page.continue;
    } while (cont && !this.stopped);
    return { items, resourceVersion: resourceVersion ?? '' };
  }

  private async relist(reason: 'initial' | 'expired'): Promise<void> {
    this.metrics?.lists.inc({ informer: this.key, reason });
    const list = await this.listAll();
    if (this.stopped) return;
    const changes = diffRelist(this.store.entries, list.items);
    for (const c of changes) {
      if (c.type === 'delete') this.store.delete(objectKey(c.obj));
      else this.store.set(objectKey(c.obj), c.obj);
    }
    this.resourceVersion = list.resourceVersion;
    for (const c of changes) this.emit(c);
    if (!this.syncedFlag) {
      this.syncedFlag = true;
      for (const w of this.syncedWaiters.splice(0)) w();
    }
  }

  private onEvent(event: WatchEvent): void {
    if (this.stopped) return;
    const arrived = performance.now();
    this.metrics?.events.inc({ informer: this.key, type: event.type });
    const rv = event.object?.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (event.type === 'BOOKMARK') return;
    const obj = this.shape(event.object);
    const key = objectKey(obj);
    if (event.type === 'DELETED') {
      // A delete of something never cached (it went between two list pages) concerns nobody.
      if (this.store.delete(key)) this.emit({ type: 'delete', obj });
    } else {
      const old = this.store.set(key, obj);
      this.emit(old ? { type: 'update', old, obj } : { type: 'add', obj });
    }
    this.metrics?.eventLag.observe({ informer: this.key }, (performance.now() - arrived) / 1000);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    const { client, gr, namespace, labelSelector, fieldSelector } = this.opts;
    const base = this.opts.baseBackoffMs ?? 200;
    const max = this.opts.maxBackoffMs ?? 30_000;
    let failures = 0;
    let listReason: 'initial' | 'expired' | undefined = 'initial';
    while (!this.stopped) {
      try {
        if (listReason) {
          await this.relist(listReason);
          listReason = undefined;
        }
        if (this.stopped) break;
        let events = 0;
        const started = Date.now();
        if (this.watchesOpened++ > 0) this.metrics?.watchRestarts.inc({ informer: this.key });
        const watch = await client.watch(
          gr,
          { namespace, labelSelector, fieldSelector, resourceVersion: this.resourceVersion ?? '', allowWatchBookmarks: true },
          (event) => {
            events++;
            this.onEvent(event);
          },
        );
        this.watch = watch;
        if (this.stopped) watch.close();
        await watch.done;
        this.watch = undefined;
        // A stream that ends at once with nothing in it counts as a failure, so we never spin.
        if (events === 0 && Date.now() - started < 1000) failures++;
        else failures = 0;
        if (failures > 0 && !this.stopped) await this.sleep(backoffDelay(failures, base, max));
      } catch (err) {
        this.watch = undefined;
        if (this.stopped) break;
        if (isKubeError(err) && err.code === 410) {
          this.log?.info({ resourceVersion: this.resourceVersion }, 'watch version too old; relisting');
          listReason = this.syncedFlag ? 'expired' : 'initial';
          continue;
        }
        failures++;
        const delay = backoffDelay(failures, base, max);
        this.log?.warn({ err, failures, delay }, 'list/watch failed; backing off');
        await this.sleep(delay);
      }
    }
  }
}

/**
 * A part's handle on an informer: the cache, its indexes and the part's own
 * handlers. Made with `new Informer(opts)` it owns its core (start runs it,
 * stop ends it). Handed out by InformerFactory it shares the core with every
 * other part: start makes sure the core runs, stop removes this handle's
 * handlers and ends its waits, and the watch goes on for the others.
 */
export class Informer {
  readonly gr: string;
  readonly key: string;
  private readonly core: InformerCore;
  private readonly owned: boolean;
  private readonly removals: (() => void)[] = [];
  private stoppedWaiters: (() => void)[] = [];
  private stopped = false;

  constructor(source: InformerOptions | InformerCore) {
    this.owned = !(source instanceof InformerCore);
    this.core = source instanceof InformerCore ? source : new InformerCore(source);
    this.gr = this.core.gr;
    this.key = this.core.key;
  }

  /** Registers handlers (a late one first hears an add for everything cached); returns their removal. */
  addHandlers(h: InformerHandlers): () => void {
    const remove = this.core.addHandlers(h);
    this.removals.push(remove);
    return remove;
  }

  /** Adds an index to the shared cache (see IndexedStore.addIndex). */
  addIndexer(name: string, fn: IndexFunc): void {
    this.core.addIndexer(name, fn);
  }

  get(key: string): KubeObject | undefined {
    return this.core.get(key);
  }

  getByName(namespace: string | undefined, name: string): KubeObject | undefined {
    return this.core.get(keyOf(namespace, name));
  }

  /** Everything cached, or one namespace's objects (an index lookup). */
  list(namespace?: string): KubeObject[] {
    return this.core.list(namespace);
  }

  /** Objects filed under value in the named index (indexers.ts names the shared ones). */
  byIndex(index: string, value: string): KubeObject[] {
    return this.core.byIndex(index, value);
  }

  indexKeys(index: string, value: string): string[] {
    return this.core.indexKeys(index, value);
  }

  indexValues(index: string): string[] {
    return this.core.indexValues(index);
  }

  get size(): number {
    return this.core.size;
  }

  hasSynced(): boolean {
    return this.core.hasSynced();
  }

  /** Resolves once the cache holds the first list, or when this handle is stopped. */
  synced(): Promise<void> {
    if (this.stopped || this.core.hasSynced()) return Promise.resolve();
    return Promise.race([this.core.synced(), new Promise<void>((resolve) => this.stoppedWaiters.push(resolve))]);
  }

  /** The last resourceVersion the cache reflects. */
  lastResourceVersion(): string | undefined {
    return this.core.lastResourceVersion();
  }

  start(): void {
    if (!this.stopped) this.core.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const remove of this.removals.splice(0)) remove();
    for (const w of this.stoppedWaiters.splice(0)) w();
    if (this.owned) await this.core.stop();
  }
}
