// One informer cache per process: every part (controllers, scheduler, kubelet,
// node network, and next DNS, proxy, policy) asks the process's factory for
// the informers it needs. An informer is keyed by kind plus namespace, field
// and label selector (informerKey); each key has exactly one list+watch and
// one cache however many parts use it. Each part gets its own handle, so it
// can remove its handlers (handle.stop(), or SharedInformers.stop() for a
// scope) without stopping the watch the others read.
//
// What a key caches is fixed when it is first asked for: the factory's
// transform for the kind (e.g. a slim copy), or the request's own; a later
// request for the same key with another transform is an error.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ApiClient } from './types.ts';
import type { IndexFunc } from './cache-store.ts';
import { DEFAULT_INDEXERS } from './indexers.ts';
import { Informer, InformerCore, informerKey, type InformerSelection } from './informer.ts';
import type { ObjectTransform } from './slim-objects.ts';

export interface InformerRequest extends InformerSelection {
  /** This key's transform instead of the factory's for the kind; 'none' caches whole objects. */
  transform?: ObjectTransform | 'none';
}

export interface InformerFactoryOptions {
  client: ApiClient;
  logger?: Logger;
  /** Informer metrics go here (src/client/informer-metrics.ts). */
  registry?: Registry;
  /** Transform by group-resource (e.g. SLIM_TRANSFORMS). */
  transforms?: Readonly<Record<string, ObjectTransform>>;
  /** Transform for kinds without one in transforms (e.g. stripManagedFields). */
  defaultTransform?: ObjectTransform;
  /** Indexes by group-resource (default DEFAULT_INDEXERS); parts may add more per informer. */
  indexers?: Readonly<Record<string, Readonly<Record<string, IndexFunc>>>>;
  pageSize?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
}

const transformName = (t: ObjectTransform | undefined): string => (t ? t.name || 'a transform' : 'none');

export class InformerFactory {
  private readonly cores = new Map<string, InformerCore>();
  private started = false;
  private stopped = false;

  constructor(private readonly opts: InformerFactoryOptions) {}

  /** A new handle on the process's one informer for (gr, selection). */
  informer(gr: string, req: InformerRequest = {}): Informer {
    return new Informer(this.core(gr, req));
  }

  /** A scope: handles memoized per key, all released by its stop() (a part's, or one leadership term's). */
  scope(): SharedInformers {
    return new SharedInformers(this);
  }

  /** The keys of every informer this factory runs (one watch each). */
  keys(): string[] {
    return [...this.cores.keys()];
  }

  /** @internal The core for (gr, selection), made on first use; started at once if the factory runs. */
  core(gr: string, req: InformerRequest = {}): InformerCore {
    if (this.stopped) throw new Error('the informer factory is stopped');
    const selection: InformerSelection = {};
    if (req.namespace) selection.namespace = req.namespace;
    if (req.fieldSelector) selection.fieldSelector = req.fieldSelector;
    if (req.labelSelector) selection.labelSelector = req.labelSelector;
    const key = informerKey(gr, selection);
    const transform = req.transform === 'none' ? undefined : req.transform ?? this.opts.transforms?.[gr] ?? this.opts.defaultTransform;
    let core = this.cores.get(key);
    if (core) {
      if (core.transform !== transform) {
        throw new Error(`informer "${key}" already caches objects through ${transformName(core.transform)}; asked for ${transformName(transform)}`);
      }
      return core;
    }
    core = new InformerCore({
      client: this.opts.client,
      gr,
      ...selection,
      key,
      logger: this.opts.logger,
      registry: this.opts.registry,
      transform,
      indexers: (this.opts.indexers ?? DEFAULT_INDEXERS)[gr],
      pageSize: this.opts.pageSize,
      baseBackoffMs: this.opts.baseBackoffMs,
      maxBackoffMs: this.opts.maxBackoffMs,
    });
    this.cores.set(key, core);
    if (this.started) core.start();
    return core;
  }

  /** Runs every informer asked for so far, and every later one as soon as it is asked for. */
  start(): void {
    if (this.stopped) return;
    this.started = true;
    for (const core of this.cores.values()) core.start();
  }

  /** Resolves when every informer asked for so far has listed. */
  async synced(): Promise<void> {
    await Promise.all([...this.cores.values()].map((c) => c.synced()));
  }

  hasSynced(): boolean {
    return [...this.cores.values()].every((c) => c.hasSynced());
  }

  /** Ends every watch (the process is stopping). */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.cores.values()].map((c) => c.stop()));
  }
}

/**
 * A set of informer handles on one factory, one per key, released together:
 * the controllers of one leadership term, or one part. Made from a client it
 * owns a private factory (stop() stops it), as before factories were shared.
 */
export class SharedInformers {
  private readonly factory: InformerFactory;
  private readonly ownsFactory: boolean;
  private readonly handles = new Map<InformerCore, Informer>();

  constructor(source: ApiClient | InformerFactory, logger?: Logger) {
    this.ownsFactory = !(source instanceof InformerFactory);
    this.factory = source instanceof InformerFactory ? source : new InformerFactory({ client: source, logger });
  }

  informer(gr: string, req: InformerRequest = {}): Informer {
    const core = this.factory.core(gr, req);
    let handle = this.handles.get(core);
    if (!handle) {
      handle = new Informer(core);
      this.handles.set(core, handle);
    }
    return handle;
  }

  start(): void {
    this.factory.start();
    for (const h of this.handles.values()) h.start();
  }

  /** Resolves when every informer of this scope has listed (or the scope is stopped). */
  async synced(): Promise<void> {
    await Promise.all([...this.handles.values()].map((h) => h.synced()));
  }

  hasSynced(): boolean {
    return [...this.handles.values()].every((h) => h.hasSynced());
  }

  /** Removes this scope's handlers; the shared watches go on (a private factory stops). */
  async stop(): Promise<void> {
    await Promise.all([...this.handles.values()].map((h) => h.stop()));
    if (this.ownsFactory) await this.factory.stop();
  }
}
