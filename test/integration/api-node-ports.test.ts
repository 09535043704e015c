// Service node ports through the API against a real Redis-backed store, with
// the real kubectl: allocation for NodePort and LoadBalancer Services,
// explicit values, the health-check node port, updates, deletion, and
// concurrent creates through two API servers' registries on one store.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodePortAllocator } from '../../src/api/node-ports.ts';
import { Registry } from '../../src/api/registry.ts';
import { resourceFor } from '../../src/core/resources.ts';
import { apiRequest, startTestApiServer, type TestApiServer } from '../helpers/api-server.ts';

const KUBECTL = '/usr/bin/kubectl';
/** A small range, so that concurrent random picks collide and the reservations must sort them out. */
const RANGE = { first: 30000, last: 30059 };
const SVCS = '/api/v1/namespaces/default/services';
let api: TestApiServer;
let work: string;

interface Port {
  name?: string;
  port: number;
  nodePort?: number;
}
interface ServiceBody {
  metadata: { name: string; resourceVersion?: string };
  spec: { type?: string; ports?: Port[]; healthCheckNodePort?: number; allocateLoadBalancerNodePorts?: boolean; externalTrafficPolicy?: string };
  message?: string;
  details?: { causes?: { field?: string; message?: string }[] };
}

function kubectl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(KUBECTL, ['--kubeconfig', api.kubeconfigPath, '--cache-dir', join(work, 'cache'), ...args], { env: { ...process.env, HOME: work }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? 1 : 0, stdout, stderr });
    });
  });
}

const service = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { selector: { app: name }, ...spec } });
const create = (body: unknown) => apiRequest<ServiceBody>(api, 'POST', SVCS, { body });
const get = (name: string) => apiRequest<ServiceBody>(api, 'GET', `${SVCS}/${name}`);
const inRange = (p: number | undefined): boolean => typeof p === 'number' && p >= RANGE.first && p <= RANGE.last;

