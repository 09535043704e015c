// The autoscaler's arithmetic (src/controllers/hpa-algorithm.ts) with figures
// given as data: the replica calculator's tolerance band, missing and unready
// pods, the stabilization windows, each behavior policy kind and selectPolicy.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CPU_INITIALIZATION_PERIOD_MS,
  defaultBehavior,
  groupPods,
  limitRate,
  resourceReplicas,
  scaleDownLimit,
  scaleUpLimit,
  stabilize,
  type Behavior,
  type PodFacts,
  type PodUsage,
} from '../../src/controllers/hpa-algorithm.ts';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const LONG_AGO = NOW - 60 * 60_000;

/** A running, ready pod started an hour ago, requesting `cpu` millicores. */
function pod(name: string, over: Partial<PodFacts> = {}, cpu = 100): PodFacts {
  return { name, phase: 'Running', deleting: false, ready: true, readyTransitionMs: LONG_AGO + 5000, startMs: LONG_AGO, requests: { cpu, memory: 64 << 20 }, ...over };
}

function usage(entries: Record<string, number>, timestampMs = NOW - 1000): Map<string, PodUsage> {
  return new Map(Object.entries(entries).map(([name, value]) => [name, { timestampMs, windowMs: 10_000, value }]));
}

const cpu50 = { resource: 'cpu' as const, utilization: 50 };

function replicas(current: number, pods: PodFacts[], u: Map<string, PodUsage>, target = cpu50): number {
  const r = resourceReplicas(current, pods, u, target, NOW);
  assert.ok(r.ok, r.ok ? '' : r.error);
  return r.replicas;
}

