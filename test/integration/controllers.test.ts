// The controller manager against a real API server and Redis.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { startTestApiServer, type TestApiServer } from '../helpers/api-server.ts';
import { createClient } from '../../src/client/http-client.ts';
import { startControllers } from '../../src/controllers/index.ts';
import type { ApiClient } from '../../src/client/types.ts';
import type { KubeObject } from '../../src/core/types.ts';

let api: TestApiServer;
let client: ApiClient;
let manager: { stop(): Promise<void> };

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(100);
  }
  assert.fail(`timed out waiting for ${what}`);
}

const pods = async (ns: string, selector: string): Promise<KubeObject[]> => (await client.list('pods', { namespace: ns, labelSelector: selector })).items;

function deployment(name: string, ns: string, replicas: number): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'busybox', ports: [{ name: 'http', containerPort: 8080 }] }] } },
    },
  };
}

before(async () => {
  api = await startTestApiServer();
  client = createClient({ server: api.url, token: api.token });
  manager = await startControllers(client, { logger: pino({ level: 'silent' }), identity: 'test-manager', retryPeriodMs: 200 });
});

after(async () => {
  await manager?.stop();
  client?.close();
  await api?.stop();
});

test('a Deployment creates a ReplicaSet and its pods; scaling changes the count; deleting it collects everything', async () => {
  await client.create('deployments.apps', deployment('web', 'default', 3));
  await until('3 pods', async () => (await pods('default', 'app=web')).length === 3);
  const rsList = (await client.list('replicasets.apps', { namespace: 'default' })).items;
  assert.equal(rsList.length, 1);
  const rs = rsList[0];
  assert.match(rs.metadata.name ?? '', /^web-[a-z0-9]+$/);
  assert.equal(rs.metadata.ownerReferences?.[0].kind, 'Deployment');
  assert.equal(rs.metadata.ownerReferences?.[0].controller, true);
  const hash = rs.metadata.labels?.['pod-template-hash'];
  assert.ok(hash);
  for (const p of await pods('default', 'app=web')) {
    assert.equal(p.metadata.ownerReferences?.[0].uid, rs.metadata.uid);
    assert.equal(p.metadata.labels?.['pod-template-hash'], hash);
    assert.ok(p.metadata.name?.startsWith(`${rs.metadata.name}-`));
  }
  await until('deployment status', async () => {
    const d = await client.get('deployments.apps', 'default', 'web');
    const s = d?.status as { replicas?: number; updatedReplicas?: number; observedGeneration?: number } | undefined;
    return s?.replicas === 3 && s.updatedReplicas === 3 && s.observedGeneration === d?.metadata.generation;
  });

  await client.patch('deployments.apps', 'default', 'web', { spec: { replicas: 5 } }, 'merge', { subresource: 'scale' });
  await until('5 pods', async () => (await pods('default', 'app=web')).length === 5);
  await client.patch('deployments.apps', 'default', 'web', { spec: { replicas: 2 } }, 'merge', { subresource: 'scale' });
  await until('2 pods', async () => (await pods('default', 'app=web')).length === 2);
  // Poke: a pod turning Ready must be processed (status.readyReplicas); the same sync would create any pod it
  // thought missing before it writes that status.
  const [readyPod] = await pods('default', 'app=web');
  await client.patch('pods', 'default', readyPod.metadata.name ?? '', {
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  }, 'merge', { subresource: 'status' });
  await until('the ReplicaSet counted the ready pod', async () => {
    const current = await client.get('replicasets.apps', 'default', rs.metadata.name ?? '');
    return (current?.status as { readyReplicas?: number } | undefined)?.readyReplicas === 1;
  });
  assert.equal((await pods('default', 'app=web')).length, 2, 'no extra pods appear after scaling settles');

  await client.delete('deployments.apps', 'default', 'web', { propagationPolicy: 'Background' });
  await until('ReplicaSet and pods collected', async () =>
    (await client.list('replicasets.apps', { namespace: 'default' })).items.length === 0 && (await pods('default', 'app=web')).length === 0,
  );
});

