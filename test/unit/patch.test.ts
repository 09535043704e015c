import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyJsonPatch, applyMergePatch, applyServerSideApply, applyStrategicMergePatch } from '../../src/api/patch.ts';
import { KubeError } from '../../src/core/errors.ts';
import { resourceByGroupResource } from '../../src/core/resources.ts';
import type { Json, JsonObject, KubeObject } from '../../src/core/types.ts';

const pods = resourceByGroupResource('pods')!;
const deployments = resourceByGroupResource('deployments.apps')!;
const services = resourceByGroupResource('services')!;
const netpols = resourceByGroupResource('networkpolicies.networking.k8s.io')!;
const nodes = resourceByGroupResource('nodes')!;

function kubeError(fn: () => unknown, reason: string, pattern?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof KubeError, `expected KubeError, got ${String(err)}`);
    assert.equal(err.reason, reason);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

function hasDirective(v: Json): boolean {
  if (Array.isArray(v)) return v.some(hasDirective);
  if (v !== null && typeof v === 'object') return Object.entries(v).some(([k, x]) => k.startsWith('$') || hasDirective(x));
  return false;
}

describe('applyMergePatch (RFC 7386)', () => {
  it('passes the RFC 7386 appendix A examples', () => {
    const cases: [Json, Json, Json][] = [
      [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
      [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
      [{ a: 'b' }, { a: null }, {}],
      [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
      [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
      [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
      [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
      [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
      [['a', 'b'], ['c', 'd'], ['c', 'd']],
      [{ a: 'b' }, ['c'], ['c']],
      [{ a: 'foo' }, null, null],
      [{ a: 'foo' }, 'bar', 'bar'],
      [{ e: null }, { a: 1 }, { e: null, a: 1 }],
      [[1, 2], { a: 'b', c: null }, { a: 'b' }],
      [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
    ];
    for (const [target, patch, want] of cases) {
      assert.deepEqual(applyMergePatch(target, patch), want, JSON.stringify({ target, patch }));
    }
  });

  it('does not mutate its inputs', () => {
    const target = { spec: { replicas: 1, template: { a: 1 } } };
    const patch = { spec: { replicas: 5 } };
    const out = applyMergePatch(target, patch) as JsonObject;
    assert.deepEqual(target, { spec: { replicas: 1, template: { a: 1 } } });
    (out.spec as JsonObject).template = null;
    assert.deepEqual(target.spec.template, { a: 1 });
  });
});

describe('applyJsonPatch (RFC 6902)', () => {
  const doc = { metadata: { name: 'x', labels: { a: '1' } }, list: [1, 2, 3] };

  it('applies add, remove, replace, move, copy and test', () => {
    const out = applyJsonPatch(doc, [
      { op: 'test', path: '/metadata/name', value: 'x' },
      { op: 'add', path: '/metadata/labels/b~1c', value: '2' },
      { op: 'add', path: '/list/1', value: 9 },
      { op: 'add', path: '/list/-', value: 4 },
      { op: 'remove', path: '/list/0' },
      { op: 'replace', path: '/metadata/name', value: 'y' },
      { op: 'copy', from: '/metadata/name', path: '/copied' },
      { op: 'move', from: '/metadata/labels/a', path: '/moved' },
    ]);
    assert.deepEqual(out, {
      metadata: { name: 'y', labels: { 'b/c': '2' } },
      list: [9, 2, 3, 4],
      copied: 'y',
      moved: '1',
    });
    assert.deepEqual(doc, { metadata: { name: 'x', labels: { a: '1' } }, list: [1, 2, 3] }, 'input untouched');
  });

  it('replaces the whole document at the root pointer', () => {
    assert.deepEqual(applyJsonPatch(doc, [{ op: 'replace', path: '', value: { z: 1 } }]), { z: 1 });
  });

  it('fails with Invalid when an operation cannot apply', () => {
    kubeError(() => applyJsonPatch(doc, [{ op: 'test', path: '/metadata/name', value: 'nope' }]), 'Invalid', /test operation/);
    kubeError(() => applyJsonPatch(doc, [{ op: 'remove', path: '/metadata/missing' }]), 'Invalid', /does not exist/);
    kubeError(() => applyJsonPatch(doc, [{ op: 'replace', path: '/missing', value: 1 }]), 'Invalid');
    kubeError(() => applyJsonPatch(doc, [{ op: 'add', path: '/list/7', value: 1 }]), 'Invalid', /out of bounds/);
    kubeError(() => applyJsonPatch(doc, [{ op: 'add', path: '/a/b', value: 1 }]), 'Invalid');
    kubeError(() => applyJsonPatch(doc, [{ op: 'move', from: '/metadata', path: '/metadata/labels/x' }]), 'Invalid');
  });

  it('fails with BadRequest on malformed operations', () => {
    kubeError(() => applyJsonPatch(doc, { op: 'add' }), 'BadRequest');
    kubeError(() => applyJsonPatch(doc, [{ op: 'frobnicate', path: '/a' }]), 'BadRequest', /unknown op/);
    kubeError(() => applyJsonPatch(doc, [{ op: 'add', path: '/a' }]), 'BadRequest', /missing "value"/);
    kubeError(() => applyJsonPatch(doc, [{ op: 'add', path: 'a', value: 1 }]), 'BadRequest', /pointer/);
  });
});

function pod(spec: JsonObject, extra: JsonObject = {}): JsonObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec, ...extra };
}

describe('applyStrategicMergePatch', () => {
  const base = pod({
    containers: [
      {
        name: 'web',
        image: 'nginx:1.25',
        ports: [{ containerPort: 80, protocol: 'TCP' }, { containerPort: 443, protocol: 'TCP' }],
        env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }],
        volumeMounts: [{ name: 'data', mountPath: '/data' }],
      },
      { name: 'sidecar', image: 'busybox' },
    ],
    volumes: [{ name: 'data', emptyDir: {} }],
    tolerations: [{ key: 'a', operator: 'Exists' }],
  });

  it('merges containers by name, ports by containerPort, env by name', () => {
    const out = applyStrategicMergePatch(
      base,
      {
        spec: {
          containers: [
            {
              name: 'web',
              image: 'nginx:1.26',
              ports: [{ containerPort: 443, name: 'https' }, { containerPort: 8080 }],
              env: [{ name: 'B', value: 'two' }, { name: 'C', value: '3' }],
            },
          ],
        },
      },
      pods,
    );
    const containers = (out.spec as JsonObject).containers as JsonObject[];
    assert.equal(containers.length, 2);
    assert.equal(containers[0].image, 'nginx:1.26');
    assert.deepEqual(containers[0].ports, [
      { containerPort: 80, protocol: 'TCP' },
      { containerPort: 443, protocol: 'TCP', name: 'https' },
      { containerPort: 8080 },
    ]);
    assert.deepEqual(containers[0].env, [
      { name: 'A', value: '1' },
      { name: 'B', value: 'two' },
      { name: 'C', value: '3' },
    ]);
    assert.deepEqual(containers[0].volumeMounts, [{ name: 'data', mountPath: '/data' }]);
    assert.deepEqual(containers[1], { name: 'sidecar', image: 'busybox' });
    assert.equal(((base.spec as JsonObject).containers as JsonObject[])[0].image, 'nginx:1.25', 'input untouched');
  });

  it('replaces atomic lists (tolerations) wholesale', () => {
    const out = applyStrategicMergePatch(base, { spec: { tolerations: [{ key: 'b', operator: 'Exists' }] } }, pods);
    assert.deepEqual((out.spec as JsonObject).tolerations, [{ key: 'b', operator: 'Exists' }]);
  });

  it('deletes list elements with $patch: delete and fields with null', () => {
    const out = applyStrategicMergePatch(
      base,
      {
        spec: {
          containers: [
            { name: 'sidecar', $patch: 'delete' },
            { name: 'web', env: [{ name: 'A', $patch: 'delete' }], volumeMounts: null },
          ],
          volumes: null,
        },
      },
      pods,
    );
    const spec = out.spec as JsonObject;
    assert.equal('volumes' in spec, false);
    const containers = spec.containers as JsonObject[];
    assert.deepEqual(containers.map((c) => c.name), ['web']);
    assert.deepEqual(containers[0].env, [{ name: 'B', value: '2' }]);
    assert.equal('volumeMounts' in containers[0], false);
    assert.equal(hasDirective(out), false);
  });

  it('honours $patch: replace on lists and maps and $patch: delete on maps', () => {
    const out = applyStrategicMergePatch(
      base,
      { spec: { containers: [{ $patch: 'replace' }, { name: 'only', image: 'x' }] } },
      pods,
    );
    assert.deepEqual((out.spec as JsonObject).containers, [{ name: 'only', image: 'x' }]);

    const withSel = { metadata: { name: 'd', labels: { a: '1', b: '2' } }, spec: { selector: { matchLabels: { app: 'x' } } } };
    const replaced = applyStrategicMergePatch(withSel, { metadata: { labels: { $patch: 'replace', c: '3' } } }, deployments);
    assert.deepEqual((replaced.metadata as JsonObject).labels, { c: '3' });
    const deleted = applyStrategicMergePatch(withSel, { spec: { selector: { $patch: 'delete' } } }, deployments);
    assert.deepEqual(deleted.spec, {});
    kubeError(() => applyStrategicMergePatch(withSel, { spec: { $patch: 'explode' } }, deployments), 'BadRequest', /unknown \$patch/);
  });

  it('orders merged lists by $setElementOrder, interleaving server-only elements', () => {
    const out = applyStrategicMergePatch(
      base,
      {
        spec: {
          '$setElementOrder/containers': [{ name: 'sidecar' }, { name: 'new' }, { name: 'web' }],
          containers: [{ name: 'new', image: 'x' }],
        },
      } as JsonObject,
      pods,
    );
    assert.deepEqual(((out.spec as JsonObject).containers as JsonObject[]).map((c) => c.name), ['sidecar', 'new', 'web']);

    // A server-only element keeps its place relative to the ordered ones.
    const three = pod({ containers: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] });
    const out2 = applyStrategicMergePatch(
      three,
      { spec: { '$setElementOrder/containers': [{ name: 'c' }, { name: 'a' }], containers: [{ name: 'a', image: 'i' }] } },
      pods,
    );
    assert.deepEqual(((out2.spec as JsonObject).containers as JsonObject[]).map((c) => c.name), ['b', 'c', 'a']);
    assert.equal(hasDirective(out2), false);
  });

  it('handles $retainKeys', () => {
    const dep = { spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } } };
    const out = applyStrategicMergePatch(dep, { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } } }, deployments);
    assert.deepEqual(out.spec, { strategy: { type: 'Recreate' } });
  });

  it('merges finalizers as a set and handles $deleteFromPrimitiveList', () => {
    const obj = { metadata: { name: 'x', finalizers: ['a', 'b'] }, spec: {} };
    const added = applyStrategicMergePatch(obj, { metadata: { finalizers: ['b', 'c'] } }, pods);
    assert.deepEqual((added.metadata as JsonObject).finalizers, ['a', 'b', 'c']);
    const removed = applyStrategicMergePatch(obj, { metadata: { '$deleteFromPrimitiveList/finalizers': ['a'] } }, pods);
    assert.deepEqual((removed.metadata as JsonObject).finalizers, ['b']);
    assert.equal(hasDirective(removed), false);
  });

  it('merges service ports by port, ownerReferences by uid and conditions by type', () => {
    const svc: JsonObject = { spec: { ports: [{ port: 80, targetPort: 8080 }, { port: 443 }] } };
    const out = applyStrategicMergePatch(svc, { spec: { ports: [{ port: 80, name: 'http' }] } }, services);
    assert.deepEqual((out.spec as JsonObject).ports, [{ port: 80, targetPort: 8080, name: 'http' }, { port: 443 }]);

    const owned = { metadata: { ownerReferences: [{ uid: 'u1', name: 'a' }] } };
    const o2 = applyStrategicMergePatch(owned, { metadata: { ownerReferences: [{ uid: 'u2', name: 'b' }] } }, pods);
    assert.equal(((o2.metadata as JsonObject).ownerReferences as Json[]).length, 2);

    const st = { status: { conditions: [{ type: 'Ready', status: 'False' }, { type: 'Scheduled', status: 'True' }] } };
    const o3 = applyStrategicMergePatch(st, { status: { conditions: [{ type: 'Ready', status: 'True' }] } }, pods);
    assert.deepEqual((o3.status as JsonObject).conditions, [{ type: 'Ready', status: 'True' }, { type: 'Scheduled', status: 'True' }]);

    const node = { status: { addresses: [{ type: 'InternalIP', address: '10.0.0.1' }, { type: 'Hostname', address: 'n1' }] } };
    const o4 = applyStrategicMergePatch(node, { status: { addresses: [{ type: 'InternalIP', address: '10.0.0.2' }] } }, nodes);
    assert.deepEqual((o4.status as JsonObject).addresses, [{ type: 'InternalIP', address: '10.0.0.2' }, { type: 'Hostname', address: 'n1' }]);
  });

  it('treats NetworkPolicy lists as atomic', () => {
    const np = { spec: { ingress: [{ from: [{ podSelector: {} }] }], policyTypes: ['Ingress'] } };
    const out = applyStrategicMergePatch(np, { spec: { ingress: [{ ports: [{ port: 80 }] }] } }, netpols);
    assert.deepEqual((out.spec as JsonObject).ingress, [{ ports: [{ port: 80 }] }]);
  });

  it('rejects elements without their merge key and unknown directives', () => {
    kubeError(() => applyStrategicMergePatch(base, { spec: { containers: [{ image: 'x' }] } }, pods), 'BadRequest', /merge key: name/);
    kubeError(() => applyStrategicMergePatch(base, { spec: { $foo: 1 } }, pods), 'BadRequest', /unknown directive/);
  });

  it('applies the 3-way patch kubectl apply sends for a Deployment image and replicas change', () => {
    const lastApplied = (image: string, replicas: number): string =>
      JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { annotations: {}, name: 'web', namespace: 'default' },
        spec: {
          replicas,
          selector: { matchLabels: { app: 'web' } },
          template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ image, name: 'web', ports: [{ containerPort: 80 }] }] } },
        },
      });
    const live: JsonObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: 'web',
        namespace: 'default',
        uid: 'abc',
        resourceVersion: '12',
        generation: 1,
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': lastApplied('nginx:1.25', 2) },
      },
      spec: {
        replicas: 2,
        revisionHistoryLimit: 10,
        selector: { matchLabels: { app: 'web' } },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            restartPolicy: 'Always',
            containers: [
              {
                name: 'web',
                image: 'nginx:1.25',
                imagePullPolicy: 'IfNotPresent',
                ports: [{ containerPort: 80, protocol: 'TCP' }],
              },
            ],
          },
        },
      },
      status: { replicas: 2 },
    };
    // What kubectl v1.32 computes for this change (CreateThreeWayMergePatch).
    const patch: JsonObject = {
      metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': lastApplied('nginx:1.26', 3) } },
      spec: {
        replicas: 3,
        template: {
          spec: {
            '$setElementOrder/containers': [{ name: 'web' }],
            containers: [{ image: 'nginx:1.26', name: 'web' }],
          },
        },
      },
    };
    const out = applyStrategicMergePatch(live, patch, deployments);
    const spec = out.spec as JsonObject;
    assert.equal(spec.replicas, 3);
    const containers = ((spec.template as JsonObject).spec as JsonObject).containers as JsonObject[];
    assert.deepEqual(containers, [
      { name: 'web', image: 'nginx:1.26', imagePullPolicy: 'IfNotPresent', ports: [{ containerPort: 80, protocol: 'TCP' }] },
    ]);
    assert.deepEqual(spec.strategy, (live.spec as JsonObject).strategy);
    assert.equal(spec.revisionHistoryLimit, 10);
    assert.deepEqual(out.status, { replicas: 2 });
    assert.equal((out.metadata as JsonObject).uid, 'abc');
    assert.match(
      ((out.metadata as JsonObject).annotations as JsonObject)['kubectl.kubernetes.io/last-applied-configuration'] as string,
      /nginx:1\.26/,
    );
    assert.equal(hasDirective(out), false);
  });
});

