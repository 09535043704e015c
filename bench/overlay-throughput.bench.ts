// Overlay throughput (root): iperf3 pod to pod across meshlet's VXLAN vs the
// raw underlay between the two node namespaces vs the same VXLAN path built
// by hand with `ip` (flannel's pattern: bridge + pod veth on each side), in
// the same run, interleaved, 3 runs × 3 s each; medians and ratios. A fourth
// path, meshlet without the masquerade table, shows what conntrack costs.
//   node --import tsx bench/overlay-throughput.bench.ts [--runs 3] [--seconds 3]
// Creates only mlt-* namespaces and removes them by exact name.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { NetnsLab, inNs, ipIn, run, applyInNs } from '../test/helpers/netns-lab.ts';
import type { OverlayPeer } from '../src/overlay/vxlan.ts';
import { machineInfo, median, parseFlags, printResult } from './stats.ts';

interface PathResult {
  name: string;
  gbps: number[];
  median: number;
}

async function iperfServer(ns: string, servers: ChildProcess[]): Promise<void> {
  const child = spawn('ip', ['netns', 'exec', ns, 'iperf3', '-s', '-p', '5201', '--forceflush'], { stdio: ['ignore', 'pipe', 'pipe'] });
  servers.push(child);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`iperf3 server in ${ns} did not start within 10 s`)), 10_000);
    child.once('exit', () => clearTimeout(timer));
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (c) => reject(new Error(`iperf3 server in ${ns} exited ${c}`)));
  });
}

async function iperf(ns: string, host: string, seconds: number): Promise<number> {
  const out = await inNs(ns, 'iperf3', '-c', host, '-p', '5201', '-t', String(seconds), '-J');
  const j = JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } };
  return j.end.sum_received.bits_per_second / 1e9;
}

const cfg = { vni: 1, port: 4789, underlayMtu: 1500, clusterCidrs: ['10.244.0.0/16'] };

/** meshlet: the overlay applied by overlay-cli.ts inside each node. */
async function meshletTopology(lab: NetnsLab, t: string, masquerade = true): Promise<void> {
  const selfA = { name: 'a', vtepIp: '172.31.0.1', subnets: ['10.244.1.0/24'], underlayDev: 'eth0' };
  const selfB = { name: 'b', vtepIp: '172.31.0.2', subnets: ['10.244.2.0/24'], underlayDev: 'eth0' };
  await lab.underlay(`${t}-u`, [{ ns: `${t}-a`, ip: selfA.vtepIp }, { ns: `${t}-b`, ip: selfB.vtepIp }]);
  const a0 = await applyInNs(`${t}-a`, selfA, [], cfg, { masquerade });
  const b0 = await applyInNs(`${t}-b`, selfB, [], cfg, { masquerade });
  const peerA: OverlayPeer = { name: 'a', vtepIp: selfA.vtepIp, vtepMac: a0.vtepMac, subnets: selfA.subnets };
  const peerB: OverlayPeer = { name: 'b', vtepIp: selfB.vtepIp, vtepMac: b0.vtepMac, subnets: selfB.subnets };
  await applyInNs(`${t}-a`, selfA, [peerB], cfg, { masquerade });
  await applyInNs(`${t}-b`, selfB, [peerA], cfg, { masquerade });
  await lab.pod(`${t}-a`, `${t}-pa`, '10.244.1.2/24', '10.244.1.1');
  await lab.pod(`${t}-b`, `${t}-pb`, '10.244.2.2/24', '10.244.2.1');
}

