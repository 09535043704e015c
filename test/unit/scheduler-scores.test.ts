import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  intolerablePreferNoSchedule,
  normaliseAffinity,
  normaliseSpread,
  normaliseTaints,
  preferredAffinityWeight,
  scoreBalancedAllocation,
  scoreLeastAllocated,
  spreadCount,
} from '../../src/scheduler/scores.ts';
import { makeNode, makePod, type NodeFixture, type PodFixture } from '../../src/scheduler/fixtures.ts';
import { podInfoOf } from '../../src/scheduler/pod-info.ts';
import { Snapshot } from '../../src/scheduler/snapshot.ts';
import type { Pod } from '../../src/scheduler/api-types.ts';

function node(f: NodeFixture = {}, pods: Pod[] = [], name = 'n1') {
  return Snapshot.of([makeNode(name, f)], pods).node(name)!;
}
const pod = (f: PodFixture = {}) => podInfoOf(makePod('p', f));

test('least allocated: the free share of cpu and memory after placing the pod', () => {
  const empty = node({ cpu: '4', memory: '8Gi' });
  assert.equal(scoreLeastAllocated(pod({ cpu: '1', memory: '2Gi' }), empty), 75);
  assert.equal(scoreLeastAllocated(pod({ cpu: '2', memory: '2Gi' }), empty), 62); // (50 + 75) / 2
  const half = node({ cpu: '4', memory: '8Gi' }, [makePod('a', { nodeName: 'n1', cpu: '2', memory: '4Gi' })]);
  assert.equal(scoreLeastAllocated(pod({ cpu: '1', memory: '2Gi' }), half), 25);
  assert.ok(scoreLeastAllocated(pod({ cpu: '1', memory: '2Gi' }), empty) > scoreLeastAllocated(pod({ cpu: '1', memory: '2Gi' }), half));
  assert.equal(scoreLeastAllocated(pod({ cpu: '8', memory: '16Gi' }), empty), 0, 'over capacity scores 0');
  // pods without requests count as 100m / 200Mi for scoring
  assert.equal(scoreLeastAllocated(pod(), node({ cpu: '1', memory: '2000Mi' })), 90);
});

test('balanced allocation: equal cpu and memory fractions score best', () => {
  const n = node({ cpu: '4', memory: '8Gi' });
  assert.equal(scoreBalancedAllocation(pod({ cpu: '2', memory: '4Gi' }), n), 100);
  assert.equal(scoreBalancedAllocation(pod({ cpu: '4', memory: '0' }), n), 50);
  assert.equal(scoreBalancedAllocation(pod({ cpu: '2', memory: '1Gi' }), n), 81); // |0.5 - 0.125| / 2 = 0.1875
  const skewed = node({ cpu: '4', memory: '8Gi' }, [makePod('a', { nodeName: 'n1', cpu: '3', memory: '1Gi' })]);
  // placing a memory-heavy pod on a cpu-heavy node balances it
  assert.ok(scoreBalancedAllocation(pod({ cpu: '100m', memory: '4Gi' }), skewed) > scoreBalancedAllocation(pod({ cpu: '1', memory: '100Mi' }), skewed));
});

test('spread: fewer pods of the same owner on a node score higher', () => {
  const s = Snapshot.of(
    [makeNode('a'), makeNode('b'), makeNode('c')],
    [
      makePod('x1', { nodeName: 'a', owner: 'rs1' }),
      makePod('x2', { nodeName: 'a', owner: 'rs1' }),
      makePod('x3', { nodeName: 'b', owner: 'rs1' }),
      makePod('y1', { nodeName: 'c', owner: 'rs2' }),
    ],
  );
  const siblings = s.ownerCounts(pod({ owner: 'rs1' }).ownerUid);
  const counts = s.nodes.map((n) => spreadCount(siblings, n));
  assert.deepEqual(counts, [2, 1, 0]);
  assert.deepEqual(counts.map((c) => normaliseSpread(c, 2)), [0, 50, 100]);
  assert.equal(s.ownerCounts(pod().ownerUid), undefined, 'pods without an owner do not spread');
  assert.equal(spreadCount(undefined, s.node('a')!), 0);
  assert.equal(s.ownerCountOn('uid-rs2', 'c'), 1);
  assert.equal(normaliseSpread(0, 0), 100);
});

test('preferred node affinity: sum of matching weights, normalised to the best node', () => {
  const p = pod({
    affinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        { weight: 80, preference: { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] } },
        { weight: 20, preference: { matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] } },
      ],
    },
  });
  const weights = [
    node({ labels: { zone: 'a', disk: 'ssd' } }),
    node({ labels: { zone: 'a' } }),
    node({ labels: { disk: 'ssd' } }),
    node(),
  ].map((n) => preferredAffinityWeight(p, n));
  assert.deepEqual(weights, [100, 80, 20, 0]);
  assert.deepEqual(weights.map((w) => normaliseAffinity(w, 100)), [100, 80, 20, 0]);
  assert.equal(normaliseAffinity(40, 80), 50);
  assert.equal(normaliseAffinity(0, 0), 0);
});

test('PreferNoSchedule taints: untolerated ones lower the score', () => {
  const tainted = node({ taints: [{ key: 'soft', effect: 'PreferNoSchedule' }, { key: 'other', value: 'x', effect: 'PreferNoSchedule' }] });
  assert.equal(intolerablePreferNoSchedule(pod(), tainted), 2);
  assert.equal(intolerablePreferNoSchedule(pod({ tolerations: [{ key: 'soft', operator: 'Exists', effect: 'PreferNoSchedule' }] }), tainted), 1);
  assert.equal(intolerablePreferNoSchedule(pod({ tolerations: [{ key: 'soft', operator: 'Exists', effect: 'NoSchedule' }] }), tainted), 2);
  assert.equal(intolerablePreferNoSchedule(pod(), node({ taints: [{ key: 'hard', effect: 'NoSchedule' }] })), 0);
  assert.deepEqual([0, 1, 2].map((c) => normaliseTaints(c, 2)), [100, 50, 0]);
  assert.equal(normaliseTaints(0, 0), 100);
});
