// Two "nodes" (network namespaces) joined by an underlay bridge namespace,
// the overlay applied inside each node by src/overlay/overlay-cli.ts under
// `ip netns exec`, and a "pod" namespace on each node: pod A reaches pod B
// over VXLAN, the plan is idempotent, a restart removes stale entries and a
// removed peer loses its route, neighbour and FDB entry. Needs root.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { ActualOverlay, OverlayPeer } from '../../src/overlay/vxlan.ts';
import { isEmptyChange } from '../../src/overlay/vxlan.ts';
import { NetnsLab, run, inNs, ipIn, applyInNs, stateInNs } from '../helpers/netns-lab.ts';

const tag = `mlt-${randomBytes(3).toString('hex')}`;
const NS = { u: `${tag}-u`, a: `${tag}-a`, b: `${tag}-b`, pa: `${tag}-pa`, pb: `${tag}-pb` };
const lab = new NetnsLab();
const servers: ChildProcess[] = [];
const cfg = { vni: 1, port: 4789, underlayMtu: 1500, clusterCidrs: ['10.244.0.0/16'] };
const selfA = { name: 'a', vtepIp: '172.31.0.1', subnets: ['10.244.1.0/24'], underlayDev: 'eth0' };
const selfB = { name: 'b', vtepIp: '172.31.0.2', subnets: ['10.244.2.0/24'], underlayDev: 'eth0' };
const apply = (ns: string, self: typeof selfA, peers: OverlayPeer[]) => applyInNs(ns, self, peers, cfg);
const state = stateInNs;

function counts(s: ActualOverlay): { routes: string[]; neighbours: string[]; fdb: string[] } {
  return {
    routes: s.routes.filter((r) => r.protocol !== 'KERNEL').map((r) => `${r.dst} via ${r.gateway}${r.onlink ? ' onlink' : ''}`).sort(),
    neighbours: s.neighbours.filter((n) => n.permanent).map((n) => `${n.ip} ${n.mac}`).sort(),
    fdb: s.fdb.filter((f) => f.permanent).map((f) => `${f.mac} ${f.dst}`).sort(),
  };
}

/** A TCP server in `ns` that answers every connection with `reply(remoteAddress)`. */
async function tcpServer(ns: string, host: string, port: number, reply: string): Promise<void> {
  const code = `require('net').createServer(s=>{s.end(${reply})}).listen(${port},'${host}',()=>console.log('ready'))`;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  servers.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (c) => reject(new Error(`server in ${ns} exited ${c}`)));
  });
}

function tcpGet(ns: string, host: string, port: number): Promise<string> {
  const code = `const s=require('net').connect(${port},'${host}');let d='';s.setTimeout(5000,()=>{console.error('timeout');process.exit(3)});s.on('data',x=>d+=x).on('end',()=>console.log(d)).on('error',e=>{console.error(e.message);process.exit(2)})`;
  return inNs(ns, process.execPath, '-e', code).then((o) => o.trim());
}

after(async () => {
  for (const s of servers) if (s.pid && s.exitCode === null) s.kill('SIGTERM');
  await lab.cleanup();
});

