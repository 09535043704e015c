// A DaemonSet covering N simulated nodes that join at once (issue 11 §6).
// A private control plane (redis, API server, controller manager; see
// workload-harness.ts), the bench playing the kubelets. Each run:
//   - daemonset: a DaemonSet (nodeSelector on this run's label) exists; then N
//     Node objects with that label are created at once (Ready status each);
//     timed from the first Node create until a watch has seen N daemon pods
//     created (bound: the controller writes spec.nodeName), until all N are
//     Ready, and until the DaemonSet's status says N available (what
//     `kubectl rollout status` waits for);
//   - baseline, same run: N Node objects created at once, then N pods bound to
//     them created at once by the bench itself; the same two times.
// Interleaved runs, medians.
//   node --import tsx bench/workload-daemonset.bench.ts [--nodes 100] [--runs 3]
import { machineInfo, median, parseFlags, printResult, forEachConcurrently } from './stats.ts';
import { KubeletPlayer, createNodes, secondsSince, startControlPlane } from './workload-harness.ts';
import type { ApiClient } from '../src/client/types.ts';
import type { KubeObject } from '../src/core/types.ts';
import { isPodReady } from '../src/controllers/objects.ts';

const flags = parseFlags(process.argv.slice(2), { nodes: 100, runs: 3 });
const N = flags.nodes;
const LABEL = 'mlt-w4wl-run';

interface Times {
  created: number;
  ready: number;
  status?: number;
}

/** Watches a namespace's pods from now; resolves the times N were created (bound) and N were Ready, from `start`. */
async function podTimes(client: ApiClient, namespace: string, count: number): Promise<{ begin: () => void; done: Promise<Times>; close: () => void }> {
  const { resourceVersion } = await client.list('pods', { namespace, limit: 1 });
  let start = process.hrtime.bigint();
  const created = new Set<string>();
  const ready = new Set<string>();
  const times: Partial<Times> = {};
  let resolve!: (t: Times) => void;
  const done = new Promise<Times>((r) => (resolve = r));
  const watch = await client.watch('pods', { namespace, resourceVersion }, (ev) => {
    if (ev.type !== 'ADDED' && ev.type !== 'MODIFIED') return;
    const uid = ev.object.metadata.uid ?? '';
    if ((ev.object.spec as { nodeName?: string }).nodeName) created.add(uid);
    if (isPodReady(ev.object)) ready.add(uid);
    if (times.created === undefined && created.size >= count) times.created = secondsSince(start);
    if (times.ready === undefined && ready.size >= count) {
      times.ready = secondsSince(start);
      resolve(times as Times);
    }
  });
  return { begin: () => (start = process.hrtime.bigint()), done, close: () => watch.close() };
}

async function waitStatus(client: ApiClient, namespace: string, name: string, start: bigint): Promise<number> {
  for (;;) {
    const ds = await client.get('daemonsets.apps', namespace, name);
    const st = ds?.status as { numberAvailable?: number; updatedNumberScheduled?: number; desiredNumberScheduled?: number } | undefined;
    if (st?.desiredNumberScheduled === N && st.numberAvailable === N && st.updatedNumberScheduled === N) return secondsSince(start);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const nsObject = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
const nodeNames = (prefix: string): string[] => Array.from({ length: N }, (_, i) => `${prefix}-${i}`);
const podSpec = { terminationGracePeriodSeconds: 1, containers: [{ name: 'agent', image: 'busybox', command: ['sleep', '3600'] }] };

async function daemonSetRun(client: ApiClient, r: number): Promise<Times> {
  const ns = `mlt-w4wl-ds-${r}`;
  await client.create('namespaces', nsObject(ns));
  await client.create('daemonsets.apps', {
    apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent', namespace: ns },
    spec: { selector: { matchLabels: { app: 'agent' } }, template: { metadata: { labels: { app: 'agent' } }, spec: { ...podSpec, nodeSelector: { [LABEL]: `ds-${r}` } } } },
  });
  const watch = await podTimes(client, ns, N);
  const start = process.hrtime.bigint();
  watch.begin();
  await createNodes(client, nodeNames(`ds${r}`), { [LABEL]: `ds-${r}` });
  const [times, status] = await Promise.all([watch.done, waitStatus(client, ns, 'agent', start)]);
  watch.close();
  return { ...times, status };
}

async function baselineRun(client: ApiClient, r: number): Promise<Times> {
  const ns = `mlt-w4wl-base-${r}`;
  await client.create('namespaces', nsObject(ns));
  const names = nodeNames(`base${r}`);
  const watch = await podTimes(client, ns, N);
  watch.begin();
  await createNodes(client, names, { [LABEL]: `base-${r}` });
  await forEachConcurrently(N, N, async (i) => {
    await client.create('pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: `agent-${i}`, namespace: ns, labels: { app: 'agent' } }, spec: { ...podSpec, nodeName: names[i] } });
  });
  const times = await watch.done;
  watch.close();
  return times;
}

const plane = await startControlPlane();
const kubelets = new KubeletPlayer(plane.client);
try {
  await kubelets.start();
  const ds: Times[] = [];
  const base: Times[] = [];
  for (let r = 0; r < flags.runs; r++) {
    ds.push(await daemonSetRun(plane.client, r));
    base.push(await baselineRun(plane.client, r));
    process.stderr.write(
      `  run ${r + 1}: daemonset created ${ds[r].created.toFixed(2)} s, ready ${ds[r].ready.toFixed(2)} s, status ${ds[r].status?.toFixed(2)} s; ` +
        `baseline created ${base[r].created.toFixed(2)} s, ready ${base[r].ready.toFixed(2)} s\n`,
    );
  }
  printResult({
    bench: 'workload-daemonset',
    what: `DaemonSet covering ${N} Node objects created at once (bench plays the kubelets) vs the bench creating ${N} Nodes then ${N} bound pods itself; seconds from the first Node create`,
    nodes: N,
    runs: flags.runs,
    daemonset_created_s: median(ds.map((t) => t.created)),
    daemonset_ready_s: median(ds.map((t) => t.ready)),
    daemonset_status_available_s: median(ds.map((t) => t.status ?? NaN)),
    baseline_created_s: median(base.map((t) => t.created)),
    baseline_ready_s: median(base.map((t) => t.ready)),
    runs_daemonset: ds,
    runs_baseline: base,
    kubelet_errors: kubelets.errors,
    machine: machineInfo(),
  });
} finally {
  await kubelets.stop();
  await plane.stop();
}
