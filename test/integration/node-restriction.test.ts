// NodeRestriction against a real API server: what a node's token may change.
// It may change only its own Node (never its spec.podCIDR(s)), its own
// heartbeat Lease and the status of pods bound to it (and record Events).
// Everything else is 403 and unchanged: another Node, pods on other nodes,
// pods themselves, Services, EndpointSlices, NetworkPolicies, leader-election
// Leases. The node's only way to the store is this API: agents get no Redis
// address (test/integration/lab.test.ts checks their /proc cmdline and environ).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApiServer, type TestApiServer } from '../helpers/api-server.ts';
import { createClient } from '../../src/client/http-client.ts';
import type { ApiClient } from '../../src/client/types.ts';
import { isKubeError } from '../../src/core/errors.ts';
import type { KubeObject } from '../../src/core/types.ts';

const LEASES = 'leases.coordination.k8s.io';
let api: TestApiServer;
let admin: ApiClient;
let n1: ApiClient;

const nodeObj = (name: string, spec: Record<string, unknown> = {}): KubeObject => ({ apiVersion: 'v1', kind: 'Node', metadata: { name }, spec });
const pod = (name: string, nodeName: string): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' },
  spec: { nodeName, containers: [{ name: 'c', image: 'busybox', command: ['sleep', '1'] }] },
});

async function forbidden(what: string, fn: () => Promise<unknown>): Promise<void> {
  await assert.rejects(fn, (e) => isKubeError(e, 'Forbidden') && e.code === 403, what);
}

before(async () => {
  api = await startTestApiServer({ nodes: ['n1', 'n2'] });
  admin = createClient({ server: api.url, token: api.token });
  n1 = createClient({ server: api.url, token: api.nodeTokens.get('n1')! });
  await admin.create('nodes', nodeObj('n2', { podCIDR: '10.244.2.0/24', podCIDRs: ['10.244.2.0/24'] }));
  await admin.create('pods', pod('on-n1', 'n1'));
  await admin.create('pods', pod('on-n2', 'n2'));
  await admin.create('services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc', namespace: 'default' }, spec: { ports: [{ port: 80 }] } });
  await admin.create('networkpolicies.networking.k8s.io', { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'np', namespace: 'default' }, spec: { podSelector: {} } });
});

after(async () => {
  n1?.close();
  admin?.close();
  await api?.stop();
});

test('a node changes its own Node, heartbeat Lease and the status of its pods', async () => {
  const created = await n1.create('nodes', nodeObj('n1'));
  assert.equal(created.metadata.name, 'n1');
  await n1.patch('nodes', '', 'n1', { metadata: { labels: { 'mlt-ipam': 'yes' } } }, 'merge');
  await n1.patch('nodes', '', 'n1', { status: { conditions: [{ type: 'Ready', status: 'True' }] } }, 'merge', { subresource: 'status' });
  await n1.create(LEASES, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'n1', namespace: 'kube-node-lease' }, spec: { holderIdentity: 'n1' } });
  await n1.patch(LEASES, 'kube-node-lease', 'n1', { spec: { renewTime: new Date().toISOString().replace('Z', '000Z') } }, 'merge');
  const p = await n1.patch('pods', 'default', 'on-n1', { status: { phase: 'Running' } }, 'merge', { subresource: 'status' });
  assert.equal((p.status as { phase?: string }).phase, 'Running');
});

test('a node cannot change another Node, nor create one under another name', async () => {
  await forbidden('patch n2', () => n1.patch('nodes', '', 'n2', { metadata: { labels: { x: 'y' } } }, 'merge'));
  await forbidden('n2 status', () => n1.patch('nodes', '', 'n2', { status: { conditions: [] } }, 'merge', { subresource: 'status' }));
  await forbidden('n2 kubelet endpoint', () => n1.patch('nodes', '', 'n2', { metadata: { annotations: { 'meshlet.io/kubelet-endpoint': 'unix:///evil' } } }, 'merge'));
  await forbidden('delete n2', () => n1.delete('nodes', '', 'n2'));
  await forbidden('create n3', () => n1.create('nodes', nodeObj('n3')));
  await forbidden('n2 heartbeat', () => n1.create(LEASES, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'n2', namespace: 'kube-node-lease' }, spec: {} }));
  assert.equal(await admin.get('nodes', '', 'n3'), undefined);
  assert.equal((await admin.get('nodes', '', 'n2'))!.metadata.labels, undefined);
});

