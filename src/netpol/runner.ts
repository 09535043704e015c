// `meshlet netpol run`: the imperative shell. Brings up (or reuses) a lab and
// the upstream topology in it, then per case: resets the topology (policies
// gone, labels as built, every pair connecting again), and per step applies
// the step through the API as kubectl would (policies created or replaced,
// deleted, labels merge-patched), then probes in rounds — every client pod's
// cells in parallel through its one prober — until every expected matrix
// holds or the step's timeout passes.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { labAdminClient } from '../lab/api.ts';
import { labDown } from '../lab/down.ts';
import { resolveExecNetns } from '../lab/exec.ts';
import { MESHLET_BIN } from '../lab/paths.ts';
import { labStateDir, planLab, type LabPlan } from '../lab/plan.ts';
import { Progress } from '../lab/progress.ts';
import { readLabState } from '../lab/state-file.ts';
import { labUp } from '../lab/up.ts';
import type { ApiClient } from '../client/types.ts';
import { KubeError } from '../core/errors.ts';
import type { KubeObject } from '../core/types.ts';
import { METADATA_NAME_LABEL } from '../core/well-known.ts';
import { substitutePodIps, topology, TOPOLOGY_NAMESPACES, TOPOLOGY_ORDER, type Expectation, type PolicyCase, type Step } from '../policy/cases.ts';
import { PodProber } from './prober.ts';
import {
  caseStatus, checkKey, formatStep, judgeLookups, judgeProbe, roundRequests, stepStatus,
  type Addresses, type CaseReport, type LookupCheck, type ProbeCheck, type RunReport, type StepReport,
} from './report.ts';
import {
  endpointSliceObject, ENDPOINTSLICE_GR, namespaceLabels, namespaceObject, NETPOL_GR, podLabels, podObject, policyObject,
  serviceObject, topologyPods, type TopologyPod,
} from './topology.ts';
import type { BatchRequest, ProbeOutcome, ProbeResult } from './wire.ts';

export interface CaseSource {
  file: string;
  cases: PolicyCase[];
}

export interface RunOptions {
  sources: CaseSource[];
  /** An existing lab's name, or undefined for a lab of the runner's own. */
  labName?: string;
  root: string;
  nodes: number;
  keep: boolean;
  stepTimeoutMs: number;
  probeTimeoutMs: number;
  progress: Progress;
  /** Called with each step's text as it finishes. */
  onStep?: (text: string) => void;
}

/** Pause between rounds that found a difference, so the agents can program what was applied. */
const ROUND_PAUSE_MS = 300;
/** A step that matched in its first round is probed again this long after, so a change not yet in effect cannot pass it. */
const SETTLE_MS = 1000;

const changes = (step: Step): boolean =>
  step.policies.length > 0 || step.deletePolicies.length > 0 || Object.keys(step.podLabels).length > 0 || Object.keys(step.namespaceLabels).length > 0;

async function createOrReplace(client: ApiClient, gr: string, obj: KubeObject): Promise<void> {
  try {
    await client.create(gr, obj);
  } catch (err) {
    if (!(err instanceof KubeError) || err.reason !== 'AlreadyExists') throw err;
    const cur = await client.get(gr, obj.metadata.namespace ?? '', obj.metadata.name ?? '');
    await client.update(gr, { ...obj, metadata: { ...obj.metadata, resourceVersion: cur?.metadata.resourceVersion } });
  }
}

/** A merge patch that makes `current` exactly `want` (kubernetes.io/metadata.name kept). */
function labelsPatch(current: Record<string, string> | undefined, want: Record<string, string>): Record<string, string | null> {
  const patch: Record<string, string | null> = { ...want };
  for (const k of Object.keys(current ?? {})) if (!(k in want) && k !== METADATA_NAME_LABEL) patch[k] = null;
  return patch;
}

async function patchLabels(client: ApiClient, gr: string, ns: string, name: string, labels: Record<string, string | null>): Promise<void> {
  await client.patch(gr, ns, name, { metadata: { labels } }, 'merge');
}

interface Topology {
  pods: TopologyPod[];
  addr: Addresses;
  probers: Map<string, PodProber>;
}

