// The cluster store on Redis: objects in one hash per kind, one cluster-wide
// resourceVersion counter, and one event stream that every watch reads.
// See src/store/lua.ts for the atomic write and docs/ARCHITECTURE.md for the design.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { KubeError, alreadyExists, conflict, notFound } from '../core/errors.ts';
import { resourceByGroupResource } from '../core/resources.ts';
import type { KubeObject } from '../core/types.ts';
import {
  FENCE_SCRIPT,
  LEASE_ACQUIRE_SCRIPT,
  LEASE_RELEASE_SCRIPT,
  LEASE_RENEW_SCRIPT,
  LEASE_RESERVE_SCRIPT,
  LIST_SCRIPT,
  SCRIPT_RESULT,
  WRITE_SCRIPT,
} from './lua.ts';
import { redisConnectionOptions } from './redis-process.ts';
import type { LeaseStore, ListResult, Preconditions, Store, StoreEvent, StoreWatch, WatchOptions } from './types.ts';
import { WatchHub, gone, type HubEvent } from './watch-hub.ts';
import { compareByKey, objectKey, stateAt, type FirstChange } from './history.ts';
import { storeError, storeUnavailable } from './unavailable.ts';

/**
 * How far the counter jumps past anything handed out before a loss (FENCE_SCRIPT):
 * far more writes than one second can hold, so no version is ever handed out twice.
 */
export const FENCE_GAP = 1_000_000;

/** Longest a single Redis command may take before the request fails with 503 (a hung, not a dead, Redis). */
const COMMAND_TIMEOUT_MS = 10_000;

/**
 * Client options that make an unreachable Redis fail requests at once: no offline
 * queue (a command issued while disconnected is rejected, not held), in-flight
 * commands rejected when the connection drops (never re-sent: a write whose reply was
 * lost may have happened, and re-sending it could apply it twice), and reconnection
 * forever in the background, so Redis coming back heals without a restart.
 */
export function failFastOptions(): {
  lazyConnect: true;
  enableOfflineQueue: false;
  autoResendUnfulfilledCommands: false;
  maxRetriesPerRequest: 0;
  connectTimeout: number;
  retryStrategy: (times: number) => number;
} {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 5000,
    retryStrategy: (times: number) => Math.min(100 * times, 1000),
  };
}

export interface RedisStoreOptions {
  /** Key prefix, so several clusters can share one Redis. Default "ml". */
  prefix?: string;
  /** How many events the stream keeps (at least); older watches get Gone. Default 20000. */
  historySize?: number;
}

type WriteOp = 'create' | 'update' | 'delete';

/** The scripts, as ioredis defineCommand installs them. */
interface ScriptedRedis {
  mlWrite(...args: string[]): Promise<string>;
  mlList(...args: string[]): Promise<string[]>;
  mlFence(counter: string, stream: string, floor: string, maxLen: string): Promise<string>;
  mlLeaseAcquire(key: string, holder: string, ttl: string): Promise<number>;
  mlLeaseRenew(key: string, holder: string, ttl: string): Promise<number>;
  mlLeaseRelease(key: string, holder: string): Promise<number>;
  mlLeaseReserve(key: string, holder: string): Promise<number>;
}

