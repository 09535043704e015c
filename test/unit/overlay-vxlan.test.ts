import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  desiredOverlay, diffOverlay, isEmptyChange, describeChanges, type ActualOverlay, type DesiredOverlay, type OverlayPeer,
} from '../../src/overlay/vxlan.ts';
import { Masquerade, NAT_TABLE } from '../../src/overlay/masquerade.ts';
import { FakeNft } from '../../src/nft/fake.ts';
import { TableOwners } from '../../src/nft/owners.ts';
import { peerFromNode, peersFromNodes, vtepAnnotations, podCidrSpec } from '../../src/overlay/node-annotations.ts';
import { validateIfName, validateMac } from '../../src/overlay/names.ts';

const cfg = { vni: 1, port: 4789, underlayMtu: 1500, clusterCidrs: ['10.244.0.0/16'] };
const self = { name: 'a', vtepIp: '172.31.0.1', subnets: ['10.244.1.0/24'], underlayDev: 'eth0' };
const peerB: OverlayPeer = { name: 'b', vtepIp: '172.31.0.2', vtepMac: '02:00:00:00:00:0b', subnets: ['10.244.2.0/24'] };
const peerC: OverlayPeer = { name: 'c', vtepIp: '172.31.0.3', vtepMac: '02:00:00:00:00:0c', subnets: ['10.244.3.0/24'] };

/** The kernel state that applying `d` on an empty namespace produces (what readOverlay would see). */
function applied(d: DesiredOverlay): ActualOverlay {
  return {
    vxlan: { name: d.vxlan.name, kind: 'vxlan', mtu: d.vxlan.mtu, up: true, mac: '02:00:00:00:00:0a', vxlan: { vni: d.vxlan.vni, port: d.vxlan.port, local: d.vxlan.local, underlay: d.vxlan.underlay, learning: false } },
    bridge: { name: d.bridge.name, kind: 'bridge', mtu: d.bridge.mtu, up: true },
    addresses: [
      ...d.vxlan.addresses.map((cidr) => ({ dev: d.vxlan.name, cidr })),
      ...d.bridge.addresses.map((cidr) => ({ dev: d.bridge.name, cidr })),
      { dev: d.vxlan.name, cidr: 'fe80::1/64' },
    ],
    routes: [
      ...d.routes.map((r) => ({ family: 4 as const, dst: r.dst, gateway: r.via, dev: r.dev, onlink: true, table: 254, protocol: 'BOOT', type: 'UNICAST' })),
      { family: 6 as const, dst: 'fe80::/64', dev: d.vxlan.name, onlink: false, table: 254, protocol: 'KERNEL', type: 'UNICAST' },
    ],
    neighbours: [
      ...d.neighbours.map((n) => ({ ...n, permanent: true })),
      { dev: d.vxlan.name, ip: 'ff02::16', mac: '33:33:00:00:00:16', permanent: false },
    ],
    fdb: d.fdb.map((f) => ({ dev: f.dev, mac: f.mac, dst: f.dst, permanent: true, self: true })),
  };
}

test('desiredOverlay follows flannel: device, bridge, one route/neigh/fdb per remote node', () => {
  const d = desiredOverlay(self, [peerC, peerB], cfg);
  assert.deepEqual(d.vxlan, { name: 'mlvx1', vni: 1, port: 4789, local: '172.31.0.1', underlay: 'eth0', mtu: 1450, learning: false, addresses: ['10.244.1.0/32'] });
  assert.deepEqual(d.bridge, { name: 'mlbr0', mtu: 1450, addresses: ['10.244.1.1/24'] });
  assert.deepEqual(d.routes, [
    { dst: '10.244.2.0/24', via: '10.244.2.0', dev: 'mlvx1', onlink: true },
    { dst: '10.244.3.0/24', via: '10.244.3.0', dev: 'mlvx1', onlink: true },
  ]);
  assert.deepEqual(d.neighbours, [
    { ip: '10.244.2.0', mac: '02:00:00:00:00:0b', dev: 'mlvx1' },
    { ip: '10.244.3.0', mac: '02:00:00:00:00:0c', dev: 'mlvx1' },
  ]);
  assert.deepEqual(d.fdb, [
    { mac: '02:00:00:00:00:0b', dst: '172.31.0.2', dev: 'mlvx1' },
    { mac: '02:00:00:00:00:0c', dst: '172.31.0.3', dev: 'mlvx1' },
  ]);
  assert.deepEqual(d.skipped, []);
});

