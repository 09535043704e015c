// A private API server for integration tests: its own redis-server (unix
// socket, fresh temp dir), a RedisStore, a token file (an admin and optional
// node identities) and the server on 127.0.0.1:<any port>, plus a kubeconfig
// for kubectl. Call stop() in `after`: it stops everything and removes the dir.
// The port speaks plain http (url) and https (httpsUrl, self-signed cert):
// the kubeconfig uses https because kubectl sends no token over plain http.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startRedis } from '../../src/store/redis-process.ts';
import { RedisStore } from '../../src/store/redis-store.ts';
import type { Store } from '../../src/store/types.ts';
import { generateTokenFile, loadTokenFile } from '../../src/api/auth.ts';
import { startApiServer, type ApiServer } from '../../src/api/server.ts';
import { ensureServingCert } from '../../src/api/tls.ts';

export interface TestApiServerOptions {
  /** Node names; each gets an identity system:node:<name> in group system:nodes. */
  nodes?: string[];
  maxBodyBytes?: number;
  /** Store event history (older watches get 410). */
  historySize?: number;
  watchBookmarkIntervalMs?: number;
  /** Also listen on a unix socket (<dir>/api.sock). */
  unixSocket?: boolean;
  /** pino level for the server's logs (default: silent). */
  logLevel?: string;
  /** The server's --service-cidr (default 10.96.0.0/16). */
  serviceCidr?: string;
  /** The server's --service-node-port-range (default 30000-32767). */
  serviceNodePortRange?: string;
}

export interface TestApiServer {
  /** http://127.0.0.1:<port> */
  url: string;
  /** https://127.0.0.1:<port> (same port), trusted through caCert. */
  httpsUrl: string;
  /** The server's self-signed certificate (PEM), its own CA. */
  caCert: string;
  /** The admin's bearer token (group system:masters). */
  token: string;
  /** A kubeconfig (cluster "meshlet-test", user "admin") for kubectl --kubeconfig. */
  kubeconfigPath: string;
  /** Node name → bearer token of system:node:<name>. */
  nodeTokens: Map<string, string>;
  /** The unix socket, when asked for. */
  socketPath?: string;
  /** The temp dir holding redis, the token file and the kubeconfig. */
  dir: string;
  store: Store;
  server: ApiServer;
  stop(): Promise<void>;
}

