// One HPA controller sync over H autoscalers (P pods each), through the pure
// core the controller runs (hpa-plan.ts: pod facts, replica calculator,
// stabilization, rate limits, status) against a baseline in the same run: the
// same loop only turning pods and metrics into the calculator's input
// (podFacts + usageByResource), i.e. what any implementation must read. Each
// HPA carries a history of recommendations and scale events (the state a
// steady controller keeps) so stabilization and the policies do real work.
//   node --import tsx bench/hpa.bench.ts [--hpas 100] [--pods 10] [--runs 20]
import { performance } from 'node:perf_hooks';
import { emptyMemory, planSync, podFacts, type HpaMemory } from '../src/controllers/hpa-plan.ts';
import { usageByResource, type PodMetricsSample } from '../src/controllers/hpa-metrics.ts';
import type { KubeObject } from '../src/core/types.ts';
import { machineInfo, median, parseFlags, printResult } from './stats.ts';

const flags = parseFlags(process.argv.slice(2), { hpas: 100, pods: 10, runs: 20 });
const NOW = Date.parse('2026-12-01T12:00:00Z');
const started = new Date(NOW - 3600_000).toISOString();

function hpa(i: number): KubeObject {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: `h${i}`, namespace: 'default', generation: 1 },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: `d${i}` },
      minReplicas: 1,
      maxReplicas: 50,
      metrics: [
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } },
        { type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '64Mi' } } },
      ],
    },
  };
}

function pod(i: number, k: number): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `d${i}-${k}`, namespace: 'default', labels: { app: `d${i}` } },
    spec: { containers: [{ name: 'main', image: 'x', resources: { requests: { cpu: '100m', memory: '64Mi' } } }] },
    status: { phase: 'Running', startTime: started, conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: started }] },
  };
}

const hpas = Array.from({ length: flags.hpas }, (_, i) => hpa(i));
const pods = hpas.map((_, i) => Array.from({ length: flags.pods }, (_, k) => pod(i, k)));
const samples: PodMetricsSample[][] = pods.map((list, i) =>
  list.map((p, k) => ({ name: p.metadata.name ?? '', timestampMs: NOW - 1000, windowMs: 10_000, cpuMilli: 20 + ((i * 7 + k * 13) % 150), memoryBytes: (32 + k) << 20 })),
);
const memories: HpaMemory[] = hpas.map(() => ({
  ...emptyMemory(),
  recommendations: Array.from({ length: 20 }, (_, r) => ({ timestampMs: NOW - r * 15_000, replicas: flags.pods + (r % 3) - 1 })),
  scaleUpEvents: [{ timestampMs: NOW - 5000, change: 1 }],
  scaleDownEvents: [{ timestampMs: NOW - 10_000, change: 1 }],
}));

function baselineSync(): number {
  let n = 0;
  for (let i = 0; i < hpas.length; i++) {
    const facts = pods[i].map(podFacts);
    const usage = usageByResource(samples[i]);
    n += facts.length + (usage.get('cpu')?.size ?? 0);
  }
  return n;
}

function fullSync(): number {
  let n = 0;
  for (let i = 0; i < hpas.length; i++) {
    const plan = planSync({
      hpa: hpas[i],
      scale: { replicas: flags.pods, statusReplicas: flags.pods, selector: `app=d${i}` },
      pods: pods[i].map(podFacts),
      usage: usageByResource(samples[i]),
      memory: memories[i],
      nowMs: NOW,
    });
    n += plan.rescaleTo ?? 0;
  }
  return n;
}

function time(fn: () => number): number[] {
  for (let w = 0; w < 3; w++) fn();
  const out: number[] = [];
  for (let r = 0; r < flags.runs; r++) {
    const t0 = performance.now();
    fn();
    out.push(performance.now() - t0);
  }
  return out;
}

const baseline = time(baselineSync);
const full = time(fullSync);
printResult({
  bench: 'hpa-sync',
  hpas: flags.hpas,
  podsPerHpa: flags.pods,
  runs: flags.runs,
  baselineInputsMs: median(baseline),
  fullSyncMs: median(full),
  perHpaUs: (median(full) * 1000) / flags.hpas,
  algorithmShareMs: median(full) - median(baseline),
  machine: machineInfo(),
});
