// The pod loop end to end: a real API server (test helper: redis + server), the
// agent's pod IP table, a stand-in node namespace with its bridge, and a
// Kubelet told that namespace (nodeNetns). A pod bound to the node becomes
// Running with an IP; deleting it stops it, tears down its sandbox, releases
// its IP and finishes the deletion. Requires root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startKubeletNode, type KubeletNode } from '../helpers/kubelet-node.ts';
import { waitFor } from '../helpers/wait.ts';
import type { ApiClient } from '../../src/client/types.ts';
import type { PodIps } from '../../src/agent/pod-ips.ts';
import { Kubelet } from '../../src/kubelet/kubelet.ts';
import { podNetnsName } from '../../src/kubelet/names.ts';
import type { KubeletPod } from '../../src/kubelet/pod-spec.ts';

let node: KubeletNode | undefined;
let client: ApiClient;
let podIps: PodIps;
let kubelet: Kubelet;
let tag = '';
let dataDir = '';

before(async () => {
  node = await startKubeletNode({ name: 'loop', subnet: '10.252.1.0/24' });
  ({ client, podIps, kubelet, tag, dataDir } = node);
});

after(async () => {
  await node?.stop();
});

test('a bound pod runs, reports status, and is deleted gracefully', async () => {
  const created = (await client!.create('pods', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'loop', namespace: 'default' },
    spec: {
      nodeName: 'n1',
      terminationGracePeriodSeconds: 1,
      containers: [
        { name: 'main', image: 'busybox', command: ['sh', '-c', 'echo started; exec sleep 3600'] },
        { name: 'noimage', image: 'nginx' },
      ],
    },
  })) as KubeletPod;
  const uid = created.metadata.uid!;
  const running = await waitFor('main running', async () => {
    const p = (await client!.get('pods', 'default', 'loop')) as KubeletPod | undefined;
    const main = p?.status?.containerStatuses?.find((c) => c.name === 'main');
    return main?.state.running ? p : undefined;
  });
  assert.equal(running.status?.phase, 'Pending', 'one container cannot start, so the pod is Pending');
  assert.match(running.status?.podIP ?? '', /^10\.252\./);
  assert.equal(running.status?.hostIP, '192.0.2.1');
  const noimage = running.status!.containerStatuses!.find((c) => c.name === 'noimage')!;
  assert.equal(noimage.state.waiting?.reason, 'CreateContainerConfigError');
  assert.match(noimage.state.waiting?.message ?? '', /no command/);
  const netns = podNetnsName(tag, uid);
  assert.ok(existsSync(join('/run/netns', netns)));
  assert.equal(podIps!.allocations().get(`default/loop/${uid}`), running.status!.podIP);

  const logs = await waitFor('logs', async () => {
    let s = '';
    for await (const chunk of kubelet!.readLogs('default', 'loop', 'main')) s += chunk.toString();
    return s.includes('started') ? s : undefined;
  });
  assert.equal(logs, 'started\n');

  await client!.delete('pods', 'default', 'loop', { gracePeriodSeconds: 1 });
  await waitFor('pod gone', async () => ((await client!.get('pods', 'default', 'loop')) === undefined ? true : undefined));
  await waitFor('sandbox gone', async () => !existsSync(join('/run/netns', netns)) && !existsSync(join(dataDir, 'pods', uid)));
  assert.equal(podIps!.allocations().size, 0, 'IP released');
});
