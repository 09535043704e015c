import { test } from 'node:test';
import assert from 'node:assert/strict';
import { numFeasibleNodesToFind, schedule, scheduleAndAssume, unschedulableMessage } from '../../src/scheduler/schedule.ts';
import { makeNode, makePod } from '../../src/scheduler/fixtures.ts';
import { podInfoOf } from '../../src/scheduler/pod-info.ts';
import { Snapshot } from '../../src/scheduler/snapshot.ts';

test('picks the only node that fits', () => {
  const s = Snapshot.of([makeNode('small', { cpu: '1' }), makeNode('big', { cpu: '8' }), makeNode('ssd', { cpu: '1', labels: { disk: 'ssd' } })]);
  assert.deepEqual(schedule(podInfoOf(makePod('p', { cpu: '2' })), s), { node: 'big' });
  assert.deepEqual(schedule(podInfoOf(makePod('p', { nodeSelector: { disk: 'ssd' } })), s), { node: 'ssd' });
});

test('prefers the emptier node', () => {
  const s = Snapshot.of([makeNode('a'), makeNode('b')], [makePod('x', { nodeName: 'a', cpu: '2', memory: '4Gi' })]);
  for (let i = 0; i < 10; i++) assert.deepEqual(schedule(podInfoOf(makePod(`p${i}`, { cpu: '100m' })), s), { node: 'b' });
});

test('prefers the node matching preferred affinity, and the one without PreferNoSchedule taints', () => {
  const s = Snapshot.of([makeNode('a', { labels: { zone: 'a' } }), makeNode('b', { labels: { zone: 'b' } }), makeNode('c', { labels: { zone: 'c' } })]);
  const affine = podInfoOf(
    makePod('p', {
      affinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 10, preference: { matchExpressions: [{ key: 'zone', operator: 'In', values: ['b'] }] } }],
      },
    }),
  );
  assert.deepEqual(schedule(affine, s), { node: 'b' });
  const t = Snapshot.of([
    makeNode('a', { taints: [{ key: 'soft', effect: 'PreferNoSchedule' }] }),
    makeNode('b', { taints: [{ key: 'soft', effect: 'PreferNoSchedule' }] }),
    makeNode('c'),
  ]);
  for (let i = 0; i < 10; i++) assert.deepEqual(schedule(podInfoOf(makePod(`p${i}`)), t), { node: 'c' });
});

test('unschedulable: reasons per node, first failing filter wins, Kubernetes message', () => {
  const s = Snapshot.of([
    makeNode('a', { cpu: '1' }),
    makeNode('b', { cpu: '1', labels: { disk: 'ssd' } }),
    makeNode('c', { cpu: '8', taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] }),
    makeNode('d', { cpu: '8', ready: false }),
  ]);
  const r = schedule(podInfoOf(makePod('p', { cpu: '2', nodeSelector: { disk: 'ssd' } })), s);
  assert.equal(r.node, undefined);
  assert.ok(r.node === undefined);
  assert.deepEqual(
    Object.fromEntries(r.reasons),
    {
      "node(s) didn't match Pod's node affinity/selector": 1,
      'Insufficient cpu': 1,
      'node(s) had untolerated taint {dedicated: db}': 1,
      'node(s) had untolerated taint {node.kubernetes.io/not-ready: }': 1,
    },
  );
  assert.equal(
    unschedulableMessage(s.nodes.length, r.reasons),
    "0/4 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {dedicated: db}, 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }.",
  );
});

test('unschedulable message format as kube-scheduler writes it', () => {
  const reasons = new Map([
    ["node(s) didn't match Pod's node affinity/selector", 1],
    ['Insufficient cpu', 2],
  ]);
  assert.equal(unschedulableMessage(3, reasons), "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 Insufficient cpu.");
  assert.equal(unschedulableMessage(0, new Map()), 'no nodes available to schedule pods');
  const s = Snapshot.of([makeNode('a', { cpu: '1', memory: '1Gi' }), makeNode('b', { cpu: '1', memory: '1Gi' })]);
  const r = schedule(podInfoOf(makePod('p', { cpu: '2', memory: '2Gi' })), s);
  assert.ok(r.node === undefined);
  assert.equal(unschedulableMessage(2, r.reasons), '0/2 nodes are available: 2 Insufficient cpu, 2 Insufficient memory.');
});

test('many pods without requests spread evenly across equal nodes', () => {
  const s = Snapshot.of(['a', 'b', 'c', 'd'].map((n) => makeNode(n)));
  const counts = new Map<string, number>();
  for (let i = 0; i < 40; i++) {
    const r = scheduleAndAssume(podInfoOf(makePod(`p${i}`)), s);
    assert.ok(r.node);
    counts.set(r.node, (counts.get(r.node) ?? 0) + 1);
  }
  assert.deepEqual([...counts.values()].sort(), [10, 10, 10, 10]);
});

test('pods of one owner spread across equal nodes even when scores tie', () => {
  // Huge nodes: one pod changes no resource score, so only spread and the tie-break decide.
  const s = Snapshot.of(['a', 'b', 'c'].map((n) => makeNode(n, { cpu: '100000', memory: '1000Ti' })));
  const counts = new Map<string, number>();
  for (let i = 0; i < 30; i++) {
    const r = scheduleAndAssume(podInfoOf(makePod(`p${i}`, { owner: 'rs', cpu: '10m' })), s);
    assert.ok(r.node);
    counts.set(r.node, (counts.get(r.node) ?? 0) + 1);
  }
  assert.deepEqual([...counts.values()], [10, 10, 10]);
});

