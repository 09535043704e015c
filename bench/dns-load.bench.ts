// Loading the cluster data into the DNS: the time to apply a snapshot of 10,000
// Services with 5 endpoints each (50,000 endpoints, 50,000 pods), the heap it
// takes, and the time a repeated snapshot (a reconnecting agent) costs. In one
// process, no sockets.
//
//   node --import tsx bench/dns-load.bench.ts [--services 10000] [--endpoints 5]
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { FeedSnapshot } from '../src/dns/feed.ts';
import { parseFeedLine } from '../src/dns/feed.ts';
import { ClusterZone } from '../src/dns/zone.ts';
import { machineInfo, parseFlags, printResult } from './stats.ts';

const flags = parseFlags(process.argv.slice(2), { services: 10000, endpoints: 5 });
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
/** CPU time (user + system) of this process, ms: less sensitive than wall time to a loaded machine. */
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const heapMiB = (): number => {
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

export function benchSnapshot(services: number, endpointsPer: number): FeedSnapshot {
  const snap: FeedSnapshot = { type: 'snapshot', seq: 1, services: [], endpointSlices: [], pods: [], namespaces: [{ name: 'default' }] };
  let ep = 0;
  for (let i = 0; i < services; i++) {
    snap.services.push({ namespace: 'default', name: `svc-${i}`, clusterIPs: [`10.96.${(i >> 8) & 255}.${i & 255}`], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] });
    const endpoints = [];
    for (let j = 0; j < endpointsPer; j++, ep++) {
      const ip = `10.${244 + (ep >> 16)}.${(ep >> 8) & 255}.${ep & 255}`;
      endpoints.push({ addresses: [ip], podName: `svc-${i}-${j}` });
      snap.pods.push({ namespace: 'default', name: `svc-${i}-${j}`, ips: [ip] });
    }
    snap.endpointSlices.push({ namespace: 'default', name: `svc-${i}-x`, service: `svc-${i}`, addressType: 'IPv4', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }], endpoints });
  }
  return snap;
}

function main(): void {
  const line = JSON.stringify(benchSnapshot(flags.services, flags.endpoints));
  const before = heapMiB();
  const t0 = performance.now();
  const c0 = cpuMs();
  const msg = parseFeedLine(line);
  const parseMs = performance.now() - t0;
  const parseCpuMs = cpuMs() - c0;
  const zone = new ClusterZone({ zone: 'cluster.local', ttl: 5, podMode: 'verified' });
  const t1 = performance.now();
  const c1 = cpuMs();
  zone.apply(msg, 1);
  zone.takeChanged();
  const applyMs = performance.now() - t1;
  const applyCpuMs = cpuMs() - c1;
  const again = parseFeedLine(line);
  const t2 = performance.now();
  const c2 = cpuMs();
  zone.apply(again, 2);
  const unchanged = zone.takeChanged().size;
  const reapplyMs = performance.now() - t2;
  const reapplyCpuMs = cpuMs() - c2;
  const heap = heapMiB() - before;
  printResult({
    bench: 'dns-load', machine: machineInfo(), flags, snapshotBytes: line.length,
    parseMs, parseCpuMs, applyMs, applyCpuMs, repeatedSnapshotMs: reapplyMs, repeatedSnapshotCpuMs: reapplyCpuMs,
    namesTouchedByRepeat: unchanged, heapMiB: heap, counts: zone.counts(),
  });
}

main();
