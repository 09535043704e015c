import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideNodeSubnet, nodeView, podCidrPatch, podCidrsOf, type NodeView } from '../../src/controllers/node-ipam.ts';
import type { Lease } from '../../src/overlay/ipam.ts';
import type { KubeObject } from '../../src/core/types.ts';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const t = { graceMs: 40_000, ttlMs: 60_000 };
const node = (podCIDRs: string[], beatAgoMs = 1000): NodeView => ({ name: 'n1', podCIDRs, lastHeartbeatMs: NOW - beatAgoMs });
const lease = (subnet: string, expiresInMs: number | null = 50_000): Lease => ({ node: 'n1', subnets: [subnet], expiresAt: expiresInMs === null ? null : NOW + expiresInMs });

test('a new, heartbeating node gets a lease, then its podCIDRs', () => {
  assert.deepEqual(decideNodeSubnet('n1', node([]), undefined, NOW, t), [{ op: 'lease', node: 'n1' }]);
  assert.deepEqual(decideNodeSubnet('n1', node([]), lease('10.244.1.0/24'), NOW, t), [{ op: 'setPodCIDRs', node: 'n1', subnets: ['10.244.1.0/24'] }]);
  assert.deepEqual(decideNodeSubnet('n1', node(['10.244.1.0/24']), lease('10.244.1.0/24'), NOW, t), [], 'steady state: nothing');
});

test('a node that has podCIDRs but no lease (the pool lost it) asks for that subnet first', () => {
  assert.deepEqual(decideNodeSubnet('n1', node(['10.244.7.0/24']), undefined, NOW, t), [{ op: 'lease', node: 'n1', preferred: '10.244.7.0/24' }]);
});

test('the lease is renewed while the heartbeat is fresh, when due (TTL/2 before expiry for short TTLs)', () => {
  assert.deepEqual(decideNodeSubnet('n1', node(['10.244.1.0/24']), lease('10.244.1.0/24', 30_000), NOW, t), [{ op: 'renew', node: 'n1' }]);
  assert.deepEqual(decideNodeSubnet('n1', node(['10.244.1.0/24']), lease('10.244.1.0/24', 31_000), NOW, t), [], 'not due yet');
  assert.deepEqual(decideNodeSubnet('n1', node(['10.244.1.0/24']), lease('10.244.1.0/24', null), NOW, t), [], 'a reservation is never renewed');
});

test('a silent node: no renewal, the lease lapses, then its podCIDRs go', () => {
  const silent = node(['10.244.1.0/24'], 41_000);
  assert.deepEqual(decideNodeSubnet('n1', silent, lease('10.244.1.0/24', 5_000), NOW, t), [], 'not renewed, not withdrawn yet');
  assert.deepEqual(decideNodeSubnet('n1', silent, undefined, NOW, t), [{ op: 'setPodCIDRs', node: 'n1', subnets: [] }]);
  assert.deepEqual(decideNodeSubnet('n1', node([], 41_000), undefined, NOW, t), [], 'already withdrawn');
  // It comes back: a lease again (the pool gives it its previous subnet).
  assert.deepEqual(decideNodeSubnet('n1', node([], 500), undefined, NOW, t), [{ op: 'lease', node: 'n1' }]);
});

test('a deleted node: its lease is released, a reservation is kept', () => {
  assert.deepEqual(decideNodeSubnet('n1', undefined, lease('10.244.1.0/24'), NOW, t), [{ op: 'release', node: 'n1' }]);
  assert.deepEqual(decideNodeSubnet('n1', undefined, lease('10.244.1.0/24', null), NOW, t), []);
  assert.deepEqual(decideNodeSubnet('n1', undefined, undefined, NOW, t), []);
});

test('a Node showing another subnet than its lease is corrected (the lease is the truth)', () => {
  assert.deepEqual(decideNodeSubnet('n1', node(['10.244.9.0/24']), lease('10.244.1.0/24'), NOW, t), [{ op: 'setPodCIDRs', node: 'n1', subnets: ['10.244.1.0/24'] }]);
  // Even while silent, what the Node shows matches the lease it still holds.
  assert.deepEqual(decideNodeSubnet('n1', node([], 60_000), lease('10.244.1.0/24'), NOW, t), [{ op: 'setPodCIDRs', node: 'n1', subnets: ['10.244.1.0/24'] }]);
});

test('Node projection and patches', () => {
  const obj: KubeObject = {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name: 'n1', creationTimestamp: '2026-12-01T11:00:00Z' },
    spec: { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24', 'fd00:0:0:1::/64'] },
  };
  assert.deepEqual(podCidrsOf(obj), ['10.244.1.0/24', 'fd00:0:0:1::/64']);
  assert.deepEqual(podCidrsOf({ ...obj, spec: { podCIDR: '10.244.2.0/24' } }), ['10.244.2.0/24']);
  assert.deepEqual(podCidrsOf({ ...obj, spec: {} }), []);
  const hb: KubeObject = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'n1', namespace: 'kube-node-lease' }, spec: { renewTime: '2026-12-01T11:59:50.000000Z' } };
  assert.equal(nodeView(obj, hb).lastHeartbeatMs, Date.parse('2026-12-01T11:59:50Z'));
  assert.deepEqual(podCidrPatch(['10.244.1.0/24']), { spec: { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24'] } });
  assert.deepEqual(podCidrPatch([]), { spec: { podCIDR: null, podCIDRs: null } });
});
