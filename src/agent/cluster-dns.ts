// Where the agent's default --cluster-dns comes from: the clusterIP of the
// kube-system/kube-dns Service the server creates (at the 10th address of its
// service CIDR). A server too old to create it gives the default address.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { ApiClient } from '../client/types.ts';
import { isIp } from '../core/cidr.ts';
import { DEFAULT_CLUSTER_DNS } from '../core/service-cidr.ts';
import { KUBE_DNS_SERVICE, KUBE_SYSTEM } from '../core/well-known.ts';
import type { KubeObject } from '../core/types.ts';

/** Pure: the DNS address a kube-dns Service gives (undefined: no Service, or one without an address). */
export function clusterDnsOf(svc: KubeObject | undefined): string | undefined {
  const ip = (svc?.spec as { clusterIP?: unknown } | undefined)?.clusterIP;
  return isIp(ip) ? ip : undefined;
}

/**
 * Reads kube-system/kube-dns, retrying while the API server cannot be reached
 * (up to `deadlineMs`, then the error). No such Service: DEFAULT_CLUSTER_DNS.
 */
export async function clusterDnsFromApi(client: ApiClient, logger: Logger, deadlineMs = 60_000): Promise<string> {
  const until = Date.now() + deadlineMs;
  for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
    try {
      const ip = clusterDnsOf(await client.get('services', KUBE_SYSTEM, KUBE_DNS_SERVICE));
      if (ip) return ip;
      logger.warn({ clusterDns: DEFAULT_CLUSTER_DNS }, `no ${KUBE_SYSTEM}/${KUBE_DNS_SERVICE} Service with a clusterIP: using the default cluster DNS address`);
      return DEFAULT_CLUSTER_DNS;
    } catch (err) {
      if (Date.now() + delay > until) throw new Error(`cannot read ${KUBE_SYSTEM}/${KUBE_DNS_SERVICE} to learn the cluster DNS address (give --cluster-dns): ${(err as Error).message}`);
      logger.debug({ err }, 'reading the cluster DNS Service failed; retrying');
      await sleep(delay);
    }
  }
}
