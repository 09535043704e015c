// Pod IPs, allocated by the agent from its own node's subnet (the one the
// node-IPAM controller wrote into its Node's spec.podCIDRs). Node subnets are
// disjoint, so pod IPs are unique across the cluster by construction; this
// module only has to keep them unique on one node, across restarts and crashes.
//
// Pure core (allocateIn / releaseIn / reclaimIn over a PodIpTable) and a thin
// shell (PodIps): the table lives in <dataDir>/pod-ips.json and every change is
// written durably (temp file, fsync, rename, fsync of the directory) BEFORE the
// IP is handed out, so a kill -9 at any point leaves either the table without
// the new IP (never handed out) or with it (handed out or not: the pod asks
// again under the same key and gets the same IP). Requests that arrive while a
// write is in flight are applied together and written once (group commit).
//
// A pod is keyed by namespace/name/uid (the kubelet's ipamKey), so allocation
// is idempotent per pod. In dual-stack a pod gets the same offset in each
// family's subnet. Offsets skip the network address, the gateway (offset 1)
// and, in IPv4, broadcast.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { addressAt, gatewayOf, normalizeCidr, parseCidr, podOffsetRange as offsetRange } from '../core/cidr.ts';
import { IpPoolExhaustedError } from '../overlay/ipam-errors.ts';
import type { KubeletIpam } from '../kubelet/kubelet.ts';
import type { PodNetwork } from '../kubelet/sandbox-plan.ts';

export { offsetRange };
import { writeFileDurably } from './durable-file.ts';

export const POD_IPS_FILE = 'pod-ips.json';
const FORMAT_VERSION = 1;

/** What the node has handed out: pod key → offset in its subnet(s). */
export interface PodIpTable {
  /** The node's subnets (one per family, normalised) these offsets belong to. */
  subnets: string[];
  pods: Record<string, number>;
  /** Next offset to try (next-fit: a just-freed IP is the last one handed out again). */
  cursor: number;
}

export function emptyTable(subnets: readonly string[]): PodIpTable {
  return { subnets: subnets.map((s) => normalizeCidr(s)), pods: {}, cursor: 2 };
}

export type AllocateResult = { table: PodIpTable; offset: number; fresh: boolean } | { exhausted: true };

/** The pod's offset: the one it holds, else the next free one from the cursor. Pure. */
export function allocateIn(table: PodIpTable, key: string, range = offsetRange(table.subnets)): AllocateResult {
  const have = table.pods[key];
  if (have !== undefined) return { table, offset: have, fresh: false };
  const taken = new Set(Object.values(table.pods));
  const n = range.last - range.first + 1;
  if (taken.size >= n) return { exhausted: true };
  const start = table.cursor >= range.first && table.cursor <= range.last ? table.cursor : range.first;
  for (let k = 0; k < n; k++) {
    const o = range.first + ((start - range.first + k) % n);
    if (!taken.has(o)) {
      return { table: { ...table, pods: { ...table.pods, [key]: o }, cursor: o + 1 }, offset: o, fresh: true };
    }
  }
  return { exhausted: true };
}

/** Frees the pod's offset, if it holds one. Pure. */
export function releaseIn(table: PodIpTable, key: string): { table: PodIpTable; offset?: number } {
  const offset = table.pods[key];
  if (offset === undefined) return { table };
  const pods = { ...table.pods };
  delete pods[key];
  return { table: { ...table, pods }, offset };
}

/** Frees every offset held by a key not in `live`. Pure. */
export function reclaimIn(table: PodIpTable, live: ReadonlySet<string>): { table: PodIpTable; released: string[] } {
  const released = Object.keys(table.pods).filter((k) => !live.has(k)).sort();
  if (released.length === 0) return { table, released };
  const pods = Object.fromEntries(Object.entries(table.pods).filter(([k]) => live.has(k)));
  return { table: { ...table, pods }, released };
}

/** The pod's addresses, one per family. */
export function addressesOf(table: PodIpTable, offset: number): string[] {
  return table.subnets.map((s) => addressAt(parseCidr(s), offset));
}

