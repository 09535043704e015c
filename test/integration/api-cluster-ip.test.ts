// Service ClusterIP allocation through the API against a real Redis-backed store.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadTokenFile } from '../../src/api/auth.ts';
import { startApiServer } from '../../src/api/server.ts';
import { contains } from '../../src/core/cidr.ts';
import { DEFAULT_CLUSTER_DNS, inStaticBand } from '../../src/core/service-cidr.ts';
import { clusterDnsFromApi } from '../../src/agent/cluster-dns.ts';
import { createClient } from '../../src/client/http-client.ts';
import { apiRequest, startTestApiServer, type TestApiServer } from '../helpers/api-server.ts';

interface ServiceBody {
  metadata: { name: string; uid?: string; resourceVersion?: string; labels?: Record<string, string> };
  spec: { clusterIP?: string; clusterIPs?: string[]; type?: string; ports?: { name?: string; port: number; protocol?: string }[]; selector?: Record<string, string> };
}

let api: TestApiServer;
const SVCS = '/api/v1/namespaces/default/services';
const svc = (name: string, spec: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name },
  spec: { selector: { app: name }, ports: [{ port: 80 }], ...spec },
});
const externalSvc = (name: string) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { type: 'ExternalName', externalName: 'example.org' } });
const create = (body: unknown, server: TestApiServer = api) => apiRequest<ServiceBody>(server, 'POST', SVCS, { body });

before(async () => {
  api = await startTestApiServer();
});
after(async () => {
  await api?.stop();
});

