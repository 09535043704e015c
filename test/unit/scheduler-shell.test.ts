import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bindingFor, needsScheduling, unschedulableCondition } from '../../src/scheduler/scheduler.ts';
import { makePod } from '../../src/scheduler/fixtures.ts';

test('needsScheduling: ours, unbound, not deleting, not finished', () => {
  assert.equal(needsScheduling(makePod('p'), 'default-scheduler'), true);
  assert.equal(needsScheduling(makePod('p'), 'other'), false);
  const noName = makePod('p');
  delete noName.spec!.schedulerName;
  assert.equal(needsScheduling(noName, 'default-scheduler'), true, 'an absent schedulerName means the default');
  assert.equal(needsScheduling(makePod('p', { nodeName: 'n1' }), 'default-scheduler'), false);
  assert.equal(needsScheduling(makePod('p', { phase: 'Failed' }), 'default-scheduler'), false);
  const deleting = makePod('p');
  deleting.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
  assert.equal(needsScheduling(deleting, 'default-scheduler'), false);
});

test('bindingFor: a v1 Binding naming the node', () => {
  assert.deepEqual(bindingFor(makePod('web', { namespace: 'shop' }), 'node-1'), {
    apiVersion: 'v1',
    kind: 'Binding',
    metadata: { name: 'web', namespace: 'shop', uid: 'uid-shop-web' },
    target: { apiVersion: 'v1', kind: 'Node', name: 'node-1' },
  });
});

test('unschedulableCondition: written once per message, transition time kept while False', () => {
  const pod = makePod('p');
  const c1 = unschedulableCondition(pod, '0/1 nodes are available: 1 Insufficient cpu.', 't1');
  assert.deepEqual(c1, {
    type: 'PodScheduled',
    status: 'False',
    reason: 'Unschedulable',
    message: '0/1 nodes are available: 1 Insufficient cpu.',
    lastProbeTime: null,
    lastTransitionTime: 't1',
  });
  pod.status = { conditions: [c1!] };
  assert.equal(unschedulableCondition(pod, '0/1 nodes are available: 1 Insufficient cpu.', 't2'), undefined, 'unchanged: nothing to write');
  const c2 = unschedulableCondition(pod, '0/2 nodes are available: 2 Insufficient cpu.', 't3');
  assert.equal(c2?.lastTransitionTime, 't1', 'still False: the transition time stays');
  assert.equal(c2?.message, '0/2 nodes are available: 2 Insufficient cpu.');
});
