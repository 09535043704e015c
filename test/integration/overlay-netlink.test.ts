// src/overlay/netlink.ts against the real kernel, inside a namespace this
// test creates (the script runs under `ip netns exec`). Needs root.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { NetnsLab, run, ipIn } from '../helpers/netns-lab.ts';

const NETLINK = fileURLToPath(new URL('../../src/overlay/netlink.ts', import.meta.url));
const tag = `mlt-${randomBytes(3).toString('hex')}`;
const lab = new NetnsLab();

after(() => lab.cleanup());

const script = (peerNs: string): string => `
import { openSync, closeSync } from 'node:fs';
import { Netlink } from ${JSON.stringify(NETLINK)};
const nl = Netlink.open();
const out = {};
const code = async (fn) => { try { await fn(); return 'ok'; } catch (e) { return e.code ?? e.message; } };
try {
  await nl.createBridge('mltbr');
  await nl.createVeth('mltv0', 'mltv1');
  await nl.setLink('mltv0', { up: true, mtu: 1400, master: 'mltbr' });
  await nl.setLink('mltbr', { up: true });
  await nl.addAddress('mltbr', '10.99.1.1/24');
  await nl.createVeth('mltu0', 'mltu1');
  await nl.addAddress('mltu0', '172.31.9.1/24');
  await nl.setLink('mltu0', { up: true });
  await nl.createVxlan({ name: 'mltvx', vni: 42, local: '172.31.9.1', port: 4789, underlay: 'mltu0', learning: false, mtu: 1450, mac: '02:00:00:00:42:01' });
  await nl.setLink('mltvx', { up: true });
  await nl.addAddress('mltvx', '10.99.1.0/32');
  const fd = openSync('/run/netns/${peerNs}', 'r');
  await nl.createVeth('mltp0', 'mltp1', { peerNetnsFd: fd });
  await nl.setLink('mltv1', { netnsFd: fd });
  closeSync(fd);
  await nl.setNeighbour({ dev: 'mltvx', ip: '10.99.2.0', mac: '02:00:00:00:42:02' });
  await nl.setFdb({ dev: 'mltvx', mac: '02:00:00:00:42:02', dst: '172.31.9.2' });
  await nl.addRoute({ dst: '10.99.2.0/24', gateway: '10.99.2.0', dev: 'mltvx', onlink: true });
  out.addTwice = await code(() => nl.addRoute({ dst: '10.99.2.0/24', gateway: '10.99.2.0', dev: 'mltvx', onlink: true }));
  await nl.replaceRoute({ dst: '10.99.2.0/24', gateway: '10.99.2.0', dev: 'mltvx', onlink: true });
  await nl.addRoute({ dst: '10.98.0.0/16', gateway: '10.99.1.7', table: 100 });
  out.links = await nl.listLinks();
  out.addresses = await nl.listAddresses();
  out.routes = await nl.listRoutes();
  out.table100 = await nl.listRoutes({ table: 100 });
  out.neigh = await nl.listNeighbours('mltvx');
  out.fdb = await nl.listFdb('mltvx');
  out.badName = await code(() => nl.createBridge('this-name-is-too-long'));
  out.badName2 = await code(() => nl.setLink('eth0;rm', { up: true }));
  out.exists = await code(() => nl.createBridge('mltbr'));
  out.del = [
    await nl.delRoute({ dst: '10.99.2.0/24', gateway: '10.99.2.0', dev: 'mltvx', onlink: true }),
    await nl.delRoute({ dst: '10.99.2.0/24', gateway: '10.99.2.0', dev: 'mltvx', onlink: true }),
    await nl.delNeighbour({ dev: 'mltvx', ip: '10.99.2.0' }),
    await nl.delNeighbour({ dev: 'mltvx', ip: '10.99.2.0' }),
    await nl.delFdb({ dev: 'mltvx', mac: '02:00:00:00:42:02', dst: '172.31.9.2' }),
    await nl.delFdb({ dev: 'mltvx', mac: '02:00:00:00:42:02', dst: '172.31.9.2' }),
  ];
  await nl.delAddress('mltbr', '10.99.1.1/24');
  out.afterDel = { routes: (await nl.listRoutes()).filter((r) => r.dev === 'mltvx' && r.protocol !== 'KERNEL'), neigh: (await nl.listNeighbours('mltvx')).filter((n) => n.permanent), fdb: await nl.listFdb('mltvx'), br: await nl.listAddresses('mltbr') };
  out.deleted = [await nl.deleteLink('mltvx'), await nl.deleteLink('mltvx')];
} finally {
  nl.close();
}
console.log(JSON.stringify(out));
`;

