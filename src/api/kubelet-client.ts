// How the API server reaches a node's kubelet endpoint (src/agent/kubelet-server.ts):
// the address the Node publishes in its meshlet.io/kubelet-endpoint annotation
// (unix:// or http://), and that node's own token from the server's token file,
// which is the only credential the kubelet accepts. Shared by the pods/log and
// stream proxies (pod-logs.ts, stream-proxy.ts) and the metrics.k8s.io scrape
// (metrics-api-scraper.ts).
import { request } from 'node:http';
import { KubeError } from '../core/errors.ts';
import type { KubeObject } from '../core/types.ts';
import { KUBELET_ENDPOINT_ANNOTATION, NODES_GROUP, NODE_USER_PREFIX } from '../core/well-known.ts';
import type { TokenSet } from './auth.ts';

export type KubeletTarget = { socketPath: string } | { host: string; port: number };

export interface KubeletAccess {
  target: KubeletTarget;
  token: string;
}

export function parseKubeletEndpoint(endpoint: string): KubeletTarget | undefined {
  if (endpoint.startsWith('unix:///')) return { socketPath: endpoint.slice('unix://'.length) };
  const m = /^http:\/\/(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+|[a-z0-9.-]+)):(\d{1,5})\/?$/.exec(endpoint);
  if (!m) return undefined;
  return { host: m[1] ?? m[2], port: Number(m[3]) };
}

/** Where a Node's kubelet listens, and that node's token to present. Throws the KubeError (ServiceUnavailable) the client gets. */
export function kubeletOfNode(node: KubeObject, tokens: TokenSet): KubeletAccess {
  const nodeName = node.metadata.name ?? '';
  const endpoint = node.metadata.annotations?.[KUBELET_ENDPOINT_ANNOTATION];
  const target = endpoint ? parseKubeletEndpoint(endpoint) : undefined;
  if (!target) throw new KubeError('ServiceUnavailable', `node "${nodeName}" publishes no kubelet endpoint (${KUBELET_ENDPOINT_ANNOTATION}): is its agent running with pod networking?`);
  let token: string | undefined;
  for (const [t, id] of tokens) if (id.user === `${NODE_USER_PREFIX}${nodeName}` && id.groups.includes(NODES_GROUP)) token = t;
  if (!token) throw new KubeError('ServiceUnavailable', `no credential for node "${nodeName}" in the server's token file: cannot reach its kubelet`);
  return { target, token };
}

export interface KubeletGetOptions {
  /** The whole exchange (connect, answer, body) must end within this; then it is abandoned. */
  timeoutMs: number;
  /** A longer body is refused (default 16 MiB). */
  maxBytes?: number;
}

/** GET a JSON document from a kubelet. Rejects with an Error saying what went wrong (unreachable, timeout, non-200, not JSON). */
export function kubeletGetJson(access: KubeletAccess, path: string, opts: KubeletGetOptions): Promise<unknown> {
  const maxBytes = opts.maxBytes ?? 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | undefined, value?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(value);
    };
    const req = request(
      { ...access.target, path, method: 'GET', headers: { authorization: `Bearer ${access.token}`, accept: 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) finish(new Error(`the kubelet's answer is larger than ${maxBytes} bytes`));
          else chunks.push(chunk);
        });
        res.on('error', (err) => finish(err));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) return finish(new Error(`the kubelet answered ${res.statusCode}: ${body.slice(0, 200)}`));
          try {
            finish(undefined, JSON.parse(body));
          } catch {
            finish(new Error(`the kubelet's answer is not JSON: ${body.slice(0, 80)}`));
          }
        });
      },
    );
    const timer = setTimeout(() => finish(new Error(`no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    req.on('error', (err) => finish(err));
    req.end();
  });
}