describe('replica calculator', () => {
  it('scales by usage over target, rounding up', () => {
    // 3 pods at 90% of their request against 50%: ceil(3 × 1.8) = 6.
    const pods = [pod('a'), pod('b'), pod('c')];
    const r = resourceReplicas(3, pods, usage({ a: 90, b: 90, c: 90 }), cpu50, NOW);
    assert.ok(r.ok);
    assert.equal(r.replicas, 6);
    assert.equal(r.utilization, 90);
    assert.equal(r.averageValue, 90);
    // 4 pods at 10%: ceil(4 × 0.2) = 1.
    assert.equal(replicas(4, [pod('a'), pod('b'), pod('c'), pod('d')], usage({ a: 10, b: 10, c: 10, d: 10 })), 1);
  });

  it('keeps the count inside the tolerance band (±10%) and leaves it just outside', () => {
    const pods = [pod('a'), pod('b')];
    assert.equal(replicas(2, pods, usage({ a: 54, b: 54 })), 2, 'ratio 1.08 is within tolerance');
    assert.equal(replicas(2, pods, usage({ a: 46, b: 46 })), 2, 'ratio 0.92 is within tolerance');
    // As upstream's float64 arithmetic: |1 − 55/50| is a hair above 0.1, so exactly 110% already scales.
    assert.equal(replicas(2, pods, usage({ a: 55, b: 55 })), 3, 'ratio 1.1 (in floating point) scales up');
    assert.equal(replicas(2, pods, usage({ a: 56, b: 56 })), 3, 'ratio 1.12 scales up');
    assert.equal(replicas(4, [pod('a'), pod('b'), pod('c'), pod('d')], usage({ a: 30, b: 30, c: 30, d: 30 })), 3, 'ratio 0.6 scales down to ceil(4 × 0.6)');
  });

  it('scales by average value without requests', () => {
    const pods = [pod('a', { requests: {} }), pod('b', { requests: {} })];
    const r = resourceReplicas(2, pods, usage({ a: 300, b: 300 }), { resource: 'cpu', averageValue: 100 }, NOW);
    assert.ok(r.ok);
    assert.equal(r.replicas, 6);
    assert.equal(r.utilization, undefined);
  });

  it('refuses a utilization target when a pod has no request, and pods without any metric', () => {
    const noRequest = resourceReplicas(1, [pod('a', { requests: {} })], usage({ a: 10 }), cpu50, NOW);
    assert.deepEqual(noRequest, { ok: false, error: 'missing request for cpu in pod a' });
    const noMetrics = resourceReplicas(1, [pod('a')], usage({}), cpu50, NOW);
    assert.equal(noMetrics.ok, false);
    assert.equal(resourceReplicas(1, [], usage({}), cpu50, NOW).ok, false);
  });

  it('counts missing pods as 0% when scaling up', () => {
    // a, b at 100% (ratio 2); c has no metric. Upstream fills c with 0: (100+100+0)/3 = 66% → ratio 1.33 → ceil(1.33 × 3) = 4.
    const pods = [pod('a'), pod('b'), pod('c')];
    assert.equal(replicas(3, pods, usage({ a: 100, b: 100 })), 4);
  });

  it('counts missing pods as 100% of their request when scaling down', () => {
    // a, b at 10% (ratio 0.2); c missing → 100%: (10+10+100)/3 = 40% → ratio 0.8 → ceil(0.8 × 3) = 3, equal: no change beyond.
    const pods = [pod('a'), pod('b'), pod('c')];
    assert.equal(replicas(3, pods, usage({ a: 10, b: 10 })), 3);
    // With more measured pods the fill-in damps but does not block: 5 pods at 10%, 1 missing: (50+100)/6 = 25% → ratio 0.5 → 3.
    const six = ['a', 'b', 'c', 'd', 'e', 'f'].map((n) => pod(n));
    assert.equal(replicas(6, six, usage({ a: 10, b: 10, c: 10, d: 10, e: 10 })), 3);
  });

  it('does not scale when the missing pods would reverse the direction', () => {
    // a at 60% (ratio 1.2: up); b, c, d missing → 0%: 15% → ratio 0.3: the fill-in reverses it, so keep 4.
    const pods = [pod('a'), pod('b'), pod('c'), pod('d')];
    assert.equal(replicas(4, pods, usage({ a: 60 })), 4);
  });

  it('counts unready pods as 0% on scale-up only', () => {
    // a, b ready at 100%; c pending: fill 0% → (200)/3 = 66% → ratio 1.33 → 4 (rather than ceil(2 × 2) = 4 over ready pods only... shown with 3 ready).
    const pods = [pod('a'), pod('b'), pod('c', { phase: 'Pending' })];
    assert.equal(replicas(3, pods, usage({ a: 100, b: 100 })), 4);
    // Scaling down, unready pods are left out: a, b at 10% → ratio 0.2 → ceil(0.2 × 2) = 1.
    assert.equal(replicas(3, pods, usage({ a: 10, b: 10 })), 1);
  });

  it('treats pods in the CPU initialization period whose sample predates readiness as unready', () => {
    const young = NOW - 60_000;
    const justReady = pod('c', { startMs: young, readyTransitionMs: NOW - 2000 });
    const g = groupPods([pod('a'), justReady], usage({ a: 100, c: 100 }), 'cpu', NOW);
    assert.deepEqual([...g.unready], ['c'], 'sample (1 s ago, 10 s window) started before the pod was ready');
    const settled = pod('d', { startMs: young, readyTransitionMs: NOW - 30_000 });
    assert.equal(groupPods([settled], usage({ d: 100 }), 'cpu', NOW).ready, 1);
    // After the initialization period, a pod that never became ready since start (within the readiness delay) is unready.
    const neverReady = pod('e', { ready: false, startMs: NOW - CPU_INITIALIZATION_PERIOD_MS - 1000, readyTransitionMs: NOW - CPU_INITIALIZATION_PERIOD_MS - 990 });
    assert.equal(groupPods([neverReady], usage({ e: 1 }), 'cpu', NOW).unready.size, 1);
    // Memory ignores readiness.
    assert.equal(groupPods([justReady], usage({ c: 1 }), 'memory', NOW).ready, 1);
  });

  it('ignores deleted and failed pods', () => {
    const pods = [pod('a'), pod('b', { deleting: true }), pod('c', { phase: 'Failed' })];
    assert.equal(replicas(1, pods, usage({ a: 100, b: 0, c: 0 })), 2);
  });
});

const behavior = (over: Partial<Behavior> = {}): Behavior => ({ ...defaultBehavior(), ...over });

describe('stabilization', () => {
  it('a scale-down takes the highest recommendation of the window', () => {
    const history = [
      { timestampMs: NOW - 200_000, replicas: 7 },
      { timestampMs: NOW - 100_000, replicas: 5 },
    ];
    const v = stabilize(history, 2, 8, behavior(), NOW);
    assert.deepEqual([v.replicas, v.reason], [7, 'ScaleDownStabilized']);
    // Outside the 300 s window, older recommendations do not count.
    const old = [{ timestampMs: NOW - 400_000, replicas: 7 }];
    assert.deepEqual([stabilize(old, 2, 8, behavior(), NOW).replicas, stabilize(old, 2, 8, behavior(), NOW).reason], [2, 'ReadyForNewScale']);
  });

  it('a scale-up takes the lowest recommendation of its window (0 s by default: none)', () => {
    const history = [{ timestampMs: NOW - 30_000, replicas: 3 }];
    assert.equal(stabilize(history, 6, 2, behavior(), NOW).replicas, 6);
    const slowUp = behavior({ scaleUp: { ...defaultBehavior().scaleUp, stabilizationWindowSeconds: 60 } });
    const v = stabilize(history, 6, 2, slowUp, NOW);
    assert.deepEqual([v.replicas, v.reason], [3, 'ScaleUpStabilized']);
  });

  it('without a scale-down window a scale-down applies at once', () => {
    const fast = behavior({ scaleDown: { ...defaultBehavior().scaleDown, stabilizationWindowSeconds: 0 } });
    assert.equal(stabilize([{ timestampMs: NOW - 1000, replicas: 9 }], 1, 9, fast, NOW).replicas, 1);
  });
});