interface Out {
  addTwice: string;
  links: { index: number; name: string; kind?: string; mtu: number; up: boolean; master?: string; mac?: string; vxlan?: unknown }[];
  addresses: { dev: string; cidr: string }[];
  routes: { dst: string; gateway?: string; dev?: string; onlink: boolean }[];
  table100: { dst: string; gateway?: string; table: number }[];
  neigh: { ip: string; mac: string; permanent: boolean }[];
  fdb: { mac: string; dst?: string; permanent: boolean; self: boolean }[];
  badName: string;
  badName2: string;
  exists: string;
  del: boolean[];
  afterDel: { routes: unknown[]; neigh: unknown[]; fdb: unknown[]; br: { cidr: string }[] };
  deleted: boolean[];
}

test('netlink wrapper: links, veth into another netns, vxlan, addresses, routes, neighbours, FDB', { timeout: 60_000 }, async () => {
  const ns = await lab.addNamespace(`${tag}-n`);
  const peer = await lab.addNamespace(`${tag}-p`);
  const raw = await run('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', '--input-type=module', '-e', script(peer)]);
  const out = JSON.parse(raw) as Out;
  const link = (n: string) => out.links.find((l) => l.name === n);
  assert.deepEqual(link('mltbr') && { kind: link('mltbr')!.kind, up: link('mltbr')!.up }, { kind: 'bridge', up: true });
  assert.deepEqual(link('mltv0') && { kind: link('mltv0')!.kind, mtu: link('mltv0')!.mtu, master: link('mltv0')!.master }, { kind: 'veth', mtu: 1400, master: 'mltbr' });
  assert.equal(link('mltv1'), undefined, 'moved into the peer namespace');
  assert.equal(link('mltp1'), undefined, 'created in the peer namespace');
  assert.deepEqual(link('mltvx')?.vxlan, { vni: 42, local: '172.31.9.1', port: 4789, linkIndex: link('mltu0')?.index, learning: false });
  assert.equal(link('mltvx')?.mac, '02:00:00:00:42:01');
  assert.equal(link('mltvx')?.mtu, 1450);
  assert.ok(out.addresses.some((a) => a.dev === 'mltbr' && a.cidr === '10.99.1.1/24'));
  assert.ok(out.addresses.some((a) => a.dev === 'mltvx' && a.cidr === '10.99.1.0/32'));
  assert.deepEqual(out.routes.filter((r) => r.dst === '10.99.2.0/24'), [{ family: 4, dst: '10.99.2.0/24', table: 254, onlink: true, gateway: '10.99.2.0', dev: 'mltvx', protocol: 'BOOT', type: 'UNICAST' }]);
  assert.deepEqual(out.table100.map((r) => [r.dst, r.gateway, r.table]), [['10.98.0.0/16', '10.99.1.7', 100]]);
  assert.equal(out.addTwice, 'EEXIST');
  assert.deepEqual(out.neigh.filter((n) => n.permanent), [{ dev: 'mltvx', ip: '10.99.2.0', mac: '02:00:00:00:42:02', permanent: true }]);
  assert.deepEqual(out.fdb, [{ dev: 'mltvx', mac: '02:00:00:00:42:02', dst: '172.31.9.2', permanent: true, self: true }]);
  assert.match(out.badName, /invalid interface name/);
  assert.match(out.badName2, /invalid interface name/);
  assert.equal(out.exists, 'EEXIST');
  assert.deepEqual(out.del, [true, false, true, false, true, false]);
  assert.deepEqual(out.afterDel.routes, []);
  assert.deepEqual(out.afterDel.neigh, []);
  assert.deepEqual(out.afterDel.fdb, []);
  assert.ok(!out.afterDel.br.some((a) => a.cidr === '10.99.1.1/24'));
  assert.deepEqual(out.deleted, [true, false]);
  // The kernel agrees: both veth peers live in the peer namespace.
  const peerLinks = await ipIn(peer, '-o link show');
  assert.match(peerLinks, /mltv1@/);
  assert.match(peerLinks, /mltp1@/);
});
