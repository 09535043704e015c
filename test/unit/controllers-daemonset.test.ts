import { test } from 'node:test';
import assert from 'node:assert/strict';
import { daemonPod, nodeShouldRun, reconcileDaemonSet, type DaemonSetSnapshot } from '../../src/controllers/daemonset.ts';
import { planRevisions, templateHash } from '../../src/controllers/controller-revision.ts';
import type { Action } from '../../src/controllers/actions.ts';
import type { KubeObject } from '../../src/core/types.ts';
import { makeNode } from '../../src/scheduler/fixtures.ts';
import type { Node } from '../../src/scheduler/api-types.ts';
import { podFixture } from '../helpers/object-fixtures.ts';

const NOW = Date.parse('2025-01-01T00:10:00Z');
const TEMPLATE = { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'c', image: 'i:1' }] } };

function ds(spec: Record<string, unknown> = {}, template: Record<string, unknown> = TEMPLATE): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'agent', namespace: 'default', uid: 'ds-uid', generation: 1 },
    spec: { selector: { matchLabels: { app: 'agent' } }, template, ...spec },
  };
}

function pod(name: string, node: string, hash: string, opts: { ready?: boolean; phase?: string; deleting?: boolean } = {}): KubeObject {
  return podFixture(name, {
    labels: { app: 'agent', 'controller-revision-hash': hash },
    owner: { kind: 'DaemonSet', name: 'agent', uid: 'ds-uid' },
    node,
    phase: opts.phase ?? 'Running',
    ready: opts.ready !== false,
    readySince: '2025-01-01T00:00:00Z',
    deleting: opts.deleting,
  });
}

const snap = (d: KubeObject, nodes: Node[], pods: KubeObject[]): DaemonSetSnapshot => ({ ds: d, nodes, pods, revisions: [], nowMs: NOW, expectationsSatisfied: true });
const podOps = (actions: Action[]): string[] =>
  actions.flatMap((a) => (a.op === 'create' && a.gr === 'pods' ? [`create ${(a.object.spec as { nodeName: string }).nodeName}`] : a.op === 'delete' && a.gr === 'pods' ? [`delete ${a.name}`] : []));
const hashOf = (d: KubeObject): string => templateHash((d.spec as { template: unknown }).template);

test('DaemonSet: one pod per node, bound by nodeName and a metadata.name affinity term, with the daemon tolerations', () => {
  const d = ds();
  const plan = reconcileDaemonSet(snap(d, [makeNode('n1'), makeNode('n2')], []));
  assert.deepEqual(podOps(plan.actions).sort(), ['create n1', 'create n2']);
  const created = plan.actions.find((a) => a.op === 'create' && a.gr === 'pods');
  assert.ok(created && created.op === 'create');
  const spec = created.object.spec as { nodeName: string; tolerations: { key?: string; effect?: string }[]; affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: unknown[] } } } };
  assert.deepEqual(spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms, [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [spec.nodeName] }] }]);
  assert.ok(spec.tolerations.some((t) => t.key === 'node.kubernetes.io/unreachable' && t.effect === 'NoExecute'));
  assert.equal(created.object.metadata.labels?.['controller-revision-hash'], plan.hash);
  assert.equal(plan.status.desiredNumberScheduled, 2);
  assert.equal(plan.status.currentNumberScheduled, 0);
  // The first revision is created with number 1.
  const rev = plan.actions.find((a) => a.op === 'create' && a.gr === 'controllerrevisions.apps');
  assert.ok(rev && rev.op === 'create');
  assert.equal((rev.object as KubeObject & { revision: number }).revision, 1);
  assert.equal(rev.object.metadata.name, `agent-${plan.hash}`);
});