test('desiredOverlay skips bad peers instead of failing, and rejects a bad self', () => {
  const d = desiredOverlay(self, [
    peerB,
    { ...peerC, name: 'b' },
    { name: 'self-again', vtepIp: '172.31.0.1', vtepMac: '02:00:00:00:00:0d', subnets: ['10.244.4.0/24'] },
    { name: 'outside', vtepIp: '172.31.0.5', vtepMac: '02:00:00:00:00:0e', subnets: ['10.9.0.0/24'] },
    { name: 'same-mac', vtepIp: '172.31.0.6', vtepMac: '02:00:00:00:00:0B', subnets: ['10.244.6.0/24'] },
    { name: 'stolen', vtepIp: '172.31.0.7', vtepMac: '02:00:00:00:00:0f', subnets: ['10.244.1.0/24'] },
    { name: 'bad-mac', vtepIp: '172.31.0.8', vtepMac: 'nope', subnets: ['10.244.8.0/24'] },
  ], cfg);
  assert.equal(d.routes.length, 1);
  assert.deepEqual(d.skipped.map((s) => s.peer).sort(), ['b', 'bad-mac', 'outside', 'same-mac', 'self-again', 'stolen']);
  assert.throws(() => desiredOverlay({ ...self, subnets: ['10.9.0.0/24'] }, [], cfg), /outside the cluster/);
  assert.throws(() => desiredOverlay(self, [], { ...cfg, vni: 0 }), /VNI/);
  assert.throws(() => desiredOverlay({ ...self, underlayDev: 'a-name-that-is-too-long' }, [], cfg), /interface name/);
});

test('dual-stack: one route and neighbour per family, one FDB entry per node', () => {
  const c = { ...cfg, clusterCidrs: ['10.244.0.0/16', 'fd00:10:244::/56'] };
  const d = desiredOverlay({ ...self, subnets: ['10.244.1.0/24', 'fd00:10:244:1::/64'] }, [{ ...peerB, subnets: ['10.244.2.0/24', 'fd00:10:244:2::/64'] }], c);
  assert.deepEqual(d.vxlan.addresses, ['10.244.1.0/32', 'fd00:10:244:1::/128']);
  assert.deepEqual(d.bridge.addresses, ['10.244.1.1/24', 'fd00:10:244:1::1/64']);
  assert.deepEqual(d.routes.map((r) => `${r.dst} via ${r.via}`), ['10.244.2.0/24 via 10.244.2.0', 'fd00:10:244:2::/64 via fd00:10:244:2::']);
  assert.equal(d.neighbours.length, 2);
  assert.equal(d.fdb.length, 1);
});

test('diff from nothing creates everything; diff of the applied state is empty', () => {
  const d = desiredOverlay(self, [peerB, peerC], cfg);
  const ch = diffOverlay({ addresses: [], routes: [], neighbours: [], fdb: [] }, d);
  assert.deepEqual(ch.createVxlan, d.vxlan);
  assert.deepEqual(ch.createBridge, d.bridge);
  assert.deepEqual(ch.setLinks, [{ name: 'mlvx1', mtu: 1450, up: true }, { name: 'mlbr0', mtu: 1450, up: true }]);
  assert.deepEqual(ch.addAddresses, [{ dev: 'mlvx1', cidr: '10.244.1.0/32' }, { dev: 'mlbr0', cidr: '10.244.1.1/24' }]);
  assert.equal(ch.addRoutes.length, 2);
  assert.equal(ch.addNeighbours.length, 2);
  assert.equal(ch.addFdb.length, 2);
  assert.ok(describeChanges(ch).length > 0);
  const again = diffOverlay(applied(d), d);
  assert.ok(isEmptyChange(again), describeChanges(again).join('\n'));
});

