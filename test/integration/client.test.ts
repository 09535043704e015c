// The HTTP client, the informer and leader election against a real API server and Redis.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestApiServer, type TestApiServer } from '../helpers/api-server.ts';
import { createClient } from '../../src/client/http-client.ts';
import { loadKubeconfig } from '../../src/client/kubeconfig.ts';
import { Informer } from '../../src/client/informer.ts';
import { runLeaderElection } from '../../src/client/leader-election.ts';
import { LEASES } from '../../src/core/well-known.ts';
import { isKubeError } from '../../src/core/errors.ts';
import type { ApiClient } from '../../src/client/types.ts';
import type { KubeObject, WatchEvent } from '../../src/core/types.ts';

let api: TestApiServer;
let client: ApiClient;

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(50);
  }
  assert.fail(`timed out waiting for ${what}`);
}

const cm = (name: string, data: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default', labels: { app: 'client-test' } },
  data,
});

/** n events on configmaps nobody selects (label app=churn). */
async function churn(n: number): Promise<void> {
  for (let i = 0; i < n; i += 25) {
    await Promise.all(
      Array.from({ length: Math.min(25, n - i) }, (_, j) =>
        client.create('configmaps', { ...cm(`churn-${i + j}`), metadata: { name: `churn-${i + j}`, namespace: 'default', labels: { app: 'churn' } } }),
      ),
    );
  }
  for (let i = 0; i < n; i += 25) {
    await Promise.all(Array.from({ length: Math.min(25, n - i) }, (_, j) => client.delete('configmaps', 'default', `churn-${i + j}`)));
  }
}

before(async () => {
  // A short history so an old resourceVersion is Gone; no bookmarks to move informers along.
  api = await startTestApiServer({ historySize: 20, watchBookmarkIntervalMs: 600_000 });
  client = createClient({ ...loadKubeconfig(api.kubeconfigPath), userAgent: 'client-test' });
});

after(async () => {
  client?.close();
  await api?.stop();
});

test('CRUD: create, get, list, update, patch (merge, json, apply), delete; errors are KubeError', async () => {
  const created = await client.create('configmaps', cm('c1', { a: '1' }));
  assert.equal(created.metadata.name, 'c1');
  assert.ok(created.metadata.uid);
  await assert.rejects(client.create('configmaps', cm('c1')), (e: unknown) => isKubeError(e, 'AlreadyExists') && e.code === 409);

  const got = await client.get('configmaps', 'default', 'c1');
  assert.deepEqual(got?.data, { a: '1' });
  assert.equal(await client.get('configmaps', 'default', 'nope'), undefined);

  const list = await client.list('configmaps', { namespace: 'default', labelSelector: 'app=client-test' });
  assert.deepEqual(list.items.map((i) => i.metadata.name), ['c1']);
  assert.equal(list.items[0].kind, 'ConfigMap');
  assert.ok(Number(list.resourceVersion) > 0);

  const updated = await client.update('configmaps', { ...got!, data: { a: '2' } });
  assert.deepEqual(updated.data, { a: '2' });
  await assert.rejects(client.update('configmaps', { ...got!, data: { a: '3' } }), (e: unknown) => isKubeError(e, 'Conflict'));

  const merged = await client.patch('configmaps', 'default', 'c1', { data: { b: 'x' } }, 'merge');
  assert.deepEqual(merged.data, { a: '2', b: 'x' });
  const jsonPatched = await client.patch('configmaps', 'default', 'c1', [{ op: 'remove', path: '/data/a' }], 'json');
  assert.deepEqual(jsonPatched.data, { b: 'x' });
  const applied = await client.patch('configmaps', 'default', 'c2', cm('c2', { z: '9' }), 'apply', { fieldManager: 'client-test', force: true });
  assert.deepEqual(applied.data, { z: '9' });

  const deleted = await client.delete('configmaps', 'default', 'c1', { propagationPolicy: 'Background' });
  assert.ok(deleted === undefined || deleted.metadata.name === 'c1');
  assert.equal(await client.get('configmaps', 'default', 'c1'), undefined);
  await assert.rejects(client.delete('configmaps', 'default', 'c1'), (e: unknown) => isKubeError(e, 'NotFound'));
  await client.delete('configmaps', 'default', 'c2');

  const bad = createClient({ server: api.url, token: 'wrong' });
  await assert.rejects(bad.list('pods'), (e: unknown) => isKubeError(e, 'Unauthorized'));
  bad.close();
});

test('watch delivers events in order; close() resolves done; a too-old version rejects with Gone', async () => {
  const { resourceVersion } = await client.list('configmaps', { namespace: 'default' });
  const events: WatchEvent[] = [];
  const w = await client.watch('configmaps', { namespace: 'default', resourceVersion }, (e) => events.push(e));
  await client.create('configmaps', cm('w1'));
  await client.patch('configmaps', 'default', 'w1', { data: { k: 'v' } }, 'merge');
  await client.delete('configmaps', 'default', 'w1');
  await until('three events', () => events.length >= 3);
  assert.deepEqual(events.map((e) => `${e.type} ${e.object.metadata.name}`), ['ADDED w1', 'MODIFIED w1', 'DELETED w1']);
  w.close();
  await w.done;

  // Push the history past the version we hold (the store trims approximately, so by a wide margin).
  await churn(300);
  const gone = await client
    .watch('configmaps', { namespace: 'default', resourceVersion }, () => undefined)
    .then((w2) => w2.done)
    .then(() => undefined, (e: unknown) => e);
  assert.ok(isKubeError(gone) && gone.code === 410, `expected Gone, got ${String(gone)}`);
});

