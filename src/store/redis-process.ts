// Starts and stops a private redis-server: one host runs meshlet with its own,
// the lab runs one per lab, tests run one per test file.
//
// Persistence (docs/DECISIONS.md "Store durability"): by default an append-only
// file with appendfsync everysec in the given dir; `always` fsyncs before each
// reply; `memory` keeps nothing across a restart (the lab chooses that, and says so).
//
// Crash recovery: a record of the redis-server we started (pid + start time, and
// the pid + start time of the process that started it) lives next to the socket.
// The next start finds what a kill -9 left behind: a stale socket and pid file are
// removed; a redis-server still running from that record, whose starter is gone, is
// ours and is stopped (SIGTERM: it flushes its AOF) before a fresh one starts; a
// pid that is alive with another start time is someone else's and is left alone.
import { spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive, readStat, signal } from '../kubelet/proc.ts';

/** What `meshlet server --store-fsync` accepts. */
export const STORE_FSYNC_MODES = ['always', 'everysec'] as const;
export type StoreFsync = (typeof STORE_FSYNC_MODES)[number];
/** How the private redis-server keeps its data: an AOF with that fsync policy, or memory only. */
export type RedisPersistence = StoreFsync | 'memory';
export const DEFAULT_PERSISTENCE: RedisPersistence = 'everysec';

/** How the previous redis-server in this dir ended, as far as its record tells. */
export type PreviousEnd =
  /** No record: a first start, or the last one was stopped by us. */
  | 'clean'
  /** It died (or its starter did) without a clean stop, on this boot of the host: nothing the kernel had is lost. */
  | 'crashed'
  /** It was running when the host went down (another boot id): an everysec AOF may miss its last second. */
  | 'host-down';

export interface RedisProcess {
  /** Connection URL for ioredis-style clients: unix socket path as redis+unix:// or redis://host:port. */
  url: string;
  socketPath: string;
  pid: number;
  persistence: RedisPersistence;
  previousEnd: PreviousEnd;
  /** What start-up cleaned after a crash, for the log. */
  recovered: string[];
  /** Resolves with the exit code (or signal) when the redis-server exits for any reason. */
  exited: Promise<number | NodeJS.Signals | null>;
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  /** Directory for the socket, the pid file, the log and the AOF. Created if missing. */
  dir: string;
  /** Also listen on 127.0.0.1:port (0: no TCP). */
  port?: number;
  /** Detach from this process so it outlives it (lab). */
  detached?: boolean;
  redisServer?: string;
  /** Default everysec (an AOF in dir). */
  persistence?: RedisPersistence;
  /** How long to wait for the server to answer PING (loading a large AOF takes a while). Default 120 s. */
  readyTimeoutMs?: number;
}

/** The record of the redis-server we started in a dir (owner.json). */
interface OwnerRecord {
  pid: number;
  startTicks: number;
  ownerPid: number;
  ownerStartTicks: number;
  bootId: string;
  persistence: RedisPersistence;
}

const RECORD_FILE = 'redis.owner.json';
const STOP_GRACE_MS = 10_000;

/** redis-server arguments for a persistence choice. Pure. */
export function persistenceArgs(persistence: RedisPersistence): string[] {
  if (persistence === 'memory') return ['--save', '', '--appendonly', 'no'];
  return [
    // The AOF is the only persistence: RDB snapshots would add fork pauses and a second, staler copy.
    '--save', '',
    '--appendonly', 'yes',
    '--appendfsync', persistence,
    '--appenddirname', 'appendonlydir',
    // Rewrites start with an RDB preamble: a compact base plus the commands since.
    '--aof-use-rdb-preamble', 'yes',
    // A write cut short by a crash is dropped at load instead of refusing to start.
    '--aof-load-truncated', 'yes',
  ];
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

function readRecord(path: string): OwnerRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(path, 'utf8')) as Partial<OwnerRecord>;
    if (typeof r.pid !== 'number' || typeof r.startTicks !== 'number') return undefined;
    return {
      pid: r.pid,
      startTicks: r.startTicks,
      ownerPid: typeof r.ownerPid === 'number' ? r.ownerPid : 0,
      ownerStartTicks: typeof r.ownerStartTicks === 'number' ? r.ownerStartTicks : 0,
      bootId: typeof r.bootId === 'string' ? r.bootId : '',
      persistence: r.persistence === 'always' || r.persistence === 'memory' ? r.persistence : 'everysec',
    };
  } catch {
    return undefined;
  }
}

function writeRecord(path: string, rec: OwnerRecord): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(rec) + '\n', { mode: 0o600 });
  renameSync(tmp, path);
}

function removeIfPresent(path: string): boolean {
  if (!existsSync(path)) return false;
  rmSync(path, { force: true });
  return true;
}

async function waitGone(pid: number, startTicks: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!isAlive(pid, startTicks)) return true;
    await sleep(25);
  }
  return !isAlive(pid, startTicks);
}

