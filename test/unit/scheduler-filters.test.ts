import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  filterHostPorts,
  filterNodeAffinity,
  filterNodeReady,
  filterNodeUnschedulable,
  filterResources,
  filterTaints,
  hostPortsConflict,
  type FilterResult,
} from '../../src/scheduler/filters.ts';
import { makeNode, makePod, type NodeFixture, type PodFixture } from '../../src/scheduler/fixtures.ts';
import { podInfoOf, podRequests } from '../../src/scheduler/pod-info.ts';
import { Snapshot } from '../../src/scheduler/snapshot.ts';
import type { NodeAffinity, NodeSelectorRequirement } from '../../src/scheduler/api-types.ts';
import type { Pod } from '../../src/scheduler/api-types.ts';

function node(f: NodeFixture = {}, pods: Pod[] = [], name = 'n1') {
  return Snapshot.of([makeNode(name, f)], pods).node(name)!;
}
const pod = (f: PodFixture = {}) => podInfoOf(makePod('p', f));
const reason = (r: FilterResult) => (r.ok ? undefined : r.reason);

test('Ready: a node whose Ready condition is not True is filtered out unless not-ready is tolerated', () => {
  assert.equal(filterNodeReady(pod(), node()).ok, true);
  assert.equal(reason(filterNodeReady(pod(), node({ ready: false }))), 'node(s) had untolerated taint {node.kubernetes.io/not-ready: }');
  const tolerant = pod({ tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists' }] });
  assert.equal(filterNodeReady(tolerant, node({ ready: false })).ok, true);
  const noConditions = makeNode('x');
  delete noConditions.status!.conditions;
  assert.equal(filterNodeReady(pod(), Snapshot.of([noConditions]).node('x')!).ok, false);
});

test('unschedulable: cordoned nodes take no new pods', () => {
  assert.equal(filterNodeUnschedulable(pod(), node()).ok, true);
  assert.equal(reason(filterNodeUnschedulable(pod(), node({ unschedulable: true }))), 'node(s) were unschedulable');
  const tolerant = pod({ tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] });
  assert.equal(filterNodeUnschedulable(tolerant, node({ unschedulable: true })).ok, true);
});

test('nodeSelector: every label must match', () => {
  const n = node({ labels: { disk: 'ssd', zone: 'a' } });
  assert.equal(filterNodeAffinity(pod({ nodeSelector: { disk: 'ssd' } }), n).ok, true);
  assert.equal(filterNodeAffinity(pod({ nodeSelector: { disk: 'ssd', zone: 'a' } }), n).ok, true);
  assert.equal(reason(filterNodeAffinity(pod({ nodeSelector: { disk: 'hdd' } }), n)), "node(s) didn't match Pod's node affinity/selector");
  assert.equal(filterNodeAffinity(pod({ nodeSelector: { gpu: 'true' } }), n).ok, false);
  assert.equal(filterNodeAffinity(pod({ nodeSelector: {} }), n).ok, true);
});

function required(...terms: NodeSelectorRequirement[][]): NodeAffinity {
  return { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms.map((matchExpressions) => ({ matchExpressions })) } };
}

test('required node affinity: operators', () => {
  const n = node({ labels: { zone: 'a', cores: '8' } });
  const fits = (...r: NodeSelectorRequirement[]) => filterNodeAffinity(pod({ affinity: required(r) }), n).ok;
  assert.equal(fits({ key: 'zone', operator: 'In', values: ['a', 'b'] }), true);
  assert.equal(fits({ key: 'zone', operator: 'In', values: ['b'] }), false);
  assert.equal(fits({ key: 'zone', operator: 'NotIn', values: ['b'] }), true);
  assert.equal(fits({ key: 'zone', operator: 'NotIn', values: ['a'] }), false);
  assert.equal(fits({ key: 'missing', operator: 'NotIn', values: ['a'] }), true);
  assert.equal(fits({ key: 'zone', operator: 'Exists' }), true);
  assert.equal(fits({ key: 'missing', operator: 'Exists' }), false);
  assert.equal(fits({ key: 'missing', operator: 'DoesNotExist' }), true);
  assert.equal(fits({ key: 'zone', operator: 'DoesNotExist' }), false);
  assert.equal(fits({ key: 'cores', operator: 'Gt', values: ['4'] }), true);
  assert.equal(fits({ key: 'cores', operator: 'Gt', values: ['8'] }), false);
  assert.equal(fits({ key: 'cores', operator: 'Lt', values: ['16'] }), true);
  assert.equal(fits({ key: 'cores', operator: 'Lt', values: ['8'] }), false);
  assert.equal(fits({ key: 'zone', operator: 'Gt', values: ['1'] }), false, 'non-integer label');
  assert.equal(fits({ key: 'cores', operator: 'Gt', values: ['1', '2'] }), false, 'Gt takes one value');
});

