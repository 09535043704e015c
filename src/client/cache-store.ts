// An informer's local cache: objects by key plus named indexes (index → value
// → keys), kept current on every set and delete, so that lookups cost O(1)
// plus the size of the bucket. Pure data structure, no I/O.
import type { KubeObject } from '../core/types.ts';

/** The values an object is filed under in one index (none: not in that index). */
export type IndexFunc = (obj: KubeObject) => readonly string[];

/** Every store has this index: metadata.namespace ('' for cluster-scoped objects). */
export const NAMESPACE_INDEX = 'namespace';

const byNamespace: IndexFunc = (obj) => [obj.metadata.namespace ?? ''];

/** One key, or several: most index values (an IP, a pod's node) name one object, and a Set per value would cost ~10× a string. */
type Bucket = string | Set<string>;

class Index {
  private readonly buckets = new Map<string, Bucket>();

  constructor(readonly fn: IndexFunc) {}

  add(key: string, obj: KubeObject): void {
    for (const value of this.fn(obj)) {
      const b = this.buckets.get(value);
      if (b === undefined) this.buckets.set(value, key);
      else if (typeof b === 'string') {
        if (b !== key) this.buckets.set(value, new Set([b, key]));
      } else b.add(key);
    }
  }

  remove(key: string, obj: KubeObject): void {
    for (const value of this.fn(obj)) {
      const b = this.buckets.get(value);
      if (b === undefined) continue;
      if (typeof b === 'string') {
        if (b === key) this.buckets.delete(value);
      } else {
        b.delete(key);
        if (b.size === 1) this.buckets.set(value, b.values().next().value as string);
      }
    }
  }

  keys(value: string): string[] {
    const b = this.buckets.get(value);
    if (b === undefined) return [];
    return typeof b === 'string' ? [b] : [...b];
  }

  values(): string[] {
    return [...this.buckets.keys()];
  }

  clear(): void {
    this.buckets.clear();
  }
}

export class IndexedStore {
  private readonly objects = new Map<string, KubeObject>();
  private readonly indexes = new Map<string, Index>([[NAMESPACE_INDEX, new Index(byNamespace)]]);

  get size(): number {
    return this.objects.size;
  }

  /** The objects by key, read-only. */
  get entries(): ReadonlyMap<string, KubeObject> {
    return this.objects;
  }

  get(key: string): KubeObject | undefined {
    return this.objects.get(key);
  }

  list(): KubeObject[] {
    return [...this.objects.values()];
  }

  /**
   * Adds an index and files every cached object in it. Adding the same
   * function under the same name again is a no-op; another function under a
   * taken name is an error (two parts would read different things under it).
   */
  addIndex(name: string, fn: IndexFunc): void {
    const have = this.indexes.get(name);
    if (have) {
      if (have.fn !== fn) throw new Error(`index "${name}" already exists with another function`);
      return;
    }
    const index = new Index(fn);
    for (const [key, obj] of this.objects) index.add(key, obj);
    this.indexes.set(name, index);
  }

  hasIndex(name: string): boolean {
    return this.indexes.has(name);
  }

  /** Stores obj under key (replacing and re-indexing what was there); returns the previous object. */
  set(key: string, obj: KubeObject): KubeObject | undefined {
    const old = this.objects.get(key);
    if (old) for (const index of this.indexes.values()) index.remove(key, old);
    this.objects.set(key, obj);
    for (const index of this.indexes.values()) index.add(key, obj);
    return old;
  }

  delete(key: string): KubeObject | undefined {
    const old = this.objects.get(key);
    if (!old) return undefined;
    for (const index of this.indexes.values()) index.remove(key, old);
    this.objects.delete(key);
    return old;
  }

  /** Keys filed under value in the named index. */
  indexKeys(name: string, value: string): string[] {
    return this.index(name).keys(value);
  }

  /** Objects filed under value in the named index. */
  byIndex(name: string, value: string): KubeObject[] {
    const out: KubeObject[] = [];
    for (const key of this.index(name).keys(value)) {
      const obj = this.objects.get(key);
      if (obj) out.push(obj);
    }
    return out;
  }

  /** Every value the named index holds (e.g. every node that has pods). */
  indexValues(name: string): string[] {
    return this.index(name).values();
  }

  clear(): void {
    this.objects.clear();
    for (const index of this.indexes.values()) index.clear();
  }

  private index(name: string): Index {
    const index = this.indexes.get(name);
    if (!index) throw new Error(`no index "${name}" (have: ${[...this.indexes.keys()].join(', ')})`);
    return index;
  }
}
