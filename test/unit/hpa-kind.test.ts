// HorizontalPodAutoscaler: defaults, validation, kubectl's columns, the
// autoscaling/v1 view, and one controller sync as data (planSync).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { horizontalPodAutoscalerStrategy as hpaKind, targetsCell } from '../../src/api/kinds/hpa.ts';
import { hpaV1ToV2, hpaV2ToV1 } from '../../src/api/hpa-v1.ts';
import { emptyMemory, planSync, podFacts, type SyncInput } from '../../src/controllers/hpa-plan.ts';
import { sampleOf, usageByResource } from '../../src/controllers/hpa-metrics.ts';
import { podMetricsOf } from '../../src/api/metrics-api-model.ts';
import type { KubeObject } from '../../src/core/types.ts';
import { parseCommandLine, UsageError } from '../../src/cli/args.ts';
import { hpaSyncPeriodMs } from '../../src/cli/server.ts';
import { DEFAULT_HPA_SYNC_PERIOD_MS } from '../../src/controllers/hpa.ts';

function hpa(spec: Record<string, unknown>, status?: Record<string, unknown>): KubeObject {
  return { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'web', namespace: 'default', generation: 1 }, spec, ...(status ? { status } : {}) };
}
const ref = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' };

function admitted(spec: Record<string, unknown>): KubeObject {
  const obj = structuredClone(hpa(spec));
  hpaKind.defaults!(obj);
  return obj;
}
const fields = (obj: KubeObject): string[] => hpaKind.validate!(obj).map((c) => c.field ?? '');

describe('HorizontalPodAutoscaler kind', () => {
  it('defaults minReplicas 1 and a cpu 80% target; fills a given behavior with upstream rules', () => {
    const obj = admitted({ scaleTargetRef: ref, maxReplicas: 5 });
    assert.equal((obj.spec as { minReplicas: number }).minReplicas, 1);
    assert.deepEqual((obj.spec as { metrics: unknown }).metrics, [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }]);
    assert.equal((obj.spec as { behavior?: unknown }).behavior, undefined, 'an absent behavior stays absent');
    const withBehavior = admitted({ scaleTargetRef: ref, maxReplicas: 5, behavior: { scaleDown: { stabilizationWindowSeconds: 0 } } });
    assert.deepEqual((withBehavior.spec as { behavior: unknown }).behavior, {
      scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }, { type: 'Percent', value: 100, periodSeconds: 15 }] },
      scaleDown: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
    });
    assert.deepEqual(fields(withBehavior), []);
  });

  it('validates the reference, the bounds, the metrics and the behavior', () => {
    assert.deepEqual(fields(admitted({ maxReplicas: 5 })), ['spec.scaleTargetRef']);
    assert.deepEqual(fields(admitted({ scaleTargetRef: { kind: 'Deployment' }, maxReplicas: 5 })), ['spec.scaleTargetRef.name']);
    assert.deepEqual(fields(admitted({ scaleTargetRef: ref, minReplicas: 0, maxReplicas: 5 })), ['spec.minReplicas']);
    assert.deepEqual(fields(admitted({ scaleTargetRef: ref, minReplicas: 3, maxReplicas: 2 })), ['spec.maxReplicas']);
    assert.deepEqual(fields(admitted({ scaleTargetRef: ref })), ['spec.maxReplicas']);
    const metric = (m: unknown) => admitted({ scaleTargetRef: ref, maxReplicas: 5, metrics: [m] });
    assert.deepEqual(fields(metric({ type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '100Mi' } } })), []);
    assert.deepEqual(fields(metric({ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 0 } } })), ['spec.metrics[0].resource.target.averageUtilization']);
    assert.deepEqual(fields(metric({ type: 'Resource', resource: { name: 'cpu', target: { type: 'Value', value: '1' } } })), ['spec.metrics[0].resource.target.type']);
    assert.deepEqual(fields(metric({ type: 'Resource', resource: { name: 'gpu', target: { type: 'Utilization', averageUtilization: 5 } } })), ['spec.metrics[0].resource.name']);
    assert.deepEqual(fields(metric({ type: 'Resource', resource: { name: 'cpu', target: { type: 'AverageValue', averageValue: 'lots' } } })), ['spec.metrics[0].resource.target.averageValue']);
    const pods = hpaKind.validate!(metric({ type: 'Pods', pods: { metric: { name: 'qps' }, target: { type: 'AverageValue', averageValue: '1' } } }));
    assert.equal(pods.length, 1);
    assert.match(pods[0].message ?? '', /resource metrics only/);
    const badPolicy = admitted({ scaleTargetRef: ref, maxReplicas: 5, behavior: { scaleUp: { selectPolicy: 'Fastest', policies: [{ type: 'Pods', value: 0, periodSeconds: 1801 }] } } });
    assert.deepEqual(fields(badPolicy), ['spec.behavior.scaleUp.selectPolicy', 'spec.behavior.scaleUp.policies[0].value', 'spec.behavior.scaleUp.policies[0].periodSeconds']);
  });

  it("prints kubectl's columns: Reference, Targets, MinPods, MaxPods, Replicas", () => {
    const obj = admitted({ scaleTargetRef: ref, maxReplicas: 5 });
    obj.status = { currentReplicas: 2, currentMetrics: [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 37, averageValue: '37m' } } }] };
    const cells = hpaKind.printer!.cells(obj, new Date());
    assert.deepEqual(cells.slice(0, 5), ['Deployment/web', 'cpu: 37%/80%', '1', 5, 2]);
    assert.equal(hpaKind.printer!.columns.map((c) => c.name).join(' '), 'Name Reference Targets MinPods MaxPods Replicas Age');
    assert.equal(targetsCell(hpa({ metrics: [{ type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '1Gi' } } }] })), 'memory: <unknown>/1Gi');
    const three = { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } };
    assert.equal(targetsCell(hpa({ metrics: [three, three, three] })), 'cpu: <unknown>/50%, cpu: <unknown>/50% + 1 more...');
  });

  it('converts autoscaling/v1 (targetCPUUtilizationPercentage) to v2 and back', () => {
    const v1: KubeObject = { apiVersion: 'autoscaling/v1', kind: 'HorizontalPodAutoscaler', metadata: { name: 'web' }, spec: { scaleTargetRef: ref, minReplicas: 1, maxReplicas: 5, targetCPUUtilizationPercentage: 50 } };
    const v2 = hpaV1ToV2(v1);
    assert.deepEqual(v2.spec, { scaleTargetRef: ref, minReplicas: 1, maxReplicas: 5, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }] });
    const stored = { ...v2, status: { currentReplicas: 2, desiredReplicas: 3, currentMetrics: [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 75 } } }] } };
    assert.deepEqual(hpaV2ToV1(stored), { ...v1, status: { currentReplicas: 2, desiredReplicas: 3, currentCPUUtilizationPercentage: 75 } });
  });
});