test('DaemonSet: nodeSelector, required affinity and taints decide the nodes', () => {
  const sel = ds({}, { ...TEMPLATE, spec: { ...TEMPLATE.spec, nodeSelector: { role: 'edge' } } });
  assert.equal(nodeShouldRun(sel, makeNode('a', { labels: { role: 'edge' } })).shouldRun, true);
  assert.deepEqual(nodeShouldRun(sel, makeNode('b')), { shouldRun: false, shouldContinue: false });
  const d = ds();
  // NoSchedule untolerated: no new pod, but one there may stay; NoExecute: it goes.
  assert.deepEqual(nodeShouldRun(d, makeNode('c', { taints: [{ key: 'gpu', effect: 'NoSchedule' }] })), { shouldRun: false, shouldContinue: true });
  assert.deepEqual(nodeShouldRun(d, makeNode('c', { taints: [{ key: 'gpu', effect: 'NoExecute' }] })), { shouldRun: false, shouldContinue: false });
  // The default daemon tolerations cover unreachable/not-ready NoExecute and disk-pressure NoSchedule.
  const lost = makeNode('d', { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }, { key: 'node.kubernetes.io/disk-pressure', effect: 'NoSchedule' }] });
  assert.deepEqual(nodeShouldRun(d, lost), { shouldRun: true, shouldContinue: true });
  const tolerant = ds({}, { ...TEMPLATE, spec: { ...TEMPLATE.spec, tolerations: [{ key: 'gpu', operator: 'Exists' }] } });
  assert.equal(nodeShouldRun(tolerant, makeNode('e', { taints: [{ key: 'gpu', effect: 'NoExecute' }] })).shouldRun, true);
  const affinity = ds({}, { ...TEMPLATE, spec: { ...TEMPLATE.spec, affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['z1'] }] }] } } } } });
  assert.equal(nodeShouldRun(affinity, makeNode('f', { labels: { zone: 'z1' } })).shouldRun, true);
  assert.equal(nodeShouldRun(affinity, makeNode('g', { labels: { zone: 'z2' } })).shouldRun, false);
  // A daemon pod's own affinity names only its node (the template's required terms are replaced).
  const p = daemonPod(affinity, 'f', 'h');
  assert.equal(JSON.stringify(p.spec).includes('zone'), false);
});

test('DaemonSet: a node leaving takes its pod; a new node gets one; a node turning ineligible loses it', () => {
  const d = ds();
  const h = hashOf(d);
  const plan = reconcileDaemonSet(snap(d, [makeNode('n1'), makeNode('n3'), makeNode('n4', { taints: [{ key: 'x', effect: 'NoExecute' }] })], [pod('p1', 'n1', h), pod('p2', 'n2', h), pod('p4', 'n4', h)]));
  assert.deepEqual(podOps(plan.actions).sort(), ['create n3', 'delete p2', 'delete p4']);
  assert.equal(plan.status.desiredNumberScheduled, 2);
  assert.equal(plan.status.numberReady, 1);
  assert.equal(plan.status.numberMisscheduled, 1);
});

test('DaemonSet: failed pods are replaced; duplicates on a node go', () => {
  const d = ds();
  const h = hashOf(d);
  const plan = reconcileDaemonSet(snap(d, [makeNode('n1'), makeNode('n2')], [pod('f', 'n1', h, { phase: 'Failed' }), pod('a', 'n2', h), pod('b', 'n2', h)]));
  assert.deepEqual(podOps(plan.actions).sort(), ['create n1', 'delete b', 'delete f']);
});

test('DaemonSet: RollingUpdate with maxUnavailable deletes at most that many available old pods; status counts the updated ones', () => {
  const d = ds({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 2, maxSurge: 0 } } });
  const h = hashOf(d);
  const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'].map((n) => makeNode(n));
  const plan = reconcileDaemonSet(snap(d, nodes, [pod('p1', 'n1', 'old'), pod('p2', 'n2', 'old'), pod('p3', 'n3', 'old'), pod('p4', 'n4', 'old'), pod('p5', 'n5', h)]));
  assert.equal(podOps(plan.actions).filter((o) => o.startsWith('delete')).length, 2);
  assert.equal(plan.status.updatedNumberScheduled, 1);
  // One node already unavailable (its pod being replaced): only one more may go.
  const next = reconcileDaemonSet(snap(d, nodes, [pod('p1', 'n1', 'old', { deleting: true }), pod('p2', 'n2', 'old'), pod('p3', 'n3', 'old'), pod('p4', 'n4', 'old'), pod('p5', 'n5', h)]));
  assert.deepEqual(podOps(next.actions), ['create n1', 'delete p2']);
  // An old pod that is not available is replaced without counting.
  const broken = reconcileDaemonSet(snap(d, nodes, [pod('p1', 'n1', 'old', { ready: false }), pod('p2', 'n2', h), pod('p3', 'n3', h), pod('p4', 'n4', h), pod('p5', 'n5', h)]));
  assert.deepEqual(podOps(broken.actions), ['delete p1']);
});

