// The proxy's shell without root: a fake API server behind the agent's real
// informer factory (slim copies), the real bounded-frequency runner, and the
// in-memory fake kernel. Adds and endpoint changes are programmed; updates
// that change nothing the proxy reads run no sync.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { FakeApiClient } from '../helpers/fake-api-client.ts';
import { InformerFactory } from '../../src/client/informer-factory.ts';
import { SLIM_TRANSFORMS, stripMetadata } from '../../src/client/slim-objects.ts';
import { ENDPOINTSLICES } from '../../src/core/well-known.ts';
import type { KubeObject } from '../../src/core/types.ts';
import { FakeNft } from '../../src/nft/fake.ts';
import { TableOwners } from '../../src/nft/owners.ts';
import { Proxier } from '../../src/proxy/proxier.ts';
import { proxyTableId } from '../../src/proxy/ruleset.ts';

const T = proxyTableId(4);

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await sleep(10);
  assert.ok(cond(), what);
}

const service: KubeObject = {
  apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' },
  spec: { clusterIP: '10.96.3.3', clusterIPs: ['10.96.3.3'], ports: [{ name: 'dns', protocol: 'UDP', port: 5353 }] },
};
const slice = (ips: string[], extraLabels: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
  metadata: { name: 'web-x', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web', ...extraLabels } },
  addressType: 'IPv4', endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })), ports: [{ name: 'dns', protocol: 'UDP', port: 5353 }],
});

test('the proxier programs from the shared cache, and skips updates that change nothing it reads', async () => {
  const api = new FakeApiClient();
  api.put('services', service);
  api.put(ENDPOINTSLICES, slice(['10.244.1.2']));
  const informers = new InformerFactory({ client: api, transforms: SLIM_TRANSFORMS, defaultTransform: stripMetadata });
  informers.start();
  const nft = new FakeNft();
  const proxier = new Proxier({
    informers, nodeName: 'n1', serviceCidrs: ['10.96.0.0/16'], clusterCidrs: ['10.244.0.0/16'], clusterDns: '10.96.0.10',
    runner: nft, owners: new TableOwners(), registry: new Registry(), minSyncIntervalMs: 0, conntrack: false,
  });
  try {
    await proxier.start();
    await until(() => proxier.syncs === 1, 'first sync');
    await proxier.idle();
    assert.match(nft.elements(T, 'service-ips')!.join(), /^10\.96\.3\.3 \. udp \. 5353 : goto svc-/);
    // A label the proxy does not read: the informer delivers it, the relevant filter keeps it from a sync.
    api.put(ENDPOINTSLICES, slice(['10.244.1.2'], { team: 'a' }));
    await sleep(100);
    assert.equal(proxier.syncs, 1, 'no sync for an irrelevant change');
    // An endpoint change: one incremental sync.
    const before = nft.applied.length;
    api.put(ENDPOINTSLICES, slice(['10.244.1.2', '10.244.2.2']));
    await until(() => proxier.syncs === 2, 'a sync for the endpoint change');
    await proxier.idle();
    assert.equal(nft.applied.length, before + 1);
    assert.match(nft.applied.at(-1)!.text, /add chain ip meshlet-proxy ep-[0-9a-f]+-default\.web\.udp\.dns\.10\.244\.2\.2\.5353/);
    assert.doesNotMatch(nft.applied.at(-1)!.text, /delete table/);
    // The Service goes: its element goes, its chains are flushed (deleted a second later).
    api.remove('services', 'default/web');
    await until(() => proxier.syncs === 3, 'a sync for the delete');
    await proxier.idle();
    assert.deepEqual(nft.elements(T, 'service-ips'), []);
  } finally {
    await proxier.stop();
    await informers.stop();
  }
});

test('bad Service or cluster CIDRs are refused before anything runs', () => {
  const informers = new InformerFactory({ client: new FakeApiClient() });
  assert.throws(() => new Proxier({ informers, nodeName: 'n1', serviceCidrs: ['10.96.0.0/33'], clusterCidrs: [], runner: new FakeNft(), owners: new TableOwners() }), /10\.96\.0\.0\/33/);
  assert.throws(() => new Proxier({ informers, nodeName: 'n1', serviceCidrs: [], clusterCidrs: [], runner: new FakeNft(), owners: new TableOwners() }), /at least one Service CIDR/);
});

test('a full sync of more Service ports than a chunk goes in several transactions, the first ones usable on their own', async () => {
  const api = new FakeApiClient();
  for (let i = 0; i < 5; i++) {
    api.put('services', { ...service, metadata: { name: `w${i}`, namespace: 'default' }, spec: { ...service.spec as object, clusterIP: `10.96.4.${i + 1}`, clusterIPs: [`10.96.4.${i + 1}`] } });
    api.put(ENDPOINTSLICES, { ...slice([`10.244.1.${i + 1}`]), metadata: { name: `w${i}-x`, namespace: 'default', labels: { 'kubernetes.io/service-name': `w${i}` } } });
  }
  const informers = new InformerFactory({ client: api, transforms: SLIM_TRANSFORMS, defaultTransform: stripMetadata });
  informers.start();
  const nft = new FakeNft();
  const proxier = new Proxier({
    informers, nodeName: 'n1', serviceCidrs: ['10.96.0.0/16'], clusterCidrs: ['10.244.0.0/16'],
    runner: nft, owners: new TableOwners(), minSyncIntervalMs: 0, conntrack: false, chunkSize: 2,
  });
  try {
    await proxier.start();
    await until(() => proxier.syncs === 1, 'first sync');
    await proxier.idle();
    assert.equal(nft.applied.length, 3, 'chunks of 2, 2 and 1 (the retiring pass had nothing to do)');
    const first = nft.applied[0].text;
    assert.match(first, /^table ip meshlet-proxy/);
    assert.equal((first.match(/ : goto svc-/g) ?? []).length, 2, 'the first transaction: the base and two Services, complete');
    assert.equal(nft.elements(T, 'service-ips')!.length, 5);
    // After it, an endpoint change is one incremental transaction of that Service only.
    api.put(ENDPOINTSLICES, { ...slice(['10.244.1.3', '10.244.2.3']), metadata: { name: 'w2-x', namespace: 'default', labels: { 'kubernetes.io/service-name': 'w2' } } });
    await until(() => proxier.syncs === 2, 'the change');
    await proxier.idle();
    assert.equal(nft.applied.length, 4);
    assert.doesNotMatch(nft.applied[3].text, /w[0134]/);
  } finally {
    await proxier.stop();
    await informers.stop();
  }
});
