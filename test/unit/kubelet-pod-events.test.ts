// The kubelet's pod handlers on the agent's informer factory (issue 6 §3):
// a pod update reaches the kubelet's work queue only when it changes what the
// kubelet acts on. Its own status writes (and managedFields churn) queue
// nothing; a deletion, a spec change and a terminal phase each queue the pod.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import type { KubeObject } from '../../src/core/types.ts';
import { InformerFactory } from '../../src/client/informer-factory.ts';
import { kubeletPodHandlers } from '../../src/kubelet/kubelet.ts';
import { FakeApiClient } from '../helpers/fake-api-client.ts';

function pod(status: Record<string, unknown>, extra: { spec?: Record<string, unknown>; metadata?: Record<string, unknown> } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'default', uid: 'uid-web', labels: { app: 'web' }, ...extra.metadata },
    spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'busybox', command: ['sleep', '3600'] }], ...extra.spec },
    status,
  };
}

const running = (ready: string, at: string): Record<string, unknown> => ({
  phase: 'Running',
  podIP: '10.244.1.5',
  conditions: [{ type: 'Ready', status: ready, lastTransitionTime: at }],
  containerStatuses: [{ name: 'c', ready: ready === 'True', restartCount: 0, state: { running: { startedAt: '2026-01-01T00:00:00Z' } } }],
});

test('kubelet: its own status writes queue no reconcile; a deletion, a spec change and a terminal phase do', async () => {
  const fake = new FakeApiClient();
  fake.put('pods', pod(running('False', '2026-01-01T00:00:00Z')));
  const f = new InformerFactory({ client: fake, baseBackoffMs: 1, registry: new Registry() });
  f.start();
  // As the kubelet asks for its pods: whole objects, its node only.
  const pods = f.informer('pods', { fieldSelector: 'spec.nodeName=n1', transform: 'none' });
  const queued: string[] = [];
  pods.addHandlers(kubeletPodHandlers((key) => queued.push(key)));
  await pods.synced();
  await fake.untilWatches(1);
  assert.deepEqual(queued, ['default/web'], 'the add queues the pod');
  queued.length = 0;

  // Status the kubelet itself writes: readiness, container statuses, and managedFields with it.
  fake.put('pods', pod(running('True', '2026-01-01T00:00:05Z'), { metadata: { managedFields: [{ manager: 'meshlet-kubelet', subresource: 'status' }] } }));
  fake.put('pods', pod(running('False', '2026-01-01T00:00:09Z'), { metadata: { managedFields: [{ manager: 'meshlet-kubelet', subresource: 'status', time: '2026-01-01T00:00:09Z' }] } }));
  // The cache holds the latest status (so the updates did arrive) ...
  assert.equal((pods.get('default/web')?.status as { conditions: { lastTransitionTime: string }[] }).conditions[0].lastTransitionTime, '2026-01-01T00:00:09Z');
  // ... and none of them reached the queue.
  assert.deepEqual(queued, []);

  // What the kubelet acts on does.
  fake.put('pods', pod(running('False', '2026-01-01T00:00:09Z'), { metadata: { deletionTimestamp: '2026-01-01T00:01:00Z', deletionGracePeriodSeconds: 30 } }));
  assert.deepEqual(queued, ['default/web'], 'a deletion queues the pod');
  fake.put('pods', pod(running('False', '2026-01-01T00:00:09Z'), { spec: { activeDeadlineSeconds: 60 } }));
  fake.put('pods', pod({ ...running('False', '2026-01-01T00:00:09Z'), phase: 'Succeeded' }, { spec: { activeDeadlineSeconds: 60 } }));
  assert.deepEqual(queued, ['default/web', 'default/web', 'default/web'], 'a spec change and a terminal phase queue it too');
  await f.stop();
});
