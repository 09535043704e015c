// StatefulSets against a real API server, Redis, the controller manager and
// real kubectl. The test plays the kubelet's part (Ready, the final delete of
// a terminating pod) on a Node object it creates, and holds pods back from
// Ready to see that OrderedReady waits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startControllerCluster, type ControllerCluster } from '../helpers/controller-cluster.ts';
import { waitFor } from '../helpers/wait.ts';
import { isKubeError } from '../../src/core/errors.ts';
import type { ApiClient } from '../../src/client/types.ts';
import type { KubeObject } from '../../src/core/types.ts';

const NS = 'mlt-w3ds-sts';
let cluster: ControllerCluster;
let client: ApiClient;
/** Pods the fake kubelet leaves not Ready. */
const held = new Set<string>();
/** Order in which pods were first seen. */
const seen: string[] = [];
/** Every pod (by uid) in the order the fake kubelet first saw it: a replacement can only follow once the
 * kubelet has made the previous one Ready, so this order is the controller's. */
const seenUids: { name: string; uid: string }[] = [];

const stsPods = async (): Promise<KubeObject[]> => (await client.list('pods', { namespace: NS, labelSelector: 'app=mlt-w3ds-db' })).items;
const names = (pods: KubeObject[]): string => pods.filter((p) => !p.metadata.deletionTimestamp).map((p) => p.metadata.name).sort().join();

before(async () => {
  cluster = await startControllerCluster({
    tag: 'mlt-w3ds-sts',
    namespace: NS,
    kubelets: {
      hold: (name) => held.has(name),
      onPod: (p) => {
        const name = p.metadata.name ?? '';
        if (!seen.includes(name)) seen.push(name);
        if (!seenUids.some((x) => x.uid === p.metadata.uid)) seenUids.push({ name, uid: p.metadata.uid ?? '' });
      },
    },
  });
  client = cluster.client;
});

after(async () => {
  await cluster?.stop();
});

const manifest = (replicas: number, image: string, extra = ''): string => `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: mlt-w3ds-db
  namespace: ${NS}
spec:
  serviceName: mlt-w3ds-hl
  replicas: ${replicas}
  selector:
    matchLabels:
      app: mlt-w3ds-db
  template:
    metadata:
      labels:
        app: mlt-w3ds-db
    spec:
      containers:
      - name: db
        image: ${image}
${extra}`;

test('a StatefulSet starts its pods in order, keeps their names and identities, rolls back to front, and kubectl shows it', async () => {
  const file = join(cluster.work, 'sts.yaml');
  held.add('mlt-w3ds-db-0');
  writeFileSync(file, manifest(3, 'db:1'));
  await cluster.kubectl.ok('apply', '-f', file);
  await waitFor('db-0 created', async () => names(await stsPods()) === 'mlt-w3ds-db-0');
  // OrderedReady: db-1 is not created while db-0 is not Ready. Releasing db-0 lets the rest follow, in order.
  await sleep(1000);
  assert.equal(names(await stsPods()), 'mlt-w3ds-db-0');
  held.delete('mlt-w3ds-db-0');
  await cluster.kubectl.ok('-n', NS, 'rollout', 'status', 'sts/mlt-w3ds-db', '--timeout=30s');
  assert.deepEqual(seen.filter((n) => n.startsWith('mlt-w3ds-db-')), ['mlt-w3ds-db-0', 'mlt-w3ds-db-1', 'mlt-w3ds-db-2']);
  const db1 = (await stsPods()).find((p) => p.metadata.name === 'mlt-w3ds-db-1');
  assert.ok(db1);
  assert.deepEqual([(db1.spec as { hostname?: string }).hostname, (db1.spec as { subdomain?: string }).subdomain], ['mlt-w3ds-db-1', 'mlt-w3ds-hl']);
  assert.equal(db1.metadata.labels?.['statefulset.kubernetes.io/pod-name'], 'mlt-w3ds-db-1');
  assert.equal(db1.metadata.labels?.['apps.kubernetes.io/pod-index'], '1');

  // A deleted pod comes back under its name.
  await client.delete('pods', NS, 'mlt-w3ds-db-1', { gracePeriodSeconds: 0 });
  await waitFor('db-1 back', async () => {
    const p = (await stsPods()).find((x) => x.metadata.name === 'mlt-w3ds-db-1');
    return p !== undefined && p.metadata.uid !== db1.metadata.uid && (p.status as { phase?: string }).phase === 'Running';
  });

  const table = await cluster.kubectl.ok('-n', NS, 'get', 'sts');
  assert.match(table, /^NAME\s+READY\s+AGE\nmlt-w3ds-db\s+3\/3\s/);

  // A rolling update replaces the highest ordinal first; the revisions end current.
  const mark = seenUids.length;
  writeFileSync(file, manifest(3, 'db:2'));
  await cluster.kubectl.ok('apply', '-f', file);
  await waitFor('all on db:2', async () => {
    const pods = (await stsPods()).filter((p) => !p.metadata.deletionTimestamp);
    return pods.length === 3 && pods.every((p) => (p.spec as { containers: { image: string }[] }).containers[0].image === 'db:2');
  });
  await waitFor('the kubelet saw the 3 new pods', async () => seenUids.length - mark >= 3);
  assert.deepEqual(seenUids.slice(mark).map((x) => x.name), ['mlt-w3ds-db-2', 'mlt-w3ds-db-1', 'mlt-w3ds-db-0']);
  await cluster.kubectl.ok('-n', NS, 'rollout', 'status', 'sts/mlt-w3ds-db', '--timeout=30s');
  const sts = await client.get('statefulsets.apps', NS, 'mlt-w3ds-db');
  assert.ok(sts);
  const status = sts.status as { currentRevision?: string; updateRevision?: string };
  assert.equal(status.currentRevision, status.updateRevision);
  assert.match(await cluster.kubectl.ok('-n', NS, 'rollout', 'history', 'sts/mlt-w3ds-db'), /\n1\s+<none>\n2\s+<none>/);

  // Scale down goes from the highest ordinal; kubectl scale uses the scale subresource.
  await cluster.kubectl.ok('-n', NS, 'scale', 'sts/mlt-w3ds-db', '--replicas=1');
  await waitFor('only db-0 left', async () => names(await stsPods()) === 'mlt-w3ds-db-0');

  // volumeClaimTemplates are refused with a clear message.
  const r = await client.create('statefulsets.apps', {
    apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'mlt-w3ds-pvc', namespace: NS },
    spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } }, volumeClaimTemplates: [{ metadata: { name: 'data' } }] },
  }).then(() => undefined, (err: unknown) => err);
  assert.ok(isKubeError(r, 'Invalid'), String(r));
  assert.match(String((r as Error).message), /volumeClaimTemplates.*storage/);
});