async function waitPodsRunning(client: ApiClient, timeoutMs: number): Promise<Map<string, KubeObject>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const got = new Map<string, KubeObject>();
    for (const ns of TOPOLOGY_NAMESPACES) {
      for (const p of (await client.list('pods', { namespace: ns })).items) {
        const st = (p.status ?? {}) as { phase?: string; podIP?: string };
        if (st.phase === 'Running' && st.podIP) got.set(`${ns}/${p.metadata.name}`, p);
      }
    }
    if (TOPOLOGY_ORDER.every((id) => got.has(id))) return got;
    if (Date.now() > end) throw new Error(`topology pods not Running within ${timeoutMs / 1000} s: ${TOPOLOGY_ORDER.filter((id) => !got.has(id)).join(', ')}`);
    await sleep(200);
  }
}

async function buildTopology(client: ApiClient, plan: LabPlan, root: string, withServices: boolean, progress: Progress): Promise<Topology> {
  const pods = topologyPods(plan.nodes.length);
  for (const ns of TOPOLOGY_NAMESPACES) {
    const cur = await client.get('namespaces', '', ns);
    if (!cur) await client.create('namespaces', namespaceObject(ns));
    else await patchLabels(client, 'namespaces', '', ns, labelsPatch(cur.metadata.labels, namespaceLabels(ns)));
  }
  let created = 0;
  for (const p of pods) {
    if (await client.get('pods', p.namespace, p.name)) continue;
    await client.create('pods', podObject(p, [process.execPath, MESHLET_BIN, 'netpol', 'serve']));
    created++;
  }
  progress.step(`topology: namespaces x, y, z; ${created} pod(s) created, ${pods.length - created} reused, on ${plan.nodes.length} node(s)`);
  const running = await waitPodsRunning(client, 120_000);
  const addr: Addresses = { pods: {}, services: {} };
  for (const [id, p] of running) addr.pods[id] = (p.status as { podIP: string }).podIP;
  if (withServices) {
    for (const p of pods) {
      await createOrReplace(client, 'services', serviceObject(p));
      await createOrReplace(client, ENDPOINTSLICE_GR, endpointSliceObject(p, addr.pods[p.id]));
      const svc = await client.get('services', p.namespace, serviceObject(p).metadata.name ?? '');
      const ip = (svc?.spec as { clusterIP?: string } | undefined)?.clusterIP;
      if (!ip) throw new Error(`service for ${p.id} has no ClusterIP`);
      addr.services[p.id] = ip;
    }
    progress.step('topology: a ClusterIP Service per pod (s-a, s-b, s-c in each namespace)');
  }
  const probers = new Map<string, PodProber>();
  for (const p of pods) {
    const netns = await resolveExecNetns(plan.name, root, { kind: 'pod', namespace: p.namespace, pod: p.name });
    probers.set(p.id, new PodProber(p.id, netns, [process.execPath, MESHLET_BIN]));
  }
  progress.step(`topology ready: ${pods.map((p) => `${p.id}=${addr.pods[p.id]}@${p.node}`).join(' ')}`);
  return { pods, addr, probers };
}

/** Policies gone, labels as built. */
async function resetTopology(client: ApiClient, topo: Topology): Promise<void> {
  for (const ns of TOPOLOGY_NAMESPACES) {
    for (const np of (await client.list(NETPOL_GR, { namespace: ns })).items) await client.delete(NETPOL_GR, ns, np.metadata.name ?? '');
    const cur = await client.get('namespaces', '', ns);
    await patchLabels(client, 'namespaces', '', ns, labelsPatch(cur?.metadata.labels, namespaceLabels(ns)));
  }
  for (const p of topo.pods) {
    const cur = await client.get('pods', p.namespace, p.name);
    await patchLabels(client, 'pods', p.namespace, p.name, labelsPatch(cur?.metadata.labels, podLabels(p.name)));
  }
}

async function applyStep(client: ApiClient, step: Step, topo: Topology): Promise<void> {
  for (const id of step.deletePolicies) {
    const [ns, name] = id.includes('/') ? id.split('/') : ['default', id];
    await client.delete(NETPOL_GR, ns, name);
  }
  for (const [ns, labels] of Object.entries(step.namespaceLabels)) await patchLabels(client, 'namespaces', '', ns, labels);
  for (const [id, labels] of Object.entries(step.podLabels)) {
    const [ns, name] = id.split('/');
    await patchLabels(client, 'pods', ns, name, labels);
  }
  // `${ns/pod}` → the lab's pod IPs.
  const view = topology(3);
  view.pods = view.pods.map((p) => ({ ...p, ips: [topo.addr.pods[`${p.namespace}/${p.name}`]] }));
  for (const obj of substitutePodIps(step.policies, view)) await createOrReplace(client, NETPOL_GR, policyObject(obj));
}

