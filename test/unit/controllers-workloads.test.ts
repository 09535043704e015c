import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reconcileReplicaSet, deletionOrder } from '../../src/controllers/replicaset.ts';
import { reconcileDeployment, podTemplateHash, rollingParams } from '../../src/controllers/deployment.ts';
import type { Action } from '../../src/controllers/actions.ts';
import type { KubeObject } from '../../src/core/types.ts';
import { podFixture } from '../helpers/object-fixtures.ts';

const NOW = Date.parse('2025-01-01T00:00:00Z');

function rs(replicas: number, extra: Partial<KubeObject> = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: 'web-abc', namespace: 'default', uid: 'rs-uid', generation: 2 },
    spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } },
    ...extra,
  };
}

function pod(name: string, opts: { owner?: string; phase?: string; ready?: boolean; node?: string; created?: string; labels?: Record<string, string> } = {}): KubeObject {
  return podFixture(name, {
    labels: opts.labels ?? { app: 'web' },
    ...(opts.owner ? { owner: { kind: 'ReplicaSet', name: 'web-abc', uid: opts.owner } } : {}),
    node: opts.node,
    phase: opts.phase ?? 'Pending',
    ready: opts.ready === true,
    created: opts.created,
  });
}

const ops = (actions: Action[]): string[] => actions.filter((a) => a.op !== 'event').map((a) => (a.op === 'create' || a.op === 'update' ? `${a.op} ${a.gr}` : a.op === 'finalize' ? 'finalize' : `${a.op} ${a.gr} ${a.name}${a.op === 'patch' && a.subresource ? '/' + a.subresource : ''}`));

test('ReplicaSet: creates missing pods from the template with an owner reference', () => {
  const plan = reconcileReplicaSet({ rs: rs(3), pods: [pod('a', { owner: 'rs-uid' })], nowMs: NOW, expectationsSatisfied: true });
  assert.equal(plan.creates, 2);
  const creates = plan.actions.filter((a): a is Extract<Action, { op: 'create' }> => a.op === 'create');
  assert.equal(creates.length, 2);
  const p = creates[0].object;
  assert.equal(p.metadata.generateName, 'web-abc-');
  assert.deepEqual(p.metadata.labels, { app: 'web' });
  assert.deepEqual(p.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc', uid: 'rs-uid', controller: true, blockOwnerDeletion: true }]);
  assert.deepEqual(p.spec, { containers: [{ name: 'c', image: 'i' }] });
});

test('ReplicaSet: waits while expectations are outstanding', () => {
  const plan = reconcileReplicaSet({ rs: rs(3), pods: [], nowMs: NOW, expectationsSatisfied: false });
  assert.equal(plan.creates, 0);
  assert.ok(!plan.actions.some((a) => a.op === 'create'));
});

test('ReplicaSet: deletes surplus pods unscheduled / not-ready / newest first', () => {
  const pods = [
    pod('running-ready', { owner: 'rs-uid', phase: 'Running', ready: true, node: 'n1' }),
    pod('running-notready', { owner: 'rs-uid', phase: 'Running', node: 'n1' }),
    pod('unscheduled', { owner: 'rs-uid' }),
    pod('pending-old', { owner: 'rs-uid', node: 'n1', created: '2024-01-01T00:00:00Z' }),
    pod('pending-new', { owner: 'rs-uid', node: 'n1', created: '2024-06-01T00:00:00Z' }),
  ];
  assert.deepEqual([...pods].sort(deletionOrder).map((p) => p.metadata.name), ['unscheduled', 'pending-new', 'pending-old', 'running-notready', 'running-ready']);
  const plan = reconcileReplicaSet({ rs: rs(2), pods, nowMs: NOW, expectationsSatisfied: true });
  assert.deepEqual(ops(plan.actions).filter((o) => o.startsWith('delete')), ['delete pods unscheduled', 'delete pods pending-new', 'delete pods pending-old']);
});

test('ReplicaSet: adopts matching orphans, ignores terminal pods, writes status only when it changed', () => {
  const pods = [pod('orphan', { phase: 'Running', ready: true }), pod('done', { owner: 'rs-uid', phase: 'Succeeded' }), pod('other', { labels: { app: 'x' } })];
  const plan = reconcileReplicaSet({ rs: rs(1), pods, nowMs: NOW, expectationsSatisfied: true });
  assert.deepEqual(ops(plan.actions), ['patch pods orphan', 'patch replicasets.apps web-abc/status']);
  const status = (plan.actions[1] as Extract<Action, { op: 'patch' }>).patch;
  assert.deepEqual(status, { status: { replicas: 1, fullyLabeledReplicas: 1, readyReplicas: 1, availableReplicas: 1, observedGeneration: 2 } });
  const settled = reconcileReplicaSet({
    rs: rs(1, { status: { replicas: 1, fullyLabeledReplicas: 1, readyReplicas: 1, availableReplicas: 1, observedGeneration: 2 } }),
    pods: [pod('a', { owner: 'rs-uid', phase: 'Running', ready: true })],
    nowMs: NOW,
    expectationsSatisfied: true,
  });
  assert.deepEqual(settled.actions, []);
});

function dep(replicas: number, image: string, strategy: unknown = undefined): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', uid: 'd-uid', generation: 1 },
    spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image }] } }, ...(strategy ? { strategy } : {}) },
  };
}

