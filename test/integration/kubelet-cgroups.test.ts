// Pod cgroups on the real kernel (this host's hierarchy, v1 or v2), with the
// pod loop end to end (test helper: API server + Kubelet on a stand-in node
// namespace): a memory hog over its limit is OOMKilled and reported so; a CPU
// burner limited to 200m is throttled and measured below its limit (plus
// slack); the usage endpoint and the resource metrics name the pods and their
// containers; a deleted pod's cgroups are gone. The node's cgroup has a
// test-unique name (mlt-cg-<hex>) and is removed by that name, also on failure.
// Requires root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import pino from 'pino';
import { Registry } from 'prom-client';
import { startKubeletNode, type KubeletNode } from '../helpers/kubelet-node.ts';
import { waitFor } from '../helpers/wait.ts';
import { PodCgroups } from '../../src/kubelet/cgroups.ts';
import { CONTROLLERS, distinctDirs } from '../../src/kubelet/cgroup-plan.ts';
import { statValue } from '../../src/kubelet/usage-plan.ts';
import { startKubeletServer, type KubeletServer } from '../../src/agent/kubelet-server.ts';
import { KUBELET_USAGE_PATH, type UsageSummary } from '../../src/core/usage-summary.ts';
import type { ApiClient } from '../../src/client/types.ts';
import type { KubeletPod, ContainerSpec } from '../../src/kubelet/pod-spec.ts';

const parent = `mlt-cg-${randomBytes(3).toString('hex')}`;
const TOKEN = 'cgroup-test-token';
const logger = pino({ level: 'silent' });
const registry = new Registry();
let cgroups: PodCgroups | undefined;
let node: KubeletNode | undefined;
let server: KubeletServer | undefined;
let client: ApiClient;
const uids: string[] = [];

before(async () => {
  cgroups = await PodCgroups.open({ parent, logger });
  node = await startKubeletNode({ name: 'cgroups', subnet: '10.252.9.0/24', kubelet: { cgroups, usageIntervalMs: 500, metrics: registry } });
  client = node.client;
  const kubelet = node.kubelet;
  server = await startKubeletServer({
    listen: { socketPath: join(node.dataDir, 'kubelet.sock') },
    token: TOKEN,
    logger,
    readLogs: (ns, pod, c, opts) => kubelet.readLogs(ns, pod, c, opts),
    usage: () => kubelet.usageSummary(),
  });
});

after(async () => {
  await server?.close();
  await node?.stop();
  // By exact name: the pods' cgroups this test made, then the node's.
  if (cgroups) {
    for (const uid of new Set([...uids, ...cgroups.podUids()])) await cgroups.removePod(uid).catch(() => undefined);
    await cgroups.removeNode().catch(() => undefined);
    for (const dir of distinctDirs(cgroups.paths.node)) assert.equal(existsSync(dir), false, `${dir} is left behind`);
  }
});

async function createPod(name: string, containers: ContainerSpec[], restartPolicy: 'Never' | 'OnFailure' | 'Always'): Promise<string> {
  const pod = (await client.create('pods', {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { nodeName: 'n1', restartPolicy, terminationGracePeriodSeconds: 0, containers },
  })) as KubeletPod;
  uids.push(pod.metadata.uid!);
  return pod.metadata.uid!;
}

const getPod = async (name: string): Promise<KubeletPod | undefined> => (await client.get('pods', 'default', name)) as KubeletPod | undefined;