test('informer: lists, follows changes, relists after Gone', async () => {
  const log: string[] = [];
  // The real client, with a gate in front of watch so the test decides when a re-watch goes through.
  const gate = {
    block: false,
    waiting: false,
    current: undefined as { close(): void } | undefined,
    release: () => undefined as void,
  };
  const gated: ApiClient = Object.create(client) as ApiClient;
  gated.watch = async (gr, opts, handler) => {
    if (gate.block) {
      gate.waiting = true;
      await new Promise<void>((resolve) => (gate.release = () => { gate.block = false; resolve(); }));
    }
    const w = await client.watch(gr, opts, handler);
    gate.current = w;
    return w;
  };
  const inf = new Informer({ client: gated, gr: 'configmaps', namespace: 'default', labelSelector: 'app=client-test', baseBackoffMs: 20 });
  inf.addHandlers({
    onAdd: (o) => log.push(`add ${o.metadata.name}`),
    onUpdate: (_o, n) => log.push(`update ${n.metadata.name}`),
    onDelete: (o) => log.push(`delete ${o.metadata.name}`),
  });
  await client.create('configmaps', cm('i1'));
  inf.start();
  try {
    await inf.synced();
    assert.ok(inf.hasSynced());
    assert.ok(inf.getByName('default', 'i1'));
    await client.create('configmaps', cm('i2'));
    await client.patch('configmaps', 'default', 'i1', { data: { x: '1' } }, 'merge');
    await client.delete('configmaps', 'default', 'i2');
    await until('informer saw the delete', () => log.includes('delete i2'));
    assert.deepEqual(log, ['add i1', 'add i2', 'update i1', 'delete i2']);
    assert.deepEqual(inf.list().map((o) => o.metadata.name), ['i1']);

    // Gone: hold the informer's next watch back, change things meanwhile and push the history past
    // its version; when the watch goes through it gets Gone, relists, and tells handlers the difference.
    gate.block = true;
    gate.current?.close();
    await until('the informer to re-watch', () => gate.waiting);
    await client.delete('configmaps', 'default', 'i1');
    await client.create('configmaps', cm('i3'));
    await churn(150);
    log.length = 0;
    gate.release();
    await until('relist', () => log.includes('add i3') && log.includes('delete i1'));
    assert.deepEqual(log.sort(), ['add i3', 'delete i1']);
    assert.deepEqual(inf.list().map((o) => o.metadata.name), ['i3']);
    await client.create('configmaps', cm('i4'));
    await until('watching again after relist', () => log.includes('add i4'));
  } finally {
    await inf.stop();
  }
  await client.delete('configmaps', 'default', 'i3');
  await client.delete('configmaps', 'default', 'i4');
});

test('leader election: exactly one of two candidates leads; the other takes over after it stops', async () => {
  const leading = new Set<string>();
  const everLed: string[] = [];
  const leaseReadsBy: Record<string, number> = {};
  // Each candidate's own client, counting its reads of the lease (one per try).
  const countingClient = (id: string): ApiClient =>
    Object.assign(Object.create(client) as ApiClient, {
      get: (gr: string, namespace: string, name: string) => {
        if (gr === LEASES && name === 'le-test') leaseReadsBy[id] = (leaseReadsBy[id] ?? 0) + 1;
        return client.get(gr, namespace, name);
      },
    });
  const candidate = (id: string) =>
    runLeaderElection({
      client: countingClient(id),
      namespace: 'kube-system',
      name: 'le-test',
      identity: id,
      leaseDurationMs: 3000,
      renewDeadlineMs: 2000,
      retryPeriodMs: 200,
      onStartedLeading: (signal) => {
        leading.add(id);
        everLed.push(id);
        signal.addEventListener('abort', () => leading.delete(id));
      },
    });
  const stopA = candidate('a');
  await until('a leads', () => leading.has('a'));
  const stopB = candidate('b');
  // b could take the lease on any of its tries: wait until it has read the lease three times while a holds it.
  await until('b tried three times', () => leaseReadsBy.b >= 3);
  assert.deepEqual([...leading], ['a']);
  const lease = await client.get(LEASES, 'kube-system', 'le-test');
  assert.equal((lease?.spec as { holderIdentity?: string }).holderIdentity, 'a');
  await stopA();
  assert.ok(!leading.has('a'));
  await until('b takes over', () => leading.has('b'));
  assert.deepEqual([...leading], ['b']);
  const after = await client.get(LEASES, 'kube-system', 'le-test');
  assert.equal((after?.spec as { holderIdentity?: string; leaseTransitions?: number }).holderIdentity, 'b');
  await stopB();
  assert.deepEqual(everLed, ['a', 'b']);
});