test('ties are broken by pod, not always toward the first node', () => {
  const s = Snapshot.of(['a', 'b', 'c', 'd', 'e'].map((n) => makeNode(n, { cpu: '100000', memory: '1000Ti' })));
  const chosen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const p = podInfoOf(makePod(`p${i}`, { cpu: '1m' }));
    const r = schedule(p, s);
    assert.ok(r.node);
    assert.deepEqual(schedule(p, s), r, 'deterministic for the same pod and snapshot');
    chosen.add(r.node);
  }
  assert.equal(chosen.size, 5);
});

test('the snapshot counts an assumed pod so the next decision sees it', () => {
  const s = Snapshot.of([makeNode('a', { cpu: '1', pods: 2 }), makeNode('b', { cpu: '1', pods: 2 })]);
  const first = podInfoOf(makePod('p1', { cpu: '600m', hostPorts: [{ port: 80 }], owner: 'rs' }));
  const r1 = scheduleAndAssume(first, s);
  assert.ok(r1.node);
  const n = s.node(r1.node)!;
  assert.deepEqual(n.requested, { milliCpu: 600, memory: 0, pods: 1 });
  assert.deepEqual(n.hostPorts, [{ protocol: 'TCP', hostIP: '0.0.0.0', port: 80 }]);
  assert.equal(s.ownerCountOn('uid-rs', r1.node), 1);
  assert.equal(s.placed('default/p1')?.assumed, true);

  const r2 = scheduleAndAssume(podInfoOf(makePod('p2', { cpu: '600m' })), s);
  assert.ok(r2.node && r2.node !== r1.node, 'the second 600m pod goes to the other node');
  const r3 = schedule(podInfoOf(makePod('p3', { cpu: '600m' })), s);
  assert.ok(r3.node === undefined);
  assert.equal(unschedulableMessage(2, r3.reasons), '0/2 nodes are available: 2 Insufficient cpu.');

  // forgetting (binding failed) frees the node again
  s.forget('default/p1');
  assert.deepEqual(s.node(r1.node)!.requested, { milliCpu: 0, memory: 0, pods: 0 });
  assert.deepEqual(s.node(r1.node)!.hostPorts, []);
  assert.equal(s.ownerCountOn('uid-rs', r1.node), 0);
  assert.equal(s.ownerCounts('uid-rs'), undefined);
  assert.deepEqual(schedule(podInfoOf(makePod('p3', { cpu: '600m' })), s), { node: r1.node });
});

test('snapshot follows API events: bound pods, finished pods, node updates and removals', () => {
  const s = Snapshot.of([makeNode('a', { cpu: '2' })]);
  const info = podInfoOf(makePod('p', { cpu: '1' }));
  s.assume(info, 'a');
  s.setPod(makePod('p', { cpu: '1' })); // the informer still shows it unbound: stays assumed
  assert.equal(s.node('a')!.requested.milliCpu, 1000);
  s.setPod(makePod('p', { cpu: '1', nodeName: 'a', phase: 'Running' })); // bound: confirmed, counted once
  assert.equal(s.node('a')!.requested.milliCpu, 1000);
  assert.equal(s.placed('default/p')?.assumed, false);
  s.setNode(makeNode('a', { cpu: '4', labels: { new: 'label' } })); // a node update keeps its pods
  assert.equal(s.node('a')!.requested.milliCpu, 1000);
  assert.equal(s.node('a')!.allocatable.milliCpu, 4000);
  s.setPod(makePod('p', { cpu: '1', nodeName: 'a', phase: 'Succeeded' }));
  assert.equal(s.node('a')!.requested.milliCpu, 0);
  assert.equal(s.podCount, 0);

  s.setPod(makePod('q', { cpu: '1', nodeName: 'b' })); // bound to a node not seen yet
  s.setNode(makeNode('b'));
  assert.equal(s.node('b')!.requested.milliCpu, 1000);
  s.removeNode('a');
  assert.deepEqual(s.nodes.map((n) => n.name), ['b']);
  assert.equal(s.node('a'), undefined);
  s.removePod('default/q');
  assert.equal(s.node('b')!.requested.milliCpu, 0);
});

test('numFeasibleNodesToFind follows kube-scheduler', () => {
  assert.equal(numFeasibleNodesToFind(50), 50);
  assert.equal(numFeasibleNodesToFind(99), 99);
  assert.equal(numFeasibleNodesToFind(100), 100); // 49% of 100 is below the floor of 100
  assert.equal(numFeasibleNodesToFind(1000), 420); // 50 - 8 = 42%
  assert.equal(numFeasibleNodesToFind(5000), 500); // 50 - 40 = 10%
  assert.equal(numFeasibleNodesToFind(10000), 500); // floor of 5%
  assert.equal(numFeasibleNodesToFind(1000, 100), 1000);
  assert.equal(numFeasibleNodesToFind(1000, 30), 300);
  assert.equal(numFeasibleNodesToFind(1000, 1), 100);
});

test('with many nodes only a share is scored, but the start rotates so every node is used', () => {
  const s = Snapshot.of(Array.from({ length: 1000 }, (_, i) => makeNode(`n${i}`)));
  const counts = new Map<string, number>();
  for (let i = 0; i < 1000; i++) {
    const r = scheduleAndAssume(podInfoOf(makePod(`p${i}`, { cpu: '100m' })), s);
    assert.ok(r.node);
    counts.set(r.node, (counts.get(r.node) ?? 0) + 1);
  }
  // Near the end a window may hold no empty node, so a few nodes get a second pod.
  assert.ok(counts.size >= 990, `${counts.size} nodes used`);
  assert.ok(Math.max(...counts.values()) <= 2);
  // An impossible pod still looks at every node for its reasons.
  const r = schedule(podInfoOf(makePod('huge', { cpu: '5' })), s);
  assert.ok(r.node === undefined);
  assert.equal(unschedulableMessage(1000, r.reasons), '0/1000 nodes are available: 1000 Insufficient cpu.');
});
