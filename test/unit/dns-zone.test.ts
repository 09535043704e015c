// The cluster zone compiled from feed data: records per the Kubernetes DNS
// specification, CoreDNS's choices where it is silent, incremental updates and
// exactly which names each change touches. Also feed validation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FeedError, parseFeedLine, type FeedSnapshot } from '../../src/dns/feed.ts';
import { FeedState } from '../../src/dns/feed-state.ts';
import { RecursionAcl } from '../../src/dns/acl.ts';
import { parseResolvConf } from '../../src/dns/resolv-conf.ts';
import { nameKey, TYPE } from '../../src/dns/wire.ts';
import { ClusterZone, dashedIP, podLabelIP, reverseName, type ZoneAnswer } from '../../src/dns/zone.ts';

const snap: FeedSnapshot = {
  type: 'snapshot', seq: 1,
  services: [
    { namespace: 'default', name: 'web', clusterIPs: ['10.96.0.20'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
    { namespace: 'default', name: 'hl', clusterIPs: ['None'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
    { namespace: 'default', name: 'ext', type: 'ExternalName', externalName: 'www.example.com' },
    { namespace: 'default', name: 'ext-ip', type: 'ExternalName', externalName: '192.0.2.1' },
  ],
  endpointSlices: [{
    namespace: 'default', name: 'hl-1', service: 'hl', addressType: 'IPv4', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: [{ addresses: ['10.244.1.5'], hostname: 'pet-0' }, { addresses: ['10.244.1.6'], podName: 'p6' }, { addresses: ['10.244.1.7'], ready: false }],
  }],
  pods: [{ namespace: 'default', name: 'p6', ips: ['10.244.1.6'], hostname: 'db-1', subdomain: 'hl' }],
  namespaces: [{ name: 'default' }, { name: 'quiet' }],
};

function zone(mode: 'disabled' | 'insecure' | 'verified' = 'verified'): ClusterZone {
  const z = new ClusterZone({ zone: 'cluster.local', ttl: 5, podMode: mode });
  z.apply(snap, 100);
  z.takeChanged();
  return z;
}

const look = (z: ClusterZone, name: string, type: number): ZoneAnswer => z.lookup(nameKey(name), type);
function data(a: ZoneAnswer): string[] {
  assert.equal(a.kind, 'records', JSON.stringify(a));
  return a.kind === 'records' ? a.answers.map((r) => ('ip' in r.data ? r.data.ip : 'target' in r.data ? `${'port' in r.data ? `${r.data.weight} ${r.data.port} ` : ''}${r.data.target}` : JSON.stringify(r.data))).sort() : [];
}

test('ClusterIP Service: A, SRV for named ports, PTR', () => {
  const z = zone();
  assert.deepEqual(data(look(z, 'web.default.svc.cluster.local', TYPE.A)), ['10.96.0.20']);
  assert.equal(look(z, 'web.default.svc.cluster.local', TYPE.AAAA).kind, 'nodata');
  assert.deepEqual(data(look(z, '_http._tcp.web.default.svc.cluster.local', TYPE.SRV)), ['100 80 web.default.svc.cluster.local.']);
  assert.deepEqual(data(look(z, reverseName('10.96.0.20'), TYPE.PTR)), ['web.default.svc.cluster.local.']);
});

test('headless Service: ready endpoints, hostnames (endpoint, pod hostname+subdomain, dashed IP), SRV weights split', () => {
  const z = zone();
  assert.deepEqual(data(look(z, 'hl.default.svc.cluster.local', TYPE.A)), ['10.244.1.5', '10.244.1.6']);
  assert.deepEqual(data(look(z, 'pet-0.hl.default.svc.cluster.local', TYPE.A)), ['10.244.1.5']);
  assert.deepEqual(data(look(z, 'db-1.hl.default.svc.cluster.local', TYPE.A)), ['10.244.1.6']);
  assert.equal(look(z, '10-244-1-7.hl.default.svc.cluster.local', TYPE.A).kind, 'nxdomain');
  assert.deepEqual(data(look(z, '_http._tcp.hl.default.svc.cluster.local', TYPE.SRV)), ['50 8080 db-1.hl.default.svc.cluster.local.', '50 8080 pet-0.hl.default.svc.cluster.local.']);
  assert.deepEqual(data(look(z, reverseName('10.244.1.5'), TYPE.PTR)), ['pet-0.hl.default.svc.cluster.local.']);
});

test('ExternalName: a CNAME for every type but CNAME itself answers it; an IP as ExternalName gives nothing (as CoreDNS)', () => {
  const z = zone();
  const a = look(z, 'ext.default.svc.cluster.local', TYPE.A);
  assert.equal(a.kind, 'cname');
  assert.equal(a.kind === 'cname' && a.target, 'www.example.com.');
  assert.deepEqual(data(look(z, 'ext.default.svc.cluster.local', TYPE.CNAME)), ['www.example.com.']);
  assert.equal(look(z, 'ext-ip.default.svc.cluster.local', TYPE.A).kind, 'nxdomain');
});

test('NXDOMAIN vs NODATA: apex, svc, namespaces, empty non-terminals, ANY', () => {
  const z = zone();
  assert.equal(look(z, 'cluster.local', TYPE.A).kind, 'nodata');
  assert.equal(look(z, 'cluster.local', TYPE.SOA).kind, 'records');
  assert.equal(look(z, 'svc.cluster.local', TYPE.A).kind, 'nodata');
  assert.equal(look(z, 'quiet.svc.cluster.local', TYPE.A).kind, 'nodata');
  assert.equal(look(z, 'nothere.svc.cluster.local', TYPE.A).kind, 'nxdomain');
  assert.equal(look(z, '_tcp.hl.default.svc.cluster.local', TYPE.A).kind, 'nodata');
  assert.equal(look(z, 'web.default.svc.cluster.local', TYPE.ANY).kind, 'nodata', 'ANY: NODATA, as CoreDNS');
  assert.deepEqual(data(look(z, 'dns-version.cluster.local', TYPE.TXT)), [JSON.stringify({ type: TYPE.TXT, texts: ['1.1.0'] })]);
  assert.equal(look(z, 'WEB.default.svc.cluster.local', TYPE.A).kind, 'records', 'keys are lowercase');
});

test('pod records by mode', () => {
  const name = '10-244-1-6.default.pod.cluster.local';
  assert.deepEqual(data(look(zone('verified'), name, TYPE.A)), ['10.244.1.6']);
  assert.equal(look(zone('verified'), '10-244-1-99.default.pod.cluster.local', TYPE.A).kind, 'nxdomain');
  assert.deepEqual(data(look(zone('insecure'), '10-244-1-99.default.pod.cluster.local', TYPE.A)), ['10.244.1.99']);
  assert.equal(look(zone('insecure'), '10-244-1-99.nons.pod.cluster.local', TYPE.A).kind, 'nxdomain', 'namespace must exist');
  assert.equal(look(zone('disabled'), name, TYPE.A).kind, 'nxdomain');
  assert.equal(podLabelIP('fd00-1--5'), 'fd00:1::5');
  assert.equal(podLabelIP('1-2-3'), undefined);
  assert.equal(dashedIP('fd00:1::5'), 'fd00-1--5');
});

test('changes touch exactly the names they change, and a repeated snapshot touches nothing', () => {
  const z = zone();
  z.apply({ type: 'upsert', seq: 2, kind: 'EndpointSlice', object: { ...snap.endpointSlices[0], endpoints: [{ addresses: ['10.244.1.5'], hostname: 'pet-0' }] } }, 101);
  const changed = z.takeChanged();
  assert.ok(changed.has(nameKey('hl.default.svc.cluster.local')));
  assert.ok(changed.has(nameKey('db-1.hl.default.svc.cluster.local')));
  assert.ok(!changed.has(nameKey('web.default.svc.cluster.local')));
  assert.equal(look(z, 'db-1.hl.default.svc.cluster.local', TYPE.A).kind, 'nxdomain');
  z.apply({ ...snap, seq: 3 }, 102);
  assert.deepEqual(data(look(z, 'hl.default.svc.cluster.local', TYPE.A)), ['10.244.1.5', '10.244.1.6'], 'snapshot restores');
  z.takeChanged();
  z.apply({ ...snap, seq: 4 }, 103);
  assert.equal(z.takeChanged().size, 0);
  // A pod's hostname change recompiles the Service that names it.
  z.apply({ type: 'upsert', seq: 5, kind: 'Pod', object: { ...snap.pods[0], hostname: 'db-2' } }, 104);
  assert.deepEqual(data(look(z, 'db-2.hl.default.svc.cluster.local', TYPE.A)), ['10.244.1.6']);
  z.apply({ type: 'delete', seq: 6, kind: 'Service', namespace: 'default', name: 'web' }, 105);
  assert.equal(look(z, 'web.default.svc.cluster.local', TYPE.A).kind, 'nxdomain');
  assert.equal(look(z, reverseName('10.96.0.20'), TYPE.PTR).kind, 'nxdomain');
  const soa = z.soa().data;
  assert.equal('serial' in soa && soa.serial, 105);
});

test('feed lines are validated with clear errors that name the field and keep the seq', () => {
  assert.throws(() => parseFeedLine('not json'), /not JSON/);
  assert.throws(() => parseFeedLine('{"type":"snapshot"}'), /seq/);
  assert.throws(() => parseFeedLine('{"type":"upsert","seq":3,"kind":"Service","object":{"namespace":"a","name":"b","clusterIPs":["999.1.1.1"]}}'), (err: FeedError) => err.seq === 3 && /clusterIPs\[0\]/.test(err.message));
  assert.throws(() => parseFeedLine('{"type":"upsert","seq":3,"kind":"Gadget","object":{}}'), /kind/);
  assert.throws(() => parseFeedLine('{"type":"delete","seq":3,"kind":"Pod","name":"x"}'), /namespace/);
  const m = parseFeedLine(JSON.stringify(snap));
  assert.equal(m.type, 'snapshot');
  const st = new FeedState();
  st.apply(m);
  st.apply({ type: 'delete', seq: 2, kind: 'Service', namespace: 'default', name: 'web' });
  assert.equal(st.snapshot().services.length, 3);
  assert.equal(st.snapshot().seq, 2);
});

test('recursion ACL and resolv.conf', () => {
  const acl = new RecursionAcl(['127.0.0.0/8', '10.244.0.0/16', '::1/128', '172.31.0.11']);
  assert.ok(acl.allows('127.0.0.1'));
  assert.ok(acl.allows('10.244.3.4'));
  assert.ok(acl.allows('::1'));
  assert.ok(acl.allows('::ffff:10.244.0.9'), 'v4-mapped');
  assert.ok(acl.allows('172.31.0.11'));
  assert.ok(!acl.allows('192.0.2.1'));
  assert.ok(!acl.allows('garbage'));
  assert.deepEqual(parseResolvConf('# c\nnameserver 1.1.1.1\nnameserver fe80::1%eth0\nnameserver bogus\nsearch a.example b.example\noptions ndots:5\n'), { nameservers: ['1.1.1.1', 'fe80::1%eth0'], search: ['a.example', 'b.example'] });
});

test('compact records: a dual-stack headless Service answers AAAA, ip6.arpa PTR and SRV additionals from the held keys, and drops them when it goes', () => {
  const z = new ClusterZone({ zone: 'cluster.local', ttl: 5, podMode: 'verified' });
  z.apply({
    type: 'snapshot', seq: 1,
    services: [{ namespace: 'ds', name: 'db', clusterIPs: ['None'], ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] }],
    endpointSlices: [
      { namespace: 'ds', name: 'db-4', service: 'db', addressType: 'IPv4', ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }], endpoints: [{ addresses: ['10.244.2.9'], hostname: 'db-0' }, { addresses: ['10.244.255.250'], hostname: 'db-1' }] },
      { namespace: 'ds', name: 'db-6', service: 'db', addressType: 'IPv6', ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }], endpoints: [{ addresses: ['fd00:10:244::9'], hostname: 'db-0' }] },
    ],
    pods: [], namespaces: [{ name: 'ds' }],
  }, 1);
  assert.deepEqual(data(look(z, 'db-0.db.ds.svc.cluster.local', TYPE.AAAA)), ['fd00:10:244::9']);
  assert.deepEqual(data(look(z, 'db-1.db.ds.svc.cluster.local', TYPE.A)), ['10.244.255.250'], 'an IPv4 address over 2^31 as an int32 comes back the same');
  assert.deepEqual(data(look(z, reverseName('fd00:10:244::9'), TYPE.PTR)), ['db-0.db.ds.svc.cluster.local.']);
  const srv = look(z, '_pg._tcp.db.ds.svc.cluster.local', TYPE.SRV);
  assert.equal(srv.kind, 'records');
  if (srv.kind === 'records') {
    assert.deepEqual(srv.answers.map((r) => r.name), Array(3).fill('_pg._tcp.db.ds.svc.cluster.local.'), 'one per endpoint address, as before');
    assert.deepEqual(srv.additional.map((r) => `${r.name} ${'ip' in r.data ? r.data.ip : ''}`).sort(),
      ['db-0.db.ds.svc.cluster.local. 10.244.2.9', 'db-0.db.ds.svc.cluster.local. fd00:10:244::9', 'db-1.db.ds.svc.cluster.local. 10.244.255.250']);
  }
  assert.equal(z.counts().names, 7);
  z.takeChanged();
  z.apply({ type: 'delete', seq: 2, kind: 'Service', namespace: 'ds', name: 'db' }, 2);
  assert.ok(z.takeChanged().has(nameKey('db-0.db.ds.svc.cluster.local')));
  assert.equal(z.counts().names, 0);
  assert.equal(look(z, reverseName('10.244.2.9'), TYPE.PTR).kind === 'records', false);
});
