// Node loss, the pure parts: default tolerations at admission, toleration
// matching and eviction timing, zone states and rates with a given clock,
// the node lifecycle's taint gate, and marking a lost node's pods not ready.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withDefaultTolerations } from '../../src/api/default-tolerations.ts';
import { boundAtMs, evictionActions, evictionDecision, type NodeTaint } from '../../src/controllers/taint-eviction.ts';
import { DEFAULT_EVICTION_RATES, TokenBucket, disruptionView, zoneOf, zoneState } from '../../src/controllers/zone-disruption.ts';
import { effectiveReady, markPodsNotReady, podNotReady, reconcileNode } from '../../src/controllers/node-lifecycle.ts';
import type { Action } from '../../src/controllers/actions.ts';
import { nodeLossOptions } from '../../src/cli/server-node-loss.ts';
import type { Toleration } from '../../src/scheduler/api-types.ts';
import type { KubeObject } from '../../src/core/types.ts';

const NOT_READY = 'node.kubernetes.io/not-ready';
const UNREACHABLE = 'node.kubernetes.io/unreachable';
const T0 = Date.parse('2026-12-01T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

const pod = (spec: Record<string, unknown> = {}, status: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns', uid: 'u1' }, spec: { containers: [{ name: 'c' }], ...spec }, status,
});
const tolerationsOf = (p: KubeObject) => (p.spec as { tolerations?: Toleration[] }).tolerations;

