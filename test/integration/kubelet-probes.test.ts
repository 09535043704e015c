// Probes end to end, in the style of kubelet-loop.test.ts: a real API server,
// the real IPAM, a node namespace this test creates, and a Kubelet told it.
// Readiness (httpGet on a named port, from the node namespace) holds a pod
// unready until its server listens; a liveness exec probe (inside the
// container's namespaces) that starts failing gets the container killed and
// restarted with Unhealthy and Killing events; tcpSocket probes pass against
// a listener and fail against a closed port. Requires root. No timing
// assertions: states are polled with generous limits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startKubeletNode, type KubeletNode } from '../helpers/kubelet-node.ts';
import { waitFor } from '../helpers/wait.ts';
import type { ApiClient } from '../../src/client/types.ts';
import type { KubeObject } from '../../src/core/types.ts';
import type { KubeletPod } from '../../src/kubelet/pod-spec.ts';

let node: KubeletNode | undefined;
let client: ApiClient;
let tag = '';

before(async () => {
  node = await startKubeletNode({ name: 'probes', subnet: '10.251.1.0/24' });
  ({ client, tag } = node);
});

after(async () => {
  await node?.stop();
});


/** Files the containers watch or make, under /tmp (the containers share the node's filesystem); removed in after(). */
const files: string[] = [];
function tmpFile(what: string): string {
  const p = join(tmpdir(), `${tag}${what}`);
  files.push(p);
  return p;
}
after(() => {
  for (const f of files) rmSync(f, { force: true });
});

async function pod(name: string): Promise<KubeletPod | undefined> {
  return (await client!.get('pods', 'default', name)) as KubeletPod | undefined;
}

function cond(p: KubeletPod | undefined, type: string): string | undefined {
  return p?.status?.conditions?.find((c) => c.type === type)?.status;
}

async function events(name: string): Promise<{ reason: string; message: string; type: string }[]> {
  const { items } = await client!.list('events', { namespace: 'default' });
  return items
    .filter((e) => (e as { involvedObject?: { name?: string } }).involvedObject?.name === name)
    .map((e) => e as unknown as { reason: string; message: string; type: string });
}

/** A pod on the test's node, in default, with these (probed) containers. */
const probedPod = (name: string, containers: Record<string, unknown>[]): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { nodeName: 'n1', terminationGracePeriodSeconds: 1, containers },
});

async function deletePod(name: string): Promise<void> {
  await client!.delete('pods', 'default', name, { gracePeriodSeconds: 0 }).catch(() => undefined);
  await waitFor(`${name} gone`, async () => ((await pod(name)) === undefined ? true : undefined), 60_000);
}

test('readiness (httpGet, named port, headers): Ready only once the server answers', async () => {
  const go = tmpFile('http-go');
  await client!.create('pods', probedPod('ready-http', [{
    name: 'web',
    image: 'python',
    command: ['sh', '-c', `while [ ! -f ${go} ]; do sleep 0.2; done; exec /usr/bin/python3 -m http.server 18080 --bind 0.0.0.0`],
    ports: [{ name: 'web', containerPort: 18080 }],
    readinessProbe: { httpGet: { port: 'web', path: '/', httpHeaders: [{ name: 'X-Probe', value: 'meshlet' }] }, periodSeconds: 1 },
  }]));
  try {
    // The server cannot listen before the test lets it: running and unready, deterministically.
    const unready = await waitFor('running, probed and unready', async () => {
      const p = await pod('ready-http');
      const s = p?.status?.containerStatuses?.[0];
      const failed = (await events('ready-http')).some((e) => e.reason === 'Unhealthy');
      return s?.state.running && failed ? p : undefined;
    });
    assert.equal(unready.status?.containerStatuses?.[0].ready, false);
    assert.equal(cond(unready, 'Ready'), 'False');
    assert.equal(cond(unready, 'ContainersReady'), 'False');
    assert.equal(unready.status?.phase, 'Running');
    const ev = (await events('ready-http')).find((e) => e.reason === 'Unhealthy')!;
    assert.equal(ev.type, 'Warning');
    assert.match(ev.message, /^Readiness probe failed: Get "http:\/\/10\.251\.[0-9.]+:18080\/": .*ECONNREFUSED/);

    writeFileSync(go, '');
    const ready = await waitFor('Ready', async () => {
      const p = await pod('ready-http');
      return cond(p, 'Ready') === 'True' ? p : undefined;
    });
    assert.equal(ready.status?.containerStatuses?.[0].ready, true);
    assert.equal(ready.status?.containerStatuses?.[0].restartCount, 0, 'readiness never restarts');
    assert.equal(cond(ready, 'ContainersReady'), 'True');
  } finally {
    await deletePod('ready-http');
  }
});