/** One round: every client pod's requests through its prober, all pods at once. */
async function probeRound(topo: Topology, requests: Map<string, BatchRequest[]>): Promise<Map<string, ProbeResult>> {
  const all = new Map<string, ProbeResult>();
  await Promise.all(
    [...requests].map(async ([from, reqs]) => {
      for (const [id, r] of await topo.probers.get(from)!.run(reqs)) all.set(id, r);
    }),
  );
  return all;
}

/** Polls until the step's every expectation holds or timeoutMs passes; the last measurement of each check. */
async function pollStep(step: Step, topo: Topology, timeoutMs: number, probeTimeoutMs: number): Promise<{ probes: ProbeCheck[]; lookups: LookupCheck[]; rounds: number }> {
  const checks = new Map<string, ProbeCheck>();
  const lookupChecks = new Map<number, LookupCheck[]>();
  const keys: { key: string; ex: Expectation; e: number; probe: Expectation['probes'][number] }[] = step.expect.flatMap((ex, e) => ex.probes.map((probe) => ({ key: checkKey(e, probe), ex, e, probe })));
  const open = new Set(keys.map((k) => k.key));
  const openLookups = new Set(step.lookups.map((_, l) => l));
  const end = Date.now() + timeoutMs;
  let rounds = 0;
  while (open.size || openLookups.size) {
    rounds++;
    const results = await probeRound(topo, roundRequests(step, open, openLookups, topo.addr, probeTimeoutMs));
    for (const k of keys) {
      if (!open.has(k.key)) continue;
      const outcomes = new Map<string, ProbeOutcome>();
      for (const [id, r] of results) if (id.startsWith(`${k.key}|`)) outcomes.set(id.slice(k.key.length + 1), r.outcome);
      const check = judgeProbe(k.key, k.ex, k.probe, outcomes, rounds);
      checks.set(k.key, check);
      if (check.status !== 'differs') open.delete(k.key);
    }
    step.lookups.forEach((lk, l) => {
      if (!openLookups.has(l)) return;
      const byPod = new Map<string, ProbeResult>();
      for (const [id, r] of results) if (id.startsWith(`dns:${l}|`)) byPod.set(id.slice(`dns:${l}|`.length), r);
      const judged = judgeLookups(lk, byPod);
      lookupChecks.set(l, judged);
      if (judged.every((j) => j.expected === j.actual)) openLookups.delete(l);
    });
    if (!(open.size || openLookups.size) && rounds === 1 && changes(step)) {
      // Matched at once: perhaps before the change took effect (the expectation may equal the state before it).
      // Probe everything once more after the agents had time to program it.
      await sleep(SETTLE_MS);
      for (const k of keys) if (checks.get(k.key)?.status === 'matched') open.add(k.key);
      step.lookups.forEach((_, l) => openLookups.add(l));
      continue;
    }
    if (!(open.size || openLookups.size) || Date.now() + ROUND_PAUSE_MS > end) break;
    await sleep(ROUND_PAUSE_MS);
  }
  return { probes: keys.map((k) => checks.get(k.key)!), lookups: [...lookupChecks.values()].flat(), rounds };
}

/** Every ordered pair connects on 80/TCP again (the previous case's policies are no longer enforced). */
const ALL_OPEN: Step = {
  name: 'reset: every pair connects on 80/TCP',
  policies: [], deletePolicies: [], podLabels: {}, namespaceLabels: {}, lookups: [],
  expect: [{ probes: [{ port: 80, protocol: 'TCP' }], target: 'pod', matrix: TOPOLOGY_ORDER.map((f) => TOPOLOGY_ORDER.map((t) => (f === t ? undefined : true))) }],
};

