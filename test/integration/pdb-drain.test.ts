// PodDisruptionBudgets and kubectl drain end to end (root): a real API server
// and Redis, the controller manager (disruption controller), a real kubelet and
// the real kubectl. A Deployment of 2 replicas under a budget of minAvailable 2:
// drain is refused (evictions answered 429) until the budget is relaxed to 1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startKubeletNode, NODE_NAME, type KubeletNode } from '../helpers/kubelet-node.ts';
import { waitFor } from '../helpers/wait.ts';
import { kubectlFor, type Kubectl } from '../helpers/kubectl.ts';
import { startControllers } from '../../src/controllers/index.ts';
import { PODDISRUPTIONBUDGETS } from '../../src/core/well-known.ts';

let node: KubeletNode;
let manager: { stop(): Promise<void> } | undefined;
let work = '';
let kc: Kubectl;
const APP = 'mlt-w4pdb-web';


const pdbManifest = (minAvailable: number) => ({
  apiVersion: 'policy/v1',
  kind: 'PodDisruptionBudget',
  metadata: { name: APP, namespace: 'default' },
  spec: { minAvailable, selector: { matchLabels: { app: APP } } },
});

type PdbStatus = { observedGeneration?: number; disruptionsAllowed?: number; currentHealthy?: number; desiredHealthy?: number; expectedPods?: number };

async function budget(): Promise<{ generation: number; status: PdbStatus }> {
  const b = await node.client.get(PODDISRUPTIONBUDGETS, 'default', APP);
  return { generation: b?.metadata.generation ?? -1, status: (b?.status ?? {}) as PdbStatus };
}

describe('kubectl drain and a PodDisruptionBudget', { concurrency: false }, () => {
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'mlt-w4pdb-'));
    node = await startKubeletNode({ name: 'w4pdb', subnet: '10.252.9.0/24' });
    kc = kubectlFor(node.api.kubeconfigPath, work);
    // drain cordons the Node: the test makes one (the helper's kubelet runs without). No heartbeat Lease,
    // so a long grace keeps the node lifecycle controller from marking its pods not ready meanwhile.
    await kc.apply({ apiVersion: 'v1', kind: 'Node', metadata: { name: NODE_NAME } });
    manager = await startControllers(node.client, { logger: pino({ level: 'silent' }), identity: 'w4pdb-test', retryPeriodMs: 200, nodeGraceMs: 3_600_000 });
    await kc.apply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: APP, namespace: 'default' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: APP } },
        template: {
          metadata: { labels: { app: APP } },
          spec: { nodeName: NODE_NAME, terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: 'busybox', command: ['sleep', '3600'] }] },
        },
      },
    });
    await kc.apply(pdbManifest(2));
  });

  after(async () => {
    await manager?.stop();
    await node?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('the budget status counts the ready pods; kubectl shows its columns', async () => {
    const b = await waitFor('budget with 2 healthy pods', async () => {
      const got = await budget();
      return got.status.currentHealthy === 2 && got.status.observedGeneration === got.generation ? got : undefined;
    }, 60_000);
    assert.deepEqual([b.status.expectedPods, b.status.desiredHealthy, b.status.disruptionsAllowed], [2, 2, 0]);
    const table = await kc.run(['get', 'pdb', APP]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /NAME\s+MIN AVAILABLE\s+MAX UNAVAILABLE\s+ALLOWED DISRUPTIONS\s+AGE/);
    assert.match(table.stdout, new RegExp(`${APP}\\s+2\\s+N/A\\s+0\\s`));
  });

  test('drain is refused while the budget allows no disruption', async () => {
    // kubectl retries a refused eviction after 5 s: a timeout shorter than that gives up after the first refusal.
    const r = await kc.run(['drain', NODE_NAME, '--ignore-daemonsets', '--timeout=2s']);
    assert.notEqual(r.code, 0, 'drain must fail');
    assert.match(r.stderr, /Cannot evict pod as it would violate the pod's disruption budget/);
    const pods = (await node.client.list('pods', { namespace: 'default', labelSelector: `app=${APP}` })).items;
    assert.equal(pods.filter((p) => !p.metadata.deletionTimestamp).length, 2, 'both pods stay');
  });

  test('after the budget is relaxed to minAvailable 1, drain evicts both pods', async () => {
    const before = (await node.client.list('pods', { namespace: 'default', labelSelector: `app=${APP}` })).items.map((p) => p.metadata.uid);
    await kc.apply(pdbManifest(1));
    const r = await kc.run(['drain', NODE_NAME, '--ignore-daemonsets', '--timeout=90s']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /evicted/);
    assert.match(r.stdout, /drained/);
    const after = (await node.client.list('pods', { namespace: 'default', labelSelector: `app=${APP}` })).items.map((p) => p.metadata.uid);
    for (const uid of before) assert.ok(!after.includes(uid), `pod ${uid} was evicted`);
  });
});