test('liveness (exec inside the container): failing probes kill and restart the container', async () => {
  const healthy = tmpFile('healthy');
  await client!.create('pods', probedPod('live-exec', [{
    name: 'main',
    image: 'busybox',
    // Healthy for a while, then the file goes: the probe (run inside the container's mount and PID namespaces) fails.
    command: ['sh', '-c', `touch ${healthy}; sleep 3; rm -f ${healthy}; echo unhealthy now; exec sleep 3600`],
    livenessProbe: { exec: { command: ['sh', '-c', `test -f ${healthy} || { echo "no ${healthy} in pid namespace of $$"; exit 1; }`] }, periodSeconds: 1, failureThreshold: 2 },
  }]));
  try {
    const restarted = await waitFor('restartCount ≥ 1', async () => {
      const p = await pod('live-exec');
      return (p?.status?.containerStatuses?.[0].restartCount ?? 0) >= 1 ? p : undefined;
    }, 60_000);
    const s = restarted.status!.containerStatuses![0];
    assert.ok(s.lastState.terminated, 'the killed run is the last state');
    const evs = await events('live-exec');
    const unhealthy = evs.find((e) => e.reason === 'Unhealthy');
    assert.ok(unhealthy, 'Unhealthy event');
    assert.equal(unhealthy.type, 'Warning');
    assert.match(unhealthy.message, new RegExp(`^Liveness probe failed: no ${healthy} in pid namespace of \\d+`));
    assert.ok(evs.some((e) => e.reason === 'Killing' && e.message === 'Container main failed liveness probe, will be restarted'), 'Killing event');
    assert.ok(evs.filter((e) => e.reason === 'Started').length >= 2, 'started again');
  } finally {
    await deletePod('live-exec');
  }
});

test('tcpSocket: passes against a listener, fails against a closed port', async () => {
  await client!.create('pods', probedPod('tcp', [
    {
      name: 'open',
      image: 'python',
      command: ['/usr/bin/python3', '-m', 'http.server', '18081', '--bind', '0.0.0.0'],
      readinessProbe: { tcpSocket: { port: 18081 }, periodSeconds: 1 },
    },
    {
      name: 'closed',
      image: 'busybox',
      command: ['sleep', '3600'],
      readinessProbe: { tcpSocket: { port: 18082 }, periodSeconds: 1 },
    },
  ]));
  try {
    const p = await waitFor('open ready, closed probed', async () => {
      const x = await pod('tcp');
      const open = x?.status?.containerStatuses?.find((c) => c.name === 'open');
      const failed = (await events('tcp')).some((e) => e.reason === 'Unhealthy' && e.message.includes(':18082'));
      return open?.ready && failed ? x : undefined;
    });
    const closed = p.status!.containerStatuses!.find((c) => c.name === 'closed')!;
    assert.ok(closed.state.running);
    assert.equal(closed.ready, false);
    assert.equal(cond(p, 'Ready'), 'False');
    assert.equal(p.status?.conditions?.find((c) => c.type === 'Ready')?.message, 'containers with unready status: [closed]');
    const ev = (await events('tcp')).find((e) => e.reason === 'Unhealthy')!;
    assert.match(ev.message, /^Readiness probe failed: dial tcp 10\.251\.[0-9.]+:18082: .*ECONNREFUSED/);
  } finally {
    await deletePod('tcp');
  }
});
