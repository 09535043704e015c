// The proxy's O(changes) path without root: per-port fragments synced by
// dirty keys through the adapter to the in-memory fake kernel give the same
// kernel state as a fresh full sync of the same Services; one endpoint change
// is a handful of operations whatever the table's size; the external paths
// (NodePort, externalIPs, LoadBalancer ingress, eTP Local), PreferClose, the
// healthCheckNodePort server, and the chunked cold start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { FakeNft } from '../../src/nft/fake.ts';
import { TableOwners } from '../../src/nft/owners.ts';
import { NftTable } from '../../src/nft/table-sync.ts';
import type { TableFragment } from '../../src/nft/fragments.ts';
import type { SlimEndpointSlice, SlimService } from '../../src/client/slim-objects.ts';
import { preferClose, servicePortsOf, type ServicePort } from '../../src/proxy/service-ports.ts';
import { portFragment, portKey, proxyBase, proxyTable, proxyTableId, PROXY_OWNER, type ProxyTableConfig } from '../../src/proxy/ruleset.ts';
import { externalChainName, serviceChainName } from '../../src/proxy/names.ts';
import { HealthCheckServers } from '../../src/proxy/health-check-server.ts';

const CFG: ProxyTableConfig = { family: 4, serviceCidrs: ['10.96.0.0/16'], clusterCidrs: ['10.244.0.0/16'], clusterDns: '10.96.0.10' };
const T = proxyTableId(4);

function svc(name: string, ip: string, extra: Partial<SlimService['spec']> = {}, status?: SlimService['status']): SlimService {
  return {
    apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' },
    spec: { type: 'ClusterIP', clusterIP: ip, clusterIPs: [ip], ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }], ...extra },
    ...(status ? { status } : {}),
  };
}