/**
 * Cleans what a crash left in dir and says how the previous run ended.
 * Throws when the recorded redis-server is alive and so is the process that started it:
 * the dir is in use, and starting a second server on one AOF would corrupt it.
 */
async function recoverDir(dir: string, socketPath: string, pidFile: string, recordPath: string, recovered: string[]): Promise<PreviousEnd> {
  const rec = readRecord(recordPath);
  let previousEnd: PreviousEnd = 'clean';
  if (rec) {
    previousEnd = rec.bootId !== '' && rec.bootId !== bootId() ? 'host-down' : 'crashed';
    if (previousEnd === 'crashed' && isAlive(rec.pid, rec.startTicks)) {
      const ownerAlive = rec.ownerPid !== process.pid && rec.ownerPid > 0 && isAlive(rec.ownerPid, rec.ownerStartTicks);
      if (ownerAlive) {
        throw new Error(`${dir} is in use: its redis-server (pid ${rec.pid}) was started by process ${rec.ownerPid}, which is still running`);
      }
      // Ours (same pid and start time), orphaned by a crash of its starter: stop it; SIGTERM makes it flush its AOF.
      signal(rec.pid, 'SIGTERM');
      if (!(await waitGone(rec.pid, rec.startTicks, STOP_GRACE_MS))) {
        signal(rec.pid, 'SIGKILL');
        await waitGone(rec.pid, rec.startTicks, STOP_GRACE_MS);
      }
      recovered.push(`stopped the previous redis-server (pid ${rec.pid}) left running by a crash`);
      // It flushed on SIGTERM, so nothing of it is lost.
      previousEnd = 'clean';
    }
  }
  if (existsSync(socketPath)) {
    if (!statSync(socketPath).isSocket()) throw new Error(`${socketPath} exists and is not a socket; refusing to remove it`);
    rmSync(socketPath, { force: true });
    recovered.push(`removed the stale ${socketPath}`);
  }
  if (removeIfPresent(pidFile)) recovered.push(`removed the stale ${pidFile}`);
  return previousEnd;
}

/** True when the server at socketPath answers PING with PONG (not LOADING) within a second. */
function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection(socketPath);
    let reply = '';
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      reply += d.toString('utf8');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

export async function startRedis(opts: StartRedisOptions): Promise<RedisProcess> {
  mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  const persistence = opts.persistence ?? DEFAULT_PERSISTENCE;
  const socketPath = join(opts.dir, 'redis.sock');
  const pidFile = join(opts.dir, 'redis.pid');
  const recordPath = join(opts.dir, RECORD_FILE);
  const logFile = join(opts.dir, 'redis.log');
  const recovered: string[] = [];
  const previousEnd = await recoverDir(opts.dir, socketPath, pidFile, recordPath, recovered);
  const args = [
    '--port', String(opts.port ?? 0),
    '--bind', '127.0.0.1',
    '--unixsocket', socketPath,
    '--unixsocketperm', '700',
    '--dir', opts.dir,
    '--pidfile', pidFile,
    ...persistenceArgs(persistence),
    '--logfile', logFile,
    '--daemonize', 'no',
  ];
  const child = spawn(opts.redisServer ?? 'redis-server', args, {
    stdio: 'ignore',
    detached: opts.detached ?? false,
    cwd: opts.dir,
  });
  if (opts.detached) child.unref();
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig)));
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  const pid = child.pid;
  const startTicks = pid === undefined ? undefined : readStat(pid)?.startTicks;
  const self = readStat(process.pid);
  if (pid !== undefined && startTicks !== undefined) {
    writeRecord(recordPath, { pid, startTicks, ownerPid: process.pid, ownerStartTicks: self?.startTicks ?? 0, bootId: bootId(), persistence });
  }
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    // Stopped by us: the next start has nothing to recover. (A record of some other start stays.)
    if (readRecord(recordPath)?.pid === pid) rmSync(recordPath, { force: true });
  };
  const until = Date.now() + (opts.readyTimeoutMs ?? 120_000);
  while (Date.now() < until) {
    if (spawnError) throw new Error(`cannot start redis-server: ${spawnError.message}`);
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
      rmSync(recordPath, { force: true });
      throw new Error(`redis-server exited with ${child.exitCode ?? child.signalCode}: ${log.slice(-500)}`);
    }
    if (pid !== undefined && existsSync(socketPath) && (await ping(socketPath))) {
      return { url: `redis+unix://${socketPath}`, socketPath, pid, persistence, previousEnd, recovered, exited, stop };
    }
    await sleep(25);
  }
  await stop();
  throw new Error(`redis-server did not answer on ${socketPath} within ${Math.round((opts.readyTimeoutMs ?? 120_000) / 1000)} s`);
}

export type RedisConnection =
  | { path: string }
  | { host: string; port: number; password?: string; db?: number }
  | { sentinels: { host: string; port: number }[]; name: string; password?: string; db?: number };

