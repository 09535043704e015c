// The resolver's per-query cost without sockets: 10,000 cluster names and 1,000
// cached outside names through Resolver.handle, against a baseline in the same
// run that does the least any responder must (a Map lookup of prebuilt bytes, a
// copy, the ID patched).
//
//   node --import tsx bench/dns-hotpath.bench.ts [--services 10000] [--rounds 20]
import { performance } from 'node:perf_hooks';
import dnsPacket from 'dns-packet';
import { RecursionAcl } from '../src/dns/acl.ts';
import { DnsMetrics } from '../src/dns/metrics.ts';
import { Resolver } from '../src/dns/resolver.ts';
import { ClusterZone } from '../src/dns/zone.ts';
import { machineInfo, median, parseFlags, printResult } from './stats.ts';

const flags = parseFlags(process.argv.slice(2), { services: 10000, rounds: 20, runs: 5 });

async function main(): Promise<void> {
  const zone = new ClusterZone({ zone: 'cluster.local', ttl: 5, podMode: 'verified' });
  const r = new Resolver({
    zone,
    forwarder: {
      query: async (key, qtype) => {
        // Answer "host-N.example.com A" with one A record, as an upstream would.
        const labels: string[] = [];
        for (let p = 0; p < key.length && key.charCodeAt(p) !== 0; p += key.charCodeAt(p) + 1) labels.push(key.slice(p + 1, p + 1 + key.charCodeAt(p)));
        const name = labels.join('.');
        return dnsPacket.encode({ type: 'response', id: 0, flags: dnsPacket.RECURSION_AVAILABLE, questions: [{ type: qtype === 1 ? 'A' : 'AAAA', name }], answers: [{ type: 'A', name, ttl: 3600, data: '192.0.2.1' }] });
      },
      close() {},
    },
    acl: new RecursionAcl(['127.0.0.0/8']),
    autopath: true,
    metrics: new DnsMetrics(),
  });
  const services = Array.from({ length: flags.services }, (_, i) => ({ namespace: 'default', name: `svc-${i}`, clusterIPs: [`10.96.${i >> 8}.${i & 255}`], ports: [] }));
  const t0 = performance.now();
  r.applyFeed({ type: 'snapshot', seq: 1, services, endpointSlices: [], pods: [{ namespace: 'default', name: 'c', ips: ['127.0.0.1'] }], namespaces: [] });
  const snapshotMs = performance.now() - t0;
  const q = (name: string, id: number): Buffer => dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] });
  const cluster = services.map((s, i) => q(`${s.name}.default.svc.cluster.local`, i));
  const outside = Array.from({ length: 1000 }, (_, i) => q(`host-${i}.example.com`, i));
  const autopath = Array.from({ length: 1000 }, (_, i) => q(`host-${i}.example.com.default.svc.cluster.local`, i));
  for (const m of [...cluster, ...outside, ...autopath]) await r.handle(m, '127.0.0.1', 'udp');

  // Baseline: the least a prebuilt-answer responder does per query.
  const table = new Map<string, Buffer>();
  for (const m of cluster) table.set(m.toString('latin1', 12, m.length - 4), Buffer.alloc(61));
  const baseline = (m: Buffer): Buffer => {
    const pre = table.get(m.toString('latin1', 12, m.length - 4))!;
    const out = Buffer.allocUnsafe(pre.length);
    pre.copy(out);
    out.writeUInt16BE(m.readUInt16BE(0), 0);
    return out;
  };
  const time = (msgs: Buffer[], f: (m: Buffer) => unknown): number => {
    const t = performance.now();
    for (let k = 0; k < flags.rounds; k++) for (const m of msgs) f(m);
    return ((performance.now() - t) * 1000) / (flags.rounds * msgs.length);
  };
  const runs: Record<string, number[]> = { baseline: [], cluster: [], outside: [], autopath: [] };
  for (let i = 0; i < flags.runs; i++) {
    runs.baseline.push(time(cluster, baseline));
    runs.cluster.push(time(cluster, (m) => r.handle(m, '127.0.0.1', 'udp')));
    runs.outside.push(time(outside, (m) => r.handle(m, '127.0.0.1', 'udp')));
    runs.autopath.push(time(autopath, (m) => r.handle(m, '127.0.0.1', 'udp')));
  }
  const us = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)]));
  printResult({
    bench: 'dns-hotpath', machine: machineInfo(), flags, snapshotMs,
    microsecondsPerQuery: us,
    ratioToBaseline: { cluster: us.cluster / us.baseline, outside: us.outside / us.baseline, autopath: us.autopath / us.baseline },
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
