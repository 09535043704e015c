// The shared informer cache against an in-memory ApiClient: one watch per
// key however many parts, indexes through add/update/delete/relist, updates
// that change nothing a part reads reach no handler, 410 relists, metrics.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import type { KubeObject } from '../../src/core/types.ts';
import { IndexedStore } from '../../src/client/cache-store.ts';
import { InformerFactory } from '../../src/client/informer-factory.ts';
import { changedIn, informerKey, objectKey, type Informer } from '../../src/client/informer.ts';
import { NODE_INDEX, POD_IP_INDEX, SERVICE_NAME_INDEX, CLUSTER_IP_INDEX } from '../../src/client/indexers.ts';
import { SLIM_TRANSFORMS, slimNode, stripMetadata, type SlimPod } from '../../src/client/slim-objects.ts';
import { ENDPOINTSLICES, LAST_APPLIED_ANNOTATION } from '../../src/core/well-known.ts';
import { FakeApiClient } from '../helpers/fake-api-client.ts';

const SLICES = ENDPOINTSLICES;

function pod(name: string, node: string, ip: string, extra: Partial<KubeObject> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, labels: { app: name }, managedFields: [{ manager: 'kubectl' }] },
    spec: { nodeName: node, containers: [{ name: 'c', image: 'busybox', command: ['sleep', '1'], ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }] }] },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: 'True' }] },
    ...extra,
  };
}

function node(name: string, heartbeat: string, vtepMac = '0a:00:00:00:00:01'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, annotations: { 'meshlet.io/vtep-mac': vtepMac } },
    spec: { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24'] },
    status: {
      addresses: [{ type: 'InternalIP', address: '172.31.0.11' }],
      conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: heartbeat, lastTransitionTime: '2026-01-01T00:00:00Z', reason: 'KubeletReady' }],
      nodeInfo: { kernelVersion: '6.1' },
    },
  };
}

function slice(name: string, service: string, addresses: string[]): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })),
    ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
  };
}

const names = (objs: KubeObject[]): string[] => objs.map((o) => o.metadata.name ?? '').sort();

async function started(fake: FakeApiClient, opts: Partial<ConstructorParameters<typeof InformerFactory>[0]> = {}): Promise<InformerFactory> {
  const f = new InformerFactory({ client: fake, baseBackoffMs: 1, ...opts });
  f.start();
  return f;
}

/** Waits until the informer has listed and its watch is open (so later puts reach it). */
async function ready(fake: FakeApiClient, watches: number, ...infs: Informer[]): Promise<void> {
  await Promise.all(infs.map((i) => i.synced()));
  await fake.untilWatches(watches);
}

test('informerKey: kind plus namespace and selectors; requirement order does not matter', () => {
  assert.equal(informerKey('pods'), 'pods');
  assert.equal(informerKey('pods', { fieldSelector: 'spec.nodeName=n1' }), 'pods fields=spec.nodeName=n1');
  assert.equal(informerKey('pods', { labelSelector: 'b=2, a=1' }), informerKey('pods', { labelSelector: 'a=1,b=2' }));
  assert.equal(informerKey('pods', { labelSelector: 'env in (a,b),x' }), 'pods labels=env in (a,b),x');
  assert.notEqual(informerKey('pods', { namespace: 'kube-system' }), informerKey('pods'));
});

test('one list and one watch per key, however many parts ask; each part removes only its own handlers', async () => {
  const fake = new FakeApiClient();
  fake.put('pods', pod('a', 'n1', '10.244.1.2'));
  const f = await started(fake);
  const dns = f.informer('pods');
  const policy = f.informer('pods');
  const scope = f.scope();
  const proxy = scope.informer('pods');
  const kubelet = f.informer('pods', { fieldSelector: 'spec.nodeName=n1' });
  const dnsSeen: string[] = [];
  const policySeen: string[] = [];
  dns.addHandlers({ onAdd: (o) => dnsSeen.push(o.metadata.name ?? '') });
  policy.addHandlers({ onAdd: (o) => policySeen.push(o.metadata.name ?? '') });
  proxy.addHandlers({ onAdd: () => undefined });
  await ready(fake, 2, dns, policy, proxy, kubelet);

  assert.deepEqual(f.keys().sort(), ['pods', 'pods fields=spec.nodeName=n1']);
  assert.equal(fake.watchesOpened.get('pods'), 1);
  assert.equal(fake.watchesOpened.get('pods fields=spec.nodeName=n1'), 1);
  assert.equal(fake.listCalls.get('pods'), 1);
  assert.equal(fake.openWatches(), 2);
  // The handles read one cache.
  fake.put('pods', pod('b', 'n2', '10.244.2.2'));
  assert.deepEqual(names(dns.list()), ['a', 'b']);
  assert.equal(policy.get('default/b'), dns.get('default/b'));
  assert.deepEqual(names(kubelet.list()), ['a']);

  // A part stopping removes its handlers; the watch goes on for the others.
  await policy.stop();
  await scope.stop();
  fake.put('pods', pod('c', 'n1', '10.244.1.3'));
  assert.deepEqual(dnsSeen, ['a', 'b', 'c']);
  assert.deepEqual(policySeen, ['a', 'b']);
  assert.equal(fake.openWatches(), 2);
  assert.deepEqual(names(policy.list()), ['a', 'b', 'c'], 'a stopped handle still reads the shared cache');
  await f.stop();
  assert.equal(fake.openWatches(), 0);
});