export function objectField(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function kindOf(gr: string): { kind: string; group: string } {
  const info = resourceByGroupResource(gr);
  return { kind: info?.kind ?? gr, group: info?.group ?? '' };
}

/** The object's JSON split around its resourceVersion value, for the write script. */
function splitAroundResourceVersion(obj: KubeObject): [string, string] {
  const marker = `__ml_rv_${randomBytes(6).toString('hex')}__`;
  const json = JSON.stringify({ ...obj, metadata: { ...obj.metadata, resourceVersion: marker } });
  const quoted = `"${marker}"`;
  const at = json.indexOf(quoted);
  return [json.slice(0, at), json.slice(at + quoted.length)];
}

export class RedisStore implements Store {
  readonly leases: LeaseStore;
  private readonly redis: Redis;
  private readonly scripts: ScriptedRedis;
  private readonly prefix: string;
  private readonly historySize: number;
  private readonly hub: WatchHub;

  private constructor(redis: Redis, reader: Redis, opts: RedisStoreOptions) {
    this.redis = redis;
    this.prefix = opts.prefix ?? 'ml';
    this.historySize = opts.historySize ?? 20000;
    redis.defineCommand('mlWrite', { numberOfKeys: 4, lua: WRITE_SCRIPT });
    redis.defineCommand('mlList', { numberOfKeys: 2, lua: LIST_SCRIPT });
    redis.defineCommand('mlFence', { numberOfKeys: 2, lua: FENCE_SCRIPT });
    redis.defineCommand('mlLeaseAcquire', { numberOfKeys: 1, lua: LEASE_ACQUIRE_SCRIPT });
    redis.defineCommand('mlLeaseRenew', { numberOfKeys: 1, lua: LEASE_RENEW_SCRIPT });
    redis.defineCommand('mlLeaseRelease', { numberOfKeys: 1, lua: LEASE_RELEASE_SCRIPT });
    redis.defineCommand('mlLeaseReserve', { numberOfKeys: 1, lua: LEASE_RESERVE_SCRIPT });
    this.scripts = redis as unknown as ScriptedRedis;
    this.hub = new WatchHub(redis, reader, this.key('events'), (seen) => this.recoverFrom(seen));
    this.leases = new RedisLeases(redis, this.scripts, this.key('lease:'));
  }

  /**
   * Connects to redis+unix:///path or redis://host:port and starts the shared watch reader.
   * Requests fail with 503 ServiceUnavailable while Redis is unreachable and work again
   * when it is back (failFastOptions).
   */
  static async connect(url: string, opts: RedisStoreOptions = {}): Promise<RedisStore> {
    const conn = redisConnectionOptions(url);
    const redis = new Redis({ ...conn, ...failFastOptions(), commandTimeout: COMMAND_TIMEOUT_MS });
    // The reader blocks in XREAD for READ_BLOCK_MS at a time, so it has no command timeout.
    const reader = new Redis({ ...conn, ...failFastOptions() });
    // Connection errors are reported through the failing requests (503) and /readyz.
    redis.on('error', () => undefined);
    reader.on('error', () => undefined);
    try {
      await redis.connect();
      await reader.connect();
    } catch (err) {
      redis.disconnect();
      reader.disconnect();
      throw new Error(`cannot connect to Redis at ${url}: ${(err as Error).message}`);
    }
    const store = new RedisStore(redis, reader, opts);
    // Versions start at 2, so "0" and "1" never name a real change.
    await redis.set(store.key('rv'), '1', 'NX');
    await store.hub.start();
    return store;
  }

  private key(suffix: string): string {
    return `${this.prefix}:${suffix}`;
  }

  /**
   * After acknowledged writes may have been lost, moves the counter past every version
   * that could have been handed out (see FENCE_SCRIPT). seen: the newest version known
   * to have existed (0: only what Redis has now). Returns the counter.
   */
  async fence(seen = 0): Promise<string> {
    return call(async () => {
      const counter = Number((await this.redis.get(this.key('rv'))) ?? '0');
      const last = (await this.redis.xrevrange(this.key('events'), '+', '-', 'COUNT', 1)) as [string, string[]][];
      const tail = last.length > 0 ? Number(last[0][0].slice(0, last[0][0].indexOf('-'))) : 0;
      const floor = Math.max(counter, tail, seen) + FENCE_GAP;
      return this.scripts.mlFence(this.key('rv'), this.key('events'), String(floor), String(this.historySize));
    });
  }

  /**
   * Redis answers again after an outage. If it came back with less than this process
   * had seen (a Redis without persistence restarted, an everysec AOF after a power cut),
   * fence, so that versions are never handed out twice; an empty Redis gets a fresh counter.
   */
  private async recoverFrom(seen: number): Promise<void> {
    const counter = Number((await this.redis.get(this.key('rv'))) ?? '0');
    if (counter >= seen && counter > 0) return;
    if (seen === 0) {
      await this.redis.set(this.key('rv'), '1', 'NX');
      return;
    }
    await this.fence(seen);
  }

  async get(gr: string, namespace: string, name: string): Promise<KubeObject | undefined> {
    const json = await call(() => this.redis.hget(this.key(`obj:${gr}`), objectField(namespace, name)));
    return json === null ? undefined : (JSON.parse(json) as KubeObject);
  }

  async list(gr: string, namespace?: string): Promise<ListResult> {
    const flat = await call(() => this.scripts.mlList(this.key('rv'), this.key(`obj:${gr}`)));
    const resourceVersion = flat[0];
    const items: KubeObject[] = [];
    const wanted = namespace === undefined ? undefined : `${namespace}/`;
    for (let i = 1; i < flat.length; i += 2) {
      if (wanted !== undefined && !flat[i].startsWith(wanted)) continue;
      items.push(JSON.parse(flat[i + 1]) as KubeObject);
    }
    items.sort(compareByKey);
    return { items, resourceVersion };
  }

  /**
   * The items of one kind (optionally one namespace) whose key ("namespace/name") sorts
   * after afterKey, as they were at resourceVersion: the state now, with every key
   * changed since put back to what it was before its first change, from the event
   * history (each event names the version it replaced). Rejects with Expired when the
   * history no longer covers that version (trimmed, fenced, or older than the events
   * that carry the previous version).
   */
  async listAt(gr: string, namespace: string | undefined, resourceVersion: string, afterKey: string): Promise<ListResult> {
    const at = parseVersion(resourceVersion);
    const now = await this.list(gr, namespace);
    const after = now.items.filter((o) => objectKey(o) > afterKey);
    const nowRv = Number(now.resourceVersion);
    if (at === nowRv) return { items: after, resourceVersion };
    if (at > nowRv) throw gone(at, nowRv + 1);
    const events = await call(() => this.hub.history(at, nowRv));
    const first = new Map<string, HubEvent>();
    for (const ev of events) {
      if (ev.gr !== gr || (namespace !== undefined && ev.namespace !== namespace)) continue;
      const key = objectKey(JSON.parse(ev.json) as KubeObject);
      if (key > afterKey && !first.has(key)) first.set(key, ev);
    }
    const changes = new Map<string, FirstChange>();
    for (const [key, ev] of first) {
      if (ev.type === 'FENCE') continue;
      if (ev.type === 'ADDED') {
        changes.set(key, { type: ev.type });
        continue;
      }
      const before = ev.prev > 0 ? await call(() => this.hub.event(ev.prev)) : undefined;
      if (!before || before.type === 'FENCE' || before.type === 'DELETED') throw gone(at, ev.rv);
      changes.set(key, { type: ev.type, before: JSON.parse(before.json) as KubeObject });
    }
    return { items: stateAt(after, changes), resourceVersion };
  }

  async create(gr: string, obj: KubeObject): Promise<KubeObject> {
    return this.write('create', gr, obj, '', 'ADDED');
  }

  async update(gr: string, obj: KubeObject): Promise<KubeObject> {
    return this.write('update', gr, obj, obj.metadata.resourceVersion ?? '', 'MODIFIED');
  }

  async delete(gr: string, namespace: string, name: string, pre: Preconditions = {}): Promise<KubeObject> {
    const { kind, group } = kindOf(gr);
    // Read, check the preconditions, then delete on condition that nothing changed since the read.
    for (;;) {
      const current = await this.get(gr, namespace, name);
      if (!current) throw notFound(kind, group, name);
      if (pre.uid !== undefined && pre.uid !== current.metadata.uid) {
        throw conflict(kind, group, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid ?? ''}`);
      }
      if (pre.resourceVersion !== undefined && pre.resourceVersion !== current.metadata.resourceVersion) {
        throw conflict(kind, group, name, 'the object has been modified; please apply your changes to the latest version and try again');
      }
      try {
        return await this.write('delete', gr, current, current.metadata.resourceVersion ?? '', 'DELETED');
      } catch (err) {
        // Changed between the read and the delete: read again (the preconditions are re-checked).
        if (err instanceof KubeError && err.reason === 'Conflict' && pre.resourceVersion === undefined) continue;
        throw err;
      }
    }
  }

  private async write(op: WriteOp, gr: string, obj: KubeObject, expected: string, type: 'ADDED' | 'MODIFIED' | 'DELETED'): Promise<KubeObject> {
    const namespace = obj.metadata.namespace ?? '';
    const name = obj.metadata.name ?? '';
    const [head, tail] = splitAroundResourceVersion(obj);
    const result = await call(() => this.scripts.mlWrite(
      this.key('rv'),
      this.key(`obj:${gr}`),
      this.key(`rvs:${gr}`),
      this.key('events'),
      op,
      objectField(namespace, name),
      expected,
      head,
      tail,
      String(this.historySize),
      gr,
      namespace,
      type,
    ));
    const { kind, group } = kindOf(gr);
    switch (result) {
      case SCRIPT_RESULT.noStore:
        throw storeUnavailable('Redis holds no resourceVersion counter (it lost the store\'s data); the store fences it when it notices');
      case SCRIPT_RESULT.exists:
        throw alreadyExists(kind, group, name);
      case SCRIPT_RESULT.notFound:
        throw notFound(kind, group, name);
      case SCRIPT_RESULT.conflict:
        throw conflict(kind, group, name, 'the object has been modified; please apply your changes to the latest version and try again');
      default:
        return { ...obj, metadata: { ...obj.metadata, resourceVersion: result } };
    }
  }

  async watch(gr: string, opts: WatchOptions, handler: (event: StoreEvent) => void): Promise<StoreWatch> {
    const from = parseVersion(opts.resourceVersion);
    const matches = (ev: HubEvent): boolean =>
      ev.gr === gr && (opts.namespace === undefined || ev.namespace === opts.namespace);
    // A version newer than the newest the store has was handed out by a store that has
    // since lost it: the client must relist, never wait for versions that will mean other changes.
    const current = parseVersion(await this.currentResourceVersion());
    if (from > current) throw gone(from, current + 1);
    return call(() => this.hub.subscribe(from, matches, handler, opts.bookmarkIntervalMs ?? 0));
  }

  /** The newest resourceVersion; 503 when Redis is unreachable or holds no counter. */
  async currentResourceVersion(): Promise<string> {
    const rv = await call(() => this.redis.get(this.key('rv')));
    if (rv === null) throw storeUnavailable('Redis holds no resourceVersion counter');
    return rv;
  }

  async close(): Promise<void> {
    await this.hub.stop();
    this.redis.disconnect();
  }
}

/** Runs one store call; Redis being unreachable becomes 503 ServiceUnavailable (unavailable.ts). */
async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw storeError(err);
  }
}

export function parseVersion(rv: string): number {
  if (!/^\d+$/.test(rv)) throw new KubeError('BadRequest', `invalid resourceVersion "${rv}": must be a non-negative integer`);
  return Number(rv);
}

class RedisLeases implements LeaseStore {
  constructor(
    private readonly redis: Redis,
    private readonly scripts: ScriptedRedis,
    private readonly prefix: string,
  ) {}

  async acquire(key: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await call(() => this.scripts.mlLeaseAcquire(this.prefix + key, holder, String(Math.max(1, Math.round(ttlMs)))))) === 1;
  }

  async renew(key: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await call(() => this.scripts.mlLeaseRenew(this.prefix + key, holder, String(Math.max(1, Math.round(ttlMs)))))) === 1;
  }

  async release(key: string, holder: string): Promise<boolean> {
    return (await call(() => this.scripts.mlLeaseRelease(this.prefix + key, holder))) === 1;
  }

  async reserve(key: string, holder: string): Promise<boolean> {
    return (await call(() => this.scripts.mlLeaseReserve(this.prefix + key, holder))) === 1;
  }

  async holder(key: string): Promise<string | undefined> {
    return (await call(() => this.redis.get(this.prefix + key))) ?? undefined;
  }

  async list(prefix: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const pattern = `${escapeGlob(this.prefix + prefix)}*`;
    let cursor = '0';
    do {
      const [next, keys] = await call(() => this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500));
      cursor = next;
      if (keys.length === 0) continue;
      const holders = await call(() => this.redis.mget(...keys));
      keys.forEach((k, i) => {
        const h = holders[i];
        if (h !== null) out.set(k.slice(this.prefix.length), h);
      });
    } while (cursor !== '0');
    return out;
  }
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}