test('default tolerations: both added (300 s by default, or as configured), only for keys not tolerated yet', () => {
  assert.deepEqual(tolerationsOf(withDefaultTolerations(pod())), [
    { key: NOT_READY, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    { key: UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  ]);
  assert.deepEqual(tolerationsOf(withDefaultTolerations(pod(), { notReady: 30, unreachable: 45 }))?.map((t) => t.tolerationSeconds), [30, 45]);
  // A toleration of its own for unreachable (forever, or any seconds) is kept and not doubled.
  const own = { key: UNREACHABLE, operator: 'Exists' as const, effect: 'NoExecute' as const };
  assert.deepEqual(tolerationsOf(withDefaultTolerations(pod({ tolerations: [own] }))), [own, { key: NOT_READY, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }]);
  // An empty key or an empty effect covers; another effect does not.
  const all = pod({ tolerations: [{ operator: 'Exists' }] });
  assert.equal(withDefaultTolerations(all), all, 'nothing added: the same object');
  const anyEffect = pod({ tolerations: [{ key: NOT_READY, operator: 'Exists' }] });
  assert.deepEqual(tolerationsOf(withDefaultTolerations(anyEffect))?.map((t) => t.key), [NOT_READY, UNREACHABLE]);
  const noSchedule = pod({ tolerations: [{ key: UNREACHABLE, operator: 'Exists', effect: 'NoSchedule' }] });
  assert.deepEqual(tolerationsOf(withDefaultTolerations(noSchedule))?.map((t) => `${t.key}:${t.effect}`), [`${UNREACHABLE}:NoSchedule`, `${NOT_READY}:NoExecute`, `${UNREACHABLE}:NoExecute`]);
});

test('eviction timing: no NoExecute taint keeps; an untolerated one evicts now; the smallest tolerationSeconds counts from timeAdded; none tolerates forever', () => {
  const unreachable: NodeTaint = { key: UNREACHABLE, effect: 'NoExecute', timeAdded: iso(T0) };
  const notReady: NodeTaint = { key: NOT_READY, effect: 'NoExecute', timeAdded: iso(T0 + 5000) };
  const defaults = tolerationsOf(withDefaultTolerations(pod(), { notReady: 60, unreachable: 30 }))!;
  assert.deepEqual(evictionDecision(defaults, [], T0), { kind: 'keep', reason: 'no NoExecute taint' });
  assert.deepEqual(evictionDecision(defaults, [{ key: 'k', effect: 'NoSchedule' }], T0), { kind: 'keep', reason: 'no NoExecute taint' });
  assert.deepEqual(evictionDecision([], [unreachable], T0 + 1), { kind: 'evict', atMs: 0, taint: unreachable });
  const other: NodeTaint = { key: 'dedicated', effect: 'NoExecute', timeAdded: iso(T0) };
  assert.equal((evictionDecision(defaults, [unreachable, other], T0) as { atMs: number }).atMs, 0, 'one untolerated taint is enough');
  assert.deepEqual(evictionDecision(defaults, [unreachable], T0 + 999_999), { kind: 'evict', atMs: T0 + 30_000, taint: unreachable, seconds: 30 });
  // Two taints: the smallest seconds wins, counted from its own taint's time.
  assert.deepEqual(evictionDecision(defaults, [notReady, unreachable], T0), { kind: 'evict', atMs: T0 + 30_000, taint: unreachable, seconds: 30 });
  // Tolerated without seconds: forever.
  assert.deepEqual(evictionDecision([{ key: UNREACHABLE, operator: 'Exists', effect: 'NoExecute' }], [unreachable], T0), { kind: 'keep', reason: 'tolerated forever' });
  // For each taint the FIRST tolerating toleration is used (upstream): a forever one listed first wins over a later 10 s one.
  const both: Toleration[] = [{ operator: 'Exists' }, { key: UNREACHABLE, operator: 'Exists', tolerationSeconds: 10 }];
  assert.equal(evictionDecision(both, [unreachable], T0).kind, 'keep');
  assert.equal((evictionDecision([...both].reverse(), [unreachable], T0) as { atMs: number }).atMs, T0 + 10_000);
  // Zero or negative seconds: at once from the taint's time.
  assert.equal((evictionDecision([{ key: UNREACHABLE, operator: 'Exists', tolerationSeconds: -5 }], [unreachable], T0) as { atMs: number }).atMs, T0);
  // A pod bound after the taint was added gets its full time from then; a taint without timeAdded counts from the caller's first sight.
  assert.equal((evictionDecision(defaults, [unreachable], T0, T0 + 20_000) as { atMs: number }).atMs, T0 + 50_000);
  assert.equal((evictionDecision(defaults, [{ key: UNREACHABLE, effect: 'NoExecute' }], T0 + 7000) as { atMs: number }).atMs, T0 + 37_000);
  // Value-matching tolerations (Equal) follow the scheduler's own matching.
  const valued: NodeTaint = { key: 'maint', value: 'yes', effect: 'NoExecute', timeAdded: iso(T0) };
  assert.equal(evictionDecision([{ key: 'maint', value: 'no', tolerationSeconds: 5 }], [valued], T0).kind, 'evict');
  assert.equal((evictionDecision([{ key: 'maint', value: 'no', tolerationSeconds: 5 }], [valued], T0) as { atMs: number }).atMs, 0);
  assert.equal((evictionDecision([{ key: 'maint', value: 'yes', tolerationSeconds: 5 }], [valued], T0) as { atMs: number }).atMs, T0 + 5000);
});

test('eviction writes: the DisruptionTarget condition, a delete with the pod\'s uid as precondition (its own grace), an event', () => {
  const p = pod({ nodeName: 'n3' }, { phase: 'Running', conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: iso(T0 - 60_000) }] });
  assert.equal(boundAtMs(p), T0 - 60_000);
  assert.equal(boundAtMs(pod()), undefined);
  const actions = evictionActions(p, T0);
  assert.deepEqual(actions.map((a) => a.op), ['update', 'delete', 'event']);
  const update = actions[0] as Extract<Action, { op: 'update' }>;
  assert.equal(update.subresource, 'status');
  const cond = (update.object.status as { conditions: { type: string; status: string; reason: string }[] }).conditions.find((c) => c.type === 'DisruptionTarget');
  assert.deepEqual([cond?.status, cond?.reason], ['True', 'DeletionByTaintManager']);
  assert.deepEqual((actions[1] as Extract<Action, { op: 'delete' }>).options, { preconditions: { uid: 'u1' } });
  assert.equal((actions[2] as Extract<Action, { op: 'event' }>).reason, 'TaintManagerEviction');
});