const NOW = Date.parse('2026-12-01T12:00:00Z');
const started = new Date(NOW - 3600_000).toISOString();

function podObj(name: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app: 'web' } },
    spec: { containers: [{ name: 'main', image: 'busybox', resources: { requests: { cpu: '100m' } } }] },
    status: { phase: 'Running', startTime: started, conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: started }] },
  };
}

function input(over: Partial<SyncInput>, cpuMilli: Record<string, number>): SyncInput {
  const names = Object.keys(cpuMilli);
  return {
    hpa: admitted({ scaleTargetRef: ref, minReplicas: 1, maxReplicas: 5, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }] }),
    scale: { replicas: names.length, statusReplicas: names.length, selector: 'app=web' },
    pods: names.map((n) => podFacts(podObj(n))),
    usage: usageByResource(names.map((n) => ({ name: n, timestampMs: NOW - 1000, windowMs: 10_000, cpuMilli: cpuMilli[n], memoryBytes: 1 }))),
    memory: emptyMemory(),
    nowMs: NOW,
    ...over,
  };
}

describe('one autoscaler sync (planSync)', () => {
  it('scales up on high CPU: SuccessfulRescale, status and conditions', () => {
    const plan = planSync(input({}, { a: 100, b: 100 }));
    assert.equal(plan.rescaleTo, 4);
    assert.deepEqual(plan.events, [{ type: 'Normal', reason: 'SuccessfulRescale', message: 'New size: 4; reason: cpu resource utilization (percentage of request) above target' }]);
    assert.equal(plan.status.desiredReplicas, 4);
    assert.equal(plan.status.currentReplicas, 2);
    assert.ok(plan.status.lastScaleTime);
    assert.deepEqual(plan.status.currentMetrics, [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 100, averageValue: '100m' } } }]);
    const byType = Object.fromEntries((plan.status.conditions as { type: string; status: string; reason: string }[]).map((c) => [c.type, `${c.status}/${c.reason}`]));
    assert.deepEqual(byType, { AbleToScale: 'True/SucceededRescale', ScalingActive: 'True/ValidMetricFound', ScalingLimited: 'False/DesiredWithinRange' });
    assert.deepEqual(plan.memory.scaleUpEvents, [{ timestampMs: NOW, change: 2 }]);
  });

  it('a scale-down waits for the default 300 s window, and is all metrics below target once it passes', () => {
    const first = planSync(input({}, { a: 100, b: 100 }));
    const later = NOW + 60_000;
    const low = planSync(input({ memory: first.memory, nowMs: later, scale: { replicas: 4, statusReplicas: 4, selector: 'app=web' } }, { a: 5, b: 5, c: 5, d: 5 }));
    assert.equal(low.rescaleTo, undefined, 'the recommendation of 4 a minute ago holds');
    assert.equal((low.status.conditions as { type: string; reason: string }[]).find((c) => c.type === 'AbleToScale')?.reason, 'ScaleDownStabilized');
    const after = planSync(input({ memory: low.memory, nowMs: NOW + 400_000, scale: { replicas: 4, statusReplicas: 4, selector: 'app=web' } }, { a: 5, b: 5, c: 5, d: 5 }));
    assert.equal(after.rescaleTo, 1);
    assert.equal(after.events[0].message, 'New size: 1; reason: All metrics below target');
  });

  it('without metrics: ScalingActive False FailedGetResourceMetric and no rescale', () => {
    const plan = planSync(input({ usage: { error: 'unable to fetch metrics from resource metrics API: not found' } }, { a: 100 }));
    assert.equal(plan.rescaleTo, undefined);
    const active = (plan.status.conditions as { type: string; status: string; reason: string }[]).find((c) => c.type === 'ScalingActive');
    assert.deepEqual([active?.status, active?.reason], ['False', 'FailedGetResourceMetric']);
    assert.equal(plan.events[0].reason, 'FailedComputeMetricsReplicas');
  });

  it('brings a count above maxReplicas down and a target at zero disables scaling', () => {
    const above = planSync(input({ scale: { replicas: 9, statusReplicas: 9, selector: 'app=web' } }, { a: 50 }));
    assert.equal(above.rescaleTo, 5);
    assert.match(above.events[0].message, /above Spec.MaxReplicas/);
    const zero = planSync(input({ scale: { replicas: 0, statusReplicas: 0, selector: 'app=web' } }, {}));
    assert.equal(zero.rescaleTo, undefined);
    assert.equal((zero.status.conditions as { reason: string }[]).some((c) => c.reason === 'ScalingDisabled'), true);
  });
});

