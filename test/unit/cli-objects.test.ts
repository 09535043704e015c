import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyOrder, formatTable, objectRef, parseManifests } from '../../src/cli/objects.ts';
import { resourceByUserName, type ResourceInfo } from '../../src/core/resources.ts';
import type { KubeObject } from '../../src/core/types.ts';

function info(name: string): ResourceInfo {
  const i = resourceByUserName(name);
  assert.ok(i, name);
  return i;
}

test('manifests: several documents, empty ones skipped, Lists expanded, JSON accepted', () => {
  const yaml = [
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}',
    '',
    'apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}',
  ].join('\n---\n');
  assert.deepEqual(parseManifests(yaml, 'x.yaml').map((o) => `${o.kind}/${o.metadata.name}`), ['Namespace/demo', 'ConfigMap/a', 'ConfigMap/b']);
  assert.deepEqual(parseManifests('{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}', 'p.json').map((o) => o.kind), ['Pod']);
  assert.throws(() => parseManifests('a: [1, 2', 'bad.yaml'), /bad\.yaml/);
  assert.throws(() => parseManifests('- 1\n- 2', 'list.yaml'), /not an object/);
});

test('namespaces are applied first, otherwise in order', () => {
  const objs = [{ kind: 'Service' }, { kind: 'Namespace' }, { kind: 'Deployment' }].map(
    (o, i): KubeObject => ({ apiVersion: 'v1', kind: o.kind, metadata: { name: String(i) } }),
  );
  assert.deepEqual(applyOrder(objs).map((o) => o.kind), ['Namespace', 'Service', 'Deployment']);
});

test('object references read like kubectl', () => {
  assert.equal(objectRef(info('deploy'), 'web'), 'deployment.apps/web');
  assert.equal(objectRef(info('svc'), 'web'), 'service/web');
  assert.equal(objectRef(info('netpol'), 'p'), 'networkpolicy.networking.k8s.io/p');
});

test('the table shows the default columns, with NAMESPACE first across namespaces', () => {
  const now = new Date('2026-11-28T01:00:00Z');
  const cms: KubeObject[] = [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', namespace: 'demo', creationTimestamp: '2026-11-28T00:59:00Z' }, data: { x: '1' } },
  ];
  const text = formatTable(info('cm'), cms, true, now);
  const [header, row] = text.trimEnd().split('\n');
  assert.match(header, /^NAMESPACE\s+NAME\s+.*AGE$/);
  assert.match(row, /^demo\s+a\s+.*60s$/);
  assert.doesNotMatch(formatTable(info('cm'), cms, false, now), /NAMESPACE/);
});