test('diff after a restart removes stale entries and fixes wrong ones without duplicating', () => {
  const d = desiredOverlay(self, [peerB, peerC], cfg);
  const a = applied(d);
  a.routes.push({ family: 4, dst: '10.244.9.0/24', gateway: '10.244.9.0', dev: 'mlvx1', onlink: true, table: 254, protocol: 'BOOT', type: 'UNICAST' });
  a.neighbours.push({ dev: 'mlvx1', ip: '10.244.9.0', mac: '02:00:00:00:00:99', permanent: true });
  a.fdb.push({ dev: 'mlvx1', mac: '02:00:00:00:00:99', dst: '172.31.0.9', permanent: true, self: true });
  a.fdb.push({ dev: 'mlvx1', mac: '02:00:00:00:00:0b', dst: '172.31.0.99', permanent: true, self: true }); // second dst for B
  a.neighbours[1] = { ...a.neighbours[1], mac: '02:00:00:00:00:77' }; // C's neighbour has a wrong MAC
  a.addresses.push({ dev: 'mlbr0', cidr: '10.244.7.1/24' });
  a.bridge = { ...a.bridge!, up: false };
  const ch = diffOverlay(a, d);
  assert.deepEqual(ch.removeRoutes, [{ dst: '10.244.9.0/24', via: '10.244.9.0', dev: 'mlvx1', onlink: true }]);
  assert.deepEqual(ch.removeNeighbours, [{ ip: '10.244.9.0', dev: 'mlvx1' }]);
  assert.deepEqual(ch.removeFdb, [
    { mac: '02:00:00:00:00:99', dst: '172.31.0.9', dev: 'mlvx1' },
    { mac: '02:00:00:00:00:0b', dst: '172.31.0.99', dev: 'mlvx1' },
  ]);
  assert.deepEqual(ch.addNeighbours, [{ ip: '10.244.3.0', mac: '02:00:00:00:00:0c', dev: 'mlvx1' }]);
  assert.deepEqual(ch.addRoutes, []);
  assert.deepEqual(ch.addFdb, []);
  assert.deepEqual(ch.removeAddresses, [{ dev: 'mlbr0', cidr: '10.244.7.1/24' }]);
  assert.deepEqual(ch.setLinks, [{ name: 'mlbr0', up: true }]);
  assert.equal(ch.createVxlan, undefined);
});

test('removing a peer removes exactly its route, neighbour and FDB entry', () => {
  const before = desiredOverlay(self, [peerB, peerC], cfg);
  const after = desiredOverlay(self, [peerC], cfg);
  const ch = diffOverlay(applied(before), after);
  assert.deepEqual(ch.removeRoutes, [{ dst: '10.244.2.0/24', via: '10.244.2.0', dev: 'mlvx1', onlink: true }]);
  assert.deepEqual(ch.removeNeighbours, [{ ip: '10.244.2.0', dev: 'mlvx1' }]);
  assert.deepEqual(ch.removeFdb, [{ mac: '02:00:00:00:00:0b', dst: '172.31.0.2', dev: 'mlvx1' }]);
  assert.equal(ch.addRoutes.length + ch.addNeighbours.length + ch.addFdb.length, 0);
});

test('a VXLAN device with other parameters is recreated, and everything on it re-added', () => {
  const d = desiredOverlay(self, [peerB], cfg);
  const a = applied(d);
  a.vxlan = { ...a.vxlan!, vxlan: { ...a.vxlan!.vxlan!, vni: 2 } };
  const ch = diffOverlay(a, d);
  assert.deepEqual(ch.deleteLinks, ['mlvx1']);
  assert.deepEqual(ch.createVxlan, d.vxlan);
  assert.equal(ch.addRoutes.length, 1);
  assert.equal(ch.addNeighbours.length, 1);
  assert.equal(ch.addFdb.length, 1);
  assert.deepEqual(ch.addAddresses, [{ dev: 'mlvx1', cidr: '10.244.1.0/32' }]);
  assert.deepEqual(ch.removeRoutes, []);
});

