// The proxy's pure core: Services and EndpointSlices → Service ports → the
// desired nftables table, applied through the adapter to the in-memory fake
// kernel (no root): the kube-proxy-shaped structure, and O(changes) syncs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeNft } from '../../src/nft/fake.ts';
import { TableOwners } from '../../src/nft/owners.ts';
import { NftTable } from '../../src/nft/table-sync.ts';
import type { SlimEndpointSlice, SlimService } from '../../src/client/slim-objects.ts';
import { servicePorts, type ProxyInput } from '../../src/proxy/service-ports.ts';
import { FIREWALL_MAP, proxyTable, proxyTableId, PROXY_OWNER, type ProxyTableConfig } from '../../src/proxy/ruleset.ts';
import { endpointChainName, externalChainName, firewallChainName, serviceChainName, affinitySetName } from '../../src/proxy/names.ts';
import { randomChoice, renderRule, rule, ruleRefs, RANDOM_CASCADE_MAX } from '../../src/nft/rule.ts';

const CFG: ProxyTableConfig = { family: 4, serviceCidrs: ['10.96.0.0/16'], clusterCidrs: ['10.244.0.0/16'], clusterDns: '10.96.0.10' };
const T = proxyTableId(4);

function svc(name: string, ip: string, extra: Partial<SlimService['spec']> = {}, ns = 'default'): SlimService {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { type: 'ClusterIP', clusterIP: ip, clusterIPs: [ip], ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }], ...extra } };
}

