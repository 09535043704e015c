// The node subnet pool, in the store's Redis. Only the server's node-IPAM
// controller (src/controllers/node-ipam.ts) uses it: agents hold no Redis
// address, they read their subnet from their Node's spec.podCIDRs and hand
// out pod IPs themselves (src/agent/pod-ips.ts).
//
// Design (flannel's subnet leases, `pkg/subnet/etcd`, on Redis):
// - The cluster CIDR (IPv4, IPv6 or both) is cut into node subnets (/24, /64
//   by default). A subnet is named by its index n: in dual-stack a lease holds
//   the n-th subnet of each family, so one index covers both. Index 0 is
//   skipped, as flannel does.
// - Every change is one Lua script (src/overlay/ipam-lua.ts): create-if-absent
//   leases, renewals, reservations, releases, reaping. Scripts are atomic, so
//   there are no races and no retries (several servers may share the pool).
// - Subnet choice: the node's own lease if it has one; else the `preferred`
//   subnet if free; else the subnet it held last (a `last` hash outlives the
//   lease); else the next free index after a rotating cursor (next-fit).
//   flannel picks randomly among free subnets to lower collisions between
//   optimistic etcd transactions; a Lua script has no collisions, and
//   next-fit keeps that benefit flannel also gets from randomness: a subnet
//   freed a moment ago is the LAST one handed out again, while peers may
//   still hold routes to its former owner.
// - TTL: leases carry an expiry (default 24 h; the controller renews while the
//   node heartbeats). A reservation has none. Expired leases sit in a sorted
//   set; reapExpired(now) (leaseSubnet also runs it) deletes them. Every lease
//   change bumps `<base>rev` (and PUBLISHes it on `<base>events`).
// - Layout: the first user records the cluster CIDRs and subnet sizes under
//   `<base>config`; a server configured differently is refused.
// - Time: the caller's clock (Date.now by default, injectable for tests) is
//   passed to the scripts: lease expiry needs clocks within minutes, not ms.
import { Redis } from 'ioredis';
import { redisConnectionOptions } from '../store/redis-process.ts';
import {
  type Cidr, type Family, parseCidr, formatCidr, nthSubnet, subnetCount, subnetIndex, podOffsetRange,
  DEFAULT_NODE_PREFIX, DEFAULT_CLUSTER_CIDR,
} from '../core/cidr.ts';
import { LEASE_LUA, REAP_LUA, RELEASE_SUBNET_LUA } from './ipam-lua.ts';
import { SubnetPoolExhaustedError, NoLeaseError, SubnetConflictError } from './ipam-errors.ts';

export { SubnetPoolExhaustedError, NoLeaseError, SubnetConflictError };

export { DEFAULT_CLUSTER_CIDR };
export const DEFAULT_LEASE_TTL_MS = 24 * 3600 * 1000;
/** Largest index/offset the scripts handle (Lua numbers are doubles; keep far below 2^53). */
const MAX_COUNT = 2 ** 32;

/** flannel renews a lease 1 h before it expires. */
export const RENEW_MARGIN_MS = 3600 * 1000;

/** When the controller should renew `lease` (taken with `ttlMs`): 1 h before expiry, or halfway for TTLs under 2 h; null for reservations. */
export function renewDueAt(lease: Lease, ttlMs: number = DEFAULT_LEASE_TTL_MS): number | null {
  if (lease.expiresAt === null) return null;
  return lease.expiresAt - Math.min(RENEW_MARGIN_MS, Math.floor(ttlMs / 2));
}

export interface IpamOptions {
  /** Redis key prefix (default "ml"): keys are "<prefix>:ipam:<network>:…". */
  prefix?: string;
  /** Network name (default "default"). */
  network?: string;
  /** IPv4 cluster CIDR (default 10.244.0.0/16); null for IPv6-only. */
  clusterCidr?: string | null;
  /** Optional IPv6 cluster CIDR (dual-stack when both are set). */
  clusterCidrV6?: string;
  /** Node subnet prefix length for IPv4 (default 24). */
  nodePrefix?: number;
  /** Node subnet prefix length for IPv6 (default 64). */
  nodePrefixV6?: number;
  /** Clock in ms since the epoch (default Date.now). */
  now?: () => number;
}

export interface Lease {
  node: string;
  /** One subnet per configured family, IPv4 first. */
  subnets: string[];
  /** Expiry in ms since the epoch; null for a permanent reservation. */
  expiresAt: number | null;
}

interface Pool {
  family: Family;
  cluster: Cidr;
  size: number;
}

type ScriptReply = [number, number];

