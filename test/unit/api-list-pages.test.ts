import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeContinue, encodeContinue, pageOf, parseLimit } from '../../src/api/list-pages.ts';
import { isKubeError } from '../../src/core/errors.ts';
import type { KubeObject } from '../../src/core/types.ts';

const items = (n: number): KubeObject[] =>
  Array.from({ length: n }, (_, i) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: 'ns', name: `cm-${i}` } }));
const names = (xs: KubeObject[]) => xs.map((x) => x.metadata.name);

test('a page carries the version and the last key in its token', () => {
  const first = pageOf(items(5), '7', 2);
  assert.deepEqual(names(first.items), ['cm-0', 'cm-1']);
  assert.equal(first.remainingItemCount, 3);
  assert.equal(first.resourceVersion, '7');
  assert.deepEqual(decodeContinue(first.continue!), { resourceVersion: '7', start: 'ns/cm-1' });
});

test('no limit or a list that fits needs no token', () => {
  assert.equal(pageOf(items(3), '1', undefined).continue, undefined);
  assert.equal(pageOf(items(3), '1', 3).continue, undefined);
  assert.equal(pageOf(items(3), '1', 3).remainingItemCount, undefined);
});

test('tokens round-trip; what does not decode is 400 BadRequest', () => {
  const t = { resourceVersion: '123', start: 'default/a\u0000b' };
  assert.deepEqual(decodeContinue(encodeContinue(t)), t);
  const bad = (text: string) => assert.throws(() => decodeContinue(text), (e) => isKubeError(e, 'BadRequest') && e.code === 400);
  bad('bogus');
  bad(Buffer.from('{"v":"other/v1","rv":"1","start":"a/b"}').toString('base64url'));
  bad(Buffer.from('{"v":"meshlet.io/v1","rv":"x","start":"a/b"}').toString('base64url'));
  bad(Buffer.from('{"v":"meshlet.io/v1","rv":"1","start":""}').toString('base64url'));
  bad(Buffer.from('[1]').toString('base64url'));
});

test('limit parsing', () => {
  assert.equal(parseLimit(null), undefined);
  assert.equal(parseLimit('0'), undefined);
  assert.equal(parseLimit('500'), 500);
  assert.throws(() => parseLimit('-1'), (e) => isKubeError(e, 'BadRequest'));
  assert.throws(() => parseLimit('x'), (e) => isKubeError(e, 'BadRequest'));
});