function slice(svcName: string, eps: { ip: string; node?: string; ready?: boolean }[], ns = 'default', portName = 'http', port = 8080): SlimEndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${svcName}-abc`, namespace: ns, labels: { 'kubernetes.io/service-name': svcName } },
    addressType: 'IPv4',
    endpoints: eps.map((e) => ({ addresses: [e.ip], conditions: { ready: e.ready ?? true }, ...(e.node ? { nodeName: e.node } : {}) })),
    ports: [{ name: portName, port, protocol: 'TCP' }],
  };
}

function input(services: SlimService[], slices: SlimEndpointSlice[], nodeName = 'n1'): ProxyInput {
  const by = new Map<string, SlimEndpointSlice[]>();
  for (const s of slices) {
    const k = `${s.metadata.namespace}/${s.metadata.labels!['kubernetes.io/service-name']}`;
    by.set(k, [...(by.get(k) ?? []), s]);
  }
  return { services, slicesByService: by, nodeName };
}

const web = { namespace: 'default', name: 'web', protocol: 'tcp' as const, portName: 'http' };

test('service ports: ready endpoints only; headless and ExternalName skipped; internalTrafficPolicy Local keeps this node', () => {
  const ports = servicePorts(input(
    [svc('web', '10.96.1.1'), svc('hl', 'None'), { ...svc('ext', ''), spec: { type: 'ExternalName', externalName: 'example.org' } }, svc('loc', '10.96.1.2', { internalTrafficPolicy: 'Local' })],
    [slice('web', [{ ip: '10.244.1.5' }, { ip: '10.244.2.5', ready: false }, { ip: '10.244.0.5' }]), slice('loc', [{ ip: '10.244.1.9', node: 'n2' }])],
  ));
  assert.deepEqual(ports.map((p) => `${p.name}:${p.endpoints.map((e) => e.ip).join(',')}:${p.noLocalEndpoints}`), ['loc::true', 'web:10.244.0.5,10.244.1.5:false']);
});

test('the table: dispatch map, a chain per service port and per endpoint, numgen, hairpin mark, DNAT', async () => {
  const nft = new FakeNft();
  const table = new NftTable({ owner: PROXY_OWNER, table: T, runner: nft, owners: new TableOwners() });
  const ports = servicePorts(input([svc('web', '10.96.1.1')], [slice('web', [{ ip: '10.244.1.5' }, { ip: '10.244.2.5' }, { ip: '10.244.3.5' }])]));
  await table.sync(proxyTable(ports, CFG));
  const sc = serviceChainName(web);
  assert.deepEqual(nft.elements(T, 'service-ips'), [`10.96.1.1 . tcp . 80 : goto ${sc}`]);
  const eps = ['10.244.1.5', '10.244.2.5', '10.244.3.5'].map((ip) => endpointChainName(web, ip, 8080));
  assert.deepEqual(nft.rules(T, sc), [
    'ip saddr != 10.244.0.0/16 jump mark-for-masquerade',
    // a uniform random choice without an anonymous set: 1/3, then 1/2 of the rest, then the last
    `numgen random mod 3 0 goto ${eps[0]}`,
    `numgen random mod 2 0 goto ${eps[1]}`,
    `goto ${eps[2]}`,
  ]);
  assert.deepEqual(nft.rules(T, eps[1]), ['ip saddr 10.244.2.5 jump mark-for-masquerade', 'meta l4proto tcp dnat ip to 10.244.2.5:8080']);
  assert.deepEqual(nft.rules(T, 'services'), [
    'ip daddr 10.96.0.10 meta l4proto { udp, tcp } th dport 53 return',
    'ip daddr . meta l4proto . th dport vmap @service-ips',
    'fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports',
  ]);
  assert.deepEqual(nft.rules(T, 'reject-check'), [
    'ip daddr . meta l4proto . th dport vmap @no-endpoint-services',
    'fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @no-endpoint-nodeports',
    'ip daddr 10.96.0.10 meta l4proto { udp, tcp } th dport 53 return',
    'ip daddr 10.96.0.0/16 goto reject-chain',
  ]);
  assert.deepEqual(nft.rules(T, 'reject-chain'), ['meta l4proto tcp reject with tcp reset', 'reject with icmp type port-unreachable']);
  assert.deepEqual(nft.rules(T, 'filter-prerouting'), ['ct state new jump reject-check']);
  assert.deepEqual(nft.rules(T, 'masquerading'), ['meta mark & 0x00004000 == 0x00000000 return', 'meta mark set meta mark xor 0x00004000', 'masquerade fully-random']);
});

test('no ready endpoints: rejected from the filter hooks; internalTrafficPolicy Local without a local endpoint: dropped', async () => {
  const nft = new FakeNft();
  const table = new NftTable({ owner: PROXY_OWNER, table: T, runner: nft, owners: new TableOwners() });
  const ports = servicePorts(input([svc('web', '10.96.1.1'), svc('loc', '10.96.1.2', { internalTrafficPolicy: 'Local' })],
    [slice('web', [{ ip: '10.244.1.5', ready: false }]), slice('loc', [{ ip: '10.244.1.9', node: 'n2' }])]));
  await table.sync(proxyTable(ports, CFG));
  assert.deepEqual(nft.elements(T, 'service-ips'), []);
  assert.deepEqual(nft.elements(T, 'no-endpoint-services'), ['10.96.1.1 . tcp . 80 : goto reject-chain', '10.96.1.2 . tcp . 80 : drop']);
});

test('the cluster DNS address port 53 is not proxied; its other ports are', () => {
  const dns = svc('kube-dns', '10.96.0.10', { ports: [{ name: 'dns', protocol: 'UDP', port: 53 }, { name: 'metrics', protocol: 'TCP', port: 9153 }] }, 'kube-system');
  const sl: SlimEndpointSlice = { ...slice('kube-dns', [{ ip: '10.244.1.2' }], 'kube-system'), ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'metrics', port: 9153, protocol: 'TCP' }] };
  const t = proxyTable(servicePorts(input([dns], [sl])), CFG);
  const keys = t.maps!.find((m) => m.name === 'service-ips')!.elements!.map((e) => e.key.join(' '));
  assert.deepEqual(keys, ['10.96.0.10 tcp 9153']);
});

test('session affinity: a timed set per endpoint, checked in the service chain and updated in the endpoint chain', async () => {
  const nft = new FakeNft();
  const table = new NftTable({ owner: PROXY_OWNER, table: T, runner: nft, owners: new TableOwners() });
  const ports = servicePorts(input([svc('web', '10.96.1.1', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 30 } } })], [slice('web', [{ ip: '10.244.1.5' }])]));
  await table.sync(proxyTable(ports, CFG));
  const set = affinitySetName(web, '10.244.1.5', 8080, 30);
  const ep = endpointChainName(web, '10.244.1.5', 8080);
  assert.match(nft.table(T)!.sets.get(set)!.spec, /flags dynamic,timeout ; timeout 30s/);
  assert.equal(nft.rules(T, serviceChainName(web))![1], `ip saddr @${set} goto ${ep}`);
  assert.equal(nft.rules(T, ep)![1], `update @${set} { ip saddr }`);
});

test('one endpoint change is a handful of operations, not a rebuild (with 200 Services installed)', async () => {
  const nft = new FakeNft();
  let now = 1_000_000;
  const table = new NftTable({ owner: PROXY_OWNER, table: T, runner: nft, owners: new TableOwners(), now: () => now });
  const services = Array.from({ length: 200 }, (_, i) => svc(`s${i}`, `10.96.${1 + (i >> 8)}.${i & 255}`));
  const slices = services.map((s, i) => slice(s.metadata.name, [1, 2, 3].map((n) => ({ ip: `10.244.${n}.${i}` }))));
  const first = await table.sync(proxyTable(servicePorts(input(services, slices)), CFG));
  assert.equal(first.mode, 'full');
  assert.ok(first.ops > 200 * 4, `full programming: ${first.ops} operations`);
  // s7 loses one endpoint and gains another.
  slices[7] = slice('s7', [{ ip: '10.244.1.7' }, { ip: '10.244.2.7' }, { ip: '10.244.9.7' }]);
  now += 10;
  const change = await table.sync(proxyTable(servicePorts(input(services, slices)), CFG));
  assert.equal(change.mode, 'incremental');
  // add the new endpoint chain (+ its 2 rules), flush and refill the service chain (flush + 1 + 3 rules), flush the old endpoint chain.
  assert.ok(change.ops <= 9, `one endpoint change: ${change.ops} operations`);
  const text = nft.applied.at(-1)!.text;
  assert.match(text, /add chain ip meshlet-proxy ep-[0-9a-f]+-default\.s7\.tcp\.http\.10\.244\.9\.7\.8080/);
  assert.match(text, /flush chain ip meshlet-proxy ep-[0-9a-f]+-default\.s7\.tcp\.http\.10\.244\.3\.7\.8080/);
  assert.doesNotMatch(text, /delete table|s8\b|s6\b/);
  // the stale chain is deleted by a later sync, after the delay
  now += 2000;
  const later = await table.sync(proxyTable(servicePorts(input(services, slices)), CFG));
  assert.equal(later.ops, 1);
  assert.match(nft.applied.at(-1)!.text, /^delete chain ip meshlet-proxy ep-[0-9a-f]+-default\.s7\.tcp\.http\.10\.244\.3\.7\.8080$/m);
  // nothing changed: nothing sent
  assert.equal((await table.sync(proxyTable(servicePorts(input(services, slices)), CFG))).ops, 0);
});

test('a new agent adopts the table: a full resync changes no element that is already right', async () => {
  const nft = new FakeNft();
  const ports = servicePorts(input([svc('web', '10.96.1.1')], [slice('web', [{ ip: '10.244.1.5' }])]));
  await new NftTable({ owner: PROXY_OWNER, table: T, runner: nft, owners: new TableOwners() }).sync(proxyTable(ports, CFG));
  const again = new NftTable({ owner: PROXY_OWNER, table: T, runner: nft, owners: new TableOwners() });
  const out = await again.sync(proxyTable(ports, CFG));
  assert.equal(out.mode, 'full');
  const text = nft.applied.at(-1)!.text;
  assert.doesNotMatch(text, /delete table|element/);
  assert.deepEqual(nft.elements(T, 'service-ips'), [`10.96.1.1 . tcp . 80 : goto ${serviceChainName(web)}`]);
});

test('chain names are stable, distinct and valid, even for the longest names', () => {
  const long = { namespace: 'n'.repeat(63), name: 's'.repeat(63), protocol: 'udp' as const, portName: 'p'.repeat(15) };
  const a = serviceChainName(long);
  assert.equal(a, serviceChainName({ ...long }));
  assert.ok(a.length <= 128);
  assert.notEqual(serviceChainName(long), serviceChainName({ ...long, protocol: 'tcp' }));
  assert.notEqual(endpointChainName(long, 'fd00::1', 80), endpointChainName(long, 'fd00::2', 80));
});

test('randomChoice: a cascade whose steps give every endpoint 1/N, without an anonymous set; a numgen map above the cap', () => {
  for (let n = 1; n <= RANDOM_CASCADE_MAX; n++) {
    const targets = Array.from({ length: n }, (_, i) => `ep-${i}`);
    const rules = randomChoice(targets.map((t) => ({ goto: t })));
    assert.equal(rules.length, n);
    // P(reach rule i) · P(take it) must be 1/n for every i: exact, in rationals (numerators over n!).
    let reach = 1;
    rules.forEach((r, i) => {
      const step = r.body[0];
      const mod = 'numgenIs' in step ? step.numgenIs.mod : 1;
      assert.equal(mod, n - i, `rule ${i} of ${n}: ${renderRule(r)}`);
      assert.ok(Math.abs((reach * 1) / mod - 1 / n) < 1e-12, `endpoint ${i} of ${n} gets 1/${n}`);
      reach *= (mod - 1) / mod;
      assert.equal(ruleRefs(r).chains[0], targets[i]);
      assert.doesNotMatch(renderRule(r), /vmap|\{/);
    });
    assert.equal(reach, 0, 'the last rule takes whatever is left');
  }
  const big = randomChoice(Array.from({ length: RANDOM_CASCADE_MAX + 1 }, (_, i) => ({ goto: `ep-${i}` })));
  assert.equal(big.length, 1);
  assert.match(renderRule(big[0]), new RegExp(`^numgen random mod ${RANDOM_CASCADE_MAX + 1} vmap \\{ 0 : goto ep-0, `));
  assert.throws(() => randomChoice([]), /at least one verdict/);
  assert.throws(() => renderRule(rule({ numgenIs: { mod: 3, value: 3 } }, { verdict: 'drop' })), /invalid numgen value/);
});

test('loadBalancerSourceRanges: a firewall chain for the LoadBalancer ingress addresses only, checked before DNAT', async () => {
  const nft = new FakeNft();
  const table = new NftTable({ owner: PROXY_OWNER, table: T, runner: nft, owners: new TableOwners() });
  const lb: SlimService = {
    ...svc('lb', '10.96.1.7', { type: 'LoadBalancer', externalIPs: ['192.0.2.9'], loadBalancerSourceRanges: [' 198.51.100.5/24', '203.0.113.0/25', 'fd00::/64', 'nonsense'], ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30080 }] }),
    status: { loadBalancer: { ingress: [{ ip: '192.0.2.50' }] } },
  };
  const ports = servicePorts(input([lb, svc('open', '10.96.1.8', { type: 'LoadBalancer' })], [slice('lb', [{ ip: '10.244.1.5' }])]));
  const p = ports.find((x) => x.name === 'lb')!;
  // host bits cleared as Go's ParseCIDR does, other families and garbage left out
  assert.deepEqual(p.firewall, { ips: ['192.0.2.50'], ranges: ['198.51.100.0/24', '203.0.113.0/25'] });
  assert.equal(ports.find((x) => x.name === 'open')!.firewall, undefined, 'no ranges: no firewall');
  await table.sync(proxyTable(ports, CFG));
  const fw = firewallChainName(p);
  assert.deepEqual(nft.elements(T, FIREWALL_MAP), [`192.0.2.50 . tcp . 80 : goto ${fw}`], 'the ingress address only: not the externalIP, not the NodePort');
  assert.deepEqual(nft.rules(T, fw), ['ip saddr != { 198.51.100.0/24, 203.0.113.0/25 } drop']);
  const pre = nft.table(T)!.chains.get('filter-prerouting-pre-dnat')!;
  assert.match(pre.spec ?? '', /type filter hook prerouting priority -110/);
  assert.deepEqual(nft.rules(T, 'filter-prerouting-pre-dnat'), ['ip daddr . meta l4proto . th dport vmap @firewall-ips']);
  assert.deepEqual(nft.rules(T, 'filter-output-pre-dnat'), ['ip daddr . meta l4proto . th dport vmap @firewall-ips']);
  // ranges removed: the chain and its element go
  const open = servicePorts(input([{ ...lb, spec: { ...lb.spec, loadBalancerSourceRanges: [] } }], [slice('lb', [{ ip: '10.244.1.5' }])]));
  await table.sync(proxyTable(open, CFG));
  assert.deepEqual(nft.elements(T, FIREWALL_MAP), []);
});

test('externalTrafficPolicy Local with ClientIP affinity: the external path checks the affinity sets of this node’s endpoints', async () => {
  const nft = new FakeNft();
  const table = new NftTable({ owner: PROXY_OWNER, table: T, runner: nft, owners: new TableOwners() });
  const s = svc('aff', '10.96.1.9', { type: 'NodePort', externalTrafficPolicy: 'Local', sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } }, ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30090 }] });
  const ports = servicePorts(input([s], [slice('aff', [{ ip: '10.244.1.5', node: 'n1' }, { ip: '10.244.1.6', node: 'n1' }, { ip: '10.244.2.5', node: 'n2' }])]));
  await table.sync(proxyTable(ports, CFG));
  const id = { namespace: 'default', name: 'aff', protocol: 'tcp' as const, portName: 'http' };
  const ext = nft.rules(T, externalChainName(id))!;
  const local = ['10.244.1.5', '10.244.1.6'];
  assert.equal(ext[0], `ip saddr 10.244.0.0/16 goto ${serviceChainName(id)}`);
  assert.deepEqual(ext.slice(1, 3), local.map((ip) => `ip saddr @${affinitySetName(id, ip, 8080, 60)} goto ${endpointChainName(id, ip, 8080)}`));
  assert.deepEqual(ext.slice(3), [`numgen random mod 2 0 goto ${endpointChainName(id, local[0], 8080)}`, `goto ${endpointChainName(id, local[1], 8080)}`]);
  assert.ok(!ext.some((r) => r.includes('10.244.2.5')), 'only this node’s endpoints');
  // one set per endpoint, shared by both paths (the endpoint chain fills it)
  assert.equal([...nft.table(T)!.sets.keys()].filter((n) => n.startsWith('aff-')).length, 3);
});