describe('service ClusterIPs', () => {
  test('each Service gets a distinct address from the upper band of the range; headless and ExternalName get none', async () => {
    const ips = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const res = await create(svc(`s${i}`));
      assert.equal(res.status, 201);
      const ip = res.body.spec.clusterIP ?? '';
      assert.ok(contains('10.96.0.0/16', ip), `${ip} in 10.96.0.0/16`);
      assert.ok(!inStaticBand('10.96.0.0/16', ip), `${ip} above the static band 10.96.0.1-10.96.1.0`);
      assert.deepEqual(res.body.spec.clusterIPs, [ip]);
      ips.add(ip);
    }
    assert.equal(ips.size, 20);
    const headless = await create(svc('headless', { clusterIP: 'None' }));
    assert.equal(headless.body.spec.clusterIP, 'None');
    const ext = await create(externalSvc('ext'));
    assert.equal(ext.status, 201);
    assert.equal(ext.body.spec.clusterIP, undefined);
  });

  test('a requested address is honoured once, in either band; a taken or out-of-range one is 422; deletion frees it', async () => {
    const first = await create(svc('fixed-a', { clusterIP: '10.96.7.7' }));
    assert.equal(first.status, 201);
    assert.equal(first.body.spec.clusterIP, '10.96.7.7');
    const low = await create(svc('fixed-low', { clusterIP: '10.96.0.20' }));
    assert.equal(low.status, 201, 'the static band is open to explicit requests');
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

  test('a create that loses to an existing Service of that name leaves the existing one its address', async () => {
    const first = await create(svc('same-name', { clusterIP: '10.96.8.8' }));
    assert.equal(first.status, 201);
    const dup = await create(svc('same-name', { clusterIP: '10.96.8.8' }));
    assert.equal(dup.status, 409);
    const thief = await create(svc('thief', { clusterIP: '10.96.8.8' }));
    assert.equal(thief.status, 422, 'the address is still held by default/same-name');
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

  test('ExternalName → ClusterIP gets an address; ClusterIP → ExternalName frees it', async () => {
    assert.equal((await create(externalSvc('flip'))).status, 201);
    const toClusterIp = await apiRequest<ServiceBody>(api, 'PUT', `${SVCS}/flip`, { body: svc('flip', { type: 'ClusterIP' }) });
    assert.equal(toClusterIp.status, 200, JSON.stringify(toClusterIp.body));
    const ip = toClusterIp.body.spec.clusterIP ?? '';
    assert.ok(contains('10.96.0.0/16', ip), `${ip} allocated`);
    assert.deepEqual(toClusterIp.body.spec.clusterIPs, [ip]);
    assert.equal((await create(svc('flip-rival', { clusterIP: ip }))).status, 422, 'the address is reserved for flip');

    const toExternal = await apiRequest<ServiceBody>(api, 'PATCH', `${SVCS}/flip`, {
      body: { spec: { type: 'ExternalName', externalName: 'example.org', selector: null, ports: null } },
      contentType: 'application/merge-patch+json',
    });
    assert.equal(toExternal.status, 200, JSON.stringify(toExternal.body));
    assert.equal(toExternal.body.spec.clusterIP, undefined);
    assert.equal(toExternal.body.spec.clusterIPs, undefined);
    const rival = await create(svc('flip-rival', { clusterIP: ip }));
    assert.equal(rival.status, 201, 'the freed address can be had again');

    assert.equal((await create(externalSvc('flip-fixed'))).status, 201);
    const asked = await apiRequest<ServiceBody>(api, 'PUT', `${SVCS}/flip-fixed`, { body: svc('flip-fixed', { clusterIP: '10.96.9.9' }) });
    assert.equal(asked.status, 200, JSON.stringify(asked.body));
    assert.equal(asked.body.spec.clusterIP, '10.96.9.9');
    const clash = await apiRequest<ServiceBody>(api, 'PUT', `${SVCS}/flip-rival`, { body: svc('flip-rival', { clusterIP: '10.96.9.9' }) });
    assert.equal(clash.status, 422, 'clusterIP is immutable and 10.96.9.9 is taken');
  });
});

describe('the cluster DNS Service', () => {
  test('kube-system/kube-dns holds 10.96.0.10 with ports 53/UDP, 53/TCP and 9153/TCP', async () => {
    const res = await apiRequest<ServiceBody>(api, 'GET', '/api/v1/namespaces/kube-system/services/kube-dns');
    assert.equal(res.status, 200);
    assert.equal(res.body.spec.clusterIP, '10.96.0.10');
    assert.deepEqual(res.body.metadata.labels, { 'k8s-app': 'kube-dns' });
    assert.deepEqual(res.body.spec.selector, { 'k8s-app': 'kube-dns' });
    assert.deepEqual(res.body.spec.ports?.map((p) => `${p.name} ${p.port}/${p.protocol}`), ['dns 53/UDP', 'dns-tcp 53/TCP', 'metrics 9153/TCP']);
    const rival = await create(svc('dns-rival', { clusterIP: '10.96.0.10' }));
    assert.equal(rival.status, 422);
    assert.match(JSON.stringify(rival.body), /already allocated/);
  });

  test('a second server start on the same store leaves it as it is', async () => {
    const before = (await apiRequest<ServiceBody>(api, 'GET', '/api/v1/namespaces/kube-system/services/kube-dns')).body;
    const second = await startApiServer({
      store: api.store,
      listen: { host: '127.0.0.1', port: 0 },
      tokens: loadTokenFile(join(api.dir, 'tokens.csv')),
      logger: pino({ level: 'silent' }),
    });
    try {
      const res = await apiRequest<ServiceBody>({ url: `http://127.0.0.1:${second.address!.port}`, token: api.token }, 'GET', '/api/v1/namespaces/kube-system/services/kube-dns');
      assert.equal(res.status, 200);
      assert.equal(res.body.metadata.uid, before.metadata.uid);
      assert.equal(res.body.metadata.resourceVersion, before.metadata.resourceVersion);
      assert.equal((await create(svc('dns-rival-2', { clusterIP: '10.96.0.10' }))).status, 422, 'still reserved');
    } finally {
      await second.close();
    }
  });
});

describe('a small service range (10.97.0.0/27: 16 static, 14 dynamic addresses)', () => {
  let small: TestApiServer;
  before(async () => {
    small = await startTestApiServer({ serviceCidr: '10.97.0.0/27' });
  });
  after(async () => {
    await small?.stop();
  });

  test('kube-dns takes 10.97.0.10; dynamic picks fill the upper band, then the lower one, never taking the DNS address', async () => {
    const dns = await apiRequest<ServiceBody>(small, 'GET', '/api/v1/namespaces/kube-system/services/kube-dns');
    assert.equal(dns.body.spec.clusterIP, '10.97.0.10');
    const order: string[] = [];
    for (let i = 0; i < 29; i++) {
      const res = await create(svc(`fill${i}`), small);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      order.push(res.body.spec.clusterIP ?? '');
    }
    const upper = order.slice(0, 14);
    const lower = order.slice(14);
    assert.ok(upper.every((ip) => !inStaticBand('10.97.0.0/27', ip)), `first 14 from the upper band: ${upper.join(' ')}`);
    assert.ok(lower.every((ip) => inStaticBand('10.97.0.0/27', ip)), `then the lower band: ${lower.join(' ')}`);
    assert.ok(!order.includes('10.97.0.10'));
    assert.equal(new Set(order).size, 29);
    const full = await create(svc('one-too-many'), small);
    assert.equal(full.status, 500);
    assert.match(JSON.stringify(full.body), /range is full/);
  });

  test('an agent without --cluster-dns reads the address from kube-dns; with no kube-dns it takes the default', async () => {
    const client = createClient({ server: small.url, token: small.token });
    const logger = pino({ level: 'silent' });
    try {
      assert.equal(await clusterDnsFromApi(client, logger), '10.97.0.10');
      assert.equal((await apiRequest(small, 'DELETE', '/api/v1/namespaces/kube-system/services/kube-dns')).status, 200);
      assert.equal(await clusterDnsFromApi(client, logger), DEFAULT_CLUSTER_DNS);
    } finally {
      client.close();
    }
  });
});