function ownedRs(d: KubeObject, name: string, hash: string, image: string, replicas: number, available: number, revision: number, created: string): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name, namespace: 'default', uid: `uid-${name}`, creationTimestamp: created,
      labels: { app: 'web', 'pod-template-hash': hash },
      annotations: { 'deployment.kubernetes.io/revision': String(revision) },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: d.metadata.uid ?? '', controller: true }],
    },
    spec: { replicas, template: { metadata: { labels: { app: 'web', 'pod-template-hash': hash } }, spec: { containers: [{ name: 'c', image }] } } },
    status: { replicas, readyReplicas: available, availableReplicas: available },
  };
}

test('Deployment: rolling params resolve percentages like Kubernetes', () => {
  assert.deepEqual(rollingParams(dep(10, 'i')), { maxSurge: 3, maxUnavailable: 2 });
  assert.deepEqual(rollingParams(dep(1, 'i')), { maxSurge: 1, maxUnavailable: 0 });
  assert.deepEqual(rollingParams(dep(4, 'i', { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 0 } })), { maxSurge: 0, maxUnavailable: 1 });
});

test('Deployment: first sync creates a hashed ReplicaSet with the full replica count', () => {
  const d = dep(3, 'v1');
  const actions = reconcileDeployment({ deployment: d, replicaSets: [], nowMs: NOW });
  const create = actions.find((a): a is Extract<Action, { op: 'create' }> => a.op === 'create')!;
  const hash = podTemplateHash((d.spec as { template: never }).template);
  assert.equal(create.object.metadata.name, `web-${hash}`);
  assert.equal((create.object.spec as { replicas: number }).replicas, 3);
  assert.deepEqual((create.object.spec as { selector: unknown }).selector, { matchLabels: { app: 'web', 'pod-template-hash': hash } });
  assert.equal(create.object.metadata.annotations?.['deployment.kubernetes.io/revision'], '1');
  assert.equal(create.object.metadata.ownerReferences?.[0].uid, 'd-uid');
});

