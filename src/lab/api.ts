// The lab talks to its own control plane over the unix socket, as the admin of its kubeconfig.
import { request } from 'node:http';
import { existsSync } from 'node:fs';
import { createClient } from '../client/http-client.ts';
import { loadKubeconfig } from '../client/kubeconfig.ts';
import type { ApiClient } from '../client/types.ts';
import type { KubeObject } from '../core/types.ts';
import type { LabPlan } from './plan.ts';

export function labAdminClient(plan: LabPlan): ApiClient {
  if (!existsSync(plan.kubeconfig)) throw new Error(`lab "${plan.name}" has no kubeconfig yet (${plan.kubeconfig})`);
  const { token } = loadKubeconfig(plan.kubeconfig);
  return createClient({ server: `unix://${plan.apiSocket}`, ...(token ? { token } : {}), userAgent: 'meshlet-lab' });
}

/** GET path on a unix-socket HTTP server: status code and body, or an error message. */
export function getOverSocket(socketPath: string, path: string, timeoutMs = 2000): Promise<{ code: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path, method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ code: res.statusCode ?? 0, body: body.trim() }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ error: err.message }));
    req.end();
  });
}

/** Node name → Ready condition status ('True', 'False', 'Unknown', or 'absent'). */
export function nodeReadiness(items: readonly KubeObject[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const node of items) {
    const conditions = (node.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? [];
    out.set(node.metadata.name ?? '', conditions.find((c) => c.type === 'Ready')?.status ?? 'Unknown');
  }
  return out;
}
