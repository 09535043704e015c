// The synthetic cluster the proxy benchmarks program: N Services (one TCP port
// 80 each, ClusterIPs counted up from 10.97.0.0) with E ready endpoints each
// behind port 8080, and the proxy configuration they run under.
import type { SlimEndpointSlice, SlimService } from '../src/client/slim-objects.ts';

export const BENCH_PROXY_CONFIG = { family: 4 as const, serviceCidrs: ['10.96.0.0/12'], clusterCidrs: ['10.244.0.0/16'], clusterDns: '10.96.0.10' };

/** The ClusterIP of Service i. */
export const svcIp = (i: number): string => `10.${97 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
/** The address of endpoint e of Service s. */
export const epIp = (s: number, e: number): string => `10.244.${(s * 7 + e) % 250}.${1 + ((s + e * 31) % 250)}`;

export function benchEndpointSlice(name: string, ips: readonly string[]): SlimEndpointSlice {
  return { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name, namespace: 'bench', labels: { 'kubernetes.io/service-name': name } }, addressType: 'IPv4', endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })), ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] };
}

export function benchCluster(n: number, eps: number): { services: SlimService[]; slices: Map<string, SlimEndpointSlice[]> } {
  const services: SlimService[] = [];
  const slices = new Map<string, SlimEndpointSlice[]>();
  for (let s = 0; s < n; s++) {
    const name = `s${s}`;
    services.push({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'bench' }, spec: { clusterIP: svcIp(s), clusterIPs: [svcIp(s)], ports: [{ name: 'http', protocol: 'TCP', port: 80 }] } });
    slices.set(`bench/${name}`, [benchEndpointSlice(name, Array.from({ length: eps }, (_, e) => epIp(s, e)))]);
  }
  return { services, slices };
}
