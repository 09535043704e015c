// The API server the API benchmarks measure: a private redis-server in a fresh
// temp dir, a RedisStore with a long history, an admin token and the server on
// 127.0.0.1:<any port>, plain http, warnings logged. stop() removes it all.
// (test/helpers/api-server.ts is the tests' one, with TLS and node tokens.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { generateTokenFile, loadTokenFile } from '../src/api/auth.ts';
import { startApiServer, type ApiServer } from '../src/api/server.ts';
import { startRedis } from '../src/store/redis-process.ts';
import { RedisStore } from '../src/store/redis-store.ts';

export interface BenchApiServer {
  dir: string;
  /** The redis-server's URL (for a baseline straight to Redis). */
  redisUrl: string;
  store: RedisStore;
  server: ApiServer;
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  /** The admin's bearer token. */
  token: string;
  stop(): Promise<void>;
}

/** Starts it in a temp dir whose name begins with `dirPrefix`. */
export async function startBenchApiServer(dirPrefix: string): Promise<BenchApiServer> {
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  const redis = await startRedis({ dir });
  const store = await RedisStore.connect(redis.url, { historySize: 50000 });
  const tokenFile = join(dir, 'tokens.csv');
  const tokens = generateTokenFile(tokenFile, [{ user: 'admin', uid: 'admin', groups: ['system:masters'] }]);
  const server = await startApiServer({ store, listen: { host: '127.0.0.1', port: 0 }, tokens: loadTokenFile(tokenFile), logger: pino({ level: 'warn' }) });
  const port = server.address!.port;
  return {
    dir, redisUrl: redis.url, store, server, port, url: `http://127.0.0.1:${port}`, token: tokens.get('admin')!,
    async stop() {
      await server.close();
      await store.close();
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