function getUsage(token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: join(node!.dataDir, 'kubelet.sock'), path: KUBELET_USAGE_PATH, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

// Allocates (and touches) 256 MiB, far over its 48 MiB limit.
const HOG = ['python3', '-c', "b = b'x' * (256 << 20); import time; time.sleep(60)"];
const BURN = ['sh', '-c', 'while :; do :; done'];

test('limits, OOMKilled, throttling, usage and clean-up of pod cgroups', async () => {
  const cg = cgroups!;
  const hogUid = await createPod('hog', [{ name: 'hog', image: 'python', command: HOG, resources: { limits: { memory: '48Mi' } } }], 'Never');
  const retryUid = await createPod('hog-retry', [{ name: 'hog', image: 'python', command: HOG, resources: { limits: { memory: '48Mi' } } }], 'OnFailure');
  const burnUid = await createPod('burn', [
    { name: 'burn', image: 'busybox', command: BURN, resources: { limits: { cpu: '200m', memory: '64Mi' }, requests: { cpu: '100m' } } },
    { name: 'idle', image: 'busybox', command: ['sleep', '3600'], resources: { limits: { cpu: '100m', memory: '32Mi' } } },
  ], 'Always');

  // The burner's container is in its own cgroup, with the limits of its spec; the pod's holds the sums.
  const burnPid = await waitFor('burner running', async () => {
    const s = (await getPod('burn'))?.status?.containerStatuses?.find((c) => c.name === 'burn');
    return s?.state.running ? node!.kubelet.runtime.observe(burnUid, 'burn')?.current?.pid : undefined;
  });
  const memDir = cg.paths.container('memory', burnUid, 'burn');
  const cpuDir = cg.paths.container('cpu', burnUid, 'burn');
  const own = readFileSync(`/proc/${burnPid}/cgroup`, 'utf8');
  assert.ok(own.includes(`/${parent}/pod-${burnUid}/burn`), `the container's process is in its cgroup:\n${own}`);
  if (cg.hierarchy.version === 'v1') {
    assert.equal(readFileSync(join(memDir, 'memory.limit_in_bytes'), 'utf8').trim(), String(64 << 20));
    assert.equal(readFileSync(join(cpuDir, 'cpu.cfs_quota_us'), 'utf8').trim(), '20000');
    assert.equal(readFileSync(join(cpuDir, 'cpu.shares'), 'utf8').trim(), '102');
    assert.equal(readFileSync(join(cg.paths.pod('memory', burnUid), 'memory.limit_in_bytes'), 'utf8').trim(), String(96 << 20));
    assert.equal(readFileSync(join(cg.paths.pod('cpu', burnUid), 'cpu.cfs_quota_us'), 'utf8').trim(), '30000');
  } else {
    assert.equal(readFileSync(join(memDir, 'memory.max'), 'utf8').trim(), String(64 << 20));
    assert.equal(readFileSync(join(cpuDir, 'cpu.max'), 'utf8').trim(), '20000 100000');
    assert.equal(readFileSync(join(cpuDir, 'cpu.weight'), 'utf8').trim(), '4');
  }

  // The hog is killed by the kernel in its cgroup and reported as OOMKilled.
  const hog = await waitFor('hog terminated', async () => (await getPod('hog'))?.status?.containerStatuses?.[0]?.state.terminated);
  assert.equal(hog.reason, 'OOMKilled');
  assert.equal(hog.exitCode, 137);
  assert.ok((cg.oomKills(hogUid, 'hog') ?? 0) >= 1, 'the cgroup counted the OOM kill');
  // Restarted (or waiting to be): the OOM kill is the last state.
  const last = await waitFor('hog-retry last state', async () => (await getPod('hog-retry'))?.status?.containerStatuses?.[0]?.lastState.terminated);
  assert.equal(last.reason, 'OOMKilled');

  // Throttled: nr_throttled grows while it burns.
  const throttled = async (): Promise<number> => statValue(await cg.cpuStat(burnUid, 'burn'), 'nr_throttled') ?? 0;
  const first = await throttled();
  await waitFor('burner throttled', async () => (await throttled()) > first);

  // The usage endpoint: the node's token only; the pods with their containers, the burner below its limit plus slack.
  assert.equal((await getUsage('wrong')).status, 401);
  const summary = await waitFor('burner in the usage summary', async () => {
    const r = await getUsage(TOKEN);
    const s = JSON.parse(r.body) as UsageSummary;
    const burn = s.pods.find((p) => p.name === 'burn');
    return burn && burn.containers.length === 2 && burn.cpuNanoCores > 0 ? s : undefined;
  });
  const burn = summary.pods.find((p) => p.name === 'burn')!;
  assert.equal(burn.uid, burnUid);
  assert.deepEqual(burn.containers.map((c) => c.name), ['burn', 'idle']);
  const burnC = burn.containers.find((c) => c.name === 'burn')!;
  assert.ok(burnC.cpuNanoCores <= 300_000_000, `burner limited to 200m used ${burnC.cpuNanoCores} nanocores`);
  assert.ok(burnC.memoryWorkingSetBytes > 0);
  assert.equal(summary.node.nodeName, 'n1');
  assert.ok(summary.node.memoryWorkingSetBytes > 0);
  const metrics = await registry.metrics();
  assert.match(metrics, /container_cpu_usage_seconds_total\{namespace="default",pod="burn",container="burn"\} [0-9.e+-]+/);
  assert.match(metrics, /pod_memory_working_set_bytes\{namespace="default",pod="burn"\} [1-9]/);
  assert.match(metrics, /node_cpu_usage_seconds_total [0-9.e+-]+/);

  // Deleted pods: their cgroups go once their processes have.
  for (const uid of [hogUid, retryUid, burnUid]) for (const c of CONTROLLERS) assert.ok(existsSync(cg.paths.pod(c, uid)), 'the pod cgroup exists before deletion');
  for (const name of ['hog', 'hog-retry', 'burn']) await client.delete('pods', 'default', name);
  await waitFor('pods gone', async () => {
    for (const name of ['hog', 'hog-retry', 'burn']) if (await getPod(name)) return false;
    return true;
  });
  await waitFor('pod cgroups removed', async () => [hogUid, retryUid, burnUid].every((uid) => CONTROLLERS.every((c) => !existsSync(cg.paths.pod(c, uid)))));
  assert.deepEqual(cg.podUids(), []);
});

test('a v2 hierarchy without cpu and memory for the agent is refused with why (this host\'s controller-less cgroup2)', async (t) => {
  const real = readFileSync('/proc/self/mountinfo', 'utf8');
  const unified = real.split('\n').filter((l) => / - cgroup2 /.test(l));
  // This case needs a cgroup2 mount without the cpu and memory controllers (as on these v1 machines); where
  // there is none, or it has them (a real v2 host, where the first test covers v2), it cannot be set up.
  if (unified.length === 0) return t.skip('no cgroup2 mount on this host');
  const procCgroup = readFileSync('/proc/self/cgroup', 'utf8');
  const base = `${unified[0].split(' ')[4]}${procCgroup.split('\n').find((l) => l.startsWith('0::'))?.slice(3) ?? '/'}`;
  const controllers = readFileSync(join(base, 'cgroup.controllers'), 'utf8');
  if (/\bmemory\b/.test(controllers) && /\bcpu\b/.test(controllers)) return t.skip('the unified hierarchy has the controllers here (a v2 host)');
  await assert.rejects(
    PodCgroups.open({ parent: `${parent}-v2`, logger, mountinfo: unified.join('\n'), procCgroup }),
    (err: Error) => err.name === 'CgroupUnavailableError' && /cgroup v2: .* has no (cpu, memory|cpu|memory) controller/.test(err.message),
  );
  assert.equal(existsSync(join(base, `${parent}-v2`)), false, 'nothing was created');
});
