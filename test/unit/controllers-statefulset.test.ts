import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ordinalOf, reconcileStatefulSet } from '../../src/controllers/statefulset.ts';
import { templateHash } from '../../src/controllers/controller-revision.ts';
import type { Action } from '../../src/controllers/actions.ts';
import type { KubeObject } from '../../src/core/types.ts';

const NOW = Date.parse('2025-01-01T00:10:00Z');
const T1 = { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'c', image: 'db:1' }] } };

function sts(spec: Record<string, unknown> = {}, status?: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'db', namespace: 'default', uid: 'sts-uid', generation: 1 },
    spec: { replicas: 3, serviceName: 'db-hl', selector: { matchLabels: { app: 'db' } }, template: T1, ...spec },
    ...(status ? { status } : {}),
  };
}

const REV1 = `db-${templateHash(T1)}`;

function pod(ordinal: number, opts: { rev?: string; ready?: boolean; deleting?: boolean } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `db-${ordinal}`,
      namespace: 'default',
      uid: `uid-${ordinal}`,
      labels: { app: 'db', 'controller-revision-hash': opts.rev ?? REV1 },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', uid: 'sts-uid', controller: true }],
      ...(opts.deleting ? { deletionTimestamp: '2025-01-01T00:09:00Z' } : {}),
    },
    spec: {},
    status: { phase: opts.ready === false ? 'Pending' : 'Running', conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }] },
  };
}

const run = (set: KubeObject, pods: KubeObject[]) => reconcileStatefulSet({ sts: set, pods, revisions: [], nowMs: NOW, expectationsSatisfied: true });
const podOps = (actions: Action[]): string[] =>
  actions.flatMap((a) => (a.op === 'create' && a.gr === 'pods' ? [`create ${a.object.metadata.name}`] : a.op === 'delete' && a.gr === 'pods' ? [`delete ${a.name}`] : []));

test('ordinals: only <sts>-<n> names count', () => {
  const s = sts();
  assert.equal(ordinalOf(s, 'db-0'), 0);
  assert.equal(ordinalOf(s, 'db-12'), 12);
  assert.equal(ordinalOf(s, 'db-01'), undefined);
  assert.equal(ordinalOf(s, 'dbx-1'), undefined);
});

test('OrderedReady: creates db-0 first with its identity; the next waits until the previous is Running and Ready', () => {
  const first = run(sts(), []);
  assert.deepEqual(podOps(first.actions), ['create db-0']);
  const created = first.actions.find((a) => a.op === 'create' && a.gr === 'pods');
  assert.ok(created && created.op === 'create');
  const spec = created.object.spec as { hostname?: string; subdomain?: string };
  assert.equal(spec.hostname, 'db-0');
  assert.equal(spec.subdomain, 'db-hl');
  assert.equal(created.object.metadata.labels?.['statefulset.kubernetes.io/pod-name'], 'db-0');
  assert.equal(created.object.metadata.labels?.['apps.kubernetes.io/pod-index'], '0');
  assert.equal(created.object.metadata.labels?.['controller-revision-hash'], REV1);
  assert.deepEqual(podOps(run(sts(), [pod(0, { ready: false })]).actions), []);
  assert.deepEqual(podOps(run(sts(), [pod(0)]).actions), ['create db-1']);
  // A deleted pod comes back under its own name.
  assert.deepEqual(podOps(run(sts(), [pod(0), pod(2)]).actions), ['create db-1']);
});

test('Parallel: every missing pod at once; scale down removes all surplus at once', () => {
  assert.deepEqual(podOps(run(sts({ podManagementPolicy: 'Parallel' }), []).actions), ['create db-0', 'create db-1', 'create db-2']);
  assert.deepEqual(podOps(run(sts({ podManagementPolicy: 'Parallel', replicas: 1 }), [pod(0), pod(1), pod(2)]).actions).sort(), ['delete db-1', 'delete db-2']);
});

test('OrderedReady scale down: highest ordinal first, one at a time', () => {
  const set = sts({ replicas: 1 });
  assert.deepEqual(podOps(run(set, [pod(0), pod(1), pod(2)]).actions), ['delete db-2']);
  assert.deepEqual(podOps(run(set, [pod(0), pod(1), pod(2, { deleting: true })]).actions), []);
  assert.deepEqual(podOps(run(set, [pod(0), pod(1)]).actions), ['delete db-1']);
});

test('RollingUpdate: highest ordinal first, down to the partition; status names both revisions', () => {
  const t2 = { ...T1, spec: { containers: [{ name: 'c', image: 'db:2' }] } };
  const rev2 = `db-${templateHash(t2)}`;
  const set = sts({ template: t2 }, { currentRevision: REV1 });
  const revisions = [{ apiVersion: 'apps/v1', kind: 'ControllerRevision', metadata: { name: REV1, namespace: 'default', uid: 'r1', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', uid: 'sts-uid', controller: true }] }, data: { spec: { template: { ...T1, $patch: 'replace' } } }, revision: 1 } as KubeObject];
  const plan = reconcileStatefulSet({ sts: set, pods: [pod(0), pod(1), pod(2)], revisions, nowMs: NOW, expectationsSatisfied: true });
  assert.deepEqual(podOps(plan.actions), ['delete db-2']);
  assert.equal(plan.status.currentRevision, REV1);
  assert.equal(plan.status.updateRevision, rev2);
  // The updated pod must be healthy before the next goes.
  const waiting = reconcileStatefulSet({ sts: set, pods: [pod(0), pod(1), pod(2, { rev: rev2, ready: false })], revisions, nowMs: NOW, expectationsSatisfied: true });
  assert.deepEqual(podOps(waiting.actions), []);
  // A partition of 2 keeps db-0 and db-1 on the old revision; a recreated db-0 comes back on it too.
  const parted = sts({ template: t2, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } }, { currentRevision: REV1 });
  assert.deepEqual(podOps(reconcileStatefulSet({ sts: parted, pods: [pod(0), pod(1), pod(2, { rev: rev2 })], revisions, nowMs: NOW, expectationsSatisfied: true }).actions), []);
  const recreated = reconcileStatefulSet({ sts: parted, pods: [pod(1), pod(2, { rev: rev2 })], revisions, nowMs: NOW, expectationsSatisfied: true });
  const c = recreated.actions.find((a) => a.op === 'create' && a.gr === 'pods');
  assert.ok(c && c.op === 'create');
  assert.equal(c.object.metadata.labels?.['controller-revision-hash'], REV1);
  assert.equal((c.object.spec as { containers: { image: string }[] }).containers[0].image, 'db:1');
  // All updated and ready: the update revision becomes current.
  const done = reconcileStatefulSet({ sts: set, pods: [pod(0, { rev: rev2 }), pod(1, { rev: rev2 }), pod(2, { rev: rev2 })], revisions, nowMs: NOW, expectationsSatisfied: true });
  assert.equal(done.status.currentRevision, rev2);
  assert.equal(done.status.updatedReplicas, 3);
});

test('OnDelete: old pods stay', () => {
  const t2 = { ...T1, spec: { containers: [{ name: 'c', image: 'db:2' }] } };
  assert.deepEqual(podOps(run(sts({ template: t2, updateStrategy: { type: 'OnDelete' } }), [pod(0), pod(1), pod(2)]).actions), []);
});