test('required node affinity: expressions ANDed, terms ORed, empty matches nothing, matchFields on name', () => {
  const n = node({ labels: { zone: 'a', disk: 'ssd' } }, [], 'worker-1');
  const fits = (a: NodeAffinity) => filterNodeAffinity(pod({ affinity: a }), n).ok;
  assert.equal(fits(required([{ key: 'zone', operator: 'In', values: ['a'] }, { key: 'disk', operator: 'In', values: ['hdd'] }])), false);
  assert.equal(fits(required([{ key: 'zone', operator: 'In', values: ['b'] }], [{ key: 'disk', operator: 'In', values: ['ssd'] }])), true);
  assert.equal(fits({ requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } }), false);
  assert.equal(fits({ requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{}] } }), false);
  const byName = (operator: 'In' | 'NotIn', values: string[]): NodeAffinity => ({
    requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator, values }] }] },
  });
  assert.equal(fits(byName('In', ['worker-1'])), true);
  assert.equal(fits(byName('In', ['worker-2'])), false);
  assert.equal(fits(byName('NotIn', ['worker-1'])), false);
  // nodeSelector and affinity must both hold
  assert.equal(filterNodeAffinity(pod({ nodeSelector: { zone: 'b' }, affinity: byName('In', ['worker-1']) }), n).ok, false);
});

test('taints: NoSchedule and NoExecute must be tolerated, PreferNoSchedule is not filtered', () => {
  const n = node({ taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] });
  assert.equal(reason(filterTaints(pod(), n)), 'node(s) had untolerated taint {dedicated: db}');
  assert.equal(filterTaints(pod({ tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }] }), n).ok, true);
  assert.equal(filterTaints(pod({ tolerations: [{ key: 'dedicated', value: 'db' }] }), n).ok, true, 'Equal is the default, empty effect matches all');
  assert.equal(filterTaints(pod({ tolerations: [{ key: 'dedicated', value: 'web' }] }), n).ok, false);
  assert.equal(filterTaints(pod({ tolerations: [{ key: 'dedicated', operator: 'Exists' }] }), n).ok, true);
  assert.equal(filterTaints(pod({ tolerations: [{ operator: 'Exists' }] }), n).ok, true, 'empty key with Exists tolerates all');
  assert.equal(filterTaints(pod({ tolerations: [{ key: 'dedicated', operator: 'Exists', effect: 'NoExecute' }] }), n).ok, false, 'effect must match');
  assert.equal(filterTaints(pod({ tolerations: [{ key: 'other', operator: 'Exists' }] }), n).ok, false);

  const noExec = node({ taints: [{ key: 'k', effect: 'NoExecute' }] });
  assert.equal(reason(filterTaints(pod(), noExec)), 'node(s) had untolerated taint {k: }');
  assert.equal(filterTaints(pod({ tolerations: [{ key: 'k', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }] }), noExec).ok, true);

  assert.equal(filterTaints(pod(), node({ taints: [{ key: 'soft', effect: 'PreferNoSchedule' }] })).ok, true);
});

