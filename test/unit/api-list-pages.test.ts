import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ListPager, parseLimit } from '../../src/api/list-pages.ts';
import { isKubeError } from '../../src/core/errors.ts';
import type { KubeObject } from '../../src/core/types.ts';

const items = (n: number): KubeObject[] =>
  Array.from({ length: n }, (_, i) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i}` } }));
const names = (xs: KubeObject[]) => xs.map((x) => x.metadata.name);

test('pages walk one snapshot', () => {
  const pager = new ListPager();
  const first = pager.first('q', items(5), '7', 2);
  assert.deepEqual(names(first.items), ['cm-0', 'cm-1']);
  assert.equal(first.remainingItemCount, 3);
  assert.equal(first.resourceVersion, '7');
  const second = pager.next('q', first.continue!, 2);
  assert.deepEqual(names(second.items), ['cm-2', 'cm-3']);
  const third = pager.next('q', second.continue!, 2);
  assert.deepEqual(names(third.items), ['cm-4']);
  assert.equal(third.continue, undefined);
  assert.equal(third.resourceVersion, '7');
  assert.equal(pager.size, 0);
});

test('no limit or a small list needs no token', () => {
  const pager = new ListPager();
  assert.equal(pager.first('q', items(3), '1', undefined).continue, undefined);
  assert.equal(pager.first('q', items(3), '1', 3).continue, undefined);
  assert.equal(pager.size, 0);
});

test('unknown, reused, mismatched and expired tokens are 410 Expired', () => {
  let now = 1000;
  const pager = new ListPager({ ttlMs: 100, now: () => now });
  const expired = (fn: () => unknown) => assert.throws(fn, (e) => isKubeError(e, 'Expired') && e.code === 410);
  expired(() => pager.next('q', 'bogus', 1));
  const a = pager.first('q', items(3), '1', 1);
  expired(() => pager.next('other', a.continue!, 1));
  const b = pager.first('q', items(3), '1', 1);
  pager.next('q', b.continue!, 1);
  expired(() => pager.next('q', b.continue!, 1));
  const c = pager.first('q', items(3), '1', 1);
  now += 101;
  expired(() => pager.next('q', c.continue!, 1));
});

test('snapshots are bounded, oldest dropped', () => {
  const pager = new ListPager({ maxSnapshots: 2 });
  const t1 = pager.first('q', items(3), '1', 1).continue!;
  pager.first('q', items(3), '1', 1);
  pager.first('q', items(3), '1', 1);
  assert.equal(pager.size, 2);
  assert.throws(() => pager.next('q', t1, 1), (e) => isKubeError(e, 'Expired'));
});

test('limit parsing', () => {
  assert.equal(parseLimit(null), undefined);
  assert.equal(parseLimit('0'), undefined);
  assert.equal(parseLimit('500'), 500);
  assert.throws(() => parseLimit('-1'), (e) => isKubeError(e, 'BadRequest'));
  assert.throws(() => parseLimit('x'), (e) => isKubeError(e, 'BadRequest'));
});
