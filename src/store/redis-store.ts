// The cluster store on Redis: objects in one hash per kind, one cluster-wide
// resourceVersion counter, and one event stream that every watch reads.
// See src/store/lua.ts for the atomic write and docs/ARCHITECTURE.md for the design.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { KubeError, alreadyExists, conflict, notFound } from '../core/errors.ts';
import { resourceByGroupResource } from '../core/resources.ts';
import type { KubeObject } from '../core/types.ts';
import {
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
import { WatchHub, type HubEvent } from './watch-hub.ts';

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
    redis.defineCommand('mlLeaseAcquire', { numberOfKeys: 1, lua: LEASE_ACQUIRE_SCRIPT });
    redis.defineCommand('mlLeaseRenew', { numberOfKeys: 1, lua: LEASE_RENEW_SCRIPT });
    redis.defineCommand('mlLeaseRelease', { numberOfKeys: 1, lua: LEASE_RELEASE_SCRIPT });
    redis.defineCommand('mlLeaseReserve', { numberOfKeys: 1, lua: LEASE_RESERVE_SCRIPT });
    this.scripts = redis as unknown as ScriptedRedis;
    this.hub = new WatchHub(redis, reader, this.key('events'));
    this.leases = new RedisLeases(redis, this.scripts, this.key('lease:'));
  }

  /** Connects to redis+unix:///path or redis://host:port and starts the shared watch reader. */
  static async connect(url: string, opts: RedisStoreOptions = {}): Promise<RedisStore> {
    const conn = redisConnectionOptions(url);
    const redis = new Redis({ ...conn, lazyConnect: true, maxRetriesPerRequest: 3 });
    const reader = new Redis({ ...conn, lazyConnect: true, maxRetriesPerRequest: null });
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

  async get(gr: string, namespace: string, name: string): Promise<KubeObject | undefined> {
    const json = await this.redis.hget(this.key(`obj:${gr}`), objectField(namespace, name));
    return json === null ? undefined : (JSON.parse(json) as KubeObject);
  }

  async list(gr: string, namespace?: string): Promise<ListResult> {
    const flat = await this.scripts.mlList(this.key('rv'), this.key(`obj:${gr}`));
    const resourceVersion = flat[0];
    const items: KubeObject[] = [];
    const wanted = namespace === undefined ? undefined : `${namespace}/`;
    for (let i = 1; i < flat.length; i += 2) {
      if (wanted !== undefined && !flat[i].startsWith(wanted)) continue;
      items.push(JSON.parse(flat[i + 1]) as KubeObject);
    }
    items.sort((a, b) => compareKeys(a, b));
    return { items, resourceVersion };
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
    const result = await this.scripts.mlWrite(
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
    );
    const { kind, group } = kindOf(gr);
    switch (result) {
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
    return this.hub.subscribe(from, matches, handler, opts.bookmarkIntervalMs ?? 0);
  }

  async currentResourceVersion(): Promise<string> {
    return (await this.redis.get(this.key('rv'))) ?? '1';
  }

  async close(): Promise<void> {
    await this.hub.stop();
    this.redis.disconnect();
  }
}

function compareKeys(a: KubeObject, b: KubeObject): number {
  const ka = `${a.metadata.namespace ?? ''}/${a.metadata.name ?? ''}`;
  const kb = `${b.metadata.namespace ?? ''}/${b.metadata.name ?? ''}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
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
    return (await this.scripts.mlLeaseAcquire(this.prefix + key, holder, String(Math.max(1, Math.round(ttlMs))))) === 1;
  }

  async renew(key: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.scripts.mlLeaseRenew(this.prefix + key, holder, String(Math.max(1, Math.round(ttlMs))))) === 1;
  }

  async release(key: string, holder: string): Promise<boolean> {
    return (await this.scripts.mlLeaseRelease(this.prefix + key, holder)) === 1;
  }

  async reserve(key: string, holder: string): Promise<boolean> {
    return (await this.scripts.mlLeaseReserve(this.prefix + key, holder)) === 1;
  }

  async holder(key: string): Promise<string | undefined> {
    return (await this.redis.get(this.prefix + key)) ?? undefined;
  }

  async list(prefix: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const pattern = `${escapeGlob(this.prefix + prefix)}*`;
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (keys.length === 0) continue;
      const holders = await this.redis.mget(...keys);
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