export async function startTestApiServer(opts: TestApiServerOptions = {}): Promise<TestApiServer> {
  const dir = mkdtempSync(join(tmpdir(), 'mlt-api-'));
  const redis = await startRedis({ dir: join(dir, 'redis') });
  let store: Store | undefined;
  try {
    // A freshly started redis-server may refuse the very first connection under load: retry briefly.
    for (let attempt = 1; ; attempt++) {
      try {
        store = await RedisStore.connect(redis.url, { historySize: opts.historySize });
        break;
      } catch (err) {
        if (attempt >= 5) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
    const tokenFile = join(dir, 'tokens.csv');
    const nodes = opts.nodes ?? [];
    const byUser = generateTokenFile(tokenFile, [
      { user: 'admin', uid: 'admin', groups: ['system:masters'] },
      ...nodes.map((n) => ({ user: `system:node:${n}`, uid: `node-${n}`, groups: ['system:nodes'] })),
    ]);
    const serving = ensureServingCert(join(dir, 'pki'));
    const server = await startApiServer({
      tls: { cert: serving.cert, key: serving.key },
      store,
      listen: { host: '127.0.0.1', port: 0 },
      socketPath: opts.unixSocket ? join(dir, 'api.sock') : undefined,
      tokens: loadTokenFile(tokenFile),
      maxBodyBytes: opts.maxBodyBytes,
      watchBookmarkIntervalMs: opts.watchBookmarkIntervalMs,
      serviceCidr: opts.serviceCidr,
      serviceNodePortRange: opts.serviceNodePortRange,
      logger: pino({ level: opts.logLevel ?? 'silent' }),
    });
    const url = `http://127.0.0.1:${server.address!.port}`;
    const httpsUrl = `https://127.0.0.1:${server.address!.port}`;
    const token = byUser.get('admin')!;
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfig(httpsUrl, token, serving.cert), { mode: 0o600 });
    const nodeTokens = new Map(nodes.map((n) => [n, byUser.get(`system:node:${n}`)!]));
    const openStore = store;
    return {
      url,
      httpsUrl,
      caCert: serving.cert,
      token,
      kubeconfigPath,
      nodeTokens,
      socketPath: server.socketPath,
      dir,
      store: openStore,
      server,
      async stop() {
        // Each step runs even if an earlier one fails; the temp dir always goes.
        try {
          await server.close();
        } finally {
          try {
            await openStore.close();
          } finally {
            try {
              await redis.stop();
            } finally {
              rmSync(dir, { recursive: true, force: true });
            }
          }
        }
      },
    };
  } catch (err) {
    await store?.close().catch(() => undefined);
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** A kubeconfig for one server and token; caCert (PEM) for https servers. */
export function kubeconfig(server: string, token: string, caCert?: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: meshlet-test',
    '  cluster:',
    `    server: ${server}`,
    ...(caCert ? [`    certificate-authority-data: ${Buffer.from(caCert).toString('base64')}`] : []),
    'users:',
    '- name: admin',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: meshlet-test',
    '  context:',
    '    cluster: meshlet-test',
    '    user: admin',
    'current-context: meshlet-test',
    '',
  ].join('\n');
}

export interface HttpReply<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

/** One request to a test server; the reply body parsed as JSON when it is JSON. */
export async function apiRequest<T = any>(
  api: { url: string; token: string },
  method: string,
  path: string,
  opts: { body?: unknown; contentType?: string; token?: string | null; accept?: string; rawBody?: string } = {},
): Promise<HttpReply<T>> {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? api.token : opts.token;
  if (token) headers.authorization = `Bearer ${token}`;
  if (opts.accept) headers.accept = opts.accept;
  let body: string | undefined = opts.rawBody;
  if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
  const res = await fetch(api.url + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json')) parsed = text ? JSON.parse(text) : undefined;
  return { status: res.status, headers: res.headers, body: parsed as T };
}

export interface WatchCollector {
  events: { type: string; object: any }[];
  /** Resolves once pred holds for the events so far (checked on every event). */
  until(pred: (events: { type: string; object: any }[]) => boolean): Promise<{ type: string; object: any }[]>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

/** Opens a watch (path including ?watch=true...) and collects its events. */
export function watchEvents(api: { url: string; token: string }, path: string, accept?: string): WatchCollector {
  const controller = new AbortController();
  const events: { type: string; object: any }[] = [];
  const waiters: { pred: (e: typeof events) => boolean; resolve: (e: typeof events) => void; reject: (err: Error) => void }[] = [];
  const check = (): void => {
    for (const w of [...waiters]) {
      if (w.pred(events)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(events);
      }
    }
  };
  const ended = (async () => {
    const headers: Record<string, string> = { authorization: `Bearer ${api.token}` };
    if (accept) headers.accept = accept;
    try {
      const res = await fetch(api.url + path, { headers, signal: controller.signal });
      if (!res.body) return;
      const decoder = new TextDecoder();
      let buffered = '';
      for await (const chunk of res.body) {
        buffered += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (line) events.push(JSON.parse(line));
        }
        check();
      }
    } catch (err) {
      if ((err as Error).name !== 'AbortError') throw err;
    } finally {
      for (const w of waiters.splice(0)) w.reject(new Error(`watch ended before the expected events; got ${JSON.stringify(events.map((e) => e.type))}`));
    }
  })();
  return {
    events,
    until(pred) {
      if (pred(events)) return Promise.resolve(events);
      return new Promise((resolve, reject) => waiters.push({ pred, resolve, reject }));
    },
    ended,
    close: () => controller.abort(),
  };
}
