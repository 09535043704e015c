// The Redis store against a real redis-server: atomic versions, exactly-once
// ordered watches under concurrent writers, Conflict, Gone and relist, leases.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isKubeError } from '../../src/core/errors.ts';
import type { KubeObject } from '../../src/core/types.ts';
import { startRedis, type RedisProcess } from '../../src/store/redis-process.ts';
import { RedisStore } from '../../src/store/redis-store.ts';
import type { StoreEvent } from '../../src/store/types.ts';

function configMap(name: string, data: Record<string, string> = {}, namespace = 'default'): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, uid: `uid-${name}` }, data };
}

async function until(check: () => boolean, what: string, limitMs = 10000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(10);
  }
}

/** A private redis-server and a store on it for one describe block; `store()` once `before` ran. */
function privateStore(historySize: number): () => RedisStore {
  let dir: string;
  let redis: RedisProcess | undefined;
  let store: RedisStore | undefined;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mlt-store-'));
    redis = await startRedis({ dir });
    store = await RedisStore.connect(redis.url, { historySize });
  });
  after(async () => {
    await store?.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    if (!store) throw new Error('the store is not up');
    return store;
  };
}

describe('RedisStore', () => {
  const current = privateStore(100000);
  let store: RedisStore;
  before(() => {
    store = current();
  });

  it('creates, reads, updates and deletes with one rising resourceVersion', async () => {
    const created = await store.create('configmaps', configMap('a', { k: 'v' }));
    const got = await store.get('configmaps', 'default', 'a');
    assert.deepEqual(got, created);
    assert.deepEqual(got?.data, { k: 'v' });
    const updated = await store.update('configmaps', { ...created, data: { k: 'w', list: '[]' } });
    assert.ok(Number(updated.metadata.resourceVersion) > Number(created.metadata.resourceVersion));
    assert.equal((await store.get('configmaps', 'default', 'a'))?.metadata.resourceVersion, updated.metadata.resourceVersion);
    const deleted = await store.delete('configmaps', 'default', 'a');
    assert.ok(Number(deleted.metadata.resourceVersion) > Number(updated.metadata.resourceVersion));
    assert.equal(await store.get('configmaps', 'default', 'a'), undefined);
  });

  it('keeps JSON exactly: empty lists, nested objects, numbers', async () => {
    const obj: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'default', finalizers: [], labels: { a: 'b' } },
      spec: { containers: [{ name: 'c', args: [], ports: [{ containerPort: 8080 }] }], priority: 1.5, big: 12345678901 },
    };
    const created = await store.create('pods', obj);
    const got = await store.get('pods', 'default', 'p');
    assert.deepEqual(got, created);
    assert.deepEqual(got?.metadata.finalizers, []);
  });

  it('rejects a duplicate create with AlreadyExists and a stale update with Conflict', async () => {
    const first = await store.create('configmaps', configMap('dup'));
    await assert.rejects(store.create('configmaps', configMap('dup')), (err) => isKubeError(err, 'AlreadyExists'));
    const second = await store.update('configmaps', { ...first, data: { n: '1' } });
    await assert.rejects(
      store.update('configmaps', { ...first, data: { n: 'stale' } }),
      (err) => isKubeError(err, 'Conflict'),
    );
    assert.deepEqual((await store.get('configmaps', 'default', 'dup'))?.data, { n: '1' });
    await assert.rejects(
      store.delete('configmaps', 'default', 'dup', { resourceVersion: first.metadata.resourceVersion }),
      (err) => isKubeError(err, 'Conflict'),
    );
    await assert.rejects(store.delete('configmaps', 'default', 'dup', { uid: 'other' }), (err) => isKubeError(err, 'Conflict'));
    await store.delete('configmaps', 'default', 'dup', { resourceVersion: second.metadata.resourceVersion });
    await assert.rejects(store.update('configmaps', configMap('dup')), (err) => isKubeError(err, 'NotFound'));
    await assert.rejects(store.delete('configmaps', 'default', 'dup'), (err) => isKubeError(err, 'NotFound'));
  });

  it('lists a namespace or all of a kind, with the version the snapshot is at', async () => {
    await store.create('configmaps', configMap('l1', {}, 'ns-a'));
    await store.create('configmaps', configMap('l2', {}, 'ns-b'));
    const inA = await store.list('configmaps', 'ns-a');
    assert.deepEqual(inA.items.map((o) => o.metadata.name), ['l1']);
    const all = await store.list('configmaps');
    assert.ok(all.items.some((o) => o.metadata.name === 'l2'));
    assert.equal(all.resourceVersion, await store.currentResourceVersion());
  });

  it('delivers every change exactly once, in order, to watches started from a list under concurrent writers', async () => {
    const writers = 4;
    const perWriter = 150;
    const start = await store.list('configmaps', 'race');
    const seen: StoreEvent[] = [];
    const lateSeen: StoreEvent[] = [];
    const watch = await store.watch('configmaps', { namespace: 'race', resourceVersion: start.resourceVersion }, (ev) => seen.push(ev));
    let late: { close(): void } | undefined;
    const work = Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; i < perWriter; i++) {
        const name = `w${w}-${i}`;
        const obj = await store.create('configmaps', configMap(name, {}, 'race'));
        await store.update('configmaps', { ...obj, data: { i: String(i) } });
        if (i % 3 === 0) await store.delete('configmaps', 'race', name);
        // Another writer of another kind interleaves versions that must be skipped.
        if (i % 10 === 0) await store.create('configmaps', configMap(`other-${w}-${i}`, {}, 'elsewhere'));
        // A second watch joins mid-stream from the start version: it must catch up through the backlog.
        if (w === 0 && i === perWriter / 2) {
          late = await store.watch('configmaps', { namespace: 'race', resourceVersion: start.resourceVersion }, (ev) => lateSeen.push(ev));
        }
      }
    });
    await Promise.all(work);
    const expected = writers * perWriter * 2 + writers * Math.ceil(perWriter / 3);
    await until(() => seen.length >= expected && lateSeen.length >= expected, 'all events');
    // Poke: one more write. Once both watches have it, a duplicate or stray event before it would have come too.
    await store.create('configmaps', configMap('marker', {}, 'race'));
    const hasMarker = (events: StoreEvent[]): boolean => events.some((e) => 'object' in e && e.object.metadata.name === 'marker');
    await until(() => hasMarker(seen) && hasMarker(lateSeen), 'the marker event');
    watch.close();
    late?.close();
    for (const events of [seen, lateSeen]) {
      assert.equal(events.length, expected + 1);
      const changes = events.map((e) => {
        if (e.type === 'ERROR' || e.type === 'BOOKMARK') assert.fail(`unexpected ${e.type} event`);
        return e;
      });
      const versions = changes.map((e) => Number(e.resourceVersion));
      assert.deepEqual(versions, [...versions].sort((a, b) => a - b), 'in order');
      assert.equal(new Set(versions).size, versions.length, 'no duplicates');
      for (const e of changes) {
        assert.equal(e.object.metadata.namespace, 'race');
        assert.equal(e.object.metadata.resourceVersion, e.resourceVersion);
      }
    }
    // What the watch saw, replayed over the list, is what a list says now.
    const state = new Map<string, string>();
    for (const e of seen) {
      if (e.type === 'ERROR' || e.type === 'BOOKMARK') continue;
      if (e.type === 'ADDED' || e.type === 'MODIFIED') state.set(e.object.metadata.name ?? '', e.resourceVersion);
      if (e.type === 'DELETED') state.delete(e.object.metadata.name ?? '');
    }
    const now = await store.list('configmaps', 'race');
    assert.deepEqual(
      new Map(now.items.map((o) => [o.metadata.name ?? '', o.metadata.resourceVersion ?? ''])),
      state,
    );
  });

  it('sends bookmarks while idle', async () => {
    const rv = await store.currentResourceVersion();
    const events: StoreEvent[] = [];
    const watch = await store.watch('configmaps', { resourceVersion: rv, bookmarkIntervalMs: 50 }, (ev) => events.push(ev));
    await until(() => events.some((e) => e.type === 'BOOKMARK'), 'a bookmark');
    watch.close();
    const bookmark = events.find((e) => e.type === 'BOOKMARK');
    assert.ok(bookmark?.type === 'BOOKMARK' && Number(bookmark.resourceVersion) >= Number(rv));
  });

  it('leases: acquire, renew, expire, release, reserve, list', async () => {
    assert.equal(await store.leases.acquire('subnet/10.244.1.0-24', 'node-a', 200), true);
    assert.equal(await store.leases.acquire('subnet/10.244.1.0-24', 'node-b', 200), false);
    assert.equal(await store.leases.acquire('subnet/10.244.1.0-24', 'node-a', 200), true, 're-acquire by the holder');
    assert.equal(await store.leases.renew('subnet/10.244.1.0-24', 'node-b', 200), false);
    assert.equal(await store.leases.holder('subnet/10.244.1.0-24'), 'node-a');
    await sleep(300);
    assert.equal(await store.leases.holder('subnet/10.244.1.0-24'), undefined, 'expired');
    assert.equal(await store.leases.acquire('subnet/10.244.1.0-24', 'node-b', 5000), true);
    assert.equal(await store.leases.release('subnet/10.244.1.0-24', 'node-a'), false);
    assert.equal(await store.leases.release('subnet/10.244.1.0-24', 'node-b'), true);
    assert.equal(await store.leases.reserve('subnet/10.244.9.0-24', 'gateway'), true);
    assert.equal(await store.leases.renew('subnet/10.244.9.0-24', 'gateway', 10), true);
    await sleep(50);
    assert.equal(await store.leases.holder('subnet/10.244.9.0-24'), 'gateway', 'a reservation never expires');
    assert.equal(await store.leases.acquire('subnet/10.244.9.0-24', 'node-c', 1000), false);
    const all = await store.leases.list('subnet/');
    assert.deepEqual([...all.entries()], [['subnet/10.244.9.0-24', 'gateway']]);
  });
});

describe('RedisStore with a short history', () => {
  const current = privateStore(10);
  let store: RedisStore;
  before(() => {
    store = current();
  });

  it('answers a watch from before the kept history with Gone; a relist and watch then work', async () => {
    const old = await store.currentResourceVersion();
    // Far more writes than the history keeps ("~" trimming keeps at least 10, in whole nodes).
    for (let i = 0; i < 500; i++) await store.create('configmaps', configMap(`g${i}`));
    await assert.rejects(
      store.watch('configmaps', { resourceVersion: old }, () => undefined),
      (err) => isKubeError(err) && err.code === 410,
    );
    const relisted = await store.list('configmaps');
    assert.equal(relisted.items.length, 500);
    const events: StoreEvent[] = [];
    const watch = await store.watch('configmaps', { resourceVersion: relisted.resourceVersion }, (ev) => events.push(ev));
    await store.create('configmaps', configMap('after-relist'));
    await until(() => events.length === 1, 'the new event');
    watch.close();
    assert.equal(events[0].type, 'ADDED');
    if (events[0].type === 'ADDED') assert.equal(events[0].object.metadata.name, 'after-relist');
  });
});
