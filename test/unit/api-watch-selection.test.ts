import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SelectionTracker } from '../../src/api/watch-stream.ts';
import { parseFilter } from '../../src/api/registry.ts';
import { resourceByGroupResource } from '../../src/core/resources.ts';
import type { KubeObject } from '../../src/core/types.ts';

const obj = (name: string, labels: Record<string, string>): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'ns', labels } });
const configmaps = resourceByGroupResource('configmaps')!;
const filter = parseFilter(configmaps, new URLSearchParams({ labelSelector: 'app=web' }));
const kind = (e: { type: string } | undefined) => e?.type;

test('objects entering and leaving a selector become ADDED and DELETED', () => {
  const t = new SelectionTracker(filter);
  assert.equal(kind(t.next('ADDED', obj('a', { app: 'web' }), true)), 'ADDED');
  assert.equal(kind(t.next('ADDED', obj('b', { app: 'db' }), true)), undefined);
  assert.equal(kind(t.next('MODIFIED', obj('a', { app: 'web', v: '2' }), true)), 'MODIFIED');
  assert.equal(kind(t.next('MODIFIED', obj('a', { app: 'db' }), true)), 'DELETED');
  assert.equal(kind(t.next('MODIFIED', obj('a', { app: 'db', v: '3' }), true)), undefined);
  assert.equal(kind(t.next('MODIFIED', obj('b', { app: 'web' }), true)), 'ADDED');
  assert.equal(kind(t.next('DELETED', obj('b', { app: 'web' }), true)), 'DELETED');
  assert.equal(kind(t.next('DELETED', obj('x', { app: 'db' }), true)), undefined);
});

test('initial objects are held; unknown history keeps MODIFIED', () => {
  const t = new SelectionTracker(filter);
  t.hold(obj('a', { app: 'web' }));
  assert.equal(kind(t.next('MODIFIED', obj('a', { app: 'db' }), true)), 'DELETED');
  const fromRv = new SelectionTracker(filter);
  assert.equal(kind(fromRv.next('MODIFIED', obj('c', { app: 'web' }), false)), 'MODIFIED');
});

test('a watch on one name sees only that object', () => {
  const t = new SelectionTracker(parseFilter(configmaps, new URLSearchParams(), 'only'));
  assert.equal(kind(t.next('ADDED', obj('only', {}), true)), 'ADDED');
  assert.equal(kind(t.next('ADDED', obj('other', {}), true)), undefined);
});