interface IpamCommands {
  mlIpamLease(...args: (string | number)[]): Promise<ScriptReply>;
  mlIpamReap(...args: (string | number)[]): Promise<string[]>;
  mlIpamReleaseSubnet(...args: (string | number)[]): Promise<number>;
}

type IpamRedis = Redis & IpamCommands;

function defineCommands(redis: Redis): IpamRedis {
  const defs: [keyof IpamCommands, string][] = [
    ['mlIpamLease', LEASE_LUA],
    ['mlIpamReap', REAP_LUA],
    ['mlIpamReleaseSubnet', RELEASE_SUBNET_LUA],
  ];
  for (const [name, lua] of defs) {
    if (!(name in redis)) redis.defineCommand(name, { lua, numberOfKeys: 0 });
  }
  return redis as IpamRedis;
}

function errorWord(err: unknown): [string, string] {
  const msg = err instanceof Error ? err.message : String(err);
  const m = /^(?:ERR )?([A-Z]+)\s*(\S*)/.exec(msg);
  return m ? [m[1], m[2]] : ['', ''];
}

const NODE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function checkNode(node: string): void {
  if (typeof node !== 'string' || !NODE_NAME.test(node)) throw new Error(`invalid node name ${JSON.stringify(node)}`);
}

export class Ipam {
  readonly redis: IpamRedis;
  readonly network: string;
  readonly pools: Pool[];
  private readonly base: string;
  private readonly now: () => number;
  private readonly ownsConnection: boolean;
  /** Number of node subnets (shared index space across families). */
  readonly subnetCount: number;

  /** Use an existing ioredis connection (not closed by close()). */
  constructor(redis: Redis, opts: IpamOptions = {}, ownsConnection = false) {
    this.network = opts.network ?? 'default';
    if (!/^[a-zA-Z0-9_.-]{1,63}$/.test(this.network)) throw new Error(`invalid network name ${JSON.stringify(this.network)}`);
    const prefix = opts.prefix ?? 'ml';
    this.base = `${prefix}:ipam:${this.network}:`;
    this.now = opts.now ?? Date.now;
    this.ownsConnection = ownsConnection;
    const pools: Pool[] = [];
    const v4 = opts.clusterCidr === undefined ? DEFAULT_CLUSTER_CIDR : opts.clusterCidr;
    if (v4 !== null) pools.push(makePool(v4, 4, opts.nodePrefix ?? DEFAULT_NODE_PREFIX[4]));
    if (opts.clusterCidrV6) pools.push(makePool(opts.clusterCidrV6, 6, opts.nodePrefixV6 ?? DEFAULT_NODE_PREFIX[6]));
    if (pools.length === 0) throw new Error('IPAM needs at least one cluster CIDR');
    this.pools = pools;
    this.subnetCount = Math.min(...pools.map((p) => Number(bigMin(subnetCount(p.cluster, p.size), BigInt(MAX_COUNT)))));
    if (this.subnetCount < 2) throw new Error('the cluster CIDR holds fewer than two node subnets (the first one is skipped)');
    // Every node subnet must hold pods (the agents hand out offsets in it).
    try {
      podOffsetRange(pools.map((p) => formatCidr(nthSubnet(p.cluster, p.size, 1))));
    } catch {
      throw new Error('node subnets are too small to hold a pod address besides the gateway');
    }
    this.redis = defineCommands(redis);
  }

  static async connect(url: string, opts: IpamOptions = {}): Promise<Ipam> {
    const redis = new Redis({ ...redisConnectionOptions(url), lazyConnect: true, maxRetriesPerRequest: 3 });
    await redis.connect();
    const ipam = new Ipam(redis, opts, true);
    try {
      await ipam.checkConfig();
    } catch (err) {
      redis.disconnect();
      throw err;
    }
    return ipam;
  }

  /**
   * Record this network's layout in Redis on first use, and refuse to work
   * with a different one (two agents cutting the same keys differently would
   * hand out overlapping subnets). connect() calls it.
   */
  async checkConfig(): Promise<void> {
    const mine = JSON.stringify(this.pools.map((p) => `${formatCidr(p.cluster)}:${p.size}`));
    await this.redis.set(this.base + 'config', mine, 'NX');
    const stored = await this.redis.get(this.base + 'config');
    if (stored !== mine) throw new Error(`IPAM network ${this.network} is laid out as ${stored} in Redis, not ${mine}`);
  }

  async close(): Promise<void> {
    if (this.ownsConnection) await this.redis.quit();
  }

  get clusterCidrs(): string[] {
    return this.pools.map((p) => formatCidr(p.cluster));
  }

  /** The subnets (one per family) of lease index `index`. */
  subnetsOf(index: number): string[] {
    return this.pools.map((p) => formatCidr(nthSubnet(p.cluster, p.size, index)));
  }

