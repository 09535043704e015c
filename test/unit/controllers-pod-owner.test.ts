// The pod-owner shell (src/controllers/pod-owner.ts) over the in-memory client:
// a failed pod create counts as seen, so the next sync may create again at
// once; a pod of the owner, and an orphan the owner's orphanKeys claims, sync
// the owner again; a pod of another controller does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { FakeApiClient } from '../helpers/fake-api-client.ts';
import { InformerFactory } from '../../src/client/informer-factory.ts';
import { podOwnerController } from '../../src/controllers/pod-owner.ts';
import type { KubeObject } from '../../src/core/types.ts';

const owner: KubeObject = { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'web', namespace: 'default', uid: 'rs-1', resourceVersion: '1' }, spec: {} };
const pod = (name: string, controller?: { kind: string; name: string }): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod',
  metadata: {
    name, namespace: 'default', uid: `uid-${name}`, resourceVersion: '1', labels: { app: 'web' },
    ...(controller ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: controller.kind, name: controller.name, uid: 'x', controller: true }] } : {}),
  },
});

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await sleep(10);
  assert.ok(check(), `timed out waiting for ${what}`);
}

test('pod-owner shell: a failed create counts as seen; the owner syncs again for its pods and claimed orphans only', async () => {
  const fake = new FakeApiClient();
  fake.put('replicasets.apps', owner);
  const factory = new InformerFactory({ client: fake, baseBackoffMs: 1 });
  const calls: boolean[] = [];
  const { controller } = podOwnerController(
    { client: fake, informers: factory.scope(), logger: pino({ level: 'silent' }) },
    {
      name: 'test',
      resource: 'replicasets.apps',
      kind: 'ReplicaSet',
      // The first plan creates a pod (the fake client refuses every create); later ones do nothing.
      plan: (_owner, view) => {
        calls.push(view.expectationsSatisfied);
        return calls.length === 1 ? { actions: [{ op: 'create', gr: 'pods', object: pod('new') }], creates: 1, deletes: 0 } : { actions: [], creates: 0, deletes: 0 };
      },
      orphanKeys: (p) => (p.metadata.labels?.app === 'web' ? ['default/web'] : []),
    },
  );
  factory.start();
  await factory.synced();
  await fake.untilWatches(2);
  controller.start();
  try {
    // The failed create is retried (backoff) and the expectation it set is already met.
    await until('the retry', () => calls.length >= 2);
    assert.deepEqual(calls.slice(0, 2), [true, true]);
    const settled = calls.length;
    fake.put('pods', pod('mine', { kind: 'ReplicaSet', name: 'web' }));
    await until('a sync for its own pod', () => calls.length > settled);
    const afterOwn = calls.length;
    fake.put('pods', pod('orphan'));
    await until('a sync for a claimed orphan', () => calls.length > afterOwn);
    const afterOrphan = calls.length;
    // A pod of another kind's controller: the (synchronous) watch delivers it, and no sync follows.
    fake.put('pods', pod('theirs', { kind: 'DaemonSet', name: 'web' }));
    await sleep(100);
    assert.equal(calls.length, afterOrphan, 'the other controller\'s pod synced nothing');
    // The queue still runs: a second pod of ours syncs the owner.
    fake.put('pods', pod('mine-2', { kind: 'ReplicaSet', name: 'web' }));
    await until('a sync for the second own pod', () => calls.length > afterOrphan);
  } finally {
    await controller.stop();
    await factory.stop();
  }
});