before(async () => {
  api = await startTestApiServer({ serviceNodePortRange: `${RANGE.first}-${RANGE.last}` });
  work = mkdtempSync(join(tmpdir(), 'mlt-w3api-nodeport-'));
});
after(async () => {
  await api?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('service node ports', () => {
  test('kubectl create service nodeport gets a node port from the range; kubectl get shows it', async () => {
    const r = await kubectl('create', 'service', 'nodeport', 'web', '--tcp=80:8080');
    assert.equal(r.code, 0, r.stderr);
    const svc = (await get('web')).body;
    assert.equal(svc.spec.type, 'NodePort');
    const np = svc.spec.ports?.[0].nodePort;
    assert.ok(inRange(np), `nodePort ${np} in ${RANGE.first}-${RANGE.last}`);
    const table = await kubectl('get', 'service', 'web', '--no-headers');
    assert.match(table.stdout, new RegExp(`\\b80:${np}/TCP\\b`));
  });

  test('an explicit node port is honoured once; a taken or out-of-range one is 422 with a field cause', async () => {
    const first = await create(service('fixed-a', { type: 'NodePort', ports: [{ port: 80, nodePort: 30050 }] }));
    assert.equal(first.status, 201);
    assert.equal(first.body.spec.ports?.[0].nodePort, 30050);
    const taken = await create(service('fixed-b', { type: 'NodePort', ports: [{ port: 80, nodePort: 30050 }] }));
    assert.equal(taken.status, 422);
    assert.deepEqual(taken.body.details?.causes?.map((c) => [c.field, c.message]), [['spec.ports[0].nodePort', 'Invalid value: 30050: provided port is already allocated']]);
    const outside = await create(service('fixed-c', { type: 'NodePort', ports: [{ port: 80, nodePort: 32000 }] }));
    assert.equal(outside.status, 422);
    assert.match(outside.body.message ?? '', /spec\.ports\[0\]\.nodePort: Invalid value: 32000: provided port is not in the valid range\. The range of valid ports is 30000-30059/);
    assert.equal((await get('fixed-b')).status, 404, 'a refused create stores nothing');
    // kubectl prints the refusal as upstream's does.
    const viaKubectl = await kubectl('create', 'service', 'nodeport', 'fixed-d', '--tcp=80:80', '--node-port=30050');
    assert.notEqual(viaKubectl.code, 0);
    assert.match(viaKubectl.stderr, /provided port is already allocated/);
  });

  test('updates keep the node ports; type ClusterIP and deletion free them', async () => {
    const created = (await create(service('keep', { type: 'NodePort', ports: [{ name: 'http', port: 80 }] }))).body;
    const np = created.spec.ports?.[0].nodePort;
    assert.ok(inRange(np));
    // A PUT that leaves nodePort out keeps it.
    const put = await apiRequest<ServiceBody>(api, 'PUT', `${SVCS}/keep`, {
      body: { ...service('keep', { type: 'NodePort', ports: [{ name: 'http', port: 80 }, { name: 'extra', port: 81 }] }), metadata: { name: 'keep', resourceVersion: created.metadata.resourceVersion } },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.spec.ports?.[0].nodePort, np);
    const extra = put.body.spec.ports?.[1].nodePort;
    assert.ok(inRange(extra) && extra !== np, 'a new port gets its own node port');
    // Another Service cannot take it while held...
    assert.equal((await create(service('grab', { type: 'NodePort', ports: [{ port: 80, nodePort: np } ] }))).status, 422);
    // ...and can once the holder turned ClusterIP.
    const toClusterIp = await kubectl('patch', 'service', 'keep', '--type=merge', '-p', '{"spec":{"type":"ClusterIP"}}');
    assert.equal(toClusterIp.code, 0, toClusterIp.stderr);
    const now = (await get('keep')).body;
    assert.deepEqual(now.spec.ports?.map((p) => p.nodePort), [undefined, undefined]);
    assert.equal((await create(service('grab', { type: 'NodePort', ports: [{ port: 80, nodePort: np }] }))).status, 201);
    // Deletion frees.
    assert.equal((await kubectl('delete', 'service', 'grab')).code, 0);
    assert.equal((await create(service('grab2', { type: 'NodePort', ports: [{ port: 80, nodePort: np }] }))).status, 201);
  });

  test('LoadBalancer Services get node ports unless allocateLoadBalancerNodePorts is false; Local traffic policy gets a health-check port', async () => {
    const lb = (await create(service('lb', { type: 'LoadBalancer', ports: [{ port: 80 }] }))).body;
    assert.equal(lb.spec.allocateLoadBalancerNodePorts, true);
    assert.ok(inRange(lb.spec.ports?.[0].nodePort));
    assert.equal(lb.spec.healthCheckNodePort, undefined);
    const bare = (await create(service('lb-bare', { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, ports: [{ port: 80 }] }))).body;
    assert.equal(bare.spec.ports?.[0].nodePort, undefined);
    const local = (await create(service('lb-local', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ port: 80 }] }))).body;
    const hc = local.spec.healthCheckNodePort;
    assert.ok(inRange(hc) && hc !== local.spec.ports?.[0].nodePort, `healthCheckNodePort ${hc}`);
    // Switching to Cluster frees the health-check port for others.
    const patched = await kubectl('patch', 'service', 'lb-local', '--type=merge', '-p', '{"spec":{"externalTrafficPolicy":"Cluster"}}');
    assert.equal(patched.code, 0, patched.stderr);
    assert.equal((await get('lb-local')).body.spec.healthCheckNodePort, undefined);
    assert.equal((await create(service('hc-taker', { type: 'NodePort', ports: [{ port: 80, nodePort: hc }] }))).status, 201);
  });

  test('concurrent creates through two servers on one store never share a node port; repair frees leaked reservations', async () => {
    // A second API server's registry on the same store: its own allocator, the same reservations.
    const second = new Registry(api.store, { nodePorts: new NodePortAllocator(api.store.leases, RANGE) });
    const route = { type: 'resource' as const, info: resourceFor('', 'v1', 'services')!, gr: 'services', namespace: 'default', verb: 'create' as const };
    const before = (await apiRequest<{ items: ServiceBody[] }>(api, 'GET', SVCS)).body.items.flatMap((s) => s.spec.ports ?? []).map((p) => p.nodePort).filter((p) => p !== undefined);
    const n = 20;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        i % 2 === 0
          ? create(service(`race-${i}`, { type: 'NodePort', ports: [{ port: 80 }] })).then((r) => r.body)
          : second.create(route, service(`race-${i}`, { type: 'NodePort', ports: [{ port: 80 }] }), new URLSearchParams()).then((r) => r.body as ServiceBody),
      ),
    );
    const got = results.map((s) => s.spec.ports?.[0].nodePort);
    assert.ok(got.every(inRange), JSON.stringify(got));
    assert.equal(new Set([...got, ...before]).size, n + before.length, `distinct node ports: ${JSON.stringify(got)}`);
    // A reservation whose Service is gone is freed by the repair pass.
    const held = new Set((await apiRequest<{ items: ServiceBody[] }>(api, 'GET', SVCS)).body.items.flatMap((s) => [...(s.spec.ports ?? []).map((p) => p.nodePort), s.spec.healthCheckNodePort]));
    const free = Array.from({ length: RANGE.last - RANGE.first + 1 }, (_, i) => RANGE.first + i).find((p) => !held.has(p));
    assert.equal(await api.store.leases.reserve(`svcport/${free}`, 'default/ghost'), true);
    assert.equal(await second.repairAllocations(), 1);
    assert.equal(await api.store.leases.holder(`svcport/${free}`), undefined);
    assert.equal(await second.repairAllocations(), 0, 'live reservations stay');
  });
});
