import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authenticate, authorize, generateTokenFile, isAllowed, loadTokenFile, nodeAdmission, parseTokenFile, splitCsvLine } from '../../src/api/auth.ts';
import type { KubeObject } from '../../src/core/types.ts';
import { isKubeError } from '../../src/core/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'mlt-auth-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('token file CSV with quoted groups', () => {
  assert.deepEqual(splitCsvLine('t,u,1,"a,b"'), ['t', 'u', '1', 'a,b']);
  const set = parseTokenFile('# comment\n\nabc,alice,u1,"g1,g2"\ndef,bob,u2\n');
  assert.deepEqual(set.get('abc'), { user: 'alice', uid: 'u1', groups: ['g1', 'g2'] });
  assert.deepEqual(set.get('def'), { user: 'bob', uid: 'u2', groups: [] });
});

test('generated token file round-trips, 0600, 64 hex chars', () => {
  const path = join(dir, 'tokens.csv');
  const byUser = generateTokenFile(path, [
    { user: 'admin', uid: 'a', groups: ['system:masters'] },
    { user: 'system:node:n1', uid: 'n1', groups: ['system:nodes'] },
  ]);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const set = loadTokenFile(path);
  const admin = byUser.get('admin')!;
  assert.match(admin, /^[0-9a-f]{64}$/);
  assert.deepEqual(set.get(admin), { user: 'admin', uid: 'a', groups: ['system:masters'] });
  assert.equal(set.get(byUser.get('system:node:n1')!)?.user, 'system:node:n1');
});

test('authentication needs a known bearer token', () => {
  const set = parseTokenFile('tok,alice,1,g\n');
  assert.equal(authenticate(set, 'Bearer tok').user, 'alice');
  for (const h of [undefined, 'Bearer nope', 'Basic tok', 'tok']) {
    assert.throws(() => authenticate(set, h), (e) => isKubeError(e, 'Unauthorized') && e.code === 401);
  }
});

test('authorization policy', () => {
  const admin = { user: 'admin', uid: '', groups: ['system:masters'] };
  const node = { user: 'system:node:n1', uid: '', groups: ['system:nodes'] };
  const nobody = { user: 'x', uid: '', groups: [] };
  assert.ok(isAllowed(admin, { verb: 'delete', resource: 'namespaces' }));
  assert.ok(isAllowed(node, { verb: 'watch', resource: 'deployments.apps' }));
  assert.ok(isAllowed(node, { verb: 'create', resource: 'nodes' }));
  assert.ok(isAllowed(node, { verb: 'patch', resource: 'nodes', subresource: 'status' }));
  assert.ok(isAllowed(node, { verb: 'update', resource: 'pods', subresource: 'status' }));
  assert.ok(isAllowed(node, { verb: 'update', resource: 'leases.coordination.k8s.io', namespace: 'kube-node-lease' }));
  // Leader-election Leases, Services, EndpointSlices and NetworkPolicies are not a node's to write.
  assert.ok(!isAllowed(node, { verb: 'update', resource: 'leases.coordination.k8s.io', namespace: 'kube-system', name: 'meshlet-controller-manager' }));
  assert.ok(!isAllowed(node, { verb: 'create', resource: 'leases.coordination.k8s.io', namespace: 'kube-system' }));
  for (const resource of ['services', 'endpoints', 'endpointslices.discovery.k8s.io', 'networkpolicies.networking.k8s.io', 'configmaps']) {
    for (const verb of ['create', 'update', 'patch', 'delete']) assert.ok(!isAllowed(node, { verb, resource, namespace: 'default', name: 'x' }), `${verb} ${resource}`);
  }
  assert.ok(isAllowed(node, { verb: 'create', resource: 'events' }));
  assert.ok(isAllowed(node, { verb: 'delete', resource: 'pods' }));
  assert.ok(!isAllowed(node, { verb: 'update', resource: 'pods' }));
  // NodeRestriction: a node may not evict pods (pods/eviction), nor write PodDisruptionBudgets.
  assert.ok(!isAllowed(node, { verb: 'create', resource: 'pods', subresource: 'eviction', namespace: 'default', name: 'x' }));
  assert.ok(isAllowed(admin, { verb: 'create', resource: 'pods', subresource: 'eviction', namespace: 'default', name: 'x' }));
  for (const verb of ['create', 'update', 'patch', 'delete']) assert.ok(!isAllowed(node, { verb, resource: 'poddisruptionbudgets.policy', namespace: 'default', name: 'x' }));
  assert.ok(!isAllowed(node, { verb: 'create', resource: 'deployments.apps' }));
  assert.ok(!isAllowed(node, { verb: 'delete', resource: 'nodes' }));
  assert.ok(!isAllowed(nobody, { verb: 'get', resource: 'pods' }));
  // A node writes its own Node and heartbeat Lease only (NodeRestriction).
  assert.ok(isAllowed(node, { verb: 'patch', resource: 'nodes', name: 'n1' }));
  assert.ok(isAllowed(node, { verb: 'update', resource: 'nodes', subresource: 'status', name: 'n1' }));
  assert.ok(!isAllowed(node, { verb: 'patch', resource: 'nodes', name: 'n2' }));
  assert.ok(!isAllowed(node, { verb: 'update', resource: 'nodes', subresource: 'status', name: 'n2' }));
  assert.ok(isAllowed(node, { verb: 'update', resource: 'leases.coordination.k8s.io', namespace: 'kube-node-lease', name: 'n1' }));
  assert.ok(!isAllowed(node, { verb: 'update', resource: 'leases.coordination.k8s.io', namespace: 'kube-node-lease', name: 'n2' }));
  assert.throws(
    () => authorize(node, { verb: 'create', resource: 'deployments.apps', namespace: 'default' }),
    (e) => isKubeError(e, 'Forbidden') && e.code === 403 && /cannot create resource "deployments" in API group "apps"/.test(e.message),
  );
});

