// Which LoadBalancer addresses this node announces, pure: the IPv4 ingress
// addresses of the LoadBalancer Services whose meshlet.io/lb-announcer
// annotation (written by the server's service-lb controller) names it.
import { isIPv4 } from 'node:net';
import type { SlimService } from '../client/slim-objects.ts';
import { LB_ANNOUNCER_ANNOTATION } from '../core/well-known.ts';

/** What of a Service the announcer acts on (its handler hears only changes of this). */
export function announcerProjection(svc: SlimService): unknown {
  return [svc.spec?.type, svc.metadata.annotations?.[LB_ANNOUNCER_ANNOTATION], svc.status?.loadBalancer?.ingress];
}

/** The sorted, de-duplicated addresses `nodeName` answers ARP for. */
export function announcedAddresses(services: readonly SlimService[], nodeName: string): string[] {
  const out = new Set<string>();
  for (const svc of services) {
    if (svc.spec?.type !== 'LoadBalancer' || svc.metadata.annotations?.[LB_ANNOUNCER_ANNOTATION] !== nodeName) continue;
    for (const ing of svc.status?.loadBalancer?.ingress ?? []) if (ing.ip && isIPv4(ing.ip)) out.add(ing.ip);
  }
  return [...out].sort();
}