describe('applyServerSideApply', () => {
  const now = new Date('2026-01-02T03:04:05.678Z');
  const applied: KubeObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', labels: { app: 'web' } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'web', image: 'nginx:1.25' }] },
      },
    },
  };

  it('creates: the applied object plus a managedFields entry', () => {
    const out = applyServerSideApply(undefined, applied, deployments, 'kubectl', now);
    assert.equal(out.kind, 'Deployment');
    assert.deepEqual(out.spec, applied.spec);
    const mf = out.metadata.managedFields as JsonObject[];
    assert.equal(mf.length, 1);
    assert.equal(mf[0].manager, 'kubectl');
    assert.equal(mf[0].operation, 'Apply');
    assert.equal(mf[0].apiVersion, 'apps/v1');
    assert.equal(mf[0].time, '2026-01-02T03:04:05Z');
    assert.equal(mf[0].fieldsType, 'FieldsV1');
    const f = mf[0].fieldsV1 as JsonObject;
    const containers = ((((f['f:spec'] as JsonObject)['f:template'] as JsonObject)['f:spec'] as JsonObject)['f:containers']) as JsonObject;
    assert.deepEqual(containers['k:{"name":"web"}'], { '.': {}, 'f:name': {}, 'f:image': {} });
    assert.equal(applied.metadata.managedFields, undefined, 'input untouched');
  });

  it('updates: merges by key, leaves unmentioned fields alone, replaces its own managedFields entry', () => {
    const existing = applyServerSideApply(undefined, applied, deployments, 'kubectl', now);
    existing.metadata.uid = 'u1';
    existing.metadata.resourceVersion = '7';
    (existing.metadata.managedFields as JsonObject[]).push({ manager: 'controller', operation: 'Update', fieldsType: 'FieldsV1' });
    (existing.spec as JsonObject).revisionHistoryLimit = 10;
    (((existing.spec as JsonObject).template as JsonObject).spec as JsonObject).containers = [
      { name: 'web', image: 'nginx:1.25', imagePullPolicy: 'IfNotPresent' },
      { name: 'side', image: 'busybox' },
    ];
    existing.status = { replicas: 2 };

    const next: KubeObject = structuredClone(applied);
    (next.spec as JsonObject).replicas = 4;
    (((next.spec as JsonObject).template as JsonObject).spec as JsonObject).containers = [{ name: 'web', image: 'nginx:1.26' }];
    const out = applyServerSideApply(existing, next, deployments, 'kubectl', now);

    assert.equal(out.metadata.uid, 'u1');
    assert.equal((out.spec as JsonObject).replicas, 4);
    assert.equal((out.spec as JsonObject).revisionHistoryLimit, 10);
    assert.deepEqual(out.status, { replicas: 2 });
    assert.deepEqual((((out.spec as JsonObject).template as JsonObject).spec as JsonObject).containers, [
      { name: 'web', image: 'nginx:1.26', imagePullPolicy: 'IfNotPresent' },
      { name: 'side', image: 'busybox' },
    ]);
    const managers = (out.metadata.managedFields as JsonObject[]).map((e) => `${e.manager}/${e.operation}`);
    assert.deepEqual(managers, ['controller/Update', 'kubectl/Apply']);
  });
});
