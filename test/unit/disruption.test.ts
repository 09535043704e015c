import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { budgetStatus, decideEviction, EVICTION_REFUSED, pdbCovers, scaledValue } from '../../src/core/disruption.ts';
import { podDisruptionBudgetStrategy } from '../../src/api/kinds/poddisruptionbudget.ts';
import type { KubeObject } from '../../src/core/types.ts';

const NOW = Date.parse('2026-12-01T12:00:00Z');

function pod(name: string, opts: { ready?: boolean; labels?: Record<string, string>; owner?: string; deleting?: boolean; phase?: string } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'ns',
      labels: opts.labels ?? { app: 'web' },
      ...(opts.owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: opts.owner, controller: true }] } : {}),
      ...(opts.deleting ? { deletionTimestamp: '2026-12-01T11:59:00Z' } : {}),
    },
    status: { phase: opts.phase ?? 'Running', conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }] },
  };
}

function pdb(spec: Record<string, unknown>, status?: Record<string, unknown>): KubeObject {
  return { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'b', namespace: 'ns', generation: 1 }, spec: { selector: { matchLabels: { app: 'web' } }, ...spec }, ...(status ? { status } : {}) };
}

describe('disruption budget status', () => {
  it('minAvailable as an integer: expected pods are the matching pods, ready ones are healthy', () => {
    const s = budgetStatus({ pdb: pdb({ minAvailable: 2 }), pods: [pod('a'), pod('b'), pod('c', { ready: false }), pod('x', { labels: { app: 'db' } })], controllerScale: new Map(), nowMs: NOW });
    assert.deepEqual([s.expectedPods, s.currentHealthy, s.desiredHealthy, s.disruptionsAllowed, s.observedGeneration], [3, 2, 2, 0, 1]);
    assert.equal(s.conditions[0].status, 'False');
    assert.equal(s.conditions[0].reason, 'InsufficientPods');
  });

  it('a percentage minAvailable rounds up, over the controller scale', () => {
    // 3 replicas wanted, 3 ready: 50% of 3 = 1.5 → 2 desired, 1 disruption allowed.
    const pods = [pod('a', { owner: 'u1' }), pod('b', { owner: 'u1' }), pod('c', { owner: 'u1' })];
    const s = budgetStatus({ pdb: pdb({ minAvailable: '50%' }), pods, controllerScale: new Map([['u1', 3]]), nowMs: NOW });
    assert.deepEqual([s.expectedPods, s.desiredHealthy, s.disruptionsAllowed], [3, 2, 1]);
    assert.equal(s.conditions[0].status, 'True');
    // The controller wants 4: expected 4, 50% → 2 desired, 3 healthy → 1.
    const s4 = budgetStatus({ pdb: pdb({ minAvailable: '50%' }), pods, controllerScale: new Map([['u1', 4]]), nowMs: NOW });
    assert.deepEqual([s4.expectedPods, s4.desiredHealthy, s4.disruptionsAllowed], [4, 2, 1]);
  });

  it('maxUnavailable subtracts from the expected pods', () => {
    const pods = [pod('a', { owner: 'u1' }), pod('b', { owner: 'u1' })];
    const s = budgetStatus({ pdb: pdb({ maxUnavailable: 1 }), pods, controllerScale: new Map([['u1', 2]]), nowMs: NOW });
    assert.deepEqual([s.expectedPods, s.desiredHealthy, s.disruptionsAllowed], [2, 1, 1]);
  });

  it('deleting pods and recently evicted ones are not healthy; stale evictions expire', () => {
    const b = pdb({ minAvailable: 1 }, { disruptedPods: { a: new Date(NOW - 1000).toISOString(), b: new Date(NOW - 10 * 60_000).toISOString() } });
    const s = budgetStatus({ pdb: b, pods: [pod('a'), pod('b'), pod('c', { deleting: true })], controllerScale: new Map(), nowMs: NOW });
    assert.equal(s.currentHealthy, 1);
    assert.deepEqual(Object.keys(s.disruptedPods ?? {}), ['a']);
    assert.equal(s.disruptionsAllowed, 0);
  });

  it('no matching pods: no disruption allowed', () => {
    const s = budgetStatus({ pdb: pdb({ maxUnavailable: '100%' }), pods: [], controllerScale: new Map(), nowMs: NOW });
    assert.equal(s.disruptionsAllowed, 0);
  });

  it('scaledValue rounds percentages up', () => {
    assert.equal(scaledValue('34%', 3), 2);
    assert.equal(scaledValue(5, 3), 5);
  });

  it('a null selector covers nothing, an empty one everything in the namespace', () => {
    const nil = pdb({ minAvailable: 1 });
    (nil.spec as Record<string, unknown>).selector = null;
    assert.equal(pdbCovers(nil, pod('a')), false);
    const all = pdb({ minAvailable: 1 });
    (all.spec as Record<string, unknown>).selector = {};
    assert.equal(pdbCovers(all, pod('a')), true);
    assert.equal(pdbCovers(all, { ...pod('a'), metadata: { ...pod('a').metadata, namespace: 'other' } }), false);
  });
});