test('node admission: a node creates only its own Node and Lease and never writes spec.podCIDR(s)', () => {
  const node = { user: 'system:node:n1', uid: '', groups: ['system:nodes'] };
  const admin = { user: 'admin', uid: '', groups: ['system:masters'] };
  const nodeObj = (name: string, spec: Record<string, unknown> = {}): KubeObject => ({ apiVersion: 'v1', kind: 'Node', metadata: { name }, spec });
  const create = { verb: 'create', resource: 'nodes' };
  const patch = { verb: 'patch', resource: 'nodes', name: 'n1' };
  assert.equal(nodeAdmission(node, create, undefined, nodeObj('n1')), undefined);
  assert.match(nodeAdmission(node, create, undefined, nodeObj('n2'))?.message ?? '', /only its own Node/);
  assert.match(nodeAdmission(node, create, undefined, nodeObj('n1', { podCIDR: '10.244.9.0/24' }))?.message ?? '', /podCIDR/);
  const leased = nodeObj('n1', { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24'] });
  // Any other change of its own Node passes; a podCIDR change (or removal) does not.
  assert.equal(nodeAdmission(node, patch, leased, { ...leased, metadata: { name: 'n1', labels: { a: 'b' } } }), undefined);
  for (const spec of [{ podCIDR: '10.244.2.0/24', podCIDRs: ['10.244.2.0/24'] }, { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24', '10.244.2.0/24'] }, {}]) {
    const refused = nodeAdmission(node, patch, leased, nodeObj('n1', spec));
    assert.ok(refused && refused.code === 403, JSON.stringify(spec));
  }
  assert.ok(nodeAdmission(node, patch, nodeObj('n1'), leased), 'not even from empty');
  assert.equal(nodeAdmission(admin, patch, nodeObj('n1'), leased), undefined, 'the controller (admin) may');
  const lease = (name: string): KubeObject => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: 'kube-node-lease' } });
  const leaseCreate = { verb: 'create', resource: 'leases.coordination.k8s.io', namespace: 'kube-node-lease' };
  assert.equal(nodeAdmission(node, leaseCreate, undefined, lease('n1')), undefined);
  assert.ok(nodeAdmission(node, leaseCreate, undefined, lease('n2')));
});