test('DaemonSet: RollingUpdate with maxSurge creates the new pod first, then deletes the old one once it is available', () => {
  const d = ds({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } } });
  const h = hashOf(d);
  const nodes = [makeNode('n1'), makeNode('n2')];
  const first = reconcileDaemonSet(snap(d, nodes, [pod('a', 'n1', 'old'), pod('b', 'n2', 'old')]));
  assert.equal(podOps(first.actions).length, 1);
  assert.match(podOps(first.actions)[0], /^create n[12]$/);
  const waiting = reconcileDaemonSet(snap(d, nodes, [pod('a', 'n1', 'old'), pod('a2', 'n1', h, { ready: false }), pod('b', 'n2', 'old')]));
  assert.deepEqual(podOps(waiting.actions), []);
  const done = reconcileDaemonSet(snap(d, nodes, [pod('a', 'n1', 'old'), pod('a2', 'n1', h), pod('b', 'n2', 'old')]));
  assert.deepEqual(podOps(done.actions), ['delete a']);
});

test('DaemonSet: OnDelete leaves old pods alone and replaces deleted ones with the new template', () => {
  const d = ds({ updateStrategy: { type: 'OnDelete' } });
  const h = hashOf(d);
  const plan = reconcileDaemonSet(snap(d, [makeNode('n1'), makeNode('n2')], [pod('a', 'n1', 'old')]));
  const created = plan.actions.filter((a) => a.op === 'create' && a.gr === 'pods');
  assert.deepEqual(podOps(plan.actions), ['create n2']);
  assert.equal(created[0].op === 'create' && created[0].object.metadata.labels?.['controller-revision-hash'], h);
  assert.equal(plan.status.updatedNumberScheduled, 0);
});

test('DaemonSet: no pod changes while expectations are pending, or while the DaemonSet is being deleted', () => {
  const d = ds();
  assert.deepEqual(podOps(reconcileDaemonSet({ ...snap(d, [makeNode('n1')], []), expectationsSatisfied: false }).actions), []);
  const gone = { ...d, metadata: { ...d.metadata, deletionTimestamp: '2025-01-01T00:00:00Z' } };
  assert.deepEqual(reconcileDaemonSet(snap(gone, [makeNode('n1')], [])).actions.filter((a) => a.op !== 'patch'), []);
});

test('ControllerRevisions: a rollback renumbers the old revision; history beyond the limit is pruned, never a live one', () => {
  const owner = ds();
  const ref = [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: 'ds-uid', controller: true }];
  const t1 = { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'c', image: 'i:1' }] } };
  const t2 = { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'c', image: 'i:2' }] } };
  const rev = (t: unknown, n: number, name = `agent-${templateHash(t)}`): KubeObject => ({
    apiVersion: 'apps/v1', kind: 'ControllerRevision',
    metadata: { name, namespace: 'default', uid: `u-${n}`, labels: { 'controller-revision-hash': templateHash(t) }, ownerReferences: ref },
    data: { spec: { template: { ...(t as object), $patch: 'replace' } } }, revision: n,
  } as KubeObject);
  const back = planRevisions(owner, [rev(t1, 1), rev(t2, 2)], t1, new Set(), 10);
  assert.equal(back.revision, 3);
  assert.deepEqual(back.actions.map((a) => a.op), ['patch']);
  const t3 = { ...t1, spec: { containers: [{ name: 'c', image: 'i:3' }] } };
  const pruned = planRevisions(owner, [rev(t1, 1), rev(t2, 2)], t3, new Set([templateHash(t1)]), 0);
  assert.deepEqual(pruned.actions.map((a) => (a.op === 'delete' ? `delete ${a.name}` : a.op)), ['create', `delete agent-${templateHash(t2)}`]);
});