test('Deployment: a template change rolls within maxSurge/maxUnavailable; old pods go only as new ones become available', () => {
  const d = dep(4, 'v2'); // maxSurge 1, maxUnavailable 1
  const oldHash = podTemplateHash({ metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'v1' }] } });
  const old = ownedRs(d, `web-${oldHash}`, oldHash, 'v1', 4, 4, 1, '2024-01-01T00:00:00Z');
  const step1 = reconcileDeployment({ deployment: d, replicaSets: [old], nowMs: NOW });
  const created = step1.find((a): a is Extract<Action, { op: 'create' }> => a.op === 'create')!;
  assert.equal((created.object.spec as { replicas: number }).replicas, 1, 'surge of one');
  assert.equal(created.object.metadata.annotations?.['deployment.kubernetes.io/revision'], '2');

  const newHash = podTemplateHash((d.spec as { template: never }).template);
  const fresh = ownedRs(d, `web-${newHash}`, newHash, 'v2', 1, 0, 2, '2025-01-01T00:00:00Z');
  const step2 = reconcileDeployment({ deployment: d, replicaSets: [old, fresh], nowMs: NOW });
  // 5 pods, none new available: one old may go (maxUnavailable 1).
  assert.deepEqual(ops(step2).filter((o) => !o.endsWith('/status')), [`patch replicasets.apps web-${oldHash}`]);
  assert.deepEqual((step2[0] as Extract<Action, { op: 'patch' }>).patch, { spec: { replicas: 3 } });

  const recreate = reconcileDeployment({ deployment: dep(4, 'v2', { type: 'Recreate' }), replicaSets: [old], nowMs: NOW });
  const rc = recreate.find((a): a is Extract<Action, { op: 'create' }> => a.op === 'create')!;
  assert.equal((rc.object.spec as { replicas: number }).replicas, 0, 'Recreate starts the new ReplicaSet only after the old is gone');
});

test('Deployment: a ReplicaSet status older than its scale-down does not let more old pods go than maxUnavailable', () => {
  const d = dep(4, 'v2', { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } });
  const oldHash = podTemplateHash({ metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'v1' }] } });
  const newHash = podTemplateHash((d.spec as { template: never }).template);
  // The old ReplicaSet was just scaled 4 → 3; its status still counts 4 available (it has not deleted one yet).
  const old = { ...ownedRs(d, `web-${oldHash}`, oldHash, 'v1', 3, 4, 1, '2024-01-01T00:00:00Z'), status: { replicas: 4, readyReplicas: 4, availableReplicas: 4 } };
  const fresh = ownedRs(d, `web-${newHash}`, newHash, 'v2', 0, 0, 2, '2025-01-01T00:00:00Z');
  const plan = reconcileDeployment({ deployment: d, replicaSets: [old, fresh], nowMs: NOW });
  const scales = plan.filter((a): a is Extract<Action, { op: 'patch' }> => a.op === 'patch' && !a.subresource);
  assert.deepEqual(scales.map((a) => [a.name, a.patch]), [[`web-${newHash}`, { spec: { replicas: 1 } }]], 'the new one takes the freed place; the old one is not scaled down again');
});

test('Deployment: scaling follows spec.replicas; old idle ReplicaSets beyond revisionHistoryLimit are deleted', () => {
  const d = dep(5, 'v3');
  (d.spec as { revisionHistoryLimit: number }).revisionHistoryLimit = 1;
  const h = podTemplateHash((d.spec as { template: never }).template);
  const cur = ownedRs(d, `web-${h}`, h, 'v3', 2, 2, 3, '2025-01-03T00:00:00Z');
  const r1 = ownedRs(d, 'web-r1', 'r1', 'v1', 0, 0, 1, '2025-01-01T00:00:00Z');
  const r2 = ownedRs(d, 'web-r2', 'r2', 'v2', 0, 0, 2, '2025-01-02T00:00:00Z');
  const actions = reconcileDeployment({ deployment: d, replicaSets: [r2, cur, r1], nowMs: NOW });
  assert.deepEqual(ops(actions), [`patch replicasets.apps web-${h}`, 'delete replicasets.apps web-r1', 'patch deployments.apps web/status']);
  const status = (actions.at(-1) as Extract<Action, { op: 'patch' }>).patch as { status: { replicas: number; availableReplicas: number; conditions: { type: string; status: string }[] } };
  assert.equal(status.status.replicas, 2);
  assert.deepEqual(status.status.conditions.map((c) => `${c.type}=${c.status}`), ['Available=False', 'Progressing=True']);
});