interface Ep { ip: string; node?: string; ready?: boolean; zone?: string; forZones?: string[] }
function slice(name: string, eps: Ep[]): SlimEndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${name}-x`, namespace: 'default', labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4',
    endpoints: eps.map((e) => ({
      addresses: [e.ip], conditions: { ready: e.ready ?? true }, ...(e.node ? { nodeName: e.node } : {}), ...(e.zone ? { zone: e.zone } : {}),
      ...(e.forZones ? { hints: { forZones: e.forZones.map((z) => ({ name: z })) } } : {}),
    })),
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
}

/** Everything the fake kernel holds in the proxy table, as text (chains with rules, sets with elements). */
function dump(nft: FakeNft): string[] {
  const t = nft.table(T)!;
  const out: string[] = [];
  for (const [name, c] of [...t.chains].sort(([a], [b]) => (a < b ? -1 : 1))) if (c.rules.length || c.def.base) out.push(`${name}: ${c.rules.map((r) => r.text).join(' | ')}`);
  for (const name of [...t.sets.keys()].sort()) out.push(`${name} = ${nft.elements(T, name)!.join(', ')}`);
  return out;
}

class Cluster {
  services = new Map<string, SlimService>();
  slices = new Map<string, SlimEndpointSlice>();
  ports = new Map<string, ServicePort[]>();
  fragments = new Map<string, TableFragment>();

  /** Recompute one Service (as the proxier does for a dirty one); returns the dirty port keys. */
  update(name: string): string[] {
    const dirty: string[] = [];
    for (const p of this.ports.get(name) ?? []) {
      this.fragments.delete(portKey(p));
      dirty.push(portKey(p));
    }
    const s = this.services.get(name);
    const after = s ? servicePortsOf(s, this.slices.has(name) ? [this.slices.get(name)!] : [], 'n1') : [];
    this.ports.set(name, after);
    for (const p of after) {
      this.fragments.set(portKey(p), portFragment(p, CFG));
      dirty.push(portKey(p));
    }
    return dirty;
  }

  all(): ServicePort[] {
    return [...this.ports.values()].flat();
  }
}

test('fragment syncs by dirty keys leave the kernel as a fresh full sync of the same Services does', async () => {
  const nft = new FakeNft();
  const table = new NftTable({ owner: PROXY_OWNER, table: T, runner: nft, owners: new TableOwners(), staleDelayMs: 0 });
  const c = new Cluster();
  for (let i = 0; i < 20; i++) {
    c.services.set(`s${i}`, svc(`s${i}`, `10.96.1.${i + 1}`, i % 5 === 0 ? { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } } : {}));
    c.slices.set(`s${i}`, slice(`s${i}`, [{ ip: `10.244.1.${i + 1}` }, { ip: `10.244.2.${i + 1}` }]));
    c.update(`s${i}`);
  }
  await table.syncFragments({ base: proxyBase(CFG), fragments: c.fragments });
  const steps: (() => string[])[] = [
    () => (c.slices.set('s3', slice('s3', [{ ip: '10.244.9.9' }])), c.update('s3')), // endpoints replaced
    () => (c.slices.delete('s4'), c.update('s4')), // no endpoints: reject
    () => (c.services.delete('s5'), c.update('s5')), // Service gone (affinity sets go with it)
    () => (c.services.set('n1', svc('n1', '10.96.2.1', { type: 'NodePort', ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080 }] })), c.slices.set('n1', slice('n1', [{ ip: '10.244.3.1', node: 'n2' }])), c.update('n1')),
    () => (c.services.set('n1', svc('n1', '10.96.2.1', { type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080 }] })), c.update('n1')),
    () => (c.slices.set('s4', slice('s4', [{ ip: '10.244.4.4' }])), c.update('s4')), // endpoints back
    () => (c.services.set('s5', svc('s5', '10.96.1.6')), c.slices.set('s5', slice('s5', [{ ip: '10.244.1.6' }])), c.update('s5')), // back, no affinity
  ];
  for (const step of steps) {
    const dirty = step();
    const out = await table.syncFragments({ base: proxyBase(CFG), fragments: c.fragments }, { dirty });
    assert.equal(out.mode, 'incremental');
    const fresh = new FakeNft();
    await new NftTable({ owner: PROXY_OWNER, table: T, runner: fresh, owners: new TableOwners() }).sync(proxyTable(c.all(), CFG));
    // Chains left behind empty (stale, deleted a sync later) do not count: compare chains with rules, and every set.
    assert.deepEqual(dump(nft), dump(fresh));
  }
});

test('one endpoint change among 2,000 Services is a handful of operations, planned without walking the table', async () => {
  const nft = new FakeNft();
  const table = new NftTable({ owner: PROXY_OWNER, table: T, runner: nft, owners: new TableOwners() });
  const c = new Cluster();
  for (let i = 0; i < 2000; i++) {
    const name = `s${i}`;
    c.services.set(name, svc(name, `10.96.${i >> 8}.${i & 255}`));
    c.slices.set(name, slice(name, [1, 2, 3, 4, 5].map((e) => ({ ip: `10.244.${e}.${(i % 250) + 1}` }))));
    c.update(name);
  }
  await table.syncFragments({ base: proxyBase(CFG), fragments: c.fragments });
  c.slices.set('s7', slice('s7', [1, 2, 3, 4].map((e) => ({ ip: `10.244.${e}.8` })).concat([{ ip: '10.250.0.1' }])));
  const dirty = c.update('s7');
  const out = await table.syncFragments({ base: proxyBase(CFG), fragments: c.fragments }, { dirty });
  // add chain (new endpoint), flush + 1 + 5 rules (service chain: the masquerade mark, the random cascade over 5), 2 rules (new endpoint chain), flush (old endpoint chain)
  assert.equal(out.ops, 11);
  assert.equal(out.mode, 'incremental');
  assert.match(nft.applied.at(-1)!.text, /10\.250\.0\.1/);
});

test('NodePort, externalIPs and LoadBalancer ingress go through one external chain; eTP Local keeps the client address and this node only', async () => {
  const nft = new FakeNft();
  const table = new NftTable({ owner: PROXY_OWNER, table: T, runner: nft, owners: new TableOwners() });
  const lbPorts = [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080 }];
  const cluster = svc('lb', '10.96.5.1', { type: 'LoadBalancer', externalIPs: ['192.0.2.7'], ports: lbPorts }, { loadBalancer: { ingress: [{ ip: '192.0.2.50' }] } });
  const local = svc('loc', '10.96.5.2', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 31000, ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30081 }] });
  const none = svc('none', '10.96.5.3', { type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30082 }] });
  const ports = [
    ...servicePortsOf(cluster, [slice('lb', [{ ip: '10.244.1.1', node: 'n2' }])], 'n1'),
    ...servicePortsOf(local, [slice('loc', [{ ip: '10.244.1.2', node: 'n1' }, { ip: '10.244.2.2', node: 'n2' }])], 'n1'),
    ...servicePortsOf(none, [slice('none', [{ ip: '10.244.2.3', node: 'n2' }])], 'n1'),
  ];
  const loc = ports.find((p) => p.name === 'loc')!;
  assert.equal(loc.healthCheckNodePort, 31000);
  assert.deepEqual(loc.localEndpoints.map((e) => e.ip), ['10.244.1.2']);
  await table.sync(proxyTable(ports, CFG));
  const id = (name: string) => ({ namespace: 'default', name, protocol: 'tcp' as const, portName: 'http' });
  const extLb = externalChainName(id('lb'));
  const extLoc = externalChainName(id('loc'));
  assert.deepEqual(nft.elements(T, 'service-nodeports'), [`tcp . 30080 : goto ${extLb}`, `tcp . 30081 : goto ${extLoc}`].sort());
  assert.deepEqual(nft.elements(T, 'no-endpoint-nodeports'), ['tcp . 30082 : drop'], 'eTP Local without a local endpoint: dropped');
  const ips = nft.elements(T, 'service-ips')!;
  assert.ok(ips.includes(`192.0.2.7 . tcp . 80 : goto ${extLb}`), 'externalIPs');
  assert.ok(ips.includes(`192.0.2.50 . tcp . 80 : goto ${extLb}`), 'LoadBalancer ingress');
  assert.deepEqual(nft.rules(T, extLb), ['jump mark-for-masquerade', `goto ${serviceChainName(id('lb'))}`], 'eTP Cluster: masquerade');
  const locRules = nft.rules(T, extLoc)!;
  assert.equal(locRules[0], `ip saddr 10.244.0.0/16 goto ${serviceChainName(id('loc'))}`, 'pods take the cluster path');
  assert.match(locRules[1], /^goto ep-[0-9a-f]+-default\.loc\.tcp\.http\.10\.244\.1\.2\.8080$/, 'one local endpoint: no random choice');
  assert.ok(!locRules.some((r) => r.includes('mark-for-masquerade')), 'eTP Local: no SNAT');
});

test('PreferClose: this node\'s endpoints, else this zone\'s (hints first), else all', () => {
  const eps = [
    { ip: '10.244.1.1', port: 80, nodeName: 'n1', zone: 'a' },
    { ip: '10.244.2.1', port: 80, nodeName: 'n2', zone: 'b' },
    { ip: '10.244.3.1', port: 80, nodeName: 'n3', zone: 'b', forZones: ['a'] },
  ];
  assert.deepEqual(preferClose(eps, { nodeName: 'n1', zone: 'a' }).map((e) => e.ip), ['10.244.1.1']);
  assert.deepEqual(preferClose(eps, { nodeName: 'n9', zone: 'a' }).map((e) => e.ip), ['10.244.1.1', '10.244.3.1'], 'zone a: its own and the one hinted for a');
  assert.deepEqual(preferClose(eps, { nodeName: 'n9', zone: 'b' }).map((e) => e.ip), ['10.244.2.1']);
  assert.deepEqual(preferClose(eps, { nodeName: 'n9', zone: 'c' }).map((e) => e.ip), eps.map((e) => e.ip));
  const s = svc('pc', '10.96.6.1', { trafficDistribution: 'PreferClose' });
  const ports = servicePortsOf(s, [slice('pc', [{ ip: '10.244.1.1', node: 'n1', zone: 'a' }, { ip: '10.244.2.1', node: 'n2', zone: 'b' }])], 'n2', 'b');
  assert.deepEqual(ports[0].endpoints.map((e) => e.ip), ['10.244.2.1']);
});

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function get(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the healthCheckNodePort server answers 200 with the local endpoint count, 503 with none', async () => {
  const servers = new HealthCheckServers({ host: '127.0.0.1' });
  const port = await freePort();
  try {
    await servers.set(port, { namespace: 'default', name: 'loc', localEndpoints: 2 });
    const ok = await get(port);
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(ok.body), { service: { namespace: 'default', name: 'loc' }, localEndpoints: 2, serviceProxyHealthy: true });
    await servers.set(port, { namespace: 'default', name: 'loc', localEndpoints: 0 });
    const none = await get(port);
    assert.equal(none.status, 503);
    assert.equal(JSON.parse(none.body).localEndpoints, 0);
    await servers.delete(port);
    await assert.rejects(get(port), /ECONNREFUSED/);
  } finally {
    await servers.close();
  }
});