test('a key caches one shape: asking for another transform is an error', async () => {
  const fake = new FakeApiClient();
  const f = await started(fake, { transforms: SLIM_TRANSFORMS });
  f.informer('pods');
  assert.throws(() => f.informer('pods', { transform: 'none' }), /already caches objects through slimPod; asked for none/);
  const own = f.informer('pods', { fieldSelector: 'spec.nodeName=n1', transform: 'none' });
  assert.throws(() => f.informer('pods', { fieldSelector: 'spec.nodeName=n1' }), /already caches objects through none/);
  fake.put('pods', pod('a', 'n1', '10.244.1.2'));
  await ready(fake, 2, own);
  assert.ok(own.get('default/a')?.metadata.managedFields, "the kubelet's own pods stay whole");
  await f.stop();
});

test('indexes follow adds, updates, deletes and a relist after 410', async () => {
  const fake = new FakeApiClient();
  fake.put('pods', pod('a', 'n1', '10.244.1.2'));
  fake.put('pods', pod('b', 'n1', '10.244.1.3'));
  fake.put(SLICES, slice('web-1', 'web', ['10.244.1.2']));
  fake.put('services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { clusterIP: '10.96.0.20', clusterIPs: ['10.96.0.20'] } });
  const registry = new Registry();
  const f = await started(fake, { transforms: SLIM_TRANSFORMS, registry });
  const pods = f.informer('pods');
  const slices = f.informer(SLICES);
  const services = f.informer('services');
  await ready(fake, 3, pods, slices, services);

  assert.deepEqual(names(pods.byIndex(NODE_INDEX, 'n1')), ['a', 'b']);
  assert.deepEqual(names(pods.byIndex(POD_IP_INDEX, '10.244.1.3')), ['b']);
  assert.deepEqual(names(slices.byIndex(SERVICE_NAME_INDEX, 'default/web')), ['web-1']);
  assert.deepEqual(names(services.byIndex(CLUSTER_IP_INDEX, '10.96.0.20')), ['web']);
  assert.deepEqual(names(pods.list('default')), ['a', 'b']);
  assert.deepEqual(pods.list('other'), []);

  // Update: b moves to n2 with a new IP; a delete empties a bucket.
  fake.put('pods', pod('b', 'n2', '10.244.2.9'));
  assert.deepEqual(names(pods.byIndex(NODE_INDEX, 'n1')), ['a']);
  assert.deepEqual(names(pods.byIndex(NODE_INDEX, 'n2')), ['b']);
  assert.deepEqual(pods.byIndex(POD_IP_INDEX, '10.244.1.3'), []);
  fake.remove('pods', 'default/a');
  assert.deepEqual(pods.byIndex(NODE_INDEX, 'n1'), []);
  assert.deepEqual(pods.indexValues(NODE_INDEX), ['n2']);

  // While the watch is down: c appears, b goes, the slice changes service; then 410.
  const changes: string[] = [];
  pods.addHandlers({
    onAdd: (o) => changes.push(`add ${o.metadata.name}`),
    onUpdate: (_o, n) => changes.push(`update ${n.metadata.name}`),
    onDelete: (o) => changes.push(`delete ${o.metadata.name}`),
  });
  changes.length = 0;
  fake.putQuietly('pods', pod('c', 'n3', '10.244.3.2'));
  fake.removeQuietly('pods', 'default/b');
  fake.putQuietly(SLICES, slice('web-1', 'api', ['10.244.1.2']));
  fake.expireWatches();
  await fake.untilWatches(3);
  await waitUntil(() => pods.indexValues(NODE_INDEX).includes('n3') && slices.byIndex(SERVICE_NAME_INDEX, 'default/api').length === 1);
  assert.deepEqual(changes.sort(), ['add c', 'delete b']);
  assert.deepEqual(pods.indexValues(NODE_INDEX), ['n3']);
  assert.deepEqual(pods.byIndex(POD_IP_INDEX, '10.244.2.9'), []);
  assert.deepEqual(slices.byIndex(SERVICE_NAME_INDEX, 'default/web'), []);
  assert.equal(fake.listCalls.get('pods'), 2);
  const text = await registry.metrics();
  assert.match(text, /meshlet_informer_lists_total\{informer="pods",reason="expired"\} 1/);
  assert.match(text, /meshlet_informer_watch_restarts_total\{informer="pods"\} 1/);
  assert.match(text, /meshlet_informer_objects\{informer="pods"\} 1/);
  assert.match(text, /meshlet_informer_objects\{informer="endpointslices.discovery.k8s.io"\} 1/);
  assert.match(text, /meshlet_informer_synced\{informer="services"\} 1/);
  await f.stop();
});

test('an index added later files what is cached and stays current', async () => {
  const fake = new FakeApiClient();
  fake.put('pods', pod('a', 'n1', '10.244.1.2'));
  const f = await started(fake);
  const pods = f.informer('pods');
  await ready(fake, 1, pods);
  const byApp = (o: KubeObject): string[] => (o.metadata.labels?.app ? [o.metadata.labels.app] : []);
  pods.addIndexer('app', byApp);
  pods.addIndexer('app', byApp);
  assert.throws(() => pods.addIndexer('app', () => []), /already exists/);
  assert.deepEqual(names(pods.byIndex('app', 'a')), ['a']);
  fake.put('pods', pod('b', 'n1', '10.244.1.3'));
  assert.deepEqual(names(pods.byIndex('app', 'b')), ['b']);
  assert.throws(() => pods.byIndex('nope', 'x'), /no index "nope"/);
  await f.stop();
});

test('the Node status repost reaches no handler of the slim cache; a real change does', async () => {
  const fake = new FakeApiClient();
  fake.put('nodes', node('n2', '2026-01-01T00:00:00Z'));
  const registry = new Registry();
  const f = await started(fake, { transforms: SLIM_TRANSFORMS, registry });
  const nodes = f.informer('nodes');
  const updates: string[] = [];
  nodes.addHandlers({ onUpdate: (_o, n) => updates.push(n.metadata.annotations?.['meshlet.io/vtep-mac'] ?? '') });
  await ready(fake, 1, nodes);

  fake.put('nodes', node('n2', '2026-01-01T00:00:40Z'));
  const reposted = fake.put('nodes', node('n2', '2026-01-01T00:01:20Z'));
  // The cache holds the new version, yet nobody heard of it ...
  assert.equal(nodes.get('n2')?.metadata.resourceVersion, reposted.metadata.resourceVersion);
  // ... while a change a part reads does arrive (so the handler can hear updates at all).
  fake.put('nodes', node('n2', '2026-01-01T00:02:00Z', '0a:00:00:00:00:02'));
  assert.deepEqual(updates, ['0a:00:00:00:00:02']);
  const text = await registry.metrics();
  assert.match(text, /meshlet_informer_updates_unchanged_total\{informer="nodes"\} 2/);
  assert.match(text, /meshlet_informer_events_total\{informer="nodes",type="MODIFIED"\} 3/);
  assert.match(text, /meshlet_informer_event_lag_seconds_count\{informer="nodes"\} 3/);
  await f.stop();
});

test('relevant(): a handler hears only the updates its projection sees', async () => {
  const fake = new FakeApiClient();
  fake.put('nodes', node('n2', '2026-01-01T00:00:00Z'));
  const registry = new Registry();
  // Whole objects (as on the server): every repost is a real change of the object ...
  const f = await started(fake, { registry });
  const nodes = f.informer('nodes');
  const peers: string[] = [];
  const everything: string[] = [];
  const vtep = (n: KubeObject): unknown => [n.metadata.annotations, (n.spec as { podCIDRs?: unknown }).podCIDRs];
  nodes.addHandlers({ relevant: changedIn(vtep), onUpdate: (_o, n) => peers.push(n.metadata.annotations?.['meshlet.io/vtep-mac'] ?? '') });
  nodes.addHandlers({ onUpdate: (_o, n) => everything.push(n.metadata.resourceVersion ?? '') });
  await ready(fake, 1, nodes);
  fake.put('nodes', node('n2', '2026-01-01T00:00:40Z'));
  fake.put('nodes', node('n2', '2026-01-01T00:01:20Z', '0a:00:00:00:00:03'));
  // ... which the unfiltered handler hears, and the overlay's projection filters.
  assert.equal(everything.length, 2);
  assert.deepEqual(peers, ['0a:00:00:00:00:03']);
  const text = await registry.metrics();
  assert.match(text, /meshlet_informer_handler_deliveries_total\{informer="nodes",outcome="filtered"\} 1/);
  assert.match(text, /meshlet_informer_handler_deliveries_total\{informer="nodes",outcome="delivered"\} 3/);
  await f.stop();
});

test('lists in pages and caches every page', async () => {
  const fake = new FakeApiClient();
  for (let i = 0; i < 5; i++) fake.put('pods', pod(`p${i}`, 'n1', `10.244.1.${10 + i}`));
  const f = await started(fake, { pageSize: 2 });
  const pods = f.informer('pods');
  await ready(fake, 1, pods);
  assert.equal(pods.size, 5);
  assert.equal(fake.listCalls.get('pods'), 3);
  await f.stop();
});

test('a late handler hears adds for what is cached; synced ends when a handle stops', async () => {
  const fake = new FakeApiClient();
  fake.put('pods', pod('a', 'n1', '10.244.1.2'));
  const f = new InformerFactory({ client: fake });
  const waiting = f.informer('pods');
  // Not started: synced would wait forever, but stopping the handle ends the wait.
  const w = waiting.synced();
  await waiting.stop();
  await w;
  assert.equal(waiting.hasSynced(), false);
  f.start();
  const pods = f.informer('pods');
  await ready(fake, 1, pods);
  const late: string[] = [];
  pods.addHandlers({ onAdd: (o) => late.push(objectKey(o)) });
  assert.deepEqual(late, ['default/a']);
  await f.stop();
  assert.throws(() => f.informer('pods'), /stopped/);
});

test('slim copies keep what DNS, proxy and policy read and drop the rest', () => {
  const full = pod('a', 'n1', '10.244.1.2', {});
  full.metadata.annotations = { [LAST_APPLIED_ANNOTATION]: '{"big":true}', keep: 'x' };
  full.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'u' }];
  const slim = SLIM_TRANSFORMS.pods(full) as SlimPod;
  assert.deepEqual(slim, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'a', namespace: 'default', uid: 'uid-a', labels: { app: 'a' } },
    spec: { nodeName: 'n1', containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }] }] },
    status: { phase: 'Running', podIP: '10.244.1.2', podIPs: [{ ip: '10.244.1.2' }] },
  });
  assert.deepEqual(SLIM_TRANSFORMS.pods(slim), slim, 'slimming is idempotent');
  const stripped = stripMetadata(full);
  assert.equal(stripped.metadata.managedFields, undefined);
  assert.deepEqual(stripped.metadata.annotations, { keep: 'x' });
  assert.ok(full.metadata.managedFields, 'the input is not changed');
  // Heartbeats are invisible in a slim Node; its addresses, CIDRs and VTEP are not.
  assert.deepEqual(slimNode(node('n', 't1')), slimNode(node('n', 't2')));
  assert.deepEqual(slimNode(node('n', 't1')).status, { addresses: [{ type: 'InternalIP', address: '172.31.0.11' }], conditions: [{ type: 'Ready', status: 'True' }] });
  const s = SLIM_TRANSFORMS[SLICES](slice('web-1', 'web', ['10.0.0.1']));
  assert.deepEqual((s as unknown as { endpoints: unknown }).endpoints, [{ addresses: ['10.0.0.1'], conditions: { ready: true } }]);
});

test('IndexedStore: buckets grow from one key to many and back', () => {
  const store = new IndexedStore();
  store.addIndex('node', (o) => [String((o.spec as { nodeName: string }).nodeName)]);
  const p = (name: string, n: string): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'ns' }, spec: { nodeName: n } });
  store.set('ns/a', p('a', 'n1'));
  store.set('ns/b', p('b', 'n1'));
  store.set('ns/c', p('c', 'n1'));
  assert.deepEqual(store.indexKeys('node', 'n1').sort(), ['ns/a', 'ns/b', 'ns/c']);
  store.delete('ns/a');
  store.set('ns/b', p('b', 'n2'));
  assert.deepEqual(store.indexKeys('node', 'n1'), ['ns/c']);
  assert.deepEqual(store.indexKeys('node', 'n2'), ['ns/b']);
  store.delete('ns/c');
  assert.deepEqual(store.indexValues('node'), ['n2']);
  assert.deepEqual(store.indexKeys('namespace', 'ns'), ['ns/b']);
});

async function waitUntil(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((resolve) => setTimeout(resolve, 2));
  assert.ok(cond(), 'condition never held');
}
