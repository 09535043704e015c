// Node loss to all replacement pods Ready (root), in a 3-node lab at the lab's
// toleration (30 s): a Deployment of --pods replicas, all on node-3 (node-1
// and node-2 cordoned while it starts, then uncordoned); node-3's agent and
// its pods' processes are killed with SIGKILL; timed until --pods replicas
// are Running and Ready on node-1 and node-2. The time is split into the
// parts the configuration dictates (the heartbeat grace, 40 s after the last
// Lease renewal, and the toleration, 30 s after the taint) and meshlet's own
// (noticing the lapse and tainting; evicting, re-creating, scheduling and
// starting the replacements).
//   node --import tsx bench/node-loss.bench.ts [--pods 100]
// Cleans up its lab.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { machineInfo, parseFlags, printResult } from './stats.ts';
import { startBenchLab } from './lab-harness.ts';
import { podProcesses } from '../src/lab/agents.ts';
import { isAlive } from '../src/lab/system.ts';
import { readLabState } from '../src/lab/state-file.ts';
import { LAB_TOLERATION_SECONDS } from '../src/lab/plan.ts';
import { NODE_GRACE_MS } from '../src/controllers/node-lifecycle.ts';
import { UNREACHABLE_TAINT } from '../src/core/well-known.ts';
import type { ApiClient } from '../src/client/types.ts';
import type { KubeObject } from '../src/core/types.ts';

const flags = parseFlags(process.argv.slice(2), { pods: 100 });
const N = flags.pods;
const LOST = 'node-3';

const ready = (p: KubeObject) =>
  (p.status as { phase?: string } | undefined)?.phase === 'Running' &&
  ((p.status as { conditions?: { type: string; status: string }[] }).conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True') &&
  !p.metadata.deletionTimestamp;
const nodeOf = (p: KubeObject) => (p.spec as { nodeName?: string }).nodeName;
const webPods = async (client: ApiClient) => (await client.list('pods', { namespace: 'default', labelSelector: 'app=nlb' })).items;
const log = (s: string) => process.stderr.write(`  ${s}\n`);

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms: number, everyMs = 200): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

const cordon = (client: ApiClient, node: string, on: boolean) => client.patch('nodes', '', node, { spec: { unschedulable: on } }, 'merge');

const lab = await startBenchLab('nloss', 3);
try {
  const { client, plan } = lab;
  await cordon(client, 'node-1', true);
  await cordon(client, 'node-2', true);
  await client.create('deployments.apps', {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'nlb', namespace: 'default' },
    spec: {
      replicas: N,
      selector: { matchLabels: { app: 'nlb' } },
      template: { metadata: { labels: { app: 'nlb' } }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: 'host', command: ['sleep', '36000'] }] } },
    },
  });
  const startedAt = Date.now();
  await until(`${N} pods Ready on ${LOST}`, async () => {
    const pods = await webPods(client);
    return pods.filter((p) => ready(p) && nodeOf(p) === LOST).length === N ? true : undefined;
  }, 15 * 60_000, 1000);
  log(`${N} pods Ready on ${LOST} in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  await cordon(client, 'node-1', false);
  await cordon(client, 'node-2', false);

  // Lose node-3: its agent and every pod process its kubelet recorded.
  const state = readLabState(join(plan.stateDir, 'state.json'));
  const agent = state?.processes.find((p) => p.role === `agent ${LOST}`);
  if (!agent?.pid) throw new Error(`no agent record for ${LOST}`);
  const procs = podProcesses(plan).filter((p) => p.role.endsWith(`(${LOST})`) && isAlive(p));
  const lease = await client.get('leases.coordination.k8s.io', 'kube-node-lease', LOST);
  const killedAt = Date.now();
  process.kill(agent.pid, 'SIGKILL');
  for (const p of procs) process.kill(p.pid!, 'SIGKILL');
  // The Lease could still be renewed between the read and the kill: read it again once the agent is gone.
  await until('agent gone', async () => (isAlive(agent) ? undefined : true), 10_000, 20);
  const leaseAfter = (await client.get('leases.coordination.k8s.io', 'kube-node-lease', LOST)) ?? lease;
  const lastRenewMs = Date.parse((leaseAfter?.spec as { renewTime: string }).renewTime);
  log(`killed ${LOST}'s agent and ${procs.length} pod processes; last Lease renewal ${((killedAt - lastRenewMs) / 1000).toFixed(1)} s before the kill`);

  const timeAdded = await until('the unreachable taint', async () => {
    const node = await client.get('nodes', '', LOST);
    const t = ((node?.spec as { taints?: { key: string; timeAdded?: string }[] }).taints ?? []).find((x) => x.key === UNREACHABLE_TAINT);
    return t?.timeAdded ? Date.parse(t.timeAdded) : undefined;
  }, 5 * 60_000, 250);
  const taintSeenAt = Date.now();
  log(`tainted (timeAdded ${((timeAdded - killedAt) / 1000).toFixed(1)} s after the kill)`);
  let firstDeletionSeenAt: number | undefined;
  const allReadyAt = await until(`${N} replacements Ready`, async () => {
    const pods = await webPods(client);
    if (firstDeletionSeenAt === undefined && pods.some((p) => p.metadata.deletionTimestamp)) firstDeletionSeenAt = Date.now();
    const ok = pods.filter((p) => ready(p) && nodeOf(p) !== LOST).length;
    return ok === N ? Date.now() : undefined;
  }, 15 * 60_000, 250);

  const graceEnd = lastRenewMs + NODE_GRACE_MS;
  const evictionDue = timeAdded + LAB_TOLERATION_SECONDS * 1000;
  const s = (ms: number) => ms / 1000;
  const parts = {
    grace_s: s(graceEnd - killedAt),
    detect_and_taint_s: s(timeAdded - graceEnd),
    toleration_s: LAB_TOLERATION_SECONDS,
    evict_and_replace_s: s(allReadyAt - evictionDue),
  };
  printResult({
    bench: 'node-loss',
    what: `3-node lab, ${N} pods (sleep) of one Deployment on node-3; SIGKILL of its agent and pod processes → ${N} replicas Running and Ready on node-1/node-2`,
    pods: N,
    toleration_s: LAB_TOLERATION_SECONDS,
    grace_s: NODE_GRACE_MS / 1000,
    total_s: s(allReadyAt - killedAt),
    configured_wait_s: parts.grace_s + parts.toleration_s,
    meshlet_s: parts.detect_and_taint_s + parts.evict_and_replace_s,
    parts,
    first_deletion_after_due_s: firstDeletionSeenAt === undefined ? null : s(firstDeletionSeenAt - evictionDue),
    taint_seen_after_added_s: s(taintSeenAt - timeAdded),
    note: 'timeAdded has 1 s resolution (metav1.Time); polled every 250 ms',
    machine: machineInfo(),
  });
} finally {
  await lab.down();
}
