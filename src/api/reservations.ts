// Permanent reservations of values a Service holds (ClusterIPs, node ports)
// in the store's lease space: `<prefix><value>` held by `<namespace>/<name>`.
// The store's reserve is atomic, so several API servers never hand out one
// value twice; a repair pass at start frees reservations whose Service is gone
// or holds another value, as kube-apiserver's repair loops do. Both
// allocators (cluster-ip.ts, node-ports.ts) keep their allocations here.
import type { KubeObject } from '../core/types.ts';
import type { LeaseStore } from '../store/types.ts';

/** What a write reserved: `commit` after the store took the object, `undo` after the write failed. */
export interface PreparedWrite {
  object: KubeObject;
  commit(): Promise<void>;
  undo(): Promise<void>;
}

/** The holder string of an object's reservations. */
export function holderOf(obj: KubeObject): string {
  return `${obj.metadata.namespace ?? ''}/${obj.metadata.name ?? ''}`;
}

export class Reservations {
  constructor(
    private readonly leases: LeaseStore,
    readonly prefix: string,
  ) {}

  /** True when holder now holds value (it was free, or holder held it already). */
  reserve(value: string, holder: string): Promise<boolean> {
    return this.leases.reserve(this.prefix + value, holder);
  }

  /** Frees value if holder holds it. */
  release(value: string, holder: string): Promise<boolean> {
    return this.leases.release(this.prefix + value, holder);
  }

  /** Every reserved value. */
  async taken(): Promise<Set<string>> {
    return new Set([...(await this.leases.list(this.prefix)).keys()].map((k) => k.slice(this.prefix.length)));
  }

  /** Frees every reservation not in `live` (value → holders that hold it rightly). Returns how many. */
  async repair(live: ReadonlyMap<string, ReadonlySet<string>>): Promise<number> {
    let released = 0;
    for (const [key, holder] of await this.leases.list(this.prefix)) {
      if (live.get(key.slice(this.prefix.length))?.has(holder)) continue;
      if (await this.leases.release(key, holder)) released++;
    }
    return released;
  }
}

/** value → holders, for Reservations.repair. */
export function liveHolders(entries: Iterable<[string, string]>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const [value, holder] of entries) {
    const set = out.get(value) ?? new Set<string>();
    set.add(holder);
    out.set(value, set);
  }
  return out;
}
