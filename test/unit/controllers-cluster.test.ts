import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reconcileEndpoints, resolvePorts } from '../../src/controllers/endpoints.ts';
import { reconcileGarbage } from '../../src/controllers/garbage-collector.ts';
import { reconcileNamespace } from '../../src/controllers/namespace.ts';
import { reconcileNode } from '../../src/controllers/node-lifecycle.ts';
import type { Action } from '../../src/controllers/actions.ts';
import type { KubeObject } from '../../src/core/types.ts';

const svc: KubeObject = {
  apiVersion: 'v1', kind: 'Service',
  metadata: { name: 'api', namespace: 'ns', uid: 'svc-uid' },
  spec: { selector: { app: 'api' }, ports: [{ name: 'web', port: 80, targetPort: 'http' }, { name: 'raw', port: 81, targetPort: 9000, protocol: 'UDP' }] },
};

function pod(name: string, ip: string | undefined, ready: boolean, extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: 'ns', uid: `uid-${name}`, labels: { app: 'api' } },
    spec: { nodeName: 'n1', containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080 }] }], ...extra },
    status: { phase: 'Running', ...(ip ? { podIP: ip, podIPs: [{ ip }] } : {}), conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

test('resolvePorts: numbers and named container ports (matching protocol)', () => {
  const ports = resolvePorts((svc.spec as { ports: never[] }).ports, pod('a', '10.0.0.1', true));
  assert.deepEqual(ports, [{ name: 'web', port: 8080, protocol: 'TCP' }, { name: 'raw', port: 9000, protocol: 'UDP' }]);
});

test('Endpoints + EndpointSlices: ready/not-ready, IPv4/IPv6 slices, pods without IPs or terminal left out', () => {
  const pods = [
    pod('b', '10.0.0.2', false),
    pod('a', '10.0.0.1', true),
    pod('v6', 'fd00::5', true),
    pod('noip', undefined, true),
    { ...pod('done', '10.0.0.9', true), status: { phase: 'Succeeded', podIP: '10.0.0.9' } },
  ];
  const actions = reconcileEndpoints({ service: svc, namespace: 'ns', name: 'api', pods, endpoints: undefined, slices: [] });
  const creates = actions.filter((a): a is Extract<Action, { op: 'create' }> => a.op === 'create');
  assert.deepEqual(creates.map((c) => c.gr), ['endpoints', 'endpointslices.discovery.k8s.io', 'endpointslices.discovery.k8s.io']);
  const subsets = creates[0].object.subsets as { addresses: { ip: string; nodeName: string; targetRef: { name: string } }[]; notReadyAddresses: { ip: string }[] }[];
  assert.deepEqual(subsets[0].addresses.map((a) => a.ip), ['10.0.0.1', 'fd00::5']);
  assert.deepEqual(subsets[0].notReadyAddresses.map((a) => a.ip), ['10.0.0.2']);
  assert.equal(subsets[0].addresses[0].targetRef.name, 'a');
  const families = creates.slice(1).map((c) => c.object.addressType).sort();
  assert.deepEqual(families, ['IPv4', 'IPv6']);
  const v4 = creates.slice(1).find((c) => c.object.addressType === 'IPv4')!.object as KubeObject & { endpoints: { addresses: string[]; conditions: { ready: boolean } }[] };
  assert.deepEqual(v4.endpoints.map((e) => [e.addresses[0], e.conditions.ready]), [['10.0.0.1', true], ['10.0.0.2', false]]);
  assert.equal(v4.metadata.labels?.['kubernetes.io/service-name'], 'api');
  assert.equal(v4.metadata.ownerReferences?.[0].uid, 'svc-uid');

  // Fed back what it created, it writes nothing.
  const ep = { ...creates[0].object, metadata: { ...creates[0].object.metadata, resourceVersion: '7' } };
  const slices = creates.slice(1).map((c) => c.object);
  assert.deepEqual(reconcileEndpoints({ service: svc, namespace: 'ns', name: 'api', pods, endpoints: ep, slices }), []);
  // A headless service gives hostnames for pods with hostname + subdomain.
  const hp = pod('h', '10.0.0.3', true, { hostname: 'h0', subdomain: 'api' });
  const h = reconcileEndpoints({ service: svc, namespace: 'ns', name: 'api', pods: [hp], endpoints: undefined, slices: [] });
  assert.equal(((h[0] as Extract<Action, { op: 'create' }>).object.subsets as { addresses: { hostname: string }[] }[])[0].addresses[0].hostname, 'h0');
  // Service gone: our slices go.
  assert.deepEqual(reconcileEndpoints({ service: undefined, namespace: 'ns', name: 'api', pods, endpoints: ep, slices }).map((a) => a.op), ['delete', 'delete', 'delete']);
});

const obj = (kind: string, name: string, uid: string, extra: Partial<KubeObject['metadata']> = {}): KubeObject => ({
  apiVersion: kind === 'Pod' ? 'v1' : 'apps/v1', kind, metadata: { name, namespace: 'ns', uid, ...extra },
});
const ref = (kind: string, name: string, uid: string, block = true) => ({ apiVersion: 'apps/v1', kind, name, uid, controller: true, blockOwnerDeletion: block });

test('GC: dependents of vanished owners are deleted; partially orphaned ones lose the dangling reference', () => {
  const objects = [
    { gr: 'replicasets.apps', obj: obj('ReplicaSet', 'rs', 'rs-uid', { ownerReferences: [ref('Deployment', 'gone', 'gone-uid')] }) },
    { gr: 'pods', obj: obj('Pod', 'p', 'p-uid', { ownerReferences: [ref('ReplicaSet', 'rs', 'rs-uid')] }) },
    { gr: 'pods', obj: obj('Pod', 'q', 'q-uid', { ownerReferences: [ref('ReplicaSet', 'rs', 'rs-uid'), ref('Deployment', 'gone', 'gone-uid')] }) },
    { gr: 'pods', obj: obj('Pod', 'foreign', 'f-uid', { ownerReferences: [{ apiVersion: 'example.com/v1', kind: 'Thing', name: 't', uid: 't-uid' }] }) },
  ];
  const d = reconcileGarbage(objects);
  assert.deepEqual(d.map((x) => `${x.kind} ${x.obj.metadata.name}`), ['delete rs', 'removeRefs q']);
});

test('GC: orphan and foreground finalizers', () => {
  const owner = obj('ReplicaSet', 'rs', 'rs-uid', { deletionTimestamp: 'x', finalizers: ['orphan'] });
  const dep = obj('Pod', 'p', 'p-uid', { ownerReferences: [ref('ReplicaSet', 'rs', 'rs-uid')] });
  assert.deepEqual(reconcileGarbage([{ gr: 'replicasets.apps', obj: owner }, { gr: 'pods', obj: dep }]).map((x) => x.kind), ['removeRefs']);
  assert.deepEqual(reconcileGarbage([{ gr: 'replicasets.apps', obj: owner }]).map((x) => x.kind), ['removeFinalizer']);
  const fg = obj('ReplicaSet', 'rs', 'rs-uid', { deletionTimestamp: 'x', finalizers: ['foregroundDeletion'] });
  const fgDecisions = reconcileGarbage([{ gr: 'replicasets.apps', obj: fg }, { gr: 'pods', obj: dep }]);
  assert.deepEqual(fgDecisions.map((x) => x.kind), ['delete'], 'dependents first; the owner waits');
  assert.deepEqual(reconcileGarbage([{ gr: 'replicasets.apps', obj: fg }]).map((x) => x.kind), ['removeFinalizer']);
});

test('Namespace: deletes contents, then finalizes, then deletes the empty namespace', () => {
  const ns: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns', deletionTimestamp: 'x' }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Terminating' } };
  const contents = [{ gr: 'configmaps', obj: obj('ConfigMap', 'c', 'c') }, { gr: 'pods', obj: obj('Pod', 'p', 'p', { deletionTimestamp: 'y' }) }];
  assert.deepEqual(reconcileNamespace(ns, contents).map((a) => `${a.op} ${'name' in a ? a.name : ''}`), ['delete c']);
  const fin = reconcileNamespace(ns, []);
  assert.equal(fin[0].op, 'finalize');
  assert.deepEqual(((fin[0] as Extract<Action, { op: 'finalize' }>).object.spec as { finalizers: string[] }).finalizers, []);
  assert.deepEqual(reconcileNamespace({ ...ns, spec: { finalizers: [] } }, []).map((a) => a.op), ['delete']);
  assert.deepEqual(reconcileNamespace({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'live' } }, contents), []);
});

