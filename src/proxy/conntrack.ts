// Deleting the conntrack entries of UDP endpoints that went away: a UDP
// "connection" has no end, so without this a client keeps sending to the
// removed endpoint for as long as it keeps the flow alive. Pure part: which
// (Service address, endpoint) pairs were removed; shell: `conntrack -D`.
import type { Logger } from 'pino';
import { runToExit } from '../core/command.ts';
import { isIp } from '../core/cidr.ts';
import type { ServicePort } from './service-ports.ts';

export interface UdpFlow {
  serviceIP: string;
  port: number;
  endpointIP: string;
}

const flowKey = (f: UdpFlow): string => `${f.serviceIP}|${f.port}|${f.endpointIP}`;

/** The UDP (Service address, port, endpoint address) triples of a set of Service ports. */
export function udpFlows(ports: readonly ServicePort[]): Map<string, UdpFlow> {
  const out = new Map<string, UdpFlow>();
  for (const p of ports) {
    if (p.protocol !== 'udp') continue;
    for (const e of p.endpoints) {
      const f = { serviceIP: p.clusterIP, port: p.port, endpointIP: e.ip };
      out.set(flowKey(f), f);
    }
  }
  return out;
}

/** Flows in `before` and not in `after`. */
export function removedFlows(before: ReadonlyMap<string, UdpFlow>, after: ReadonlyMap<string, UdpFlow>): UdpFlow[] {
  return [...before].filter(([k]) => !after.has(k)).map(([, f]) => f);
}

/** `conntrack -D` for each removed flow; exit 1 (no entry matched) is success. Failures are logged, not thrown. */
export async function deleteUdpFlows(flows: readonly UdpFlow[], logger?: Logger, binary = 'conntrack'): Promise<number> {
  let deleted = 0;
  for (const f of flows) {
    if (!isIp(f.serviceIP) || !isIp(f.endpointIP) || !Number.isInteger(f.port) || f.port < 1 || f.port > 65535) {
      logger?.warn({ flow: f }, 'proxy: not a valid UDP flow; conntrack entries left alone');
      continue;
    }
    const args = ['-D', '-p', 'udp', '--orig-dst', f.serviceIP, '--orig-port-dst', String(f.port), '--dst-nat', f.endpointIP];
    const r = await runToExit(binary, args, { timeoutMs: 5000 });
    if (r.code === 0) deleted++;
    else if (r.code !== 1) logger?.warn({ flow: f, code: r.code, stderr: r.stderr.trim() }, 'proxy: conntrack -D failed');
  }
  return deleted;
}
