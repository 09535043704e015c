import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideLease } from '../../src/client/leader-election.ts';
import { kubeMicroTime } from '../../src/core/time.ts';

const T0 = Date.parse('2025-01-01T00:00:00Z');
const base = { identity: 'me', leaseDurationMs: 15_000 };

test('no lease: create it holding it', () => {
  const d = decideLease({ ...base, current: undefined, nowMs: T0, observedAtMs: T0 });
  assert.equal(d.action, 'create');
  assert.deepEqual(d.action === 'create' && d.spec, {
    holderIdentity: 'me', leaseDurationSeconds: 15, acquireTime: '2025-01-01T00:00:00.000000Z', renewTime: '2025-01-01T00:00:00.000000Z', leaseTransitions: 0,
  });
});

test('held by me: renew, keeping acquireTime and transitions', () => {
  const current = { holderIdentity: 'me', leaseDurationSeconds: 15, acquireTime: 'a', renewTime: 'r', leaseTransitions: 2 };
  const d = decideLease({ ...base, current, nowMs: T0 + 5000, observedAtMs: T0 });
  assert.equal(d.action, 'renew');
  assert.equal(d.action === 'renew' && d.spec.acquireTime, 'a');
  assert.equal(d.action === 'renew' && d.spec.leaseTransitions, 2);
  assert.equal(d.action === 'renew' && d.spec.renewTime, kubeMicroTime(T0 + 5000));
});

test('held by another: wait until it expires (judged from when we observed it), then take over', () => {
  const current = { holderIdentity: 'other', leaseDurationSeconds: 15, renewTime: '1999-01-01T00:00:00Z', leaseTransitions: 4 };
  const wait = decideLease({ ...base, current, nowMs: T0 + 14_999, observedAtMs: T0 });
  assert.deepEqual(wait, { action: 'wait', holder: 'other', expiresAtMs: T0 + 15_000 });
  const take = decideLease({ ...base, current, nowMs: T0 + 15_000, observedAtMs: T0 });
  assert.equal(take.action, 'acquire');
  assert.equal(take.action === 'acquire' && take.spec.holderIdentity, 'me');
  assert.equal(take.action === 'acquire' && take.spec.leaseTransitions, 5);
});

test('released (empty holder): take it at once without counting a transition', () => {
  const d = decideLease({ ...base, current: { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 3 }, nowMs: T0, observedAtMs: T0 });
  assert.equal(d.action, 'acquire');
  assert.equal(d.action === 'acquire' && d.spec.leaseTransitions, 3);
});
