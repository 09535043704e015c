// Scheduler throughput through the pure core: 1,000 nodes, 10,000 pods, each
// decision followed by assuming the pod in the snapshot (as the running
// scheduler does). Five runs, median reported, of:
//   - scheduler: the default configuration (kube-scheduler's adaptive
//     percentageOfNodesToScore: 42% of 1,000 nodes, 10% of 5,000);
//   - score-all: every node filtered and every feasible node scored;
//   - baseline, measured in the same process: the same filters over every
//     node, first feasible node taken, no scoring.
// Anchor: kube-scheduler scheduler_perf SchedulingBasic, 5,000 nodes /
// 10,000 pods, floor 680 pods/s.
//
//
// With --e2e it also measures the running scheduler end to end, as
// scheduler_perf does: a private API server (redis + server), --e2e-nodes
// Ready nodes and --e2e-pods pending pods created first, then the scheduler
// started; pods/s from its start until a watch has seen every pod bound
// (informer sync, decisions, a Binding and a Scheduled event per pod).
//
//   node --import tsx bench/scheduler.bench.ts [--nodes 1000] [--pods 10000] [--runs 5] [--e2e [--e2e-nodes 100] [--e2e-pods 2000]]

import os from 'node:os';
import { parseArgs } from 'node:util';
import { makeNode, makePod } from '../src/scheduler/fixtures.ts';
import { podInfoOf, type PodInfo } from '../src/scheduler/pod-info.ts';
import { Snapshot } from '../src/scheduler/snapshot.ts';
import { runFilters, scheduleAndAssume } from '../src/scheduler/schedule.ts';
import type { Node, Pod } from '../src/scheduler/api-types.ts';
import { median } from './stats.ts';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    pods: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '5' },
    e2e: { type: 'boolean', default: false },
    'e2e-nodes': { type: 'string', default: '100' },
    'e2e-pods': { type: 'string', default: '2000' },
  },
});
const NODES = Number(values.nodes);
const PODS = Number(values.pods);
const RUNS = Number(values.runs);
const ANCHOR = 680;

// scheduler_perf's node-default.yaml: 4 cpu, 32Gi, 110 pods. A zone label on
// each, a few nodes tainted, a few cordoned, so the filters have work to do.
function nodes(): Node[] {
  const out: Node[] = [];
  for (let i = 0; i < NODES; i++) {
    out.push(
      makeNode(`node-${i}`, {
        cpu: '4',
        memory: '32Gi',
        pods: 110,
        labels: { 'topology.kubernetes.io/zone': `zone-${i % 3}` },
        taints: i % 50 === 7 ? [{ key: 'dedicated', value: 'infra', effect: 'NoSchedule' }] : undefined,
        unschedulable: i % 100 === 13,
      }),
    );
  }
  return out;
}

// Pods of 100 ReplicaSets; every fifth pod carries a nodeSelector on zone.
function pods(): Pod[] {
  const out: Pod[] = [];
  for (let i = 0; i < PODS; i++) {
    out.push(
      makePod(`pod-${i}`, {
        cpu: '100m',
        memory: '500Mi',
        owner: `rs-${i % 100}`,
        nodeSelector: i % 5 === 0 ? { 'topology.kubernetes.io/zone': `zone-${i % 3}` } : undefined,
      }),
    );
  }
  return out;
}

function firstFit(pod: PodInfo, snapshot: Snapshot): string | undefined {
  // Filters over every node (as the full scheduler does), first feasible wins.
  let chosen: string | undefined;
  for (const node of snapshot.nodes) if (runFilters(pod, node).ok && chosen === undefined) chosen = node.name;
  if (chosen !== undefined) snapshot.assume(pod, chosen);
  return chosen;
}

interface Run {
  podsPerSec: number;
  scheduled: number;
  /** Max minus min pods per schedulable node afterwards. */
  spreadRange: number;
}

type Kind = 'scheduler' | 'score-all' | 'filters-only';

