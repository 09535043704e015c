import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bindPod,
  checkBody,
  decideDeletion,
  parseDeleteOptions,
  prepareForCreate,
  prepareForFinalize,
  prepareForStatusUpdate,
  prepareForUpdate,
  shouldDeleteDuringUpdate,
  toScale,
} from '../../src/api/object-rules.ts';
import { resourceFor } from '../../src/core/resources.ts';
import { isKubeError } from '../../src/core/errors.ts';
import type { KubeObject } from '../../src/core/types.ts';

const pods = resourceFor('', 'v1', 'pods')!;
const deployments = resourceFor('apps', 'v1', 'deployments')!;
const namespaces = resourceFor('', 'v1', 'namespaces')!;
const configmaps = resourceFor('', 'v1', 'configmaps')!;
const nodes = resourceFor('', 'v1', 'nodes')!;
const now = new Date('2026-01-02T03:04:05.678Z');

const pod = (extra: Partial<KubeObject> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'default', uid: 'u1', resourceVersion: '5', creationTimestamp: '2026-01-01T00:00:00Z', generation: 1 },
  spec: { containers: [{ name: 'c', image: 'busybox' }] },
  status: { phase: 'Running' },
  ...extra,
});

test('checkBody fills kind/apiVersion and rejects mismatches', () => {
  const ok = checkBody({ metadata: { name: 'x' } }, { apiVersion: 'v1', kind: 'Pod' }, 'ns', undefined);
  assert.equal(ok.kind, 'Pod');
  assert.equal(ok.apiVersion, 'v1');
  const bad = (body: unknown, name?: string) =>
    assert.throws(() => checkBody(body as never, { apiVersion: 'v1', kind: 'Pod' }, 'ns', name), (e) => isKubeError(e, 'BadRequest'));
  bad([1, 2]);
  bad('text');
  bad({ apiVersion: 'apps/v1', kind: 'Pod', metadata: {} });
  bad({ apiVersion: 'v1', kind: 'Service', metadata: {} });
  bad({ metadata: { namespace: 'other' } });
  bad({ metadata: { name: 'a' } }, 'b');
  assert.throws(
    () => checkBody({ metadata: { namespace: 'other' } }, { apiVersion: 'v1', kind: 'Pod' }, 'ns', undefined),
    /the namespace of the provided object does not match the namespace sent on the request/,
  );
});

test('create: server metadata, generated name, status reset (but not for nodes)', () => {
  const input: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'web-', uid: 'forged', resourceVersion: '99', deletionTimestamp: 'x' },
    spec: {},
    status: { phase: 'Running' },
  };
  const out = prepareForCreate(pods, input, { namespace: 'ns', now, uid: 'new-uid', suffix: () => 'abcde' });
  assert.equal(out.metadata.name, 'web-abcde');
  assert.equal(out.metadata.namespace, 'ns');
  assert.equal(out.metadata.uid, 'new-uid');
  assert.equal(out.metadata.creationTimestamp, '2026-01-02T03:04:05Z');
  assert.equal(out.metadata.generation, 1);
  assert.equal(out.metadata.resourceVersion, undefined);
  assert.equal(out.metadata.deletionTimestamp, undefined);
  assert.equal(out.status, undefined);
  assert.equal(input.metadata.name, undefined, 'input untouched');
  const node = prepareForCreate(nodes, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n', namespace: 'x' }, status: { phase: 'Running' } }, { now, uid: 'u' });
  assert.deepEqual(node.status, { phase: 'Running' });
  assert.equal(node.metadata.namespace, undefined);
  const cm = prepareForCreate(configmaps, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: {} }, { namespace: 'ns', now, uid: 'u' });
  assert.equal(cm.metadata.generation, undefined);
});

test('update keeps server metadata and status, bumps generation on spec change', () => {
  const old = pod();
  const changed = prepareForUpdate(pods, old, {
    ...pod(),
    metadata: { name: 'p', uid: 'forged', creationTimestamp: 'x', labels: { a: 'b' } },
    spec: { containers: [{ name: 'c', image: 'nginx' }] },
    status: { phase: 'Failed' },
  });
  assert.equal(changed.metadata.uid, 'u1');
  assert.equal(changed.metadata.namespace, 'default');
  assert.equal(changed.metadata.creationTimestamp, '2026-01-01T00:00:00Z');
  assert.deepEqual(changed.metadata.labels, { a: 'b' });
  assert.deepEqual(changed.status, { phase: 'Running' });
  assert.equal(changed.metadata.generation, 2);
  const same = prepareForUpdate(pods, old, { ...pod(), metadata: { ...old.metadata, labels: { x: 'y' } } });
  assert.equal(same.metadata.generation, 1);
});

test('namespace spec.finalizers change only through finalize or status', () => {
  const ns: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n' }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } };
  assert.deepEqual(prepareForUpdate(namespaces, ns, { ...ns, spec: { finalizers: [] } }).spec, { finalizers: ['kubernetes'] });
  assert.deepEqual(prepareForFinalize(ns, { ...ns, spec: { finalizers: [] } }).spec, { finalizers: [] });
  assert.deepEqual(prepareForStatusUpdate(namespaces, ns, { ...ns, spec: { finalizers: [] } }).spec, { finalizers: [] });
});

