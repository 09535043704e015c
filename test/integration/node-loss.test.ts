// Node loss heals by itself, in ONE 3-node lab (root): a 6-replica Deployment
// spread over the nodes and a pod that tolerates an unreachable node forever;
// node-3's agent and its pods' processes are killed with SIGKILL (only the
// PIDs the lab and its kubelets recorded). After the heartbeat grace (the lab's
// --node-monitor-grace-period, 20 s here; the server's default is 40 s) node-3
// turns Ready=Unknown and its pods Ready=False (EndpointSlices drop them at
// once); after the toleration (--toleration-seconds, 5 s here; the lab's default
// is 30 s) they are evicted and the
// ReplicaSet replaces them on node-1 and node-2. The tolerating pod stays.
// When node-3's agent comes back, its kubelet finishes the evicted pods'
// deletion, removes their namespaces and frees their IPs, and adopts the pod
// it still has: nothing runs twice.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { podNetnsName } from '../../src/kubelet/names.ts';
import { podProcesses, restartAgent } from '../../src/lab/agents.ts';
import { labAdminClient, getOverSocket } from '../../src/lab/api.ts';
import { planLab, type LabPlan } from '../../src/lab/plan.ts';
import { isAlive, listNetns } from '../../src/lab/system.ts';
import type { LabState, ProcessRecord } from '../../src/lab/state.ts';
import type { ApiClient } from '../../src/client/types.ts';
import type { KubeObject } from '../../src/core/types.ts';
import { KUBECTL, runMeshlet, runProcess } from '../helpers/run.ts';
import { waitFor } from '../helpers/wait.ts';

const root = mkdtempSync(join(tmpdir(), 'mlt-nodeloss-'));
const lab = `mltnl${randomBytes(2).toString('hex')}`;
const prefix = `ml-${lab}-`;
const LOST = 'node-3';
const REPLICAS = 6;
/** Short on purpose (lab up flags): the test waits for both. */
const GRACE_SECONDS = 20;
const TOLERATION_SECONDS = 5;
const env = { ...process.env, MESHLET_LAB_ROOT: root };
let plan: LabPlan;
let client: ApiClient;

interface Pod extends KubeObject {
  spec: { nodeName?: string };
  status?: { phase?: string; podIP?: string; conditions?: { type: string; status: string; reason?: string }[]; containerStatuses?: { restartCount: number }[] };
}

const cond = (p: Pod | undefined, type: string) => p?.status?.conditions?.find((c) => c.type === type)?.status;
const readyRunning = (p: Pod) => p.status?.phase === 'Running' && cond(p, 'Ready') === 'True' && !p.metadata.deletionTimestamp;
const webPods = async (): Promise<Pod[]> => (await client.list('pods', { namespace: 'default', labelSelector: 'app=web' })).items as Pod[];
const getPod = async (name: string): Promise<Pod | undefined> => (await client.get('pods', 'default', name)) as Pod | undefined;
const labState = (): LabState => JSON.parse(readFileSync(join(root, lab, 'state.json'), 'utf8')) as LabState;
const agentRecord = (node: string): ProcessRecord => labState().processes.find((p) => p.role === `agent ${node}`)!;


before(async () => {
  assert.equal(process.getuid?.(), 0, 'the lab test needs root');
  const up = await runMeshlet(['lab', 'up', '--nodes', '3', '--name', lab, '--node-monitor-grace-period', String(GRACE_SECONDS), '--toleration-seconds', String(TOLERATION_SECONDS)], { env });
  if (up.code !== 0) throw new Error(`lab up failed: ${up.stderr}${up.stdout}`);
  assert.match(up.stdout, new RegExp(`pods tolerate a lost node for ${TOLERATION_SECONDS} s.*; a node is lost after ${GRACE_SECONDS} s without a heartbeat`), 'lab up says how long pods tolerate a lost node');
  plan = planLab(lab, 3, join(root, lab));
  client = labAdminClient(plan);
});

after(async () => {
  client?.close();
  const down = await runMeshlet(['lab', 'down', '--name', lab], { env });
  if (down.code !== 0) process.stderr.write(`lab down: ${down.stderr}\n`);
  rmSync(root, { recursive: true, force: true });
});

