// Starts and stops a private redis-server: one host runs meshlet with its own,
// the lab runs one per lab, tests run one per test file.
import { spawn } from 'node:child_process';
import { mkdirSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RedisProcess {
  /** Connection URL for ioredis-style clients: unix socket path as redis+unix:// or redis://host:port. */
  url: string;
  socketPath: string;
  pid: number;
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  /** Directory for the socket, the pid file and the log. Created if missing. */
  dir: string;
  /** Also listen on 127.0.0.1:port (0: no TCP). */
  port?: number;
  /** Detach from this process so it outlives it (lab). */
  detached?: boolean;
  redisServer?: string;
}

export async function startRedis(opts: StartRedisOptions): Promise<RedisProcess> {
  mkdirSync(opts.dir, { recursive: true });
  const socketPath = join(opts.dir, 'redis.sock');
  const pidFile = join(opts.dir, 'redis.pid');
  const args = [
    '--port', String(opts.port ?? 0),
    '--bind', '127.0.0.1',
    '--unixsocket', socketPath,
    '--unixsocketperm', '700',
    '--dir', opts.dir,
    '--pidfile', pidFile,
    '--save', '',
    '--appendonly', 'no',
    '--logfile', join(opts.dir, 'redis.log'),
    '--daemonize', 'no',
  ];
  const child = spawn(opts.redisServer ?? 'redis-server', args, {
    stdio: 'ignore',
    detached: opts.detached ?? false,
  });
  if (opts.detached) child.unref();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  const pid = child.pid;
  for (let i = 0; i < 200; i++) {
    if (spawnError) throw new Error(`cannot start redis-server: ${spawnError.message}`);
    if (child.exitCode !== null) {
      const log = existsSync(join(opts.dir, 'redis.log')) ? readFileSync(join(opts.dir, 'redis.log'), 'utf8') : '';
      throw new Error(`redis-server exited with ${child.exitCode}: ${log.slice(-500)}`);
    }
    if (existsSync(socketPath) && pid !== undefined) {
      return {
        url: `redis+unix://${socketPath}`,
        socketPath,
        pid,
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
        },
      };
    }
    await sleep(25);
  }
  child.kill('SIGKILL');
  throw new Error('redis-server did not create its socket within 5 s');
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