/** The same path by hand with ip(8), flannel's pattern. */
async function handTopology(lab: NetnsLab, t: string): Promise<void> {
  const nodes = [
    { ns: `${t}-a`, ip: '172.31.0.1', n: 1, mac: '02:6d:6c:00:00:01' },
    { ns: `${t}-b`, ip: '172.31.0.2', n: 2, mac: '02:6d:6c:00:00:02' },
  ];
  await lab.underlay(`${t}-u`, nodes);
  for (const me of nodes) {
    const peer = nodes.find((x) => x !== me)!;
    await ipIn(me.ns, `link add mlvx1 address ${me.mac} type vxlan id 1 local ${me.ip} dev eth0 dstport 4789 nolearning`);
    await ipIn(me.ns, 'link set mlvx1 mtu 1450 up');
    await ipIn(me.ns, `addr add 10.244.${me.n}.0/32 dev mlvx1`);
    await ipIn(me.ns, 'link add mlbr0 type bridge');
    await ipIn(me.ns, 'link set mlbr0 mtu 1450 up');
    await ipIn(me.ns, `addr add 10.244.${me.n}.1/24 dev mlbr0`);
    await ipIn(me.ns, `neigh replace 10.244.${peer.n}.0 lladdr ${peer.mac} dev mlvx1 nud permanent`);
    await run('bridge', ['-n', me.ns, 'fdb', 'append', peer.mac, 'dev', 'mlvx1', 'dst', peer.ip, 'self', 'permanent']);
    await ipIn(me.ns, `route replace 10.244.${peer.n}.0/24 via 10.244.${peer.n}.0 dev mlvx1 onlink`);
    await inNs(me.ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
    await lab.pod(me.ns, `${t}-p${me.ns.slice(-1)}`, `10.244.${me.n}.2/24`, `10.244.${me.n}.1`);
  }
}

export async function overlayThroughputBench(opts: { runs?: number; seconds?: number } = {}): Promise<{ paths: PathResult[]; ratios: Record<string, number> }> {
  const runs = opts.runs ?? 3;
  const seconds = opts.seconds ?? 3;
  const tag = `mlt-${randomBytes(3).toString('hex')}`;
  const lab = new NetnsLab();
  const servers: ChildProcess[] = [];
  try {
    await meshletTopology(lab, `${tag}-m`);
    await handTopology(lab, `${tag}-h`);
    await meshletTopology(lab, `${tag}-n`, false);
    const paths = [
      { name: 'raw underlay (node A → node B)', client: `${tag}-m-a`, server: `${tag}-m-b`, host: '172.31.0.2' },
      { name: 'meshlet VXLAN (pod → pod)', client: `${tag}-m-pa`, server: `${tag}-m-pb`, host: '10.244.2.2' },
      { name: 'hand-built VXLAN (pod → pod)', client: `${tag}-h-pa`, server: `${tag}-h-pb`, host: '10.244.2.2' },
      { name: 'meshlet VXLAN, no masquerade', client: `${tag}-n-pa`, server: `${tag}-n-pb`, host: '10.244.2.2' },
    ];
    for (const p of paths) await iperfServer(p.server, servers);
    const results: PathResult[] = paths.map((p) => ({ name: p.name, gbps: [], median: 0 }));
    for (let r = 0; r < runs; r++) {
      for (const [i, p] of paths.entries()) results[i].gbps.push(await iperf(p.client, p.host, seconds));
    }
    for (const r of results) r.median = median(r.gbps);
    const [raw, mesh, hand, noNat] = results.map((r) => r.median);
    const ratios = { 'meshlet/raw': mesh / raw, 'hand/raw': hand / raw, 'meshlet/hand': mesh / hand, 'meshlet-no-masquerade/hand': noNat / hand };
    return { paths: results, ratios };
  } finally {
    for (const s of servers) if (s.exitCode === null) s.kill('SIGTERM');
    await lab.cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const flags = parseFlags(process.argv.slice(2), { runs: 3, seconds: 3 });
  const res = await overlayThroughputBench(flags);
  for (const p of res.paths) process.stderr.write(`${p.name.padEnd(34)} median ${p.median.toFixed(2)} Gbit/s  runs ${p.gbps.map((g) => g.toFixed(2)).join(', ')}\n`);
  for (const [k, v] of Object.entries(res.ratios)) process.stderr.write(`${k.padEnd(34)} ${v.toFixed(3)}\n`);
  const result = {
    bench: 'overlay-throughput',
    machine: machineInfo(),
    runs: flags.runs,
    seconds: flags.seconds,
    gbps: Object.fromEntries(res.paths.map((p) => [p.name, { median: p.median, runs: p.gbps }])),
    ratios: res.ratios,
  };
  printResult(result);
  if (process.env.BENCH_OUT) writeFileSync(process.env.BENCH_OUT, JSON.stringify(result) + '\n', { flag: 'a' });
}
