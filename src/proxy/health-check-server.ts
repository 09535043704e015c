// The healthCheckNodePort servers of externalTrafficPolicy: Local Services,
// as kube-proxy serves them: an HTTP server per port, answering any path
// with 200 and the count of this node's endpoints of the Service, or 503
// when it has none, so that an outside load balancer sends traffic only to
// nodes that will not drop it. Shell (sockets); what each port says is data
// given by the proxier.
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';

export interface HealthCheck {
  namespace: string;
  name: string;
  localEndpoints: number;
}

/** The body kube-proxy answers with (service name, local endpoint count). */
export function healthCheckBody(h: HealthCheck): string {
  return JSON.stringify({ service: { namespace: h.namespace, name: h.name }, localEndpoints: h.localEndpoints, serviceProxyHealthy: true });
}

export class HealthCheckServers {
  private readonly servers = new Map<number, { server: Server; check: HealthCheck }>();

  constructor(private readonly opts: { host?: string; logger?: Logger } = {}) {}

  /** The ports served now (tests). */
  get ports(): number[] {
    return [...this.servers.keys()].sort((a, b) => a - b);
  }

  /** Serve `port` with `check` (a changed count is answered from the next request on). */
  async set(port: number, check: HealthCheck): Promise<void> {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid healthCheckNodePort ${port}`);
    const had = this.servers.get(port);
    if (had) {
      had.check = check;
      return;
    }
    const entry = { server: createServer(), check };
    entry.server.on('request', (_req, res) => {
      const c = entry.check;
      res.writeHead(c.localEndpoints > 0 ? 200 : 503, { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff' });
      res.end(healthCheckBody(c));
    });
    this.servers.set(port, entry);
    await new Promise<void>((resolve) => {
      entry.server.once('error', (err) => {
        this.opts.logger?.warn({ err, port, service: `${check.namespace}/${check.name}` }, 'proxy: healthCheckNodePort not served');
        this.servers.delete(port);
        resolve();
      });
      entry.server.listen(port, this.opts.host ?? '0.0.0.0', () => resolve());
    });
  }

  async delete(port: number): Promise<void> {
    const had = this.servers.get(port);
    if (!had) return;
    this.servers.delete(port);
    await new Promise<void>((resolve) => {
      had.server.close(() => resolve());
      had.server.closeAllConnections();
    });
  }

  async close(): Promise<void> {
    for (const p of [...this.servers.keys()]) await this.delete(p);
  }
}
