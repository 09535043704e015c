// The scheduler against a real API server (private redis + server): nodes and
// pods created through the API, bindings and unschedulable reports read back.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { startTestApiServer, type TestApiServer } from '../helpers/api-server.ts';
import { createClient } from '../../src/client/http-client.ts';
import type { ApiClient } from '../../src/client/types.ts';
import type { KubeObject } from '../../src/core/types.ts';
import { startScheduler, LEASE_NAME, LEASE_NAMESPACE } from '../../src/scheduler/scheduler.ts';
import { makeNode, makePod, type NodeFixture, type PodFixture } from '../../src/scheduler/fixtures.ts';
import type { Pod, PodCondition } from '../../src/scheduler/api-types.ts';
import { waitFor } from '../helpers/wait.ts';

let api: TestApiServer;
let client: ApiClient;
const schedulers: { stop(): Promise<void> }[] = [];


async function createNode(name: string, f: NodeFixture): Promise<void> {
  const node = makeNode(name, f);
  const status = node.status;
  delete node.status;
  const created = await client.create('nodes', node);
  await client.update('nodes', { ...created, status }, 'status');
}

async function createPod(name: string, f: PodFixture): Promise<void> {
  const pod = makePod(name, f);
  delete pod.metadata.uid;
  delete pod.status;
  await client.create('pods', pod);
}

async function boundNode(name: string): Promise<string> {
  return waitFor(`pod ${name} to be bound`, async () => {
    const pod = (await client.get('pods', 'default', name)) as Pod | undefined;
    return pod?.spec?.nodeName || undefined;
  });
}

async function podScheduledCondition(name: string): Promise<PodCondition> {
  return waitFor(`PodScheduled=False on ${name}`, async () => {
    const pod = (await client.get('pods', 'default', name)) as Pod | undefined;
    return pod?.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  });
}

async function eventsFor(name: string, reason: string): Promise<KubeObject[]> {
  const { items } = await client.list('events', { namespace: 'default' });
  return items.filter((e) => (e.involvedObject as { name?: string }).name === name && e.reason === reason);
}

before(async () => {
  api = await startTestApiServer();
  client = createClient({ server: api.url, token: api.token });
  await createNode('node-a', { cpu: '2', memory: '4Gi', labels: { disk: 'ssd' } });
  await createNode('node-b', { cpu: '2', memory: '4Gi', taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] });
  await createNode('node-c', { cpu: '1', memory: '2Gi' });
  const logger = pino({ level: 'silent' });
  const timing = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 200 };
  schedulers.push(startScheduler(client, { logger, identity: 'sched-1', ...timing }));
  await waitFor('sched-1 to lead', async () => {
    const lease = await client.get('leases.coordination.k8s.io', LEASE_NAMESPACE, LEASE_NAME);
    return (lease?.spec as { holderIdentity?: string } | undefined)?.holderIdentity === 'sched-1' ? true : undefined;
  });
  // A second candidate: it must wait, and no pod may be bound twice.
  schedulers.push(startScheduler(client, { logger, identity: 'sched-2', ...timing }));
});

after(async () => {
  await Promise.all(schedulers.map((s) => s.stop()));
  client?.close();
  await api?.stop();
});

test('nodeSelector, required node affinity with tolerations, and resources decide placement', async () => {
  await createPod('p-ssd', { nodeSelector: { disk: 'ssd' } });
  assert.equal(await boundNode('p-ssd'), 'node-a');

  await createPod('p-db', {
    tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }],
    affinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-b'] }] }],
      },
    },
  });
  assert.equal(await boundNode('p-db'), 'node-b');

  // 1500m fits only node-a: node-b is tainted, node-c has 1 cpu.
  await createPod('p-big', { cpu: '1500m', memory: '1Gi' });
  assert.equal(await boundNode('p-big'), 'node-a');

  // Ordinary pods never land on the tainted node.
  for (let i = 0; i < 4; i++) await createPod(`p-small-${i}`, { cpu: '100m' });
  for (let i = 0; i < 4; i++) assert.notEqual(await boundNode(`p-small-${i}`), 'node-b');

  const scheduled = await waitFor('a Scheduled event', async () => {
    const evs = await eventsFor('p-ssd', 'Scheduled');
    return evs.length > 0 ? evs : undefined;
  });
  assert.equal(scheduled.length, 1);
  assert.equal(scheduled[0].message, 'Successfully assigned default/p-ssd to node-a');
  assert.equal(scheduled[0].type, 'Normal');
});

test('a pod that fits nowhere waits with PodScheduled=False and is placed once room appears', async () => {
  await createPod('p-big-2', { cpu: '1500m' });
  const condition = await podScheduledCondition('p-big-2');
  const message = '0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: db}, 2 Insufficient cpu.';
  assert.equal(condition.reason, 'Unschedulable');
  assert.equal(condition.message, message);
  const failed = await waitFor('a FailedScheduling event', async () => {
    const evs = await eventsFor('p-big-2', 'FailedScheduling');
    return evs.length > 0 ? evs : undefined;
  });
  assert.equal(failed[0].type, 'Warning');
  assert.equal(failed[0].message, message);

  // Deleting p-big frees node-a's cpu: the waiting pod is retried and bound there.
  await client.delete('pods', 'default', 'p-big', { gracePeriodSeconds: 0 });
  assert.equal(await boundNode('p-big-2'), 'node-a');
});

test('an impossible pod stays Pending with the reasons', async () => {
  await createPod('p-never', { nodeSelector: { disk: 'nvme' } });
  const condition = await podScheduledCondition('p-never');
  // The taint filter runs before node affinity, so node-b counts under the taint.
  assert.equal(
    condition.message,
    "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: db}, 2 node(s) didn't match Pod's node affinity/selector.",
  );
  assert.equal(condition.reason, 'Unschedulable');
  const failed = await waitFor('a FailedScheduling event', async () => {
    const evs = await eventsFor('p-never', 'FailedScheduling');
    return evs.length > 0 ? evs : undefined;
  });
  assert.equal(failed[0].message, condition.message);
  const pod = (await client.get('pods', 'default', 'p-never')) as Pod;
  assert.equal(pod.spec?.nodeName, undefined);

  // Every pod was bound exactly once although two schedulers ran.
  const { items } = await client.list('events', { namespace: 'default' });
  const scheduledPerPod = new Map<string, number>();
  for (const e of items) {
    if (e.reason !== 'Scheduled') continue;
    const name = (e.involvedObject as { name: string }).name;
    scheduledPerPod.set(name, (scheduledPerPod.get(name) ?? 0) + 1);
  }
  assert.ok(scheduledPerPod.size >= 7);
  for (const [name, n] of scheduledPerPod) assert.equal(n, 1, name);
});

test('when the leader stops, the other candidate takes the lease and schedules', async () => {
  await schedulers[0].stop();
  await waitFor('sched-2 to lead', async () => {
    const lease = await client.get('leases.coordination.k8s.io', LEASE_NAMESPACE, LEASE_NAME);
    return (lease?.spec as { holderIdentity?: string } | undefined)?.holderIdentity === 'sched-2' ? true : undefined;
  });
  await createPod('p-after', { nodeSelector: { disk: 'ssd' } });
  assert.equal(await boundNode('p-after'), 'node-a');
});