describe('eviction decision', () => {
  const healthy = { observedGeneration: 1, disruptionsAllowed: 1, currentHealthy: 2, desiredHealthy: 1, expectedPods: 2 };

  it('allows and charges the budget', () => {
    const d = decideEviction(pod('a'), [pdb({ minAvailable: 1 }, healthy)], NOW);
    assert.ok(d.allow);
    assert.equal(d.status?.disruptionsAllowed, 0);
    assert.equal(d.status?.disruptedPods?.a, new Date(NOW).toISOString());
  });

  it('refuses with 429 when the budget allows no disruption', () => {
    const d = decideEviction(pod('a'), [pdb({ minAvailable: 2 }, { ...healthy, disruptionsAllowed: 0, desiredHealthy: 2 })], NOW);
    assert.deepEqual(d, { allow: false, code: 'TooManyRequests', message: EVICTION_REFUSED, cause: 'The disruption budget b needs 2 healthy pods and has 2 currently' });
  });

  it('refuses while the budget is not processed yet', () => {
    const d = decideEviction(pod('a'), [pdb({ minAvailable: 1 })], NOW);
    assert.equal(d.allow, false);
    assert.equal(!d.allow && d.code, 'TooManyRequests');
  });

  it('lets an unready pod go without charge while the budget is met, or always with AlwaysAllow', () => {
    const met = pdb({ minAvailable: 2 }, { ...healthy, disruptionsAllowed: 0, currentHealthy: 2, desiredHealthy: 2 });
    assert.deepEqual(decideEviction(pod('c', { ready: false }), [met], NOW), { allow: true });
    const short = pdb({ minAvailable: 2 }, { ...healthy, disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 2 });
    assert.equal(decideEviction(pod('c', { ready: false }), [short], NOW).allow, false);
    const always = pdb({ minAvailable: 2, unhealthyPodEvictionPolicy: 'AlwaysAllow' }, { ...healthy, disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 2 });
    assert.deepEqual(decideEviction(pod('c', { ready: false }), [always], NOW), { allow: true });
    assert.equal(decideEviction(pod('a'), [always], NOW).allow, false, 'a ready pod is still refused');
  });

  it('lets uncovered, terminal and deleting pods go without charging; refuses two budgets', () => {
    const budget = pdb({ minAvailable: 2 }, { ...healthy, disruptionsAllowed: 0 });
    assert.deepEqual(decideEviction(pod('x', { labels: { app: 'db' } }), [budget], NOW), { allow: true });
    assert.deepEqual(decideEviction(pod('a', { phase: 'Succeeded' }), [budget], NOW), { allow: true });
    assert.deepEqual(decideEviction(pod('a', { deleting: true }), [budget], NOW), { allow: true });
    const two = decideEviction(pod('a'), [budget, { ...budget, metadata: { ...budget.metadata, name: 'c' } }], NOW);
    assert.equal(!two.allow && two.code, 'InternalError');
  });
});

describe('PodDisruptionBudget validation', () => {
  const validate = (spec: Record<string, unknown>) => (podDisruptionBudgetStrategy.validate?.(pdb(spec)) ?? []).map((c) => `${c.field}: ${c.message}`);

  it('takes exactly one of minAvailable and maxUnavailable, integers ≥ 0 or percentages', () => {
    assert.deepEqual(validate({ minAvailable: 2 }), []);
    assert.deepEqual(validate({ maxUnavailable: '25%' }), []);
    assert.match(validate({ minAvailable: 1, maxUnavailable: 1 }).join(), /cannot be both set/);
    assert.match(validate({}).join(), /spec.minAvailable: Required value/);
    assert.match(validate({ minAvailable: -1 }).join(), /spec.minAvailable: Invalid value/);
    assert.match(validate({ maxUnavailable: 'half' }).join(), /spec.maxUnavailable: Invalid value/);
    assert.match(validate({ minAvailable: '150%' }).join(), /must not be greater than 100%/);
  });

  it('checks the selector', () => {
    assert.match(validate({ minAvailable: 1, selector: { matchExpressions: [{ key: 'a', operator: 'Near' }] } }).join(), /spec.selector/);
  });
});
