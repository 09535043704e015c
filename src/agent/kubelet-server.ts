// The agent's kubelet endpoint: GET /containerLogs/<ns>/<pod>/<container>
// (?follow, tailLines, previous, sinceSeconds, timestamps), served from
// Kubelet.readLogs, for the API server's pods/log proxy; and, by HTTP upgrade,
// /exec, /attach and /portForward (src/agent/streaming.ts) for the API
// server's upgrade proxy (src/api/stream-proxy.ts).
//
// Authentication (decided here): every request must carry
// `Authorization: Bearer <this node's own API token>`. The API server holds
// every node's token in its token file and presents the target node's token
// when it proxies; nothing else knows it. On top of that the unix socket is
// created mode 0600 (root only) and a TCP listener, when asked for, should be
// bound to the node IP (never 0.0.0.0 in the lab).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Duplex, Readable } from 'node:stream';
import type { Logger } from 'pino';
import { KubeError, type Reason } from '../core/errors.ts';
import type { LogOptions } from '../kubelet/logs.ts';
import { KUBELET_USAGE_PATH, type UsageSummary } from '../core/usage-summary.ts';
import { listenHttp, type HttpListen, type Listening } from './http-listener.ts';
import type { Registry } from 'prom-client';
import { NAME_SEGMENT, createStreamMetrics, handleStreamUpgrade, rejectUpgrade, streamingWebSocketServer, type StreamingDeps } from './streaming.ts';

export type KubeletListen = HttpListen;

export interface LogRequest {
  namespace: string;
  pod: string;
  container: string;
  opts: LogOptions;
}


function boolParam(v: string | null): boolean {
  return v === 'true' || v === '1';
}

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw new KubeError('BadRequest', `${name}: invalid value "${v}": must be a non-negative integer`);
  return Number(v);
}

/** Parses a kubelet log request path + query. Pure; throws KubeError(BadRequest/NotFound). */
export function parseLogRequest(pathname: string, query: URLSearchParams): LogRequest {
  const parts = pathname.split('/').filter(Boolean).map((p) => decodeURIComponent(p));
  if (parts.length !== 4 || parts[0] !== 'containerLogs') throw new KubeError('NotFound', `no such path ${pathname}`);
  const [, namespace, pod, container] = parts;
  for (const [what, v] of [['namespace', namespace], ['pod', pod], ['container', container]] as const) {
    if (!NAME_SEGMENT.test(v)) throw new KubeError('BadRequest', `invalid ${what} name "${v}"`);
  }
  const opts: LogOptions = {};
  if (boolParam(query.get('follow'))) opts.follow = true;
  if (boolParam(query.get('previous'))) opts.previous = true;
  if (boolParam(query.get('timestamps'))) opts.timestamps = true;
  const tail = intParam(query, 'tailLines');
  if (tail !== undefined) opts.tailLines = tail;
  const since = intParam(query, 'sinceSeconds');
  if (since !== undefined) opts.sinceSeconds = since;
  return { namespace, pod, container, opts };
}

/** Constant-time check of `Authorization: Bearer <token>`. Pure. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m || token.length === 0) return false;
  const a = Buffer.from(m[1]);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface KubeletServerOptions {
  listen: KubeletListen;
  /** The node's own API token: the only credential accepted. */
  token: string;
  readLogs(namespace: string, pod: string, container: string, opts: LogOptions): Readable;
  /** exec, attach and port-forward; without it those paths answer 404. */
  streaming?: Omit<StreamingDeps, 'logger' | 'metrics'>;
  /** Where the streaming metrics go. */
  metrics?: Registry;
  /** GET /policyDenials (the policy part's denial records); without it 404. */
  policyDenials?: (query: URLSearchParams, res: ServerResponse) => void;
  /** GET KUBELET_USAGE_PATH: this node's usage summary (the kubelet's usage sampler); without it 404. */
  usage?: () => UsageSummary | Promise<UsageSummary>;
  logger: Logger;
}

export type KubeletServer = Listening;

function sendError(res: ServerResponse, err: unknown): void {
  const e = err instanceof KubeError ? err : classify(err);
  const body = JSON.stringify(e.toStatus());
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(e.code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}

/** Kubelet errors as API errors: a pod or container this node does not have is NotFound, bad options BadRequest. */
function classify(err: unknown): KubeError {
  const msg = err instanceof Error ? err.message : String(err);
  const name = err instanceof Error ? err.name : '';
  let reason: Reason = 'InternalError';
  if (name === 'LogNotFoundError' || /is not on node|has not started|not found|no containers/.test(msg)) reason = 'BadRequest';
  if (/is not on node/.test(msg)) reason = 'NotFound';
  return new KubeError(reason, msg);
}

function handle(opts: KubeletServerOptions, req: IncomingMessage, res: ServerResponse): void {
  try {
    if (!bearerMatches(req.headers.authorization, opts.token)) throw new KubeError('Unauthorized', 'Unauthorized');
    if (req.method !== 'GET') throw new KubeError('MethodNotAllowed', `${req.method} is not supported`);
    const url = new URL(req.url ?? '/', 'http://kubelet');
    if (url.pathname === '/policyDenials') {
      if (!opts.policyDenials) throw new KubeError('NotFound', 'network policy is off on this node');
      opts.policyDenials(url.searchParams, res);
      return;
    }
    if (url.pathname === KUBELET_USAGE_PATH) {
      if (!opts.usage) throw new KubeError('NotFound', 'this node measures no usage');
      void Promise.resolve()
        .then(opts.usage)
        .then((summary) => {
          const body = JSON.stringify(summary);
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-cache' }).end(body);
        })
        .catch((err: unknown) => sendError(res, err));
      return;
    }
    const r = parseLogRequest(url.pathname, url.searchParams);
    const stream = opts.readLogs(r.namespace, r.pod, r.container, r.opts);
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
    if (r.opts.follow) res.flushHeaders();
    stream.on('error', (err) => {
      opts.logger.warn({ err, pod: `${r.namespace}/${r.pod}` }, 'log stream failed');
      res.destroy();
    });
    res.on('close', () => stream.destroy());
    stream.pipe(res);
  } catch (err) {
    sendError(res, err);
  }
}

export async function startKubeletServer(opts: KubeletServerOptions): Promise<KubeletServer> {
  const server: Server = createServer((req, res) => handle(opts, req, res));
  const wss = streamingWebSocketServer();
  const streamMetrics = opts.metrics ? createStreamMetrics(opts.metrics) : undefined;
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    if (!bearerMatches(req.headers.authorization, opts.token)) return rejectUpgrade(socket, new KubeError('Unauthorized', 'Unauthorized'));
    if (!opts.streaming) return rejectUpgrade(socket, new KubeError('NotFound', 'this kubelet endpoint serves no streams'));
    handleStreamUpgrade({ ...opts.streaming, logger: opts.logger, metrics: streamMetrics }, wss, req, socket, head);
  });
  return listenHttp(server, opts.listen, 0o600);
}