test('zone state: Normal, PartialDisruption (more than 2 and at least the threshold not Ready), FullDisruption (none Ready)', () => {
  const th = DEFAULT_EVICTION_RATES.unhealthyZoneThreshold;
  assert.deepEqual(zoneState(['True', 'True', 'Unknown'], th), { notReady: 1, state: 'Normal' });
  assert.deepEqual(zoneState(['True', 'Unknown', 'Unknown'], th), { notReady: 2, state: 'Normal' }, 'two lost nodes are never a partial disruption');
  assert.deepEqual(zoneState(['True', 'True', 'Unknown', 'Unknown', 'False'], th), { notReady: 3, state: 'PartialDisruption' });
  assert.deepEqual(zoneState(['True', 'True', 'True', 'Unknown', 'Unknown', 'False'], th), { notReady: 3, state: 'Normal' }, '3 of 6 is under 0.55');
  assert.deepEqual(zoneState(['Unknown', undefined], th), { notReady: 2, state: 'FullDisruption' });
  assert.equal(zoneOf({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' } }), '');
  assert.equal(zoneOf({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n', labels: { 'topology.kubernetes.io/region': 'r', 'topology.kubernetes.io/zone': 'a' } } }), 'r:\u0000:a');
});

test('zone rates: healthy and fully lost zones at the primary rate, partial small zones stop, partial large ones slow, all zones lost stops all', () => {
  const nodes = (zone: string, ready: number, lost: number) => [
    ...Array.from({ length: ready }, () => ({ zone, ready: 'True' })),
    ...Array.from({ length: lost }, () => ({ zone, ready: 'Unknown' })),
  ];
  const v = disruptionView([...nodes('a', 9, 1), ...nodes('b', 1, 4), ...nodes('c', 20, 60), ...nodes('d', 0, 3)]);
  const summary = Object.fromEntries([...v.zones.values()].map((z) => [z.zone, `${z.state} ${z.rate}`]));
  assert.deepEqual(summary, { a: 'Normal 0.1', b: 'PartialDisruption 0', c: 'PartialDisruption 0.01', d: 'FullDisruption 0.1' });
  assert.equal(v.allFullyDisrupted, false);
  // A control-plane partition looks like every node lost: nothing is evicted anywhere.
  const all = disruptionView([...nodes('a', 0, 5), ...nodes('b', 0, 2)]);
  assert.equal(all.allFullyDisrupted, true);
  assert.deepEqual([...all.zones.values()].map((z) => z.rate), [0, 0]);
  // One zone, all lost (the lab): stop.
  assert.equal(disruptionView(nodes('', 0, 3)).allFullyDisrupted, true);
  // Configurable: a lower threshold turns zone a partial.
  const strict = disruptionView([...nodes('a', 2, 3)], { ...DEFAULT_EVICTION_RATES, unhealthyZoneThreshold: 0.5 });
  assert.equal(strict.zones.get('a')?.state, 'PartialDisruption');
});

test('token bucket with a given clock: one at once, then one per 1/rate seconds; rate 0 admits nothing; a rate change keeps saved tokens', () => {
  const b = new TokenBucket(0.1, T0);
  assert.equal(b.tryTake(T0), true);
  assert.equal(b.tryTake(T0), false);
  assert.equal(b.waitMs(T0), 10_000);
  assert.equal(b.tryTake(T0 + 9_999), false);
  assert.equal(b.waitMs(T0 + 9_999), 1);
  assert.equal(b.tryTake(T0 + 10_000), true);
  // Burst 1: a long quiet time saves only one token.
  assert.equal(b.tryTake(T0 + 100_000), true);
  assert.equal(b.tryTake(T0 + 100_000), false);
  b.setRate(0, T0 + 105_000);
  assert.equal(b.tryTake(T0 + 500_000), false);
  assert.equal(b.waitMs(T0 + 500_000), Infinity);
  b.setRate(0.1, T0 + 500_000);
  assert.equal(b.tryTake(T0 + 500_000), false, 'no token saved while stopped beyond the half from before');
  assert.equal(b.tryTake(T0 + 505_000), true);
});

const lease = (ms: number): KubeObject => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'n3', namespace: 'kube-node-lease' }, spec: { renewTime: iso(ms) } });
const node = (taints: NodeTaint[] = [], ready = 'True'): KubeObject => ({
  apiVersion: 'v1', kind: 'Node',
  metadata: { name: 'n3', creationTimestamp: iso(T0 - 3_600_000) },
  spec: { taints },
  status: { conditions: [{ type: 'Ready', status: ready, lastHeartbeatTime: iso(T0 - 3_600_000), lastTransitionTime: iso(T0 - 3_600_000) }] },
});
const taintPatch = (actions: Action[]) => (actions.find((a) => a.op === 'patch' && !a.subresource) as Extract<Action, { op: 'patch' }> | undefined)?.patch as { spec: { taints: NodeTaint[] } } | undefined;

test('node lifecycle: the zone gate holds back a new NoExecute taint (the condition still turns Unknown); a swap keeps the first time; lifting removes ours only', () => {
  const now = T0 + 60_000;
  assert.equal(effectiveReady(node(), lease(T0), now), 'Unknown');
  assert.equal(effectiveReady(node(), lease(now - 1000), now), 'True');
  const asked: string[] = [];
  const held = reconcileNode(node(), lease(T0), now, { admitTaint: (k) => (asked.push(k), false) });
  assert.deepEqual(asked, [UNREACHABLE]);
  assert.deepEqual(held.map((a) => (a.op === 'patch' ? a.subresource ?? 'spec' : a.op)), ['status'], 'Ready=Unknown written, no taint yet');
  const admitted = reconcileNode(node(), lease(T0), now, { admitTaint: () => true });
  assert.deepEqual(taintPatch(admitted)?.spec.taints, [{ key: UNREACHABLE, effect: 'NoExecute', timeAdded: iso(now) }]);
  // Already tainted: the gate is not asked again.
  const tainted = node([{ key: UNREACHABLE, effect: 'NoExecute', timeAdded: iso(T0 + 45_000) }], 'Unknown');
  assert.deepEqual(reconcileNode(tainted, lease(T0), now, { admitTaint: () => assert.fail('not asked') }), []);
  // not-ready → unreachable keeps the not-ready taint's time.
  const wasNotReady = node([{ key: NOT_READY, effect: 'NoExecute', timeAdded: iso(T0 + 1000) }], 'Unknown');
  assert.deepEqual(taintPatch(reconcileNode(wasNotReady, lease(T0), now, { admitTaint: () => false }))?.spec.taints, [{ key: UNREACHABLE, effect: 'NoExecute', timeAdded: iso(T0 + 1000) }]);
  // Every zone lost: our taints go, others stay.
  const mixed = node([{ key: 'dedicated', value: 'x', effect: 'NoExecute' }, { key: UNREACHABLE, effect: 'NoExecute', timeAdded: iso(T0) }], 'Unknown');
  assert.deepEqual(taintPatch(reconcileNode(mixed, lease(T0), now, { liftTaints: true }))?.spec.taints, [{ key: 'dedicated', value: 'x', effect: 'NoExecute' }]);
});

test('a lost node\'s pods: Ready and ContainersReady turn False (once), with a NodeNotReady event; pods without a Ready condition are left', () => {
  const running = pod({ nodeName: 'n3' }, {
    phase: 'Running',
    conditions: [
      { type: 'PodScheduled', status: 'True' },
      { type: 'ContainersReady', status: 'True', lastTransitionTime: iso(T0 - 1000) },
      { type: 'Ready', status: 'True', lastTransitionTime: iso(T0 - 1000) },
    ],
  });
  const marked = podNotReady(running, T0)!;
  const conds = (marked.status as { conditions: { type: string; status: string; lastTransitionTime?: string }[] }).conditions;
  assert.deepEqual(conds.map((c) => `${c.type}=${c.status}`), ['PodScheduled=True', 'ContainersReady=False', 'Ready=False']);
  assert.equal(conds[2].lastTransitionTime, iso(T0));
  assert.equal(podNotReady(marked, T0 + 5000), undefined, 'already not ready: nothing to write');
  assert.equal(podNotReady(pod({ nodeName: 'n3' }, { phase: 'Pending' }), T0), undefined);
  const actions = markPodsNotReady([running, marked], T0);
  assert.deepEqual(actions.map((a) => a.op), ['update', 'event']);
  assert.equal((actions[0] as Extract<Action, { op: 'update' }>).subresource, 'status');
  assert.equal((actions[1] as Extract<Action, { op: 'event' }>).reason, 'NodeNotReady');
});

test('server options: upstream defaults; seconds, rates and the threshold as given; bad values refused with the option named', () => {
  assert.deepEqual(nodeLossOptions({}), {
    nodeGraceMs: 40_000,
    defaultTolerations: { notReady: 300, unreachable: 300 },
    eviction: { nodeEvictionRate: 0.1, secondaryNodeEvictionRate: 0.01, unhealthyZoneThreshold: 0.55, largeClusterSizeThreshold: 50 },
  });
  const o = nodeLossOptions({ 'default-unreachable-toleration-seconds': '30', 'node-eviction-rate': '2.5', 'unhealthy-zone-threshold': '0.7', 'large-cluster-size-threshold': '10' });
  assert.deepEqual([o.defaultTolerations.unreachable, o.defaultTolerations.notReady, o.eviction.nodeEvictionRate, o.eviction.unhealthyZoneThreshold, o.eviction.largeClusterSizeThreshold], [30, 300, 2.5, 0.7, 10]);
  assert.throws(() => nodeLossOptions({ 'default-not-ready-toleration-seconds': '-1' }), /--default-not-ready-toleration-seconds must be an integer/);
  assert.equal(nodeLossOptions({ 'node-monitor-grace-period': '15' }).nodeGraceMs, 15_000);
  assert.throws(() => nodeLossOptions({ 'node-monitor-grace-period': '10' }), /--node-monitor-grace-period must be an integer from 11 /, 'not within the agents\' 10 s lease renewal');
  assert.throws(() => nodeLossOptions({ 'node-eviction-rate': 'fast' }), /--node-eviction-rate must be a number/);
  assert.throws(() => nodeLossOptions({ 'unhealthy-zone-threshold': '1.5' }), /--unhealthy-zone-threshold must be a number from 0 to 1/);
});
