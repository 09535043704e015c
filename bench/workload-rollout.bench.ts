// A rolling update of an N-replica Deployment (issue 11 §6): total time, and
// the most replicas unavailable at once as a watch sees them, against
// maxUnavailable. A private control plane with the scheduler (see
// workload-harness.ts) and --nodes simulated Nodes; the bench plays the
// kubelets (bound pods turn Ready at once; graceful deletions are confirmed at
// once). Each run, in a fresh namespace:
//   - baseline: the Deployment created (0 → N available), timed until its
//     status says N updated and available — the same N pod creations,
//     bindings and starts without any deletion or availability limit;
//   - rollout: a template change (an annotation), timed until the status says
//     N updated, N available and N replicas at the new generation (what
//     `kubectl rollout status` waits for); meanwhile a pod watch counts the
//     available pods (Ready, not being deleted): unavailable = N − available,
//     surge = pods not being deleted − N.
// Two strategies per run: --max-unavailable and --max-surge (default 25 and 25,
// upstream's 25%/25% of 100), and the same maxUnavailable without surge
// (maxSurge 0: old pods must go before new ones come).
//   node --import tsx bench/workload-rollout.bench.ts [--replicas 100] [--nodes 10] [--runs 3] [--max-unavailable 25] [--max-surge 25]
import { machineInfo, median, parseFlags, printResult } from './stats.ts';
import { KubeletPlayer, createNodes, secondsSince, startControlPlane } from './workload-harness.ts';
import type { ApiClient } from '../src/client/types.ts';
import type { KubeObject } from '../src/core/types.ts';
import { isPodReady } from '../src/controllers/objects.ts';

const flags = parseFlags(process.argv.slice(2), { replicas: 100, nodes: 10, runs: 3, 'max-unavailable': 25, 'max-surge': 25 });
const N = flags.replicas;

interface Rollout {
  seconds: number;
  maxUnavailable: number;
  maxSurge: number;
}

/** Waits until the Deployment's status shows the whole of generation `gen` rolled out; seconds from `start`. */
async function rolledOut(client: ApiClient, ns: string, gen: number, start: bigint): Promise<number> {
  for (;;) {
    const d = await client.get('deployments.apps', ns, 'web');
    const st = d?.status as { observedGeneration?: number; replicas?: number; updatedReplicas?: number; availableReplicas?: number } | undefined;
    if ((st?.observedGeneration ?? 0) >= gen && st?.updatedReplicas === N && st.availableReplicas === N && st.replicas === N) return secondsSince(start);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function run(client: ApiClient, r: number, maxSurge: number): Promise<{ baseline: number; rollout: Rollout }> {
  const ns = `mlt-w4wl-roll-${r}-s${maxSurge}`;
  await client.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const t0 = process.hrtime.bigint();
  const created = await client.create('deployments.apps', {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: ns },
    spec: {
      replicas: N,
      selector: { matchLabels: { app: 'web' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: flags['max-unavailable'], maxSurge } },
      template: { metadata: { labels: { app: 'web' } }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'web', image: 'busybox', command: ['sleep', '3600'] }] } },
    },
  });
  const baseline = await rolledOut(client, ns, created.metadata.generation ?? 1, t0);

  // The watch's view of the pods: uid → its state (a pod being deleted is neither available nor surge).
  type State = 'available' | 'unavailable' | 'terminating';
  const stateOf = (p: KubeObject): State => (p.metadata.deletionTimestamp ? 'terminating' : isPodReady(p) ? 'available' : 'unavailable');
  const pods = new Map<string, State>();
  let maxUnavailable = 0;
  let surge = 0;
  const { items, resourceVersion } = await client.list('pods', { namespace: ns });
  for (const p of items) pods.set(p.metadata.uid ?? '', stateOf(p));
  const watch = await client.watch('pods', { namespace: ns, resourceVersion }, (ev) => {
    const uid = ev.object.metadata.uid ?? '';
    if (ev.type === 'DELETED') pods.delete(uid);
    else if (ev.type === 'ADDED' || ev.type === 'MODIFIED') pods.set(uid, stateOf(ev.object));
    else return;
    const states = [...pods.values()];
    maxUnavailable = Math.max(maxUnavailable, N - states.filter((x) => x === 'available').length);
    surge = Math.max(surge, states.filter((x) => x !== 'terminating').length - N);
  });
  const t1 = process.hrtime.bigint();
  const patched = await client.patch('deployments.apps', ns, 'web', { spec: { template: { metadata: { annotations: { 'mlt-w4wl/rev': String(r) } } } } }, 'merge');
  const seconds = await rolledOut(client, ns, patched.metadata.generation ?? 2, t1);
  watch.close();
  return { baseline, rollout: { seconds, maxUnavailable, maxSurge: surge } };
}

const plane = await startControlPlane({ scheduler: true });
const kubelets = new KubeletPlayer(plane.client);
try {
  await kubelets.start();
  await createNodes(plane.client, Array.from({ length: flags.nodes }, (_, i) => `mlt-w4wl-node-${i}`));
  const variants = [flags['max-surge'], 0];
  const results = new Map<number, { baseline: number; rollout: Rollout }[]>(variants.map((v) => [v, []]));
  for (let r = 0; r < flags.runs; r++) {
    for (const maxSurge of variants) {
      const res = await run(plane.client, r, maxSurge);
      results.get(maxSurge)!.push(res);
      process.stderr.write(
        `  run ${r + 1}, maxSurge ${maxSurge}: create 0→${N} available ${res.baseline.toFixed(2)} s; rollout ${res.rollout.seconds.toFixed(2)} s, ` +
          `max unavailable ${res.rollout.maxUnavailable} (limit ${flags['max-unavailable']}), max surge ${res.rollout.maxSurge} (limit ${maxSurge})\n`,
      );
    }
  }
  const summary = (v: number) => {
    const xs = results.get(v)!;
    return {
      max_surge_limit: v,
      rollout_s: median(xs.map((x) => x.rollout.seconds)),
      baseline_create_s: median(xs.map((x) => x.baseline)),
      max_unavailable_observed: Math.max(...xs.map((x) => x.rollout.maxUnavailable)),
      max_surge_observed: Math.max(...xs.map((x) => x.rollout.maxSurge)),
      runs_detail: xs,
    };
  };
  printResult({
    bench: 'workload-rollout',
    what: `RollingUpdate of a ${N}-replica Deployment (template change) on ${flags.nodes} simulated nodes, the bench playing the kubelets; baseline: the same Deployment's creation (0 → ${N} available), same run`,
    replicas: N,
    nodes: flags.nodes,
    runs: flags.runs,
    max_unavailable_limit: flags['max-unavailable'],
    surge: summary(flags['max-surge']),
    no_surge: summary(0),
    kubelet_errors: kubelets.errors,
    machine: machineInfo(),
  });
} finally {
  await kubelets.stop();
  await plane.stop();
}