test('a node cannot set or change its own spec.podCIDR(s); the controller (admin) can', async () => {
  await forbidden('claim by merge patch', () => n1.patch('nodes', '', 'n1', { spec: { podCIDR: '10.244.2.0/24', podCIDRs: ['10.244.2.0/24'] } }, 'merge'));
  await forbidden('claim by json patch', () => n1.patch('nodes', '', 'n1', [{ op: 'add', path: '/spec/podCIDR', value: '10.244.2.0/24' }], 'json'));
  const mine = (await n1.get('nodes', '', 'n1'))!;
  await forbidden('claim by update', () => n1.update('nodes', { ...mine, spec: { ...(mine.spec as object), podCIDR: '10.244.2.0/24', podCIDRs: ['10.244.2.0/24'] } }));
  await admin.patch('nodes', '', 'n1', { spec: { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24'] } }, 'merge');
  await forbidden('move', () => n1.patch('nodes', '', 'n1', { spec: { podCIDR: '10.244.9.0/24', podCIDRs: ['10.244.9.0/24'] } }, 'merge'));
  await forbidden('drop', () => n1.patch('nodes', '', 'n1', { spec: { podCIDR: null, podCIDRs: null } }, 'merge'));
  assert.equal(((await admin.get('nodes', '', 'n1'))!.spec as { podCIDR?: string }).podCIDR, '10.244.1.0/24');
  // Its other fields stay its own to change.
  await n1.patch('nodes', '', 'n1', { metadata: { annotations: { 'meshlet.io/vtep-mac': '02:00:00:00:00:01' } } }, 'merge');
});

test('a node cannot change pods on other nodes, pods themselves, Services, EndpointSlices, NetworkPolicies or leader Leases', async () => {
  await forbidden('status of a pod on n2', () => n1.patch('pods', 'default', 'on-n2', { status: { phase: 'Failed' } }, 'merge', { subresource: 'status' }));
  await forbidden('delete a pod on n2', () => n1.delete('pods', 'default', 'on-n2'));
  await forbidden('create a pod', () => n1.create('pods', pod('sneaky', 'n1')));
  await forbidden('patch its own pod spec', () => n1.patch('pods', 'default', 'on-n1', { metadata: { labels: { a: 'b' } } }, 'merge'));
  await forbidden('patch a service', () => n1.patch('services', 'default', 'svc', { spec: { ports: [{ port: 81 }] } }, 'merge'));
  await forbidden('create a service', () => n1.create('services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 's2', namespace: 'default' }, spec: { ports: [{ port: 80 }] } }));
  await forbidden('delete a service', () => n1.delete('services', 'default', 'svc'));
  await forbidden('create an endpointslice', () => n1.create('endpointslices.discovery.k8s.io', { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'svc-x', namespace: 'default' }, addressType: 'IPv4', endpoints: [] }));
  await forbidden('patch a networkpolicy', () => n1.patch('networkpolicies.networking.k8s.io', 'default', 'np', { spec: { podSelector: { matchLabels: { a: 'b' } } } }, 'merge'));
  await forbidden('delete a networkpolicy', () => n1.delete('networkpolicies.networking.k8s.io', 'default', 'np'));
  await forbidden('take the controller-manager lease', () => n1.create(LEASES, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'meshlet-controller-manager', namespace: 'kube-system' }, spec: { holderIdentity: 'n1' } }));
  const onN2 = (await admin.get('pods', 'default', 'on-n2'))!;
  assert.equal((onN2.status as { phase?: string } | undefined)?.phase, 'Pending');
  assert.deepEqual(((await admin.get('services', 'default', 'svc'))!.spec as { ports: { port: number }[] }).ports.map((p) => p.port), [80]);
  assert.deepEqual(((await admin.get('networkpolicies.networking.k8s.io', 'default', 'np'))!.spec as { podSelector: unknown }).podSelector, {});
  assert.equal(await admin.get('pods', 'default', 'sneaky'), undefined);
});