function run(kind: Kind, nodeObjs: Node[], podObjs: Pod[]): Run {
  const snapshot = Snapshot.of(nodeObjs);
  let scheduled = 0;
  const start = process.hrtime.bigint();
  for (const p of podObjs) {
    const info = podInfoOf(p);
    const node =
      kind === 'scheduler'
        ? scheduleAndAssume(info, snapshot).node
        : kind === 'score-all'
          ? scheduleAndAssume(info, snapshot, { percentageOfNodesToScore: 100 }).node
          : firstFit(info, snapshot);
    if (node !== undefined) scheduled++;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const counts = snapshot.nodes.filter((n) => !n.unschedulable && n.taints.length === 0).map((n) => n.requested.pods);
  return { podsPerSec: podObjs.length / seconds, scheduled, spreadRange: Math.max(...counts) - Math.min(...counts) };
}


interface E2e {
  nodes: number;
  pods: number;
  podsPerSec: number;
}

/** The running scheduler against a real API server; see the header. */
async function endToEnd(nodeCount: number, podCount: number): Promise<E2e> {
  const { startTestApiServer } = await import('../test/helpers/api-server.ts');
  const { createClient } = await import('../src/client/http-client.ts');
  const { Scheduler } = await import('../src/scheduler/scheduler.ts');
  const { pino } = await import('pino');
  const api = await startTestApiServer();
  const client = createClient({ server: api.url, token: api.token });
  let scheduler: InstanceType<typeof Scheduler> | undefined;
  try {
    const inParallel = async (n: number, fn: (i: number) => Promise<unknown>) => {
      for (let i = 0; i < n; i += 50) await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, k) => fn(i + k)));
    };
    await inParallel(nodeCount, async (i) => {
      const node = makeNode(`node-${i}`, { cpu: '4', memory: '32Gi', pods: 110 });
      const status = node.status;
      delete node.status;
      const created = await client.create('nodes', node);
      await client.update('nodes', { ...created, status }, 'status');
    });
    await inParallel(podCount, async (i) => {
      const pod = makePod(`pod-${i}`, { cpu: '100m', memory: '500Mi', owner: `rs-${i % 10}` });
      delete pod.metadata.uid;
      delete pod.status;
      await client.create('pods', pod);
    });
    const { resourceVersion } = await client.list('pods', { limit: 1 });
    const bound = new Set<string>();
    let allBound!: () => void;
    const done = new Promise<void>((resolve) => (allBound = resolve));
    const watch = await client.watch('pods', { resourceVersion }, (ev) => {
      const spec = ev.object.spec as { nodeName?: string } | undefined;
      if (spec?.nodeName) bound.add(ev.object.metadata.name ?? '');
      if (bound.size === podCount) allBound();
    });
    const start = process.hrtime.bigint();
    scheduler = new Scheduler({ client, logger: pino({ level: 'silent' }), identity: 'bench' });
    await scheduler.start();
    await done;
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    watch.close();
    return { nodes: nodeCount, pods: podCount, podsPerSec: podCount / seconds };
  } finally {
    await scheduler?.stop();
    client.close();
    await api.stop();
  }
}

const cpus = os.cpus();
console.log(`machine: ${cpus[0]?.model ?? 'unknown'} × ${cpus.length} cores, ${os.totalmem() / 2 ** 30 | 0} GiB, node ${process.version}, ${os.platform()} ${os.release()}`);
console.log(`workload: ${NODES} nodes, ${PODS} pods, ${RUNS} runs (+1 warm-up each)`);

const nodeObjs = nodes();
const podObjs = pods();
for (const kind of ['scheduler', 'score-all', 'filters-only'] as const) run(kind, nodeObjs, podObjs.slice(0, 2000)); // warm-up (JIT)

const full: Run[] = [];
const all: Run[] = [];
const base: Run[] = [];
for (let i = 0; i < RUNS; i++) {
  // Interleaved, so all three see the same machine load.
  full.push(run('scheduler', nodeObjs, podObjs));
  all.push(run('score-all', nodeObjs, podObjs));
  base.push(run('filters-only', nodeObjs, podObjs));
  const line = (name: string, r: Run) => `${name} ${r.podsPerSec.toFixed(0)} pods/s (${r.scheduled} placed, spread range ${r.spreadRange})`;
  console.log(`run ${i + 1}: ${line('scheduler', full[i])}; ${line('score-all', all[i])}; ${line('filters-only first-fit', base[i])}`);
}

const fullMedian = median(full.map((r) => r.podsPerSec));
const allMedian = median(all.map((r) => r.podsPerSec));
const baseMedian = median(base.map((r) => r.podsPerSec));
console.log(
  `median: scheduler ${fullMedian.toFixed(0)} pods/s, score-all ${allMedian.toFixed(0)} pods/s, filters-only ${baseMedian.toFixed(0)} pods/s; ` +
    `scheduler/baseline ${(fullMedian / baseMedian).toFixed(2)}, score-all/baseline ${(allMedian / baseMedian).toFixed(2)}`,
);
console.log(`anchor: kube-scheduler SchedulingBasic floor ${ANCHOR} pods/s (5,000 nodes / 10,000 pods); ratio ${(fullMedian / ANCHOR).toFixed(2)}`);
let e2e: E2e | undefined;
if (values.e2e) {
  e2e = await endToEnd(Number(values['e2e-nodes']), Number(values['e2e-pods']));
  console.log(`end to end (API server + redis + scheduler on the same cores): ${e2e.nodes} nodes, ${e2e.pods} pods, ${e2e.podsPerSec.toFixed(0)} pods/s`);
}

console.log(
  JSON.stringify({
    bench: 'scheduler',
    nodes: NODES,
    pods: PODS,
    runs: RUNS,
    podsPerSec: Math.round(fullMedian),
    runsPodsPerSec: full.map((r) => Math.round(r.podsPerSec)),
    scheduled: full[0].scheduled,
    spreadRange: full[0].spreadRange,
    scoreAllPodsPerSec: Math.round(allMedian),
    scoreAllRunsPodsPerSec: all.map((r) => Math.round(r.podsPerSec)),
    scoreAllSpreadRange: all[0].spreadRange,
    baseline: 'filters-only first-fit',
    baselinePodsPerSec: Math.round(baseMedian),
    ratioToBaseline: Number((fullMedian / baseMedian).toFixed(3)),
    anchor: 'kube-scheduler SchedulingBasic 5000 nodes/10000 pods',
    anchorPodsPerSec: ANCHOR,
    ratioToAnchor: Number((fullMedian / ANCHOR).toFixed(3)),
    cpu: cpus[0]?.model,
    cores: cpus.length,
    node: process.version,
    ...(e2e ? { e2eNodes: e2e.nodes, e2ePods: e2e.pods, e2ePodsPerSec: Math.round(e2e.podsPerSec) } : {}),
  }),
);
