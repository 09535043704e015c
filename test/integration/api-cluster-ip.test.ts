// Service ClusterIP allocation through the API against a real Redis-backed store.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { contains } from '../../src/overlay/cidr.ts';
import { apiRequest, startTestApiServer, type TestApiServer } from '../helpers/api-server.ts';

interface ServiceBody {
  metadata: { name: string };
  spec: { clusterIP?: string; clusterIPs?: string[]; type?: string };
}

let api: TestApiServer;
const SVCS = '/api/v1/namespaces/default/services';
const svc = (name: string, spec: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name },
  spec: { selector: { app: name }, ports: [{ port: 80 }], ...spec },
});
const create = (body: unknown) => apiRequest<ServiceBody>(api, 'POST', SVCS, { body });

before(async () => {
  api = await startTestApiServer();
});
after(async () => {
  await api?.stop();
});

describe('service ClusterIPs', () => {
  test('each Service gets a distinct address in the service range; headless and ExternalName get none', async () => {
    const ips = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const res = await create(svc(`s${i}`));
      assert.equal(res.status, 201);
      const ip = res.body.spec.clusterIP ?? '';
      assert.ok(contains('10.96.0.0/16', ip), `${ip} in 10.96.0.0/16`);
      assert.deepEqual(res.body.spec.clusterIPs, [ip]);
      ips.add(ip);
    }
    assert.equal(ips.size, 20);
    const headless = await create(svc('headless', { clusterIP: 'None' }));
    assert.equal(headless.body.spec.clusterIP, 'None');
    const ext = await create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'ext' }, spec: { type: 'ExternalName', externalName: 'example.org' } });
    assert.equal(ext.status, 201);
    assert.equal(ext.body.spec.clusterIP, undefined);
  });

  test('a requested address is honoured once; a taken or out-of-range one is 422; deletion frees it', async () => {
    const first = await create(svc('fixed-a', { clusterIP: '10.96.7.7' }));
    assert.equal(first.status, 201);
    assert.equal(first.body.spec.clusterIP, '10.96.7.7');
    const taken = await create(svc('fixed-b', { clusterIP: '10.96.7.7' }));
    assert.equal(taken.status, 422);
    assert.match(JSON.stringify(taken.body), /already allocated/);
    const outside = await create(svc('fixed-c', { clusterIP: '192.168.1.1' }));
    assert.equal(outside.status, 422);
    assert.equal((await apiRequest(api, 'GET', `${SVCS}/fixed-b`)).status, 404, 'nothing half-written');
    assert.equal((await apiRequest(api, 'DELETE', `${SVCS}/fixed-a`)).status, 200);
    const again = await create(svc('fixed-b', { clusterIP: '10.96.7.7' }));
    assert.equal(again.status, 201);
  });

  test('an update that leaves clusterIP out keeps the address', async () => {
    const created = await create(svc('keep'));
    const ip = created.body.spec.clusterIP;
    const put = await apiRequest<ServiceBody>(api, 'PUT', `${SVCS}/keep`, {
      body: { ...svc('keep', { ports: [{ port: 8080 }] }), metadata: { name: 'keep' } },
    });
    assert.equal(put.status, 200);
    assert.equal(put.body.spec.clusterIP, ip);
  });
});