test('a Service with a selector gets Endpoints and an EndpointSlice from pods with IPs', async () => {
  await client.create('services', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'api', namespace: 'default' },
    spec: { selector: { app: 'api' }, ports: [{ name: 'web', port: 80, targetPort: 'http' }] },
  });
  await client.create('deployments.apps', deployment('api', 'default', 2));
  await until('2 api pods', async () => (await pods('default', 'app=api')).length === 2);
  const [p1, p2] = await pods('default', 'app=api');
  const setStatus = async (pod: KubeObject, ip: string, ready: boolean): Promise<void> => {
    await client.patch('pods', 'default', pod.metadata.name ?? '', {
      status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
    }, 'merge', { subresource: 'status' });
  };
  await setStatus(p1, '10.244.1.5', true);
  await setStatus(p2, '10.244.2.7', false);
  await until('endpoints', async () => {
    const ep = await client.get('endpoints', 'default', 'api');
    const subsets = ep?.subsets as { addresses?: { ip: string }[]; notReadyAddresses?: { ip: string }[]; ports?: { port: number }[] }[] | undefined;
    return subsets?.length === 1 && subsets[0].addresses?.[0]?.ip === '10.244.1.5' && subsets[0].notReadyAddresses?.[0]?.ip === '10.244.2.7';
  });
  const ep = await client.get('endpoints', 'default', 'api');
  assert.deepEqual((ep?.subsets as { ports: unknown[] }[])[0].ports, [{ name: 'web', port: 8080, protocol: 'TCP' }]);
  const slices = (await client.list('endpointslices.discovery.k8s.io', { namespace: 'default', labelSelector: 'kubernetes.io/service-name=api' })).items;
  assert.equal(slices.length, 1);
  const slice = slices[0] as KubeObject & { addressType: string; endpoints: { addresses: string[]; conditions: { ready: boolean } }[]; ports: unknown[] };
  assert.equal(slice.addressType, 'IPv4');
  assert.equal(slice.metadata.labels?.['endpointslice.kubernetes.io/managed-by'], 'endpointslice-controller.k8s.io');
  assert.deepEqual(slice.endpoints.map((e) => [e.addresses[0], e.conditions.ready]), [['10.244.1.5', true], ['10.244.2.7', false]]);
  assert.deepEqual(slice.ports, [{ name: 'web', port: 8080, protocol: 'TCP' }]);
  // Nothing rewrites an unchanged object. Poke: a Service label change must be processed (it goes to the
  // Endpoints, not the slice); a second one shows that the first sync, slices included, has finished.
  const rv = slice.metadata.resourceVersion;
  for (const [i, poke] of ['first', 'second'].entries()) {
    await client.patch('services', 'default', 'api', { metadata: { labels: { [`mlt-facts-poke-${i}`]: poke } } }, 'merge');
    await until(`the ${poke} poke reached the Endpoints`, async () => (await client.get('endpoints', 'default', 'api'))?.metadata.labels?.[`mlt-facts-poke-${i}`] === poke);
  }
  const again = await client.get('endpointslices.discovery.k8s.io', 'default', slice.metadata.name ?? '');
  assert.equal(again?.metadata.resourceVersion, rv);
  await client.delete('deployments.apps', 'default', 'api');
  await client.delete('services', 'default', 'api');
});

test('deleting a namespace empties it and removes it', async () => {
  await client.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'mlt-gone' } });
  await client.create('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'mlt-gone' }, data: { a: 'b' } });
  await client.create('deployments.apps', deployment('x', 'mlt-gone', 1));
  await until('a pod in mlt-gone', async () => (await pods('mlt-gone', 'app=x')).length === 1);
  await client.delete('namespaces', '', 'mlt-gone');
  await until('namespace gone', async () => (await client.get('namespaces', '', 'mlt-gone')) === undefined);
  assert.equal((await client.list('configmaps', { namespace: 'mlt-gone' })).items.length, 0);
  assert.equal((await client.list('pods', { namespace: 'mlt-gone' })).items.length, 0);
});