test('resources: cpu, memory and pod count against allocatable minus requested', () => {
  const busy = [makePod('a', { nodeName: 'n1', cpu: '1500m', memory: '3Gi' })];
  const n = node({ cpu: '2', memory: '4Gi', pods: 2 }, busy);
  assert.deepEqual(n.requested, { milliCpu: 1500, memory: 3 * 2 ** 30, pods: 1 });
  assert.equal(filterResources(pod({ cpu: '500m', memory: '1Gi' }), n).ok, true, 'exactly fits');
  assert.equal(reason(filterResources(pod({ cpu: '501m' }), n)), 'Insufficient cpu');
  assert.equal(reason(filterResources(pod({ memory: '1025Mi' }), n)), 'Insufficient memory');
  const both = filterResources(pod({ cpu: '1', memory: '2Gi' }), n);
  assert.deepEqual(both.ok ? [] : [both.reason, ...(both.more ?? [])], ['Insufficient cpu', 'Insufficient memory']);
  assert.equal(filterResources(pod(), n).ok, true, 'no requests fits anywhere with room for a pod');
  const full = node({ pods: 1 }, [makePod('a', { nodeName: 'n1' })]);
  assert.equal(reason(filterResources(pod(), full)), 'Too many pods');
  const finished = node({ pods: 1 }, [makePod('a', { nodeName: 'n1', phase: 'Succeeded' })]);
  assert.equal(filterResources(pod(), finished).ok, true, 'finished pods hold nothing');
});

test('pod requests: containers summed, init containers maxed, limits as default requests, sidecars', () => {
  const p = makePod('p');
  p.spec!.containers = [
    { name: 'a', resources: { requests: { cpu: '100m', memory: '64Mi' } } },
    { name: 'b', resources: { limits: { cpu: '200m', memory: '64Mi' } } },
  ];
  p.spec!.initContainers = [{ name: 'i', resources: { requests: { cpu: '1', memory: '10Mi' } } }];
  assert.deepEqual(podRequests(p), { milliCpu: 1000, memory: 128 * 2 ** 20 });
  p.spec!.initContainers = [
    { name: 'sidecar', restartPolicy: 'Always', resources: { requests: { cpu: '50m', memory: '1Mi' } } },
    { name: 'i', resources: { requests: { cpu: '320m' } } },
  ];
  assert.deepEqual(podRequests(p), { milliCpu: 370, memory: 129 * 2 ** 20 });
  p.spec!.overhead = { cpu: '10m' };
  assert.equal(podRequests(p).milliCpu, 380);
  assert.deepEqual(podRequests(makePod('q'), true), { milliCpu: 100, memory: 200 * 2 ** 20 }, 'non-zero defaults for scoring');
});

test('host ports: same protocol and port with overlapping host IPs conflict', () => {
  const t = (port: number, hostIP = '0.0.0.0', protocol = 'TCP') => ({ port, hostIP, protocol });
  assert.equal(hostPortsConflict(t(80), t(80)), true);
  assert.equal(hostPortsConflict(t(80), t(81)), false);
  assert.equal(hostPortsConflict(t(80), t(80, '0.0.0.0', 'UDP')), false);
  assert.equal(hostPortsConflict(t(80, '10.0.0.1'), t(80)), true);
  assert.equal(hostPortsConflict(t(80, '10.0.0.1'), t(80, '10.0.0.1')), true);
  assert.equal(hostPortsConflict(t(80, '10.0.0.1'), t(80, '10.0.0.2')), false);

  const n = node({}, [makePod('web', { nodeName: 'n1', hostPorts: [{ port: 8080 }, { port: 53, protocol: 'UDP', hostIP: '10.0.0.1' }] })]);
  assert.equal(reason(filterHostPorts(pod({ hostPorts: [{ port: 8080 }] }), n)), "node(s) didn't have free ports for the requested pod ports");
  assert.equal(filterHostPorts(pod({ hostPorts: [{ port: 8080, protocol: 'UDP' }] }), n).ok, true);
  assert.equal(filterHostPorts(pod({ hostPorts: [{ port: 53, protocol: 'UDP', hostIP: '10.0.0.2' }] }), n).ok, true);
  assert.equal(filterHostPorts(pod({ hostPorts: [{ port: 53, protocol: 'UDP' }] }), n).ok, false);
  assert.equal(filterHostPorts(pod(), n).ok, true);
});

test('allocatable: an unreported resource is unlimited, an unreadable one is zero', () => {
  const n = makeNode('x');
  n.status!.allocatable = { cpu: 'lots', pods: '10' };
  const info = Snapshot.of([n]).node('x')!;
  assert.deepEqual(info.allocatable, { milliCpu: 0, memory: Infinity, pods: 10 });
  assert.equal(reason(filterResources(pod({ cpu: '1m' }), info)), 'Insufficient cpu');
  assert.equal(filterResources(pod({ memory: '1Pi' }), info).ok, true);
});
