// The agent's DNS wiring, pure parts: slim cached objects → feed messages,
// the notrack table, the DNS process's arguments and file layout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { slimEndpointSlice, slimPod, slimService } from '../../src/client/slim-objects.ts';
import type { KubeObject } from '../../src/core/types.ts';
import { deltaOf, feedObject, snapshotOf } from '../../src/agent/dns-feed.ts';
import { dnsNotrackTable, hostCidr } from '../../src/agent/dns-local.ts';
import { dnsArgs, dnsPaths } from '../../src/agent/dns-process.ts';
import { renderRule } from '../../src/nft/rule.ts';
import { parseFeedLine } from '../../src/dns/feed.ts';

const svc = (name: string, spec: Record<string, unknown>): KubeObject => slimService({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', managedFields: [] }, spec });

test('a ClusterIP Service, a headless one and an ExternalName become feed Services', () => {
  assert.deepEqual(feedObject('Service', svc('web', { type: 'ClusterIP', clusterIP: '10.96.0.20', clusterIPs: ['10.96.0.20'], ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }], selector: { app: 'web' } })), {
    object: { namespace: 'default', name: 'web', type: 'ClusterIP', clusterIPs: ['10.96.0.20'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
  });
  assert.deepEqual(feedObject('Service', svc('db', { clusterIP: 'None', publishNotReadyAddresses: true })), {
    object: { namespace: 'default', name: 'db', type: 'ClusterIP', clusterIPs: ['None'], ports: [], publishNotReadyAddresses: true },
  });
  assert.deepEqual(feedObject('Service', svc('ext', { type: 'ExternalName', externalName: 'example.com' })), {
    object: { namespace: 'default', name: 'ext', type: 'ExternalName', clusterIPs: [], ports: [], externalName: 'example.com' },
  });
});

test('an EndpointSlice keeps readiness, hostnames and the pod behind each endpoint; one without its Service label is skipped', () => {
  const slice = slimEndpointSlice({
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'db-abc', namespace: 'default', labels: { 'kubernetes.io/service-name': 'db' } },
    addressType: 'IPv4', ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }],
    endpoints: [
      { addresses: ['10.244.1.5'], conditions: { ready: true }, hostname: 'db-0', targetRef: { kind: 'Pod', name: 'db-0', namespace: 'default' }, nodeName: 'n1' },
      { addresses: ['10.244.2.6'], conditions: { ready: false }, targetRef: { kind: 'Pod', name: 'db-1' } },
    ],
  });
  assert.deepEqual(feedObject('EndpointSlice', slice), {
    object: {
      namespace: 'default', name: 'db-abc', service: 'db', addressType: 'IPv4', ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }],
      endpoints: [{ addresses: ['10.244.1.5'], hostname: 'db-0', podName: 'db-0' }, { addresses: ['10.244.2.6'], ready: false, podName: 'db-1' }],
    },
  });
  const unlabelled = { ...slice, metadata: { ...slice.metadata, labels: {} } };
  assert.deepEqual(feedObject('EndpointSlice', unlabelled), { skip: 'no kubernetes.io/service-name label' });
});

test('a Pod gives its IPs (podIPs, else podIP), hostname and subdomain', () => {
  const pod = slimPod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'db-0', namespace: 'default' }, spec: { hostname: 'db-0', subdomain: 'db', containers: [{ name: 'c' }] }, status: { phase: 'Running', podIP: '10.244.1.5' } });
  assert.deepEqual(feedObject('Pod', pod), { object: { namespace: 'default', name: 'db-0', ips: ['10.244.1.5'], hostname: 'db-0', subdomain: 'db' } });
});

test('the snapshot holds every acceptable object and names the ones skipped; it parses as the DNS parses it', () => {
  const bad = svc('web', { clusterIPs: ['not-an-ip'] });
  const good = svc('api', { clusterIPs: ['10.96.0.21'] });
  const { snapshot, skipped } = snapshotOf(1, [
    { kind: 'Service', list: () => [bad, good] },
    { kind: 'Namespace', list: () => [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } }] },
  ]);
  assert.deepEqual(snapshot.services.map((s) => s.name), ['api']);
  assert.deepEqual(snapshot.namespaces, [{ name: 'default' }]);
  assert.equal(skipped.length, 1);
  assert.equal(skipped[0].key, 'default/web');
  assert.match(skipped[0].reason, /not-an-ip/);
  assert.deepEqual(parseFeedLine(JSON.stringify(snapshot)), snapshot);
});

test('deltas: an upsert, a delete, and an object that became unacceptable is deleted from the DNS', () => {
  const good = svc('api', { clusterIPs: ['10.96.0.21'] });
  assert.deepEqual(deltaOf(5, 'Service', 'upsert', good).message, { type: 'upsert', seq: 5, kind: 'Service', object: { namespace: 'default', name: 'api', type: 'ClusterIP', clusterIPs: ['10.96.0.21'], ports: [] } });
  assert.deepEqual(deltaOf(6, 'Service', 'delete', good), { message: { type: 'delete', seq: 6, kind: 'Service', namespace: 'default', name: 'api' } });
  const r = deltaOf(7, 'Service', 'upsert', svc('api', { clusterIPs: ['bad'] }));
  assert.deepEqual(r.message, { type: 'delete', seq: 7, kind: 'Service', namespace: 'default', name: 'api' });
  assert.match(r.skipped ?? '', /bad/);
  assert.deepEqual(deltaOf(8, 'Namespace', 'delete', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } }).message, { type: 'delete', seq: 8, kind: 'Namespace', name: 'team' });
});

test('the notrack table: queries to and answers from the DNS address, UDP and TCP 53, at raw priority', () => {
  const t = dnsNotrackTable(['10.96.0.10']);
  assert.deepEqual(t.chains.map((c) => [c.name, c.base?.hook, c.base?.priority]), [['prerouting', 'prerouting', 'raw'], ['output', 'output', 'raw']]);
  assert.deepEqual(t.chains[0].rules.map(renderRule), ['ip daddr 10.96.0.10 meta l4proto { udp, tcp } th dport 53 notrack']);
  assert.deepEqual(t.chains[1].rules.map(renderRule), [
    'ip daddr 10.96.0.10 meta l4proto { udp, tcp } th dport 53 notrack',
    'ip saddr 10.96.0.10 meta l4proto { udp, tcp } th sport 53 notrack',
  ]);
  assert.match(dnsNotrackTable(['fd00::a']).chains[0].rules.map(renderRule)[0], /^ip6 daddr fd00::a /);
  assert.equal(hostCidr('10.96.0.10'), '10.96.0.10/32');
});

test('the DNS process: its files under <agent data dir>/dns and its arguments', () => {
  const p = dnsPaths('/var/lib/meshlet/agent');
  assert.equal(p.pidFile, '/var/lib/meshlet/agent/dns/dns.pid');
  assert.deepEqual(dnsArgs(p, { dnsIp: '10.96.0.10', clusterCidrs: ['10.244.0.0/16'], nodeIp: '192.168.1.2', extraArgs: ['--upstream', '127.0.0.1:5353'] }), [
    'dns', '--data-dir', p.dir, '--listen', '10.96.0.10:53', '--feed-socket', p.feedSocket, '--pid-file', p.pidFile, '--health-listen', p.healthSocket,
    '--dns-address', '10.96.0.10', '--cluster-cidr', '10.244.0.0/16', '--node-ip', '192.168.1.2', '--upstream', '127.0.0.1:5353',
  ]);
});