  /** Index of a subnet given in any configured family. */
  indexOf(subnet: string): number {
    const c = parseCidr(subnet);
    const pool = this.pools.find((p) => p.family === c.family);
    if (!pool) throw new Error(`no IPv${c.family} cluster CIDR is configured for ${subnet}`);
    const i = Number(subnetIndex(pool.cluster, pool.size, c));
    if (i >= this.subnetCount) throw new Error(`${subnet} is beyond the ${this.subnetCount} node subnets of ${this.network}`);
    return i;
  }

  private lease(index: number, expiresAt: number, node: string): Lease {
    return { node, subnets: this.subnetsOf(index), expiresAt: expiresAt === 0 ? null : expiresAt };
  }

  private async runLease(node: string, ttlMs: number, want: number, mode: 'lease' | 'renew' | 'reserve'): Promise<Lease> {
    checkNode(node);
    if (!Number.isInteger(ttlMs) || ttlMs < 0) throw new Error(`invalid lease TTL ${ttlMs}`);
    try {
      const [index, exp] = await this.redis.mlIpamLease(this.base, node, this.now(), ttlMs, this.subnetCount, 1, want, mode);
      return this.lease(index, exp, node);
    } catch (err) {
      const [word, arg] = errorWord(err);
      if (word === 'EXHAUSTED') throw new SubnetPoolExhaustedError(this.network, this.clusterCidrs, node);
      if (word === 'NOLEASE') throw new NoLeaseError(node, 'renewal: the lease expired or was released');
      if (word === 'TAKEN') throw new SubnetConflictError(`subnet ${this.subnetsOf(want).join(',')} is held by node ${arg}`);
      if (word === 'HELD') throw new SubnetConflictError(`node ${node} holds subnet ${this.subnetsOf(Number(arg)).join(',')}; release it before reserving another`);
      if (word === 'RANGE') throw new SubnetConflictError(`subnet index ${want} is out of range`);
      throw err;
    }
  }

  /**
   * Create-if-absent: the node's current lease (its TTL extended), else
   * `preferred` if free, else its previous subnet if free, else a free one.
   */
  leaseSubnet(node: string, opts: { ttlMs?: number; preferred?: string } = {}): Promise<Lease> {
    const want = opts.preferred ? this.indexOf(opts.preferred) : -1;
    return this.runLease(node, opts.ttlMs ?? DEFAULT_LEASE_TTL_MS, want, 'lease');
  }

  /** Extend an existing lease; throws NoLeaseError if it expired or was released (then lease again). */
  renewSubnet(node: string, opts: { ttlMs?: number } = {}): Promise<Lease> {
    return this.runLease(node, opts.ttlMs ?? DEFAULT_LEASE_TTL_MS, -1, 'renew');
  }

  /** A permanent lease (no TTL) of `subnet` for `node`; also turns the node's current lease of that subnet permanent. */
  reserveSubnet(node: string, subnet: string): Promise<Lease> {
    return this.runLease(node, 0, this.indexOf(subnet), 'reserve');
  }

  /** Give up the node's lease. Returns whether it had one. */
  async releaseSubnet(node: string): Promise<boolean> {
    checkNode(node);
    return (await this.redis.mlIpamReleaseSubnet(this.base, node)) === 1;
  }

  /** Remove leases whose TTL has passed; returns their nodes. */
  reapExpired(now: number = this.now()): Promise<string[]> {
    return this.redis.mlIpamReap(this.base, now);
  }

  async getLease(node: string): Promise<Lease | undefined> {
    checkNode(node);
    const v = await this.redis.hget(this.base + 'leases', node);
    const lease = v === null ? undefined : this.parseLease(node, v);
    return lease && this.live(lease) ? lease : undefined;
  }

  private parseLease(node: string, v: string): Lease {
    const m = /^(\d+):(\d+)$/.exec(v);
    if (!m) throw new Error(`corrupt lease record for ${node}: ${v}`);
    return this.lease(Number(m[1]), Number(m[2]), node);
  }

  private live(l: Lease): boolean {
    return l.expiresAt === null || l.expiresAt > this.now();
  }

  /** Unexpired leases, sorted by node name. */
  async listLeases(): Promise<Lease[]> {
    const all = await this.redis.hgetall(this.base + 'leases');
    return Object.entries(all)
      .map(([node, v]) => this.parseLease(node, v))
      .filter((l) => this.live(l))
      .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  }
}

function makePool(cidr: string, family: Family, size: number): Pool {
  const cluster = parseCidr(cidr);
  if (cluster.family !== family) throw new Error(`${cidr} is not an IPv${family} CIDR`);
  subnetCount(cluster, size);
  return { family, cluster, size };
}

function bigMin(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