describe('--horizontal-pod-autoscaler-sync-period', () => {
  it('takes a Go duration; default upstream\'s 15 s; refuses nonsense and extremes', () => {
    const parsed = parseCommandLine(['server', '--horizontal-pod-autoscaler-sync-period', '3s']);
    assert.equal(parsed.kind, 'run');
    if (parsed.kind !== 'run') return;
    assert.equal(hpaSyncPeriodMs(parsed), 3000);
    assert.equal(hpaSyncPeriodMs({ ...parsed, options: {} }), undefined);
    assert.equal(DEFAULT_HPA_SYNC_PERIOD_MS, 15_000);
    assert.equal(hpaSyncPeriodMs({ ...parsed, options: { 'horizontal-pod-autoscaler-sync-period': '500ms' } }), 500);
    assert.throws(() => hpaSyncPeriodMs({ ...parsed, options: { 'horizontal-pod-autoscaler-sync-period': 'soon' } }), UsageError);
    assert.throws(() => hpaSyncPeriodMs({ ...parsed, options: { 'horizontal-pod-autoscaler-sync-period': '1ms' } }), /between 100ms and 1h/);
  });
});

describe('reading PodMetrics (the metrics API contract)', () => {
  it('sums the containers of a PodMetrics as main serves it: millicores, bytes, the window', () => {
    const p: KubeObject = {
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name: 'web-1', namespace: 'default', uid: 'u1' },
      spec: { nodeName: 'n1', containers: [{ name: 'a' }, { name: 'b' }] },
    };
    const at = '2026-12-01T12:00:00Z';
    const sample = (cpuNanoCores: number, memoryWorkingSetBytes: number) => ({ timestamp: at, windowSeconds: 10, cpuNanoCores, memoryWorkingSetBytes });
    const summary = {
      node: { nodeName: 'n1', ...sample(1e9, 1 << 30) },
      pods: [{ namespace: 'default', name: 'web-1', uid: 'u1', ...sample(300e6, 30 << 20), containers: [{ name: 'a', ...sample(250_000_000, 20 << 20) }, { name: 'b', ...sample(49_500_000, 10 << 20) }] }],
    };
    const [pm] = podMetricsOf([p], new Map([['n1', summary]]), new Date(at));
    const s = sampleOf(pm as unknown as KubeObject);
    assert.deepEqual(s, { name: 'web-1', timestampMs: Date.parse(at), windowMs: 10_000, cpuMilli: 250 + 50, memoryBytes: 30 << 20 });
  });
});
