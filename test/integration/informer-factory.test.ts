// The shared informer factory against a real API server and Redis: the
// controllers and the scheduler, as `meshlet server` runs them, share one
// watch per kind. Watches are counted on the server (its /metrics).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { apiRequest, startTestApiServer, type TestApiServer } from '../helpers/api-server.ts';
import { createClient } from '../../src/client/http-client.ts';
import { Informer } from '../../src/client/informer.ts';
import { InformerFactory } from '../../src/client/informer-factory.ts';
import { stripManagedFields } from '../../src/client/slim-objects.ts';
import { runControllers } from '../../src/controllers/index.ts';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import type { ApiClient } from '../../src/client/types.ts';
import type { KubeObject } from '../../src/core/types.ts';
import { deploymentFixture } from '../helpers/object-fixtures.ts';

let api: TestApiServer;
let client: ApiClient;
const logger = pino({ level: 'silent' });

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(50);
  }
  assert.fail(`timed out waiting for ${what}`);
}

async function serverMetric(pattern: RegExp): Promise<number> {
  const res = await apiRequest<string>(api, 'GET', '/metrics');
  const m = String(res.body).match(pattern);
  return m ? Number(m[1]) : 0;
}
const openWatches = (): Promise<number> => serverMetric(/^apiserver_watch_streams (\d+)$/m);
const watchesServed = (resource: string): Promise<number> =>
  serverMetric(new RegExp(`^apiserver_request_total\\{verb="watch",resource="${resource.replace(/\./g, '\\.')}",code="200"\\} (\\d+)$`, 'm'));

const readyNode: KubeObject = {
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name: 'inf-n1' },
  status: { conditions: [{ type: 'Ready', status: 'True' }], allocatable: { cpu: '4', memory: '8Gi', pods: '110' } },
};

before(async () => {
  api = await startTestApiServer();
  client = createClient({ server: api.url, token: api.token });
  await client.create('nodes', readyNode);
});

after(async () => {
  client?.close();
  await api?.stop();
});

test('the controllers and the scheduler share one watch per kind, and both work from it', async () => {
  assert.equal(await openWatches(), 0);
  const factory = new InformerFactory({ client, logger, registry: new Registry(), defaultTransform: stripManagedFields });
  factory.start();
  const stopControllers = await runControllers(client, logger, { informers: factory });
  const scheduler = new Scheduler({ client, logger, identity: 'inf-test', informers: factory });
  await scheduler.start();

  // Both parts read pods and nodes; each kind has one informer, so one watch.
  const keys = factory.keys();
  assert.equal(keys.filter((k) => k === 'pods').length, 1);
  assert.ok(keys.includes('nodes') && keys.includes('deployments.apps'), keys.join(', '));
  await until(`${keys.length} watches open on the server`, async () => (await openWatches()) === keys.length);

  // The shared cache drives both: the Deployment's pod (controllers) gets bound (scheduler).
  await client.create('deployments.apps', deploymentFixture('inf-web', { replicas: 1, container: 'c', image: 'busybox' }));
  await until('the pod bound to inf-n1', async () => {
    const pods = (await client.list('pods', { namespace: 'default', labelSelector: 'app=inf-web' })).items;
    return pods.length === 1 && (pods[0].spec as { nodeName?: string }).nodeName === 'inf-n1';
  });

  // The counting can see a second watch of a kind: an informer outside the factory opens one.
  const outsider = new Informer({ client, gr: 'pods' });
  outsider.start();
  await outsider.synced();
  await until('one more watch', async () => (await openWatches()) === keys.length + 1);
  await outsider.stop();
  await until('the outsider’s watch closed', async () => (await openWatches()) === keys.length);

  // The parts stop (leadership lost): their handlers go, the factory's watches stay.
  await scheduler.stop();
  await stopControllers();
  assert.equal(await openWatches(), keys.length);
  await factory.stop();
  await until('no watch open', async () => (await openWatches()) === 0);
  // Over the whole test: pods were watched twice (the factory once for both parts, the outsider once), nodes once.
  assert.equal(await watchesServed('pods'), 2);
  assert.equal(await watchesServed('nodes'), 1);
  assert.equal(await watchesServed('deployments.apps'), 1);
});