test('masquerade: the table is created once, then only its chain is refilled, and nothing is sent when nothing changed', async () => {
  const nft = new FakeNft();
  const m = new Masquerade({ runner: nft, owners: new TableOwners() });
  const t = { family: 'inet' as const, name: NAT_TABLE };
  await m.sync(['10.244.1.0/24', 'fd00:10:244:1::/64'], ['10.244.0.0/16', 'fd00:10:244::/56']);
  assert.deepEqual(nft.rules(t, 'postrouting'), [
    'ip saddr 10.244.1.0/24 ip daddr != 10.244.0.0/16 masquerade',
    'ip6 saddr fd00:10:244:1::/64 ip6 daddr != fd00:10:244::/56 masquerade',
  ]);
  assert.equal(nft.table(t)?.chains.get('postrouting')?.spec, ' { type nat hook postrouting priority srcnat ; policy accept ; }');
  // The same reconcile again: no nft run at all.
  const again = await m.sync(['10.244.1.0/24', 'fd00:10:244:1::/64'], ['10.244.0.0/16', 'fd00:10:244::/56']);
  assert.equal(again.ops, 0);
  assert.equal(nft.attempts.length, 1, 'no second transaction was offered to nft');
  // A new subnet: the chain is flushed and refilled; the table is neither deleted nor re-added.
  await m.sync(['10.244.2.0/24'], ['10.244.0.0/16']);
  const last = nft.applied.at(-1)!.text;
  assert.equal(last, [
    'flush chain inet meshlet-nat postrouting',
    'add chain inet meshlet-nat postrouting { ip saddr 10.244.2.0/24 ip daddr != 10.244.0.0/16 masquerade ; }',
    '',
  ].join('\n'));
  assert.deepEqual(nft.rules(t, 'postrouting'), ['ip saddr 10.244.2.0/24 ip daddr != 10.244.0.0/16 masquerade']);
  await assert.rejects(m.sync(['10.244.1.0/24; flush ruleset'], ['10.244.0.0/16']), /invalid CIDR/);
  await assert.rejects(m.sync(['10.244.1.0/24'], ['fd00::/8']), /no IPv4 cluster CIDR/);
  assert.deepEqual(nft.rules(t, 'postrouting'), ['ip saddr 10.244.2.0/24 ip daddr != 10.244.0.0/16 masquerade']);
});

test('node annotations round trip into peers', () => {
  const node = {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name: 'b', annotations: vtepAnnotations({ ip: '172.31.0.2', mac: '02:00:00:00:00:0B' }) },
    spec: podCidrSpec(['10.244.2.0/24']),
  };
  assert.deepEqual(peerFromNode(node), peerB);
  const bare = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'x' } };
  const garbage = { ...node, metadata: { name: 'g', annotations: { 'meshlet.io/vtep-mac': 'zz', 'meshlet.io/vtep-ip': '1.2.3.4' } } };
  assert.deepEqual(peersFromNodes([node, bare, garbage, { ...node, metadata: { ...node.metadata, name: 'a' } }], 'a'), [peerB]);
});

test('interface names and MACs are validated', () => {
  assert.equal(validateIfName('mlvx1'), 'mlvx1');
  assert.equal(validateIfName('a'.repeat(15)), 'a'.repeat(15));
  for (const bad of ['', 'a'.repeat(16), 'eth 0', 'eth/0', '..', 'a;b', 'é']) assert.throws(() => validateIfName(bad), /interface name/);
  assert.equal(validateMac('02:AB:00:00:00:01'), '02:ab:00:00:00:01');
  assert.throws(() => validateMac('02:ab:00:00:00'));
});