test('a lost node\'s pods turn not ready, are evicted after the toleration and replaced elsewhere; on its return nothing runs twice', async (t) => {
  await client.create('services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } });
  await client.create('deployments.apps', {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default' },
    spec: {
      replicas: REPLICAS,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { terminationGracePeriodSeconds: 2, containers: [{ name: 'web', image: 'busybox', command: ['sleep', '3600'] }] } },
    },
  });
  // A pod that tolerates the unreachable taint forever, bound to the node that will be lost.
  await client.create('pods', {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'stayer', namespace: 'default' },
    spec: { nodeName: LOST, tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' }], containers: [{ name: 'c', image: 'busybox', command: ['sleep', '3600'] }] },
  });
  const spread = await waitFor('6 web replicas Ready, some on node-3', async () => {
    const pods = await webPods();
    return pods.filter(readyRunning).length === REPLICAS && pods.some((p) => p.spec.nodeName === LOST) ? pods : undefined;
  }, 90_000);
  const stayer = await waitFor('stayer Running', async () => { const p = await getPod('stayer'); return p && readyRunning(p) ? p : undefined; }, 60_000);
  // Admission gave the Deployment's pods the default tolerations (the lab's, as given); the stayer kept its own and got only not-ready.
  const tolerations = (p: KubeObject) => ((p.spec as { tolerations?: { key: string; tolerationSeconds?: number }[] }).tolerations ?? []).map((x) => `${x.key}=${x.tolerationSeconds ?? 'forever'}`).sort();
  assert.deepEqual(tolerations(spread[0]), [`node.kubernetes.io/not-ready=${TOLERATION_SECONDS}`, `node.kubernetes.io/unreachable=${TOLERATION_SECONDS}`]);
  assert.deepEqual(tolerations(stayer), [`node.kubernetes.io/not-ready=${TOLERATION_SECONDS}`, 'node.kubernetes.io/unreachable=forever']);
  const victims = spread.filter((p) => p.spec.nodeName === LOST);
  t.diagnostic(`replicas per node: ${['node-1', 'node-2', 'node-3'].map((n) => `${n}=${spread.filter((p) => p.spec.nodeName === n).length}`).join(' ')}`);

  // node-3 is lost: its agent and its pods' processes die at once (the recorded ones only).
  const agent = agentRecord(LOST);
  const podProcs = podProcesses(plan).filter((p) => p.role.endsWith(`(${LOST})`) && isAlive(p));
  assert.ok(podProcs.length >= victims.length + 1, `pod processes recorded on ${LOST}: ${podProcs.length}`);
  const killedAt = Date.now();
  process.kill(agent.pid!, 'SIGKILL');
  for (const p of podProcs) process.kill(p.pid!, 'SIGKILL');
  await waitFor('agent and pod processes gone', async () => !isAlive(agent) && podProcs.every((p) => !isAlive(p)), 10_000);

  // After the grace: the Node Unknown and its pods not ready, so the Service's slice marks them not ready.
  await waitFor('node-3 Ready=Unknown with its pods Ready=False', async () => {
    const node = await client.get('nodes', '', LOST);
    const ready = (node?.status as { conditions?: { type: string; status: string }[] }).conditions?.find((c) => c.type === 'Ready')?.status;
    if (ready !== 'Unknown') return undefined;
    const pods = await Promise.all([...victims, stayer].map((v) => getPod(v.metadata.name!)));
    return pods.every((p) => !p || (cond(p, 'Ready') === 'False' && cond(p, 'ContainersReady') === 'False')) ? true : undefined;
  }, 75_000);
  const notReadyAt = Date.now();
  const lostEndpoints = await waitFor('the slice marks node-3\'s endpoints not ready', async () => {
    const slices = (await client.list('endpointslices.discovery.k8s.io', { namespace: 'default', labelSelector: 'kubernetes.io/service-name=web' })).items;
    const eps = slices.flatMap((s) => (s as { endpoints?: { nodeName?: string; conditions?: { ready?: boolean } }[] }).endpoints ?? []).filter((e) => e.nodeName === LOST);
    return eps.length === victims.length && eps.every((e) => e.conditions?.ready === false) ? eps : undefined;
  }, 10_000);
  assert.equal(lostEndpoints.length, victims.length);
  // After the toleration: evicted (Terminating on the silent node), replaced on node-1 and node-2.
  const healed = await waitFor('6 replicas Ready on the other nodes', async () => {
    const pods = await webPods();
    const ready = pods.filter(readyRunning);
    return ready.length === REPLICAS && ready.every((p) => p.spec.nodeName !== LOST) ? pods : undefined;
  }, 90_000);
  const healedAt = Date.now();
  t.diagnostic(`kill → all ${REPLICAS} replicas Ready: ${((healedAt - killedAt) / 1000).toFixed(1)} s (kill → pods not ready seen: ${((notReadyAt - killedAt) / 1000).toFixed(1)} s; grace ${GRACE_SECONDS} s + toleration ${TOLERATION_SECONDS} s)`);
  for (const v of victims) {
    const p = healed.find((x) => x.metadata.name === v.metadata.name);
    if (!p) continue; // already gone
    assert.ok(p.metadata.deletionTimestamp, `${v.metadata.name} is being deleted`);
    assert.equal(cond(p, 'DisruptionTarget'), 'True');
  }
  const events = (await client.list('events', { namespace: 'default', fieldSelector: 'reason=TaintManagerEviction' })).items;
  for (const v of victims) assert.ok(events.some((e) => (e.involvedObject as { name?: string }).name === v.metadata.name), `eviction event for ${v.metadata.name}`);
  const kept = await getPod('stayer');
  assert.equal(kept?.metadata.uid, stayer.metadata.uid, 'the tolerating pod stays');
  assert.equal(kept?.metadata.deletionTimestamp, undefined);

  // node-3 comes back.
  restartAgent(lab, root, LOST);
  await waitFor('agent healthy', async () => {
    const h = await getOverSocket(join(root, lab, LOST, 'health.sock'), '/healthz');
    return 'code' in h && h.code === 200;
  }, 30_000);
  // Its kubelet finishes the evicted pods: gone from the API, their namespaces gone, their IPs free.
  await waitFor('evicted pods gone', async () => {
    const names = new Set((await webPods()).map((p) => p.metadata.name));
    return victims.every((v) => !names.has(v.metadata.name));
  }, 60_000);
  for (const v of victims) assert.equal(existsSync(`/run/netns/${podNetnsName(prefix, v.metadata.uid!)}`), false, `no namespace left for ${v.metadata.name}`);
  const ipTable = JSON.parse(readFileSync(join(plan.nodes[2].dataDir, 'pod-ips.json'), 'utf8')) as { pods: Record<string, number> };
  for (const v of victims) assert.ok(!Object.keys(ipTable.pods).some((k) => k.endsWith(`/${v.metadata.uid}`)), `no IP held for ${v.metadata.name}`);
  // It adopts the pod it still has: same uid and IP, running again (its process was killed: one restart).
  const back = await waitFor('stayer Ready again', async () => { const p = await getPod('stayer'); return p && readyRunning(p) ? p : undefined; }, 60_000);
  assert.equal(back.metadata.uid, stayer.metadata.uid);
  assert.equal(back.status?.podIP, stayer.status?.podIP, 'same IP');
  assert.ok(Object.keys(ipTable.pods).some((k) => k.endsWith(`/${stayer.metadata.uid}`)), 'the stayer keeps its IP');

  // Nothing runs twice: exactly 6 replicas, none on node-3, and node-3 runs only the stayer's processes.
  const final = await webPods();
  assert.equal(final.length, REPLICAS, final.map((p) => `${p.metadata.name}@${p.spec.nodeName}`).join(' '));
  assert.ok(final.every((p) => readyRunning(p) && p.spec.nodeName !== LOST));
  const running3 = podProcesses(plan).filter((p) => p.role.endsWith(`(${LOST})`) && isAlive(p));
  assert.ok(running3.length > 0 && running3.every((p) => p.role.startsWith(`pod ${stayer.metadata.uid!.slice(0, 8)} `)), running3.map((p) => p.role).join(', '));
  const ours = (await listNetns()).filter((n) => n.startsWith(`${prefix}p-`));
  const live = [...final, back].map((p) => podNetnsName(prefix, p.metadata.uid!)).sort();
  assert.deepEqual(ours.sort(), live, 'one pod namespace per live pod');
  // Real kubectl agrees: 6 Running web pods, the node Ready again.
  const kubeconfig = join(root, lab, 'kubeconfig');
  const get = await runProcess(KUBECTL, ['--kubeconfig', kubeconfig, '--cache-dir', join(root, '.kube-cache'), 'get', 'pods', '-l', 'app=web', '--no-headers']);
  assert.equal(get.stdout.trim().split('\n').filter((l) => /\s1\/1\s+Running\s/.test(l)).length, REPLICAS, get.stdout);
  await waitFor('node-3 Ready and untainted', async () => {
    const node = await client.get('nodes', '', LOST);
    const ready = (node?.status as { conditions?: { type: string; status: string }[] }).conditions?.find((c) => c.type === 'Ready')?.status;
    return ready === 'True' && !((node?.spec as { taints?: unknown[] }).taints ?? []).length;
  }, 30_000);
});