test('status update changes only status', () => {
  const old = pod({ metadata: { ...pod().metadata, labels: { a: '1' } } });
  const next = prepareForStatusUpdate(pods, old, {
    ...old,
    metadata: { ...old.metadata, labels: { a: '2' } },
    spec: { containers: [] },
    status: { phase: 'Succeeded', podIP: '10.0.0.1' },
  });
  assert.deepEqual(next.metadata.labels, { a: '1' });
  assert.deepEqual(next.spec, old.spec);
  assert.deepEqual(next.status, { phase: 'Succeeded', podIP: '10.0.0.1' });
});

test('deletion decisions', () => {
  // Plain object: gone at once.
  assert.deepEqual(decideDeletion(configmaps, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }, {}, now), { action: 'delete' });
  // Finalizers hold it.
  const held = decideDeletion(configmaps, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', finalizers: ['x/y'] } }, {}, now);
  assert.equal(held.action, 'mark');
  if (held.action === 'mark') {
    assert.equal(held.object.metadata.deletionTimestamp, '2026-01-02T03:04:05Z');
    assert.equal(held.object.metadata.deletionGracePeriodSeconds, 0);
    assert.equal(shouldDeleteDuringUpdate(configmaps, { ...held.object, metadata: { ...held.object.metadata, finalizers: [] } }), true);
    // Deleting again changes nothing.
    assert.deepEqual(decideDeletion(configmaps, held.object, {}, now), { action: 'unchanged' });
  }
  // Unbound pod: at once. Bound running pod: graceful.
  assert.deepEqual(decideDeletion(pods, pod(), {}, now), { action: 'delete' });
  const bound = pod({ spec: { nodeName: 'n1', terminationGracePeriodSeconds: 20, containers: [] } });
  const graceful = decideDeletion(pods, bound, {}, now);
  assert.equal(graceful.action, 'mark');
  if (graceful.action === 'mark') {
    assert.equal(graceful.object.metadata.deletionTimestamp, '2026-01-02T03:04:25Z');
    assert.equal(graceful.object.metadata.deletionGracePeriodSeconds, 20);
    assert.equal(shouldDeleteDuringUpdate(pods, graceful.object), false);
    // The node agent finishes it.
    assert.deepEqual(decideDeletion(pods, graceful.object, { gracePeriodSeconds: 0 }, now), { action: 'delete' });
  }
  assert.deepEqual(decideDeletion(pods, bound, { gracePeriodSeconds: 0 }, now), { action: 'delete' });
  assert.deepEqual(decideDeletion(pods, pod({ spec: { nodeName: 'n1' }, status: { phase: 'Succeeded' } }), {}, now), { action: 'delete' });
  // Foreground records a finalizer.
  const fg = decideDeletion(deployments, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' } }, { propagationPolicy: 'Foreground' }, now);
  assert.equal(fg.action, 'mark');
  if (fg.action === 'mark') assert.deepEqual(fg.object.metadata.finalizers, ['foregroundDeletion']);
  // Namespaces go Terminating while spec.finalizers remain.
  const ns: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n' }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } };
  const term = decideDeletion(namespaces, ns, {}, now);
  assert.equal(term.action, 'mark');
  if (term.action === 'mark') {
    assert.deepEqual(term.object.status, { phase: 'Terminating' });
    assert.equal(shouldDeleteDuringUpdate(namespaces, term.object), false);
    assert.equal(shouldDeleteDuringUpdate(namespaces, prepareForFinalize(term.object, { ...ns, spec: { finalizers: [] } })), true);
  }
});

test('delete options from body and query', () => {
  assert.deepEqual(parseDeleteOptions({ propagationPolicy: 'Background' }, new URLSearchParams()), { propagationPolicy: 'Background' });
  assert.deepEqual(parseDeleteOptions(undefined, new URLSearchParams('gracePeriodSeconds=0')), { gracePeriodSeconds: 0 });
  assert.deepEqual(parseDeleteOptions({ preconditions: { uid: 'u' } }, new URLSearchParams()), { preconditions: { uid: 'u' } });
  assert.throws(() => parseDeleteOptions({ propagationPolicy: 'Sideways' }, new URLSearchParams()), (e) => isKubeError(e, 'BadRequest'));
});

test('scale view and binding', () => {
  const d: KubeObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'd', namespace: 'ns', uid: 'u', resourceVersion: '3' },
    spec: { replicas: 2, selector: { matchLabels: { app: 'web' } } },
    status: { replicas: 1 },
  };
  const scale = toScale(d);
  assert.equal(scale.kind, 'Scale');
  assert.equal(scale.apiVersion, 'autoscaling/v1');
  assert.equal(scale.spec.replicas, 2);
  assert.equal(scale.status.replicas, 1);
  assert.equal(scale.status.selector, 'app=web');
  assert.equal(scale.metadata.resourceVersion, '3');
  const bound = bindPod(pod(), 'node-1', now);
  assert.equal((bound.spec as { nodeName: string }).nodeName, 'node-1');
  const conds = (bound.status as { conditions: { type: string; status: string }[] }).conditions;
  assert.deepEqual(conds.map((c) => [c.type, c.status]), [['PodScheduled', 'True']]);
});
