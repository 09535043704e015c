// pods/<name>/log: the API server proxies to the kubelet endpoint of the
// pod's node (the Node annotation meshlet.io/kubelet-endpoint, unix:// or
// http://), presenting that node's own token (kubelet-client.ts),
// and streams the reply through (`follow` keeps streaming). Errors come back
// as Status objects: the kubelet's own, or one made here.
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { KubeError, notFound } from '../core/errors.ts';
import type { KubeObject } from '../core/types.ts';
import type { Store } from '../store/types.ts';
import type { TokenSet } from './auth.ts';
import { writeStatus } from './http-io.ts';
import { kubeletOfNode, type KubeletAccess, type KubeletTarget } from './kubelet-client.ts';
import { normaliseFlags } from './query-params.ts';


/** The log options kubectl sends that the kubelet takes. */
const FORWARDED = ['follow', 'tailLines', 'previous', 'sinceSeconds', 'timestamps'];
/** The booleans among them, normalised so the kubelet reads them as the API server does. */
const FORWARDED_FLAGS = ['follow', 'previous', 'timestamps'];

export interface LogProxyPlan {
  target: KubeletTarget;
  path: string;
  token: string;
}

function containerNames(pod: KubeObject): string[] {
  const spec = pod.spec as { containers?: { name?: unknown }[] } | undefined;
  return (spec?.containers ?? []).map((c) => String(c.name ?? ''));
}

/** The container a request names (`container`), or the pod's only one. Throws the KubeError the client gets. */
export function chooseContainer(pod: KubeObject, query: URLSearchParams, podName: string): string {
  const names = containerNames(pod);
  const container = query.get('container') ?? '';
  if (!container) {
    if (names.length !== 1) {
      throw new KubeError('BadRequest', `a container name must be specified for pod ${podName}, choose one of: [${names.join(' ')}]`);
    }
    return names[0];
  }
  if (!names.includes(container)) throw new KubeError('BadRequest', `container ${container} is not valid for pod ${podName}`);
  return container;
}

/** Where the kubelet of the pod's node listens, and that node's token to present. Throws the KubeError the client gets. */
export function kubeletOfPod(pod: KubeObject, node: KubeObject | undefined, tokens: TokenSet, podName: string, what: string): KubeletAccess {
  const nodeName = (pod.spec as { nodeName?: string } | undefined)?.nodeName;
  if (!nodeName) throw new KubeError('BadRequest', `pod ${podName} does not have a host assigned`);
  if (!node) throw new KubeError('NotFound', `node "${nodeName}" of pod ${podName} not found: ${what}`);
  return kubeletOfNode(node, tokens);
}

/** Where and how to fetch a pod's log. Pure; throws the KubeError the client gets. */
export function planLogProxy(pod: KubeObject | undefined, node: KubeObject | undefined, query: URLSearchParams, tokens: TokenSet, route: { namespace: string; name: string }): LogProxyPlan {
  if (!pod) throw notFound('pods', '', route.name);
  const container = chooseContainer(pod, query, route.name);
  const { target, token } = kubeletOfPod(pod, node, tokens, route.name, 'its logs cannot be fetched');
  const flags = normaliseFlags(query, FORWARDED_FLAGS);
  const q = new URLSearchParams();
  for (const k of FORWARDED) {
    const v = flags.get(k);
    if (v !== null) q.set(k, v);
  }
  const qs = q.toString();
  const path = `/containerLogs/${encodeURIComponent(route.namespace)}/${encodeURIComponent(route.name)}/${encodeURIComponent(container)}${qs ? `?${qs}` : ''}`;
  return { target, path, token };
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => (body += c));
    res.on('end', () => resolve(body));
    res.on('error', () => resolve(body));
  });
}

/** Serves GET pods/<name>/log by proxying to the node's kubelet. */
export async function servePodLogs(
  store: Store, tokens: TokenSet, route: { namespace: string; name: string }, query: URLSearchParams, req: IncomingMessage, res: ServerResponse,
): Promise<void> {
  const pod = await store.get('pods', route.namespace, route.name);
  const nodeName = (pod?.spec as { nodeName?: string } | undefined)?.nodeName;
  const node = nodeName ? await store.get('nodes', '', nodeName) : undefined;
  const plan = planLogProxy(pod, node, query, tokens, route);
  await new Promise<void>((resolve) => {
    const upstream = request(
      { ...plan.target, path: plan.path, method: 'GET', headers: { authorization: `Bearer ${plan.token}` } },
      (up) => {
        if (up.statusCode !== 200) {
          void readAll(up).then((body) => {
            let status: ReturnType<KubeError['toStatus']>;
            try {
              const parsed = JSON.parse(body) as ReturnType<KubeError['toStatus']>;
              status = parsed && parsed.kind === 'Status' ? parsed : new KubeError('InternalError', body || `kubelet answered ${up.statusCode}`).toStatus();
            } catch {
              status = new KubeError('InternalError', `kubelet answered ${up.statusCode}: ${body.slice(0, 200)}`).toStatus();
            }
            writeStatus(res, status);
            resolve();
          });
          return;
        }
        res.writeHead(200, { 'Content-Type': up.headers['content-type'] ?? 'text/plain', 'Cache-Control': 'no-cache', 'Transfer-Encoding': 'chunked' });
        res.flushHeaders();
        up.pipe(res);
        up.on('end', resolve);
        up.on('error', () => {
          res.destroy();
          resolve();
        });
      },
    );
    upstream.on('error', (err) => {
      if (!res.headersSent) writeStatus(res, new KubeError('InternalError', `cannot reach the kubelet of node ${nodeName}: ${err.message}`).toStatus());
      else res.destroy();
      resolve();
    });
    // The client went away (kubectl logs -f interrupted): stop reading from the kubelet.
    res.on('close', () => {
      upstream.destroy();
      resolve();
    });
    req.on('aborted', () => upstream.destroy());
    upstream.end();
  });
}