test('pod-to-pod over VXLAN between two node namespaces; idempotent; stale entries and removed peers cleaned', { timeout: 120_000 }, async () => {
  // Underlay: a bridge in U, one veth per node (the node end is "eth0" in the node namespace).
  await lab.underlay(NS.u, [{ ns: NS.a, ip: selfA.vtepIp }, { ns: NS.b, ip: selfB.vtepIp }]);

  // First pass: each node creates its device and learns its VTEP MAC (what it would publish).
  const a0 = await apply(NS.a, selfA, []);
  const b0 = await apply(NS.b, selfB, []);
  assert.match(a0.vtepMac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  const peerA: OverlayPeer = { name: 'a', vtepIp: selfA.vtepIp, vtepMac: a0.vtepMac, subnets: selfA.subnets };
  const peerB: OverlayPeer = { name: 'b', vtepIp: selfB.vtepIp, vtepMac: b0.vtepMac, subnets: selfB.subnets };
  await apply(NS.a, selfA, [peerB]);
  await apply(NS.b, selfB, [peerA]);

  // Pods: a veth into the node's bridge, an IP from the node's subnet, default route via the gateway.
  await lab.pod(NS.a, NS.pa, '10.244.1.2/24', '10.244.1.1');
  await lab.pod(NS.b, NS.pb, '10.244.2.2/24', '10.244.2.1');
  const a = await state(NS.a);
  assert.equal(a.vxlan?.mtu, 1450);
  assert.deepEqual(a.vxlan?.vxlan, { vni: 1, port: 4789, local: '172.31.0.1', underlay: 'eth0', learning: false });
  assert.ok(a.addresses.some((x) => x.dev === 'mlvx1' && x.cidr === '10.244.1.0/32'));
  assert.ok(a.addresses.some((x) => x.dev === 'mlbr0' && x.cidr === '10.244.1.1/24'));

  // Pod A → pod B: ping and TCP, over the VXLAN (the underlay has no route to 10.244/16).
  await inNs(NS.pa, 'ping', '-c', '2', '-W', '5', '10.244.2.2');
  await tcpServer(NS.pb, '10.244.2.2', 8080, `'hello from b to '+s.remoteAddress`);
  assert.equal(await tcpGet(NS.pa, '10.244.2.2', 8080), 'hello from b to 10.244.1.2'); // no NAT inside the cluster
  const vxStats = await inNs(NS.a, 'cat', '/sys/class/net/mlvx1/statistics/tx_packets');
  assert.ok(Number(vxStats) > 0);
  // Pod A → outside the cluster CIDR is masqueraded to node A's address (U has no route back to pods).
  await tcpServer(NS.u, '172.31.0.254', 8081, 's.remoteAddress');
  assert.equal(await tcpGet(NS.pa, '172.31.0.254', 8081), '172.31.0.1');
  assert.match(await inNs(NS.a, 'nft', 'list', 'table', 'inet', 'meshlet-nat'), /ip saddr 10\.244\.1\.0\/24 ip daddr != 10\.244\.0\.0\/16 masquerade/);

  // Idempotent: applying again changes nothing; exactly one route/neigh/fdb for the one peer.
  const again = await apply(NS.a, selfA, [peerB]);
  assert.ok(isEmptyChange(again.changes), JSON.stringify(again.changes));
  const one = { routes: ['10.244.2.0/24 via 10.244.2.0 onlink'], neighbours: [`10.244.2.0 ${peerB.vtepMac}`], fdb: [`${peerB.vtepMac} 172.31.0.2`] };
  assert.deepEqual(counts(await state(NS.a)), one);

  // "Restart" with stale entries left behind: the next apply removes them, adds nothing twice.
  await ipIn(NS.a, 'route add 10.244.9.0/24 via 10.244.9.0 dev mlvx1 onlink');
  await ipIn(NS.a, 'neigh add 10.244.9.0 lladdr 02:00:00:00:00:99 dev mlvx1 nud permanent');
  await run('bridge', ['-n', NS.a, 'fdb', 'append', '02:00:00:00:00:99', 'dev', 'mlvx1', 'dst', '172.31.0.9', 'self', 'permanent']);
  await ipIn(NS.a, 'neigh replace 10.244.2.0 lladdr 02:00:00:00:00:77 dev mlvx1 nud permanent'); // wrong MAC for B
  assert.equal(counts(await state(NS.a)).routes.length, 2);
  const fixed = await apply(NS.a, selfA, [peerB]);
  assert.equal(fixed.changes.removeRoutes.length, 1);
  assert.deepEqual(counts(await state(NS.a)), one);
  assert.equal(await tcpGet(NS.pa, '10.244.2.2', 8080), 'hello from b to 10.244.1.2');

  // Node B leaves: A withdraws its route, neighbour and FDB entry.
  await apply(NS.a, selfA, []);
  assert.deepEqual(counts(await state(NS.a)), { routes: [], neighbours: [], fdb: [] });
});