test('Node lifecycle: stale heartbeat → Ready=Unknown + unreachable taint; a ready node loses the taint', () => {
  const now = Date.parse('2025-01-01T00:10:00Z');
  const node: KubeObject = {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name: 'n1', creationTimestamp: '2025-01-01T00:00:00Z' },
    spec: { taints: [{ key: 'dedicated', value: 'x', effect: 'NoSchedule' }] },
    status: { conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: '2025-01-01T00:00:00Z', lastTransitionTime: '2025-01-01T00:00:00Z' }] },
  };
  const lease = (t: string): KubeObject => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'n1', namespace: 'kube-node-lease' }, spec: { renewTime: t } });
  assert.deepEqual(reconcileNode(node, lease('2025-01-01T00:09:50Z'), now), [], 'fresh lease: nothing to do');
  const stale = reconcileNode(node, lease('2025-01-01T00:09:00Z'), now);
  assert.equal(stale.length, 2);
  const cond = ((stale[0] as Extract<Action, { op: 'patch' }>).patch as { status: { conditions: { status: string; reason: string }[] } }).status.conditions[0];
  assert.deepEqual([cond.status, cond.reason], ['Unknown', 'NodeStatusUnknown']);
  const taints = ((stale[1] as Extract<Action, { op: 'patch' }>).patch as { spec: { taints: { key: string; effect: string }[] } }).spec.taints;
  assert.deepEqual(taints.map((t) => `${t.key}:${t.effect}`), ['dedicated:NoSchedule', 'node.kubernetes.io/unreachable:NoExecute']);
  const back = { ...node, spec: { taints } };
  const recovered = reconcileNode(back, lease('2025-01-01T00:09:59Z'), now);
  assert.deepEqual(((recovered[0] as Extract<Action, { op: 'patch' }>).patch as { spec: { taints: unknown[] } }).spec.taints, [{ key: 'dedicated', value: 'x', effect: 'NoSchedule' }]);
});
