import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildNode, buildNodeStatus, buildNodeLease, leaseRenewal, nodeAction, readyCondition, kubeArch,
  type NodeFacts,
} from '../../src/agent/node-object.ts';
import type { KubeObject } from '../../src/core/types.ts';
import { kubeMicroTime, kubeTime } from '../../src/core/time.ts';

const facts: NodeFacts = {
  nodeName: 'node-1', nodeIP: '172.31.0.11', hostname: 'host-a', cpus: 2, memoryBytes: 4 * 1024 ** 3,
  kernelVersion: '6.18.0', osImage: 'Debian GNU/Linux 12 (bookworm)', arch: 'x64', bootID: 'b', machineID: 'm', healthPort: 0,
};
const t0 = new Date('2026-11-28T01:00:00.123Z');

test('time formats', () => {
  assert.equal(kubeTime(t0), '2026-11-28T01:00:00Z');
  assert.equal(kubeMicroTime(t0), '2026-11-28T01:00:00.123000Z');
  assert.equal(kubeArch('x64'), 'amd64');
  assert.equal(kubeArch('arm64'), 'arm64');
});

test('the Node: labels, addresses, capacity, nodeInfo and a Ready condition', () => {
  const node = buildNode(facts);
  assert.equal(node.kind, 'Node');
  assert.equal(node.metadata.name, 'node-1');
  assert.equal(node.metadata.labels?.['kubernetes.io/hostname'], 'node-1');
  assert.equal(node.metadata.labels?.['kubernetes.io/arch'], 'amd64');
  const status = buildNodeStatus(facts, t0, undefined) as {
    addresses: unknown;
    capacity: unknown;
    allocatable: unknown;
    daemonEndpoints: unknown;
    nodeInfo: Record<string, string>;
  };
  assert.deepEqual(status.addresses, [
    { type: 'InternalIP', address: '172.31.0.11' },
    { type: 'Hostname', address: 'host-a' },
  ]);
  assert.deepEqual(status.capacity, { cpu: '2', memory: '4194304Ki', pods: '110', 'ephemeral-storage': '0' });
  assert.deepEqual(status.allocatable, status.capacity);
  assert.equal(status.nodeInfo.kernelVersion, '6.18.0');
  assert.equal(status.nodeInfo.architecture, 'amd64');
  assert.equal(status.nodeInfo.osImage, 'Debian GNU/Linux 12 (bookworm)');
  assert.deepEqual(status.daemonEndpoints, { kubeletEndpoint: { Port: 0 } });
  const ready = readyCondition({ ...node, status });
  assert.deepEqual(ready, {
    type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'meshlet agent is posting ready status',
    lastHeartbeatTime: '2026-11-28T01:00:00Z', lastTransitionTime: '2026-11-28T01:00:00Z',
  });
});

test('transition time carries over while the status stays, and changes when it flips', () => {
  const node = buildNode(facts);
  const first: KubeObject = { ...node, status: buildNodeStatus(facts, t0, undefined) };
  const later = new Date(t0.getTime() + 60_000);
  const again = readyCondition({ ...node, status: buildNodeStatus(facts, later, first) });
  assert.equal(again?.lastTransitionTime, '2026-11-28T01:00:00Z');
  assert.equal(again?.lastHeartbeatTime, '2026-11-28T01:01:00Z');
  const unknown: KubeObject = {
    ...node,
    status: { conditions: [{ type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: '', lastHeartbeatTime: kubeTime(t0), lastTransitionTime: kubeTime(t0) }] },
  };
  const back = readyCondition({ ...node, status: buildNodeStatus(facts, later, unknown) });
  assert.equal(back?.status, 'True');
  assert.equal(back?.lastTransitionTime, '2026-11-28T01:01:00Z');
});

test('node action: create when missing, post status when not Ready, stale, or changed; else nothing', () => {
  const node = buildNode(facts);
  assert.equal(nodeAction(undefined, facts, t0), 'create');
  assert.equal(nodeAction(node, facts, t0), 'update-status');
  const fresh: KubeObject = { ...node, status: buildNodeStatus(facts, t0, undefined) };
  assert.equal(nodeAction(fresh, facts, new Date(t0.getTime() + 10_000)), 'none');
  assert.equal(nodeAction(fresh, facts, new Date(t0.getTime() + 40_000)), 'update-status');
  assert.equal(nodeAction(fresh, { ...facts, nodeIP: '172.31.0.99' }, new Date(t0.getTime() + 10_000)), 'update-status');
  const marked = structuredClone(fresh);
  const markedReady = readyCondition(marked);
  assert.ok(markedReady);
  markedReady.status = 'Unknown';
  assert.equal(nodeAction(marked, facts, new Date(t0.getTime() + 10_000)), 'update-status');
});

test('the heartbeat Lease', () => {
  const lease = buildNodeLease('node-1', t0, 'uid-1');
  assert.equal(lease.apiVersion, 'coordination.k8s.io/v1');
  assert.equal(lease.kind, 'Lease');
  assert.equal(lease.metadata.namespace, 'kube-node-lease');
  assert.equal(lease.metadata.name, 'node-1');
  assert.deepEqual(lease.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Node', name: 'node-1', uid: 'uid-1' }]);
  assert.deepEqual(lease.spec, { holderIdentity: 'node-1', leaseDurationSeconds: 40, renewTime: '2026-11-28T01:00:00.123000Z' });
  assert.deepEqual(leaseRenewal('node-1', t0), { spec: lease.spec });
});
