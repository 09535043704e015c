// The synthetic cluster the DNS benchmarks feed a `meshlet dns` process:
// `services` ClusterIP Services (10.96.x.y from the 10th address on), each
// with `endpoints` ready endpoints and their pods (10.244.x.y on), plus any
// extra pods (a benchmark client whose source address the server must know).
import type { FeedEndpointSlice, FeedPod, FeedService, FeedSnapshot } from '../src/dns/feed.ts';

export const svcIP = (i: number): string => `10.96.${(i >> 8) & 255}.${i & 255}`;
const epIP = (i: number): string => `10.${244 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;

export function clusterData(services: number, endpoints: number, extraPods: FeedPod[] = []): FeedSnapshot {
  const svcs: FeedService[] = [];
  const endpointSlices: FeedEndpointSlice[] = [];
  const pods: FeedPod[] = [...extraPods];
  let ep = 0;
  for (let i = 0; i < services; i++) {
    svcs.push({ namespace: 'default', name: `svc-${i}`, clusterIPs: [svcIP(i + 10)], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] });
    const eps = [];
    for (let j = 0; j < endpoints; j++) {
      const ip = epIP(256 + ep++);
      eps.push({ addresses: [ip], podName: `svc-${i}-${j}` });
      pods.push({ namespace: 'default', name: `svc-${i}-${j}`, ips: [ip] });
    }
    endpointSlices.push({ namespace: 'default', name: `svc-${i}-x`, service: `svc-${i}`, addressType: 'IPv4', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }], endpoints: eps });
  }
  return { type: 'snapshot', seq: 1, services: svcs, endpointSlices, pods, namespaces: [{ name: 'default' }] };
}