describe('behavior policies', () => {
  const up = defaultBehavior().scaleUp;
  const down = defaultBehavior().scaleDown;

  it('Pods and Percent scale-up policies; Max takes the larger', () => {
    assert.equal(scaleUpLimit(1, [], up, NOW), 5, 'Pods 4 beats Percent 100 at 1 replica');
    assert.equal(scaleUpLimit(10, [], up, NOW), 20, 'Percent 100 beats Pods 4 at 10 replicas');
    assert.equal(scaleUpLimit(10, [], { ...up, selectPolicy: 'Min' }, NOW), 14, 'Min takes the smaller');
    assert.equal(scaleUpLimit(10, [], { ...up, selectPolicy: 'Disabled' }, NOW), 10, 'Disabled: no scale-up');
  });

  it('counts the replicas added within each period', () => {
    // 4 added 5 s ago: the 15 s periods start from 6 replicas.
    const events = [{ timestampMs: NOW - 5000, change: 4 }];
    assert.equal(scaleUpLimit(10, events, up, NOW), 12);
    // Outside the period they no longer count.
    assert.equal(scaleUpLimit(10, [{ timestampMs: NOW - 20_000, change: 4 }], up, NOW), 20);
  });

  it('scale-down policies: Percent rounds down; Max allows the larger change, Min the smaller', () => {
    assert.equal(scaleDownLimit(10, [], down, NOW), 0, 'Percent 100 allows removing all');
    const both = { ...down, policies: [{ type: 'Percent' as const, value: 50, periodSeconds: 60 }, { type: 'Pods' as const, value: 2, periodSeconds: 60 }] };
    assert.equal(scaleDownLimit(9, [], both, NOW), 4, 'Max: 9 × 0.5 = 4 (floor) beats 9 − 2');
    assert.equal(scaleDownLimit(9, [], { ...both, selectPolicy: 'Min' }, NOW), 7, 'Min: 9 − 2');
    assert.equal(scaleDownLimit(9, [{ timestampMs: NOW - 10_000, change: 3 }], { ...both, selectPolicy: 'Min' }, NOW), 10, 'the period started at 12');
    assert.equal(scaleDownLimit(9, [], { ...both, selectPolicy: 'Disabled' }, NOW), 9);
  });

  it('limitRate applies the rate limits, then maxReplicas and minReplicas, with upstream reasons', () => {
    const b = defaultBehavior();
    const none = { up: [], down: [] };
    assert.deepEqual(limitRate(20, 2, { min: 1, max: 10 }, b, none, NOW), {
      replicas: 6,
      reason: 'ScaleUpLimit',
      message: 'the desired replica count is increasing faster than the maximum scale rate',
    });
    assert.equal(limitRate(20, 8, { min: 1, max: 10 }, b, none, NOW).reason, 'TooManyReplicas');
    assert.equal(limitRate(20, 8, { min: 1, max: 10 }, b, none, NOW).replicas, 10);
    assert.deepEqual([limitRate(1, 5, { min: 3, max: 10 }, b, none, NOW).replicas, limitRate(1, 5, { min: 3, max: 10 }, b, none, NOW).reason], [3, 'TooFewReplicas']);
    const slowDown = { ...b, scaleDown: { ...b.scaleDown, policies: [{ type: 'Pods' as const, value: 1, periodSeconds: 60 }] } };
    assert.deepEqual([limitRate(1, 5, { min: 1, max: 10 }, slowDown, none, NOW).replicas, limitRate(1, 5, { min: 1, max: 10 }, slowDown, none, NOW).reason], [4, 'ScaleDownLimit']);
    assert.equal(limitRate(4, 5, { min: 1, max: 10 }, b, none, NOW).reason, 'DesiredWithinRange');
    const disabled = { ...b, scaleUp: { ...b.scaleUp, selectPolicy: 'Disabled' as const } };
    assert.equal(limitRate(9, 5, { min: 1, max: 10 }, disabled, none, NOW).replicas, 5, 'scale-up disabled');
  });
});