/**
 * ioredis connection options for a Redis URL:
 * - `redis+unix:///path/redis.sock` (what startRedis returns; `unix:///path` too),
 * - `redis://[:password@]host[:port][/db]`,
 * - `redis+sentinel://[:password@]host1:26379,host2:26379/<master-name>[/db]` for Sentinel-managed HA.
 */
export function redisConnectionOptions(url: string): RedisConnection {
  if (url.startsWith('redis+unix://')) return { path: url.slice('redis+unix://'.length) };
  if (url.startsWith('unix://')) return { path: url.slice('unix://'.length) };
  if (url.startsWith('redis+sentinel://')) return sentinelOptions(url);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`invalid Redis URL ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'redis:') {
    throw new Error(`unsupported Redis URL ${url}: use redis://host:port, redis+unix:///path or redis+sentinel://host:port,.../master`);
  }
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
  };
}

function sentinelOptions(url: string): RedisConnection {
  const rest = url.slice('redis+sentinel://'.length);
  const at = rest.lastIndexOf('@');
  const auth = at >= 0 ? rest.slice(0, at) : '';
  const [hosts, name, db] = (at >= 0 ? rest.slice(at + 1) : rest).split('/');
  if (!hosts || !name) throw new Error(`invalid Sentinel URL ${url}: use redis+sentinel://host:26379,host:26379/<master-name>`);
  const sentinels = hosts.split(',').map((hp) => {
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hp);
    if (!m) throw new Error(`invalid Sentinel address ${JSON.stringify(hp)} in ${url}`);
    return { host: m[1].replace(/^\[|\]$/g, ''), port: m[2] ? Number(m[2]) : 26379 };
  });
  const password = auth.startsWith(':') ? decodeURIComponent(auth.slice(1)) : auth ? decodeURIComponent(auth) : undefined;
  return { sentinels, name, ...(password ? { password } : {}), ...(db ? { db: Number(db) } : {}) };
}

/** A private redis-server that is started again whenever it exits on its own. */
export interface SupervisedRedis {
  url: string;
  socketPath: string;
  /** The first start (how the previous run ended, what was cleaned). */
  first: RedisProcess;
  /** The redis-server running now. */
  current(): RedisProcess | undefined;
  stop(): Promise<void>;
}

export interface SuperviseEvents {
  exited?(pid: number, how: number | NodeJS.Signals | null): void;
  restarted?(proc: RedisProcess): void;
  restartFailed?(err: Error, delayMs: number): void;
}

/**
 * Starts redis-server and restarts it (back-off 0.5 s doubling to 10 s) if it exits
 * while not being stopped: the store's clients reconnect to the same socket, so the
 * server heals without a restart of its own. Its data is in the AOF (persistence
 * permitting), and a process crash loses nothing the kernel already had.
 */
export async function superviseRedis(opts: StartRedisOptions, events: SuperviseEvents = {}): Promise<SupervisedRedis> {
  const first = await startRedis(opts);
  let current: RedisProcess | undefined = first;
  let stopping = false;
  let wake: (() => void) | undefined;
  const pause = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  const loop = (async () => {
    let delay = 500;
    while (!stopping && current) {
      const how = await current.exited;
      if (stopping) return;
      events.exited?.(current.pid, how);
      current = undefined;
      while (!stopping && !current) {
        await pause(delay);
        if (stopping) return;
        try {
          current = await startRedis(opts);
          if (stopping) {
            await current.stop();
            return;
          }
          events.restarted?.(current);
          delay = 500;
        } catch (err) {
          delay = Math.min(delay * 2, 10_000);
          events.restartFailed?.(err as Error, delay);
        }
      }
    }
  })();
  return {
    url: first.url,
    socketPath: first.socketPath,
    first,
    current: () => current,
    async stop() {
      stopping = true;
      wake?.();
      await current?.stop();
      await loop;
    },
  };
}

/** What a running Redis says about its persistence (CONFIG GET). */
export interface PersistenceConfig {
  appendonly: string;
  appendfsync: string;
  save: string;
}

/** One line for humans (lab status): how much of the store survives a restart of that Redis. Pure. */
export function describePersistence(cfg: PersistenceConfig): string {
  const snapshots = cfg.save.trim() !== '';
  if (cfg.appendonly === 'yes') {
    return `append-only file, appendfsync ${cfg.appendfsync}${cfg.appendfsync === 'always' ? '' : cfg.appendfsync === 'everysec' ? ' (a power cut may lose the last second)' : ' (the kernel decides when to flush)'}`;
  }
  if (snapshots) return `RDB snapshots only (save ${cfg.save}): a restart loses the writes since the last snapshot`;
  return 'in memory only (no AOF, no snapshots): a restart of its redis-server loses every object';
}

export async function readPersistence(url: string): Promise<PersistenceConfig> {
  const { Redis } = await import('ioredis');
  const client = new Redis({ ...redisConnectionOptions(url), lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const get = async (name: string): Promise<string> => ((await client.config('GET', name)) as string[])[1] ?? '';
    return { appendonly: await get('appendonly'), appendfsync: await get('appendfsync'), save: await get('save') };
  } finally {
    client.disconnect();
  }
}
