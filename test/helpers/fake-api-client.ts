// An in-memory ApiClient for informer unit tests: objects per group-resource,
// lists with selectors and pages, live watches that get every later change
// synchronously (a watch from version X first replays the later events), and a
// switch that ends the open watches with 410 Expired.
// It counts lists and watches per informer key, so tests can check sharing.
import { KubeError } from '../../src/core/errors.ts';
import { resourceByGroupResource } from '../../src/core/resources.ts';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from '../../src/core/selectors.ts';
import { selectableFieldValue, supportedFieldSelectors } from '../../src/api/kinds/index.ts';
import type { KubeObject, WatchEvent } from '../../src/core/types.ts';
import { informerKey, objectKey } from '../../src/client/informer.ts';
import type { ApiClient, ClientWatch, ListOptions, WatchOpts } from '../../src/client/types.ts';

interface OpenWatch {
  gr: string;
  opts: WatchOpts;
  handler: (event: WatchEvent) => void;
  end: (err?: unknown) => void;
}

export class FakeApiClient implements ApiClient {
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private rv = 100;
  private readonly open = new Set<OpenWatch>();
  private readonly history: { gr: string; event: WatchEvent }[] = [];
  private readonly waiters: (() => void)[] = [];
  /** Watches ever opened, by informerKey(gr, selection). */
  readonly watchesOpened = new Map<string, number>();
  /** List requests, by informerKey(gr, selection) (each page counts). */
  readonly listCalls = new Map<string, number>();

  /** Creates or replaces an object (new resourceVersion), telling matching watches. */
  put(gr: string, obj: KubeObject): KubeObject {
    const stored: KubeObject = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } };
    const byKey = this.bucket(gr);
    const existed = byKey.has(objectKey(stored));
    byKey.set(objectKey(stored), stored);
    this.tell(gr, { type: existed ? 'MODIFIED' : 'ADDED', object: stored });
    return stored;
  }

  /** Changes the store without telling any watch (what a watch misses while it is down). */
  putQuietly(gr: string, obj: KubeObject): void {
    this.bucket(gr).set(objectKey(obj), { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } });
  }

  removeQuietly(gr: string, key: string): void {
    this.bucket(gr).delete(key);
    this.rv++;
  }

  remove(gr: string, key: string): void {
    const obj = this.bucket(gr).get(key);
    if (!obj) return;
    this.bucket(gr).delete(key);
    this.tell(gr, { type: 'DELETED', object: { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } } });
  }

  /** Ends every open watch with 410 Expired, as a server whose history no longer reaches their version. */
  expireWatches(): void {
    for (const w of [...this.open]) w.end(new KubeError('Expired', 'too old resource version'));
  }

  openWatches(): number {
    return this.open.size;
  }

  /** Resolves once at least n watches are open. */
  async untilWatches(n: number): Promise<void> {
    while (this.open.size < n) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  async get(gr: string, namespace: string, name: string): Promise<KubeObject | undefined> {
    return this.bucket(gr).get(namespace ? `${namespace}/${name}` : name);
  }

  async list(gr: string, opts: ListOptions = {}): Promise<{ items: KubeObject[]; resourceVersion: string; continue?: string }> {
    const key = informerKey(gr, opts);
    this.listCalls.set(key, (this.listCalls.get(key) ?? 0) + 1);
    const all = [...this.bucket(gr).values()].filter((o) => this.matches(gr, opts, o)).sort((a, b) => objectKey(a).localeCompare(objectKey(b)));
    const from = opts.continue ? Number(opts.continue) : 0;
    const to = opts.limit ? from + opts.limit : all.length;
    const page: { items: KubeObject[]; resourceVersion: string; continue?: string } = { items: all.slice(from, to), resourceVersion: String(this.rv) };
    if (to < all.length) page.continue = String(to);
    return page;
  }

  async watch(gr: string, opts: WatchOpts, handler: (event: WatchEvent) => void): Promise<ClientWatch> {
    const key = informerKey(gr, opts);
    this.watchesOpened.set(key, (this.watchesOpened.get(key) ?? 0) + 1);
    let settle!: { resolve: () => void; reject: (err: unknown) => void };
    const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    done.catch(() => undefined);
    const w: OpenWatch = {
      gr,
      opts,
      handler,
      end: (err) => {
        if (!this.open.delete(w)) return;
        if (err) settle.reject(err);
        else settle.resolve();
      },
    };
    const from = Number(opts.resourceVersion || this.rv);
    for (const h of this.history) {
      if (h.gr === gr && Number(h.event.object.metadata.resourceVersion) > from && this.matches(gr, opts, h.event.object)) handler(h.event);
    }
    this.open.add(w);
    for (const wake of this.waiters.splice(0)) wake();
    return { close: () => w.end(), done };
  }

  async create(): Promise<KubeObject> {
    throw new Error('FakeApiClient: create is not used by informers');
  }

  async update(): Promise<KubeObject> {
    throw new Error('FakeApiClient: update is not used by informers');
  }

  async patch(): Promise<KubeObject> {
    throw new Error('FakeApiClient: patch is not used by informers');
  }

  async delete(): Promise<KubeObject | undefined> {
    throw new Error('FakeApiClient: delete is not used by informers');
  }

  close(): void {
    for (const w of [...this.open]) w.end();
  }

  private bucket(gr: string): Map<string, KubeObject> {
    let b = this.objects.get(gr);
    if (!b) this.objects.set(gr, (b = new Map()));
    return b;
  }

  private matches(gr: string, sel: { namespace?: string; labelSelector?: string; fieldSelector?: string }, obj: KubeObject): boolean {
    if (sel.namespace && obj.metadata.namespace !== sel.namespace) return false;
    if (sel.labelSelector && !matchesLabels(parseLabelSelector(sel.labelSelector), obj.metadata.labels)) return false;
    const info = resourceByGroupResource(gr);
    if (sel.fieldSelector && info && !matchesFields(parseFieldSelector(sel.fieldSelector, supportedFieldSelectors(info)), obj, (o, f) => selectableFieldValue(info, o, f))) return false;
    return true;
  }

  private tell(gr: string, event: WatchEvent): void {
    this.history.push({ gr, event });
    for (const w of [...this.open]) if (w.gr === gr && this.matches(gr, w.opts, event.object)) w.handler(event);
  }
}
