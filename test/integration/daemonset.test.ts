// DaemonSets against a real API server, Redis, the controller manager and real
// kubectl. Nodes are Node objects this test creates and deletes; the test plays
// the kubelets' part for the pods bound to them (Ready, and the final delete of
// a terminating pod), so that rollouts can progress.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startControllerCluster, type ControllerCluster } from '../helpers/controller-cluster.ts';
import { waitFor } from '../helpers/wait.ts';
import type { ApiClient } from '../../src/client/types.ts';
import type { KubeObject } from '../../src/core/types.ts';

const NS = 'mlt-w3ds-ds';
let cluster: ControllerCluster;
let client: ApiClient;

const node = (name: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } },
  status: { conditions: [{ type: 'Ready', status: 'True' }] },
});

const dsPods = async (): Promise<KubeObject[]> => (await client.list('pods', { namespace: NS, labelSelector: 'app=mlt-w3ds-agent' })).items;
const nodesOf = (pods: KubeObject[]): string[] => pods.filter((p) => !p.metadata.deletionTimestamp).map((p) => (p.spec as { nodeName: string }).nodeName).sort();

before(async () => {
  cluster = await startControllerCluster({ tag: 'mlt-w3ds-ds', namespace: NS });
  client = cluster.client;
  for (const n of ['mlt-w3ds-n1', 'mlt-w3ds-n2']) await client.create('nodes', node(n));
});

after(async () => {
  await cluster?.stop();
});

const manifest = (image: string): string => `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: mlt-w3ds-agent
  namespace: ${NS}
spec:
  selector:
    matchLabels:
      app: mlt-w3ds-agent
  template:
    metadata:
      labels:
        app: mlt-w3ds-agent
    spec:
      containers:
      - name: agent
        image: ${image}
`;

test('a DaemonSet follows nodes joining and leaving, rolls out a new template, and kubectl shows it', async () => {
  const file = join(cluster.work, 'ds.yaml');
  writeFileSync(file, manifest('busybox:1'));
  await cluster.kubectl.ok('apply', '-f', file);
  await waitFor('a pod on each of the 2 nodes', async () => nodesOf(await dsPods()).join() === 'mlt-w3ds-n1,mlt-w3ds-n2');
  await cluster.kubectl.ok('-n', NS, 'rollout', 'status', 'ds/mlt-w3ds-agent', '--timeout=30s');

  // A node joins: it gets a pod. A node leaves: its pod goes. A node that does not match the nodeSelector never gets one.
  await client.create('nodes', node('mlt-w3ds-n3'));
  await waitFor('a pod on the new node', async () => nodesOf(await dsPods()).join() === 'mlt-w3ds-n1,mlt-w3ds-n2,mlt-w3ds-n3');
  await client.delete('nodes', '', 'mlt-w3ds-n2');
  await waitFor('the departed node\'s pod gone', async () => (await dsPods()).map((p) => (p.spec as { nodeName: string }).nodeName).sort().join() === 'mlt-w3ds-n1,mlt-w3ds-n3');

  const table = await cluster.kubectl.ok('-n', NS, 'get', 'ds');
  assert.match(table.split('\n')[0], /^NAME\s+DESIRED\s+CURRENT\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+NODE SELECTOR\s+AGE$/);
  await waitFor('status 2/2/2', async () => /mlt-w3ds-agent\s+2\s+2\s+2\s+2\s+2\s+<none>/.test(await cluster.kubectl.ok('-n', NS, 'get', 'ds')));

  // A new template rolls node by node; rollout status waits for it; history has both revisions.
  const before = new Set((await dsPods()).map((p) => p.metadata.name));
  writeFileSync(file, manifest('busybox:2'));
  await cluster.kubectl.ok('apply', '-f', file);
  await cluster.kubectl.ok('-n', NS, 'rollout', 'status', 'ds/mlt-w3ds-agent', '--timeout=60s');
  const after = await dsPods();
  assert.equal(after.length, 2);
  for (const p of after) {
    assert.equal(before.has(p.metadata.name), false, `${p.metadata.name} is an old pod`);
    assert.equal((p.spec as { containers: { image: string }[] }).containers[0].image, 'busybox:2');
  }
  const hashes = new Set(after.map((p) => p.metadata.labels?.['controller-revision-hash']));
  assert.equal(hashes.size, 1);
  const history = await cluster.kubectl.ok('-n', NS, 'rollout', 'history', 'ds/mlt-w3ds-agent');
  assert.match(history, /REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>/);
  const revs = await cluster.kubectl.ok('-n', NS, 'get', 'controllerrevisions');
  assert.match(revs.split('\n')[0], /^NAME\s+CONTROLLER\s+REVISION\s+AGE$/);
  assert.match(revs, /daemonset\.apps\/mlt-w3ds-agent\s+2\s/);

  // Undo goes back to the first template, as revision 3.
  await cluster.kubectl.ok('-n', NS, 'rollout', 'undo', 'ds/mlt-w3ds-agent');
  await waitFor('pods back on busybox:1', async () => {
    const pods = (await dsPods()).filter((p) => !p.metadata.deletionTimestamp);
    return pods.length === 2 && pods.every((p) => (p.spec as { containers: { image: string }[] }).containers[0].image === 'busybox:1');
  });
  assert.match(await cluster.kubectl.ok('-n', NS, 'rollout', 'history', 'ds/mlt-w3ds-agent'), /\n2\s+<none>\n3\s+<none>/);

  // Deleting the DaemonSet collects its pods and revisions.
  await cluster.kubectl.ok('-n', NS, 'delete', 'ds', 'mlt-w3ds-agent');
  await waitFor('pods and revisions collected', async () => (await dsPods()).length === 0 && (await client.list('controllerrevisions.apps', { namespace: NS })).items.length === 0);
});
