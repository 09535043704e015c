// pods/<name>/exec, /attach and /portforward: an HTTP upgrade (WebSocket GET,
// or SPDY/3.1 POST) relayed byte for byte to the kubelet endpoint of the
// pod's node, presenting that node's token (as the log proxy does). The
// protocols themselves live once, in the agent (src/agent/streaming.ts): the
// kubelet answers the upgrade, and from then on the two sockets are joined.
//
// Authorization: these are `create` on pods/<sub> (router.ts), which the
// fixed policy gives admins and refuses nodes.
import { connect as netConnect, type Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { KubeError, notFound } from '../core/errors.ts';
import type { KubeObject, Status } from '../core/types.ts';
import type { Store } from '../store/types.ts';
import { authenticate, authorize, type TokenSet } from './auth.ts';
import type { KubeletTarget } from './kubelet-client.ts';
import { chooseContainer, kubeletOfPod } from './pod-logs.ts';
import { STREAM_SUBRESOURCES, route } from './router.ts';

export interface StreamProxyPlan {
  target: KubeletTarget;
  /** The kubelet path with its query. */
  path: string;
  token: string;
}

/** The query parameters of each stream the kubelet takes (container goes into the path). */
const FORWARDED: Readonly<Record<string, readonly string[]>> = {
  exec: ['command', 'stdin', 'stdout', 'stderr', 'tty'],
  attach: ['stdin', 'stdout', 'stderr', 'tty'],
  portforward: ['ports'],
};

/** Where to relay a stream request. Pure; throws the KubeError the client gets. */
export function planStreamProxy(
  sub: string, pod: KubeObject | undefined, node: KubeObject | undefined, query: URLSearchParams, tokens: TokenSet,
  r: { namespace: string; name: string },
): StreamProxyPlan {
  const forwarded = FORWARDED[sub];
  if (!forwarded) throw new KubeError('NotFound', 'the server could not find the requested resource');
  if (!pod) throw notFound('pods', '', r.name);
  const phase = (pod.status as { phase?: string } | undefined)?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') {
    throw new KubeError('BadRequest', `cannot ${sub === 'portforward' ? 'port-forward to' : `${sub} into`} a container in a completed pod; current phase is ${phase}`);
  }
  const q = new URLSearchParams();
  for (const [k, v] of query) if (forwarded.includes(k)) q.append(k, v);
  const qs = q.toString();
  const ns = encodeURIComponent(r.namespace);
  const name = encodeURIComponent(r.name);
  let path: string;
  if (sub === 'portforward') path = `/portForward/${ns}/${name}`;
  else path = `/${sub}/${ns}/${name}/${encodeURIComponent(chooseContainer(pod, query, r.name))}`;
  const { target, token } = kubeletOfPod(pod, node, tokens, r.name, `cannot reach its kubelet for ${sub}`);
  return { target, path: qs ? `${path}?${qs}` : path, token };
}

/** The request head sent to the kubelet: the client's upgrade headers, the node's credential instead of the client's. Pure. */
export function upstreamRequestHead(method: string, path: string, rawHeaders: readonly string[], token: string): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: kubelet'];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    const lower = name.toLowerCase();
    if (lower === 'authorization' || lower === 'host' || lower.startsWith('impersonate-') || /[\r\n]/.test(name + rawHeaders[i + 1])) continue;
    lines.push(`${name}: ${rawHeaders[i + 1]}`);
  }
  lines.push(`Authorization: Bearer ${token}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

/** An HTTP error answer with a Status, written on a socket that was to be upgraded. Pure. */
export function upgradeErrorResponse(status: Status): string {
  const body = JSON.stringify(status);
  return `HTTP/1.1 ${status.code} ${REASONS[status.code] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

function toKubeError(err: unknown): KubeError {
  return err instanceof KubeError ? err : new KubeError('InternalError', err instanceof Error ? err.message : String(err));
}

export interface StreamProxyDeps {
  store: Store;
  tokens: TokenSet;
  logger: Logger;
  /** Called once per request with what it became (for metrics): the HTTP code, 101 when relayed. */
  observe(resource: string, code: number, seconds: number): void;
}

/** Handles an HTTP upgrade on the API server: only the streaming subresources upgrade. */
export async function serveStreamUpgrade(deps: StreamProxyDeps, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const started = process.hrtime.bigint();
  const seconds = (): number => Number(process.hrtime.bigint() - started) / 1e9;
  socket.on('error', () => {});
  let resource = '';
  try {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const r = route(req.method ?? 'GET', url.pathname, url.searchParams);
    if (r.type !== 'resource' || r.gr !== 'pods' || !r.subresource || !STREAM_SUBRESOURCES.has(r.subresource) || !r.name) {
      throw new KubeError('BadRequest', `${url.pathname} cannot be upgraded: only pods/exec, pods/attach and pods/portforward are`);
    }
    resource = `pods/${r.subresource}`;
    const identity = authenticate(deps.tokens, req.headers.authorization);
    authorize(identity, { verb: r.verb, resource: 'pods', subresource: r.subresource, namespace: r.namespace, name: r.name });
    const namespace = r.namespace ?? '';
    const pod = await deps.store.get('pods', namespace, r.name);
    const nodeName = (pod?.spec as { nodeName?: string } | undefined)?.nodeName;
    const node = nodeName ? await deps.store.get('nodes', '', nodeName) : undefined;
    const plan = planStreamProxy(r.subresource, pod, node, url.searchParams, deps.tokens, { namespace, name: r.name });
    deps.logger.debug({ user: identity.user, pod: `${namespace}/${r.name}`, sub: r.subresource, node: nodeName }, 'relaying stream to kubelet');
    await relay(plan, req, socket, head);
    deps.observe(resource, 101, seconds());
  } catch (err) {
    const e = toKubeError(err);
    if (e.code >= 500) deps.logger.warn({ err, path: req.url }, 'stream proxy failed');
    socket.end(upgradeErrorResponse(e.toStatus()));
    deps.observe(resource || 'upgrade', e.code, seconds());
  }
}

/** Connects to the kubelet, sends the request head, then joins the two sockets. Rejects if the kubelet cannot be reached. */
function relay(plan: StreamProxyPlan, req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = plan.target;
    const upstream: Socket = 'socketPath' in t ? netConnect({ path: t.socketPath }) : netConnect({ host: t.host, port: t.port });
    const onConnectError = (err: Error): void => reject(new KubeError('ServiceUnavailable', `cannot reach the kubelet: ${err.message}`));
    upstream.once('error', onConnectError);
    upstream.once('connect', () => {
      upstream.off('error', onConnectError);
      upstream.setNoDelay(true);
      upstream.write(upstreamRequestHead(req.method ?? 'GET', plan.path, req.rawHeaders, plan.token));
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
      // Ends pass through the pipes (so what is in flight arrives); errors tear both down.
      const destroy = (): void => {
        upstream.destroy();
        client.destroy();
      };
      upstream.on('error', destroy);
      client.on('error', destroy);
      client.on('close', () => upstream.destroy());
      resolve();
    });
  });
}
