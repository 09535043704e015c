import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stateAt, type FirstChange } from '../../src/store/history.ts';
import { isStoreUnavailable, storeError } from '../../src/store/unavailable.ts';
import { persistenceArgs } from '../../src/store/redis-process.ts';
import { KubeError, isKubeError } from '../../src/core/errors.ts';
import type { KubeObject } from '../../src/core/types.ts';

const cm = (name: string, rv: string, data = ''): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { namespace: 'ns', name, resourceVersion: rv },
  data: { v: data },
});

test('stateAt puts changed keys back to their earlier state and drops what was created since', () => {
  // Now: a (unchanged, rv 3), b (modified at 9, was rv 4), d (created at 8); c was deleted at 10 (was rv 5).
  const now = [cm('a', '3'), cm('b', '9', 'new'), cm('d', '8')];
  const changes = new Map<string, FirstChange>([
    ['ns/b', { type: 'MODIFIED', before: cm('b', '4', 'old') }],
    ['ns/c', { type: 'DELETED', before: cm('c', '5') }],
    ['ns/d', { type: 'ADDED' }],
  ]);
  const at = stateAt(now, changes);
  assert.deepEqual(at.map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`), ['a@3', 'b@4', 'c@5']);
  assert.equal((at[1].data as { v: string }).v, 'old');
});

test('stateAt without changes is the state now', () => {
  const now = [cm('a', '3'), cm('b', '4')];
  assert.deepEqual(stateAt(now, new Map()), now);
});

test('stateAt refuses a modified key without its earlier state', () => {
  assert.throws(() => stateAt([cm('a', '9')], new Map([['ns/a', { type: 'MODIFIED' }]])));
});

test('connection failures and "cannot serve now" replies are unavailable; other replies are not', () => {
  const reply = (message: string): Error => Object.assign(new Error(message), { name: 'ReplyError' });
  assert.equal(isStoreUnavailable(new Error("Stream isn't writeable and enableOfflineQueue options is false")), true);
  assert.equal(isStoreUnavailable(new Error('Connection is closed.')), true);
  assert.equal(isStoreUnavailable(reply('LOADING Redis is loading the dataset in memory')), true);
  assert.equal(isStoreUnavailable(reply('MISCONF Errors writing to the AOF file')), true);
  assert.equal(isStoreUnavailable(reply('ERR Error running script')), false);
  assert.equal(isStoreUnavailable(new KubeError('NotFound', 'x')), false);
  const mapped = storeError(new Error('Connection is closed.'));
  assert.ok(isKubeError(mapped, 'ServiceUnavailable'));
  assert.equal(mapped.code, 503);
  assert.equal(mapped.details?.retryAfterSeconds, 1);
  const other = new KubeError('Conflict', 'x');
  assert.equal(storeError(other), other);
});

test('persistence choices become redis-server arguments', () => {
  const arg = (args: string[], name: string) => args[args.indexOf(name) + 1];
  assert.equal(arg(persistenceArgs('everysec'), '--appendonly'), 'yes');
  assert.equal(arg(persistenceArgs('everysec'), '--appendfsync'), 'everysec');
  assert.equal(arg(persistenceArgs('always'), '--appendfsync'), 'always');
  assert.equal(arg(persistenceArgs('memory'), '--appendonly'), 'no');
  assert.equal(arg(persistenceArgs('memory'), '--save'), '');
});
