// List + watch one kind into a local cache and tell handlers what changed.
// Relists when the watch's version is too old (Gone), re-watches from the last
// seen version when a stream ends, backs off on errors.
import type { Logger } from 'pino';
import { isKubeError } from '../core/errors.ts';
import type { KubeObject, WatchEvent } from '../core/types.ts';
import type { ApiClient, ClientWatch } from './types.ts';
import { backoffDelay } from './work-queue.ts';

export interface InformerHandlers {
  onAdd?(obj: KubeObject): void;
  onUpdate?(oldObj: KubeObject, newObj: KubeObject): void;
  onDelete?(obj: KubeObject): void;
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

export class Informer {
  readonly gr: string;
  private readonly cache = new Map<string, KubeObject>();
  private readonly handlers: InformerHandlers[] = [];
  private resourceVersion: string | undefined;
  private syncedFlag = false;
  private syncedWaiters: (() => void)[] = [];
  private stopped = false;
  private running: Promise<void> | undefined;
  private watch: ClientWatch | undefined;
  private wake: (() => void) | undefined;
  private readonly log: Logger | undefined;

  constructor(private readonly opts: InformerOptions) {
    this.gr = opts.gr;
    this.log = opts.logger?.child({ informer: opts.gr });
  }

  addHandlers(h: InformerHandlers): void {
    this.handlers.push(h);
    // A late handler first hears about what is already cached.
    if (h.onAdd) for (const obj of this.cache.values()) this.call(() => h.onAdd!(obj));
  }

  get(key: string): KubeObject | undefined {
    return this.cache.get(key);
  }

  getByName(namespace: string | undefined, name: string): KubeObject | undefined {
    return this.cache.get(keyOf(namespace, name));
  }

  list(namespace?: string): KubeObject[] {
    const all = [...this.cache.values()];
    return namespace === undefined ? all : all.filter((o) => (o.metadata.namespace ?? '') === namespace);
  }

  hasSynced(): boolean {
    return this.syncedFlag;
  }

  synced(): Promise<void> {
    if (this.syncedFlag) return Promise.resolve();
    return new Promise((resolve) => this.syncedWaiters.push(resolve));
  }

  /** The last resourceVersion the cache reflects. */
  lastResourceVersion(): string | undefined {
    return this.resourceVersion;
  }

  start(): void {
    if (!this.running) this.running = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watch?.close();
    this.wake?.();
    await this.running;
    for (const w of this.syncedWaiters.splice(0)) w();
  }

  private call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log?.error({ err }, 'informer handler failed');
    }
  }

  private emit(change: CacheChange): void {
    for (const h of this.handlers) {
      if (change.type === 'add' && h.onAdd) this.call(() => h.onAdd!(change.obj));
      else if (change.type === 'update' && h.onUpdate) this.call(() => h.onUpdate!(change.old, change.obj));
      else if (change.type === 'delete' && h.onDelete) this.call(() => h.onDelete!(change.obj));
    }
  }

  private async relist(): Promise<void> {
    const { client, gr, namespace, labelSelector, fieldSelector } = this.opts;
    const list = await client.list(gr, { namespace, labelSelector, fieldSelector });
    const changes = diffRelist(this.cache, list.items);
    this.cache.clear();
    for (const obj of list.items) this.cache.set(objectKey(obj), obj);
    this.resourceVersion = list.resourceVersion;
    for (const c of changes) this.emit(c);
    if (!this.syncedFlag) {
      this.syncedFlag = true;
      for (const w of this.syncedWaiters.splice(0)) w();
    }
  }

  private onEvent(event: WatchEvent): void {
    if (this.stopped) return;
    const obj = event.object;
    const rv = obj?.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (event.type === 'BOOKMARK') return;
    const key = objectKey(obj);
    const old = this.cache.get(key);
    if (event.type === 'DELETED') {
      this.cache.delete(key);
      this.emit({ type: 'delete', obj });
    } else {
      this.cache.set(key, obj);
      this.emit(old ? { type: 'update', old, obj } : { type: 'add', obj });
    }
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
    let needList = true;
    while (!this.stopped) {
      try {
        if (needList) {
          await this.relist();
          needList = false;
        }
        if (this.stopped) break;
        let events = 0;
        const started = Date.now();
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
          needList = true;
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

/** One informer per kind, shared by every controller in a process. */
export class SharedInformers {
  private readonly informers = new Map<string, Informer>();
  private started = false;

  constructor(private readonly client: ApiClient, private readonly logger?: Logger) {}

  informer(gr: string): Informer {
    let inf = this.informers.get(gr);
    if (!inf) {
      inf = new Informer({ client: this.client, gr, logger: this.logger });
      this.informers.set(gr, inf);
      if (this.started) inf.start();
    }
    return inf;
  }

  start(): void {
    this.started = true;
    for (const inf of this.informers.values()) inf.start();
  }

  async synced(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.synced()));
  }

  hasSynced(): boolean {
    return [...this.informers.values()].every((i) => i.hasSynced());
  }

  async stop(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
  }
}
