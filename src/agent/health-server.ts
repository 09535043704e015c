// The agent's small HTTP listener: /healthz and Prometheus /metrics, on a
// unix socket (the lab: reachable from the host, whatever the netns) or TCP.
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { listenHttp, type HttpListen, type Listening } from './http-listener.ts';

export type HealthListen = HttpListen;
export type HealthServer = Listening;

export async function startHealthServer(
  listen: HealthListen,
  healthy: () => { ok: boolean; message: string },
  metrics: Registry,
): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path === '/healthz' || path === '/livez' || path === '/readyz') {
      const h = healthy();
      res.writeHead(h.ok ? 200 : 503, { 'content-type': 'text/plain' }).end(h.ok ? 'ok\n' : `${h.message}\n`);
      return;
    }
    if (path === '/metrics') {
      metrics.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  return listenHttp(server, listen);
}