export async function runSuite(opts: RunOptions): Promise<RunReport> {
  const started = Date.now();
  const progress = opts.progress;
  let labName = opts.labName;
  let own = false;
  let plan: LabPlan;
  if (labName) {
    const stateDir = labStateDir(opts.root, labName);
    const state = readLabState(`${stateDir}/state.json`);
    if (!state || state.phase !== 'up') throw new Error(`no lab "${labName}" that is up under ${opts.root} (start one with "meshlet lab up --name ${labName}", or leave --name out)`);
    plan = planLab(labName, state.nodes, stateDir);
    progress.step(`using lab "${labName}" (${state.nodes} nodes)`);
  } else {
    labName = `netpol-${randomBytes(2).toString('hex')}`;
    own = true;
    progress.step(`starting lab "${labName}" with ${opts.nodes} node(s)`);
    ({ plan } = await labUp({ name: labName, nodes: opts.nodes, root: opts.root }, progress));
  }
  // Interrupted: its own lab is removed all the same (an existing lab is left as it is).
  const onSignal = (signal: NodeJS.Signals): void => {
    progress.step(`${signal}: stopping`);
    const done = (): void => process.exit(130);
    if (own && !opts.keep) labDown({ name: labName, root: opts.root }, progress).then(done, done);
    else done();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const client = labAdminClient(plan);
  let topo: Topology | undefined;
  const reports: CaseReport[] = [];
  try {
    const withServices = opts.sources.some((s) => s.cases.some((c) => c.steps.some((st) => st.expect.some((e) => e.target === 'service'))));
    topo = await buildTopology(client, plan, opts.root, withServices, progress);
    const total = opts.sources.reduce((n, s) => n + s.cases.length, 0);
    let index = 0;
    for (const src of opts.sources) {
      for (const c of src.cases) {
        index++;
        const caseStart = Date.now();
        const steps: StepReport[] = [];
        progress.step(`case ${index}/${total}: ${c.name}`);
        try {
          await resetTopology(client, topo);
          const reset = await pollStep(ALL_OPEN, topo, opts.stepTimeoutMs, opts.probeTimeoutMs);
          progress.step(`case ${index}/${total}: reset (policies deleted, labels restored) and verified open in ${reset.rounds} round(s)`);
          if (stepStatus(reset.probes, []) !== 'matched') {
            const r: StepReport = { name: ALL_OPEN.name, status: 'error', ms: Date.now() - caseStart, rounds: reset.rounds, probes: reset.probes, lookups: [], error: 'the topology did not open again after the reset' };
            steps.push(r);
            opts.onStep?.(formatStep(c, r));
          } else {
            for (const step of c.steps) {
              const t0 = Date.now();
              let r: StepReport;
              try {
                await applyStep(client, step, topo);
                const polled = await pollStep(step, topo, opts.stepTimeoutMs, opts.probeTimeoutMs);
                r = { name: step.name, status: stepStatus(polled.probes, polled.lookups), ms: Date.now() - t0, rounds: polled.rounds, probes: polled.probes, lookups: polled.lookups };
              } catch (err) {
                r = { name: step.name, status: 'error', ms: Date.now() - t0, rounds: 0, probes: [], lookups: [], error: (err as Error).message };
              }
              steps.push(r);
              opts.onStep?.(formatStep(c, r));
              if (r.status !== 'matched') break;
            }
          }
        } catch (err) {
          steps.push({ name: 'reset', status: 'error', ms: Date.now() - caseStart, rounds: 0, probes: [], lookups: [], error: (err as Error).message });
        }
        reports.push({ file: src.file, name: c.name, status: caseStatus(steps), ms: Date.now() - caseStart, steps });
      }
    }
    if (!opts.keep && !own) await resetTopology(client, topo);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await Promise.all([...(topo?.probers.values() ?? [])].map((p) => p.close()));
    client.close();
    if (own && !opts.keep) await labDown({ name: labName, root: opts.root }, progress);
    else if (own) progress.step(`kept lab "${labName}" (meshlet lab down --name ${labName})`);
  }
  const passed = reports.filter((r) => r.status === 'passed').length;
  return {
    lab: labName,
    nodes: plan.nodes.length,
    ms: Date.now() - started,
    passed,
    failed: reports.length - passed,
    skippedChecks: reports.reduce((n, r) => n + r.steps.reduce((m, s) => m + s.probes.filter((p) => p.status === 'skipped').length, 0), 0),
    cases: reports,
  };
}