/** Parses the persisted table; throws a clear error on anything malformed (the file is then left alone). */
export function parseTable(text: string, path: string): PodIpTable {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: not JSON (${(err as Error).message}); move it away to start with no pod IPs`);
  }
  const t = raw as { version?: unknown; subnets?: unknown; pods?: unknown; cursor?: unknown };
  const bad = (why: string): Error => new Error(`${path}: ${why}; move it away to start with no pod IPs`);
  if (t.version !== FORMAT_VERSION) throw bad(`unknown format version ${JSON.stringify(t.version)}`);
  if (!Array.isArray(t.subnets) || t.subnets.length === 0 || !t.subnets.every((s) => typeof s === 'string')) throw bad('no subnets');
  const subnets = (t.subnets as string[]).map((s) => normalizeCidr(s));
  const range = offsetRange(subnets);
  if (typeof t.pods !== 'object' || t.pods === null || Array.isArray(t.pods)) throw bad('no pods table');
  const pods: Record<string, number> = {};
  const seen = new Set<number>();
  for (const [k, v] of Object.entries(t.pods as Record<string, unknown>)) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < range.first || v > range.last) throw bad(`pod ${k}: offset ${JSON.stringify(v)} outside the subnet`);
    if (seen.has(v)) throw bad(`offset ${v} is held twice`);
    seen.add(v);
    pods[k] = v;
  }
  const cursor = typeof t.cursor === 'number' && Number.isInteger(t.cursor) ? t.cursor : range.first;
  return { subnets, pods, cursor };
}

export function formatTable(table: PodIpTable): string {
  return JSON.stringify({ version: FORMAT_VERSION, subnets: table.subnets, pods: table.pods, cursor: table.cursor }) + '\n';
}

function sameSubnets(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((s, i) => normalizeCidr(s) === normalizeCidr(b[i]));
}

type Op = (table: PodIpTable) => PodIpTable;

export interface PodIpsOptions {
  dataDir: string;
  nodeName: string;
  /** The node's subnets from its Node's spec.podCIDRs, IPv4 first. */
  subnets: string[];
  /** Whether the node holds its subnet right now (its Node still shows it); allocation waits otherwise. */
  holdsSubnet?: () => boolean;
  logger: Logger;
}

/** The node's pod IP table on disk. One PodIps per data dir (one agent per node). */
export class PodIps {
  private table: PodIpTable;
  private readonly path: string;
  private readonly range: { first: number; last: number };
  private pending: { op: Op; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private flushing: Promise<void> | undefined;
  private readonly log: Logger;

  private constructor(private readonly opts: PodIpsOptions, table: PodIpTable) {
    this.path = join(opts.dataDir, POD_IPS_FILE);
    this.table = table;
    this.range = offsetRange(table.subnets);
    this.log = opts.logger.child({ component: 'pod-ips' });
  }

  /** Loads the table (or starts an empty one for these subnets). A table of other subnets is from an earlier lease: it is replaced. */
  static async open(opts: PodIpsOptions): Promise<PodIps> {
    const path = join(opts.dataDir, POD_IPS_FILE);
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const fresh = emptyTable(opts.subnets);
    let table = fresh;
    if (text !== undefined) {
      const stored = parseTable(text, path);
      if (sameSubnets(stored.subnets, fresh.subnets)) table = stored;
      else opts.logger.warn({ stored: stored.subnets, now: fresh.subnets, pods: Object.keys(stored.pods).length }, 'the pod IP table is for another subnet; starting a new one');
    }
    const ips = new PodIps(opts, table);
    if (table === fresh) await writeFileDurably(path, formatTable(table));
    return ips;
  }

  get subnets(): string[] {
    return [...this.table.subnets];
  }

  /** Pod key → primary IP of every allocation (a copy). */
  allocations(): Map<string, string> {
    return new Map(Object.entries(this.table.pods).map(([k, o]) => [k, addressesOf(this.table, o)[0]]));
  }

  /** Applies op to the table and resolves once the result is on disk. */
  private change(op: Op): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ op, resolve, reject });
      if (!this.flushing) this.flushing = this.flush();
    });
  }

  private async flush(): Promise<void> {
    // Yield first: `this.flushing` is assigned when this returns, and it is cleared at the end.
    await Promise.resolve();
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      let next = this.table;
      const applied: typeof batch = [];
      for (const item of batch) {
        try {
          next = item.op(next);
          applied.push(item);
        } catch (err) {
          item.reject(err);
        }
      }
      try {
        if (next !== this.table) await writeFileDurably(this.path, formatTable(next));
        this.table = next;
        for (const item of applied) item.resolve();
      } catch (err) {
        for (const item of applied) item.reject(err);
      }
    }
    this.flushing = undefined;
  }

  /** The pod's IPs (one per family), allocated unless it holds them; on disk before this resolves. */
  async allocate(key: string): Promise<string[]> {
    if (this.opts.holdsSubnet && !this.opts.holdsSubnet()) {
      throw new Error(`node ${this.opts.nodeName} does not hold its subnet ${this.table.subnets.join(',')} right now (its Node shows no such podCIDR); waiting for the node-IPAM controller`);
    }
    let offset = -1;
    await this.change((t) => {
      const r = allocateIn(t, key, this.range);
      if ('exhausted' in r) throw new IpPoolExhaustedError(this.opts.nodeName, t.subnets, this.range.last - this.range.first + 1);
      offset = r.offset;
      return r.table;
    });
    return addressesOf(this.table, offset);
  }

  /** Frees the pod's IPs; returns the primary one, if it held any. */
  async release(key: string): Promise<string | undefined> {
    let offset: number | undefined;
    await this.change((t) => {
      const r = releaseIn(t, key);
      offset = r.offset;
      return r.table;
    });
    return offset === undefined ? undefined : addressesOf(this.table, offset)[0];
  }

  /** Frees the IPs of every pod key not in `live`; returns the keys freed. */
  async reclaim(live: ReadonlySet<string>): Promise<string[]> {
    let released: string[] = [];
    await this.change((t) => {
      const r = reclaimIn(t, live);
      released = r.released;
      return r.table;
    });
    return released;
  }

  /** Waits for every change asked for so far to be on disk. */
  async idle(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  /** The adapter the Kubelet allocates through. */
  kubeletIpam(): KubeletIpam {
    const subnet = parseCidr(this.table.subnets[0]);
    const net = (ip: string): PodNetwork => ({ ip, prefixLength: subnet.prefix, gateway: gatewayOf(subnet) });
    return {
      allocate: async (key) => net((await this.allocate(key))[0]),
      release: async (key) => void (await this.release(key)),
      reclaim: async (live) => {
        const released = await this.reclaim(live);
        if (released.length) this.log.info({ released }, 'reclaimed pod IPs held by no pod');
      },
    };
  }
}
