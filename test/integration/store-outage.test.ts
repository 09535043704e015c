// The store when Redis goes away and comes back, and list continue tokens that
// any API server sharing one Redis can serve (real redis-server, real HTTP).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { startRedis, type RedisProcess, type RedisPersistence } from '../../src/store/redis-process.ts';
import { FENCE_GAP, RedisStore } from '../../src/store/redis-store.ts';
import { generateTokenFile, loadTokenFile } from '../../src/api/auth.ts';
import { startApiServer, type ApiServer } from '../../src/api/server.ts';
import { encodeContinue } from '../../src/api/list-pages.ts';
import { watchEvents } from '../helpers/api-server.ts';

interface Api {
  url: string;
  token: string;
  store: RedisStore;
  server: ApiServer;
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'mlt-store-durable-'));
  cleanups.push(async () => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function redisIn(dir: string, persistence: RedisPersistence = 'everysec'): Promise<RedisProcess> {
  const redis = await startRedis({ dir, persistence });
  cleanups.push(() => redis.stop());
  return redis;
}

async function apiOn(redisUrl: string, dir: string, historySize?: number): Promise<Api> {
  const store = await RedisStore.connect(redisUrl, historySize ? { historySize } : {});
  const tokenFile = join(dir, `tokens-${Math.random().toString(36).slice(2)}.csv`);
  const token = generateTokenFile(tokenFile, [{ user: 'admin', uid: 'admin', groups: ['system:masters'] }]).get('admin')!;
  const server = await startApiServer({ store, listen: { host: '127.0.0.1', port: 0 }, tokens: loadTokenFile(tokenFile), logger: pino({ level: 'silent' }) });
  cleanups.push(async () => {
    await server.close();
    await store.close();
  });
  return { url: `http://127.0.0.1:${server.address!.port}`, token, store, server };
}

async function req(api: Api, method: string, path: string, body?: unknown): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(api.url + path, {
    method,
    headers: { authorization: `Bearer ${api.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    // The client's own, generous timeout: a request that hangs fails the test here.
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // plain text (/readyz)
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

const configMap = (name: string, v: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { v } });
const CMS = '/api/v1/namespaces/default/configmaps';

test('while Redis is down requests get 503 ServiceUnavailable with Retry-After, watches end, /readyz fails; Redis back heals', async () => {
  const dir = tempDir();
  let redis = await redisIn(join(dir, 'redis'));
  const api = await apiOn(redis.url, dir);
  const made = await req(api, 'POST', CMS, configMap('before', '1'));
  assert.equal(made.status, 201);
  const watch = watchEvents(api, `${CMS}?watch=true&resourceVersion=${made.body.metadata.resourceVersion}`);
  assert.equal((await req(api, 'GET', '/readyz')).status, 200);

  await redis.stop();
  for (const [method, path, body] of [
    ['GET', `${CMS}/before`],
    ['GET', CMS],
    ['POST', CMS, configMap('during', '2')],
    ['GET', `${CMS}?watch=true&resourceVersion=${made.body.metadata.resourceVersion}`],
  ] as [string, string, unknown?][]) {
    const r = await req(api, method, path, body);
    assert.equal(r.status, 503, `${method} ${path}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.kind, 'Status');
    assert.equal(r.body.reason, 'ServiceUnavailable');
    assert.equal(r.headers.get('retry-after'), '1');
  }
  await watch.ended; // the open watch ended (cleanly), so its client can watch again
  assert.equal(watch.events.filter((e) => e.type === 'ERROR').length, 0);
  const ready = await req(api, 'GET', '/readyz');
  assert.equal(ready.status, 503);

  // The same Redis (its AOF) comes back: the server heals by itself.
  redis = await redisIn(join(dir, 'redis'));
  let got: { status: number; body: any } | undefined;
  for (let i = 0; i < 200; i++) {
    got = await req(api, 'GET', `${CMS}/before`);
    if (got.status === 200) break;
    await sleep(50);
  }
  assert.equal(got?.status, 200);
  assert.equal(got!.body.metadata.resourceVersion, made.body.metadata.resourceVersion);
  assert.equal((await req(api, 'GET', '/readyz')).status, 200);
  const w2 = watchEvents(api, `${CMS}?watch=true&resourceVersion=${made.body.metadata.resourceVersion}`);
  try {
    const after = await req(api, 'POST', CMS, configMap('after', '3'));
    assert.equal(after.status, 201);
    const evs = await w2.until((e) => e.length >= 1);
    assert.equal(evs[0].object.metadata.name, 'after');
  } finally {
    w2.close();
  }
});

test('a Redis that comes back empty is fenced: versions never go back, older watches get 410', async () => {
  const dir = tempDir();
  let redis = await redisIn(join(dir, 'redis'), 'memory');
  const api = await apiOn(redis.url, dir);
  let last = 0;
  for (let i = 0; i < 5; i++) last = Number((await req(api, 'POST', CMS, configMap(`old-${i}`, 'x'))).body.metadata.resourceVersion);
  // Let the watch reader see them, so the store knows how far versions went.
  const w = watchEvents(api, `${CMS}?watch=true&resourceVersion=${last - 1}`);
  await w.until((e) => e.length >= 1);
  await redis.stop();
  await w.ended;
  redis = await redisIn(join(dir, 'redis'), 'memory');
  let made: { status: number; body: any } | undefined;
  for (let i = 0; i < 200; i++) {
    // The default namespace went with the data: recreate it once the store answers.
    await req(api, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
    made = await req(api, 'POST', CMS, configMap('new', 'y'));
    if (made.status === 201) break;
    await sleep(50);
  }
  assert.equal(made?.status, 201, JSON.stringify(made?.body));
  assert.ok(Number(made!.body.metadata.resourceVersion) > last + FENCE_GAP - 1, `new version ${made!.body.metadata.resourceVersion} is past the fence`);
  // A client that saw `last` must relist: its version names a change the store no longer has.
  const old = watchEvents(api, `${CMS}?watch=true&resourceVersion=${last}`);
  const evs = await old.until((e) => e.length >= 1);
  assert.equal(evs[0].type, 'ERROR');
  assert.equal(evs[0].object.code, 410);
  old.close();
});

test('a watch from a version newer than the store has gets 410, never a wait for versions that will mean other changes', async () => {
  const dir = tempDir();
  const redis = await redisIn(join(dir, 'redis'));
  const api = await apiOn(redis.url, dir);
  const rv = Number((await req(api, 'POST', CMS, configMap('now', '1'))).body.metadata.resourceVersion);
  const w = watchEvents(api, `${CMS}?watch=true&resourceVersion=${rv + 1000}`);
  const evs = await w.until((e) => e.length >= 1);
  assert.equal(evs[0].type, 'ERROR');
  assert.equal(evs[0].object.code, 410);
  assert.equal(evs[0].object.reason, 'Expired');
  w.close();
});

test('continue tokens work on another API server sharing the Redis, at the first page\'s version', async () => {
  const dir = tempDir();
  const redis = await redisIn(join(dir, 'redis'));
  const a = await apiOn(redis.url, dir);
  const b = await apiOn(redis.url, dir);
  for (let i = 0; i < 9; i++) assert.equal((await req(a, 'POST', CMS, configMap(`cm-${i}`, 'v1'))).status, 201);

  const p1 = await req(a, 'GET', `${CMS}?limit=3`);
  assert.deepEqual(p1.body.items.map((o: any) => o.metadata.name), ['cm-0', 'cm-1', 'cm-2']);
  assert.equal(p1.body.metadata.remainingItemCount, 6);
  const listRv = p1.body.metadata.resourceVersion;
  const before = new Map<string, string>(
    (await req(a, 'GET', CMS)).body.items.map((o: any) => [o.metadata.name, o.metadata.resourceVersion]),
  );

  // Changes after the first page: a modify, a delete and a create in the part not yet read.
  const cm4 = (await req(a, 'GET', `${CMS}/cm-4`)).body;
  assert.equal((await req(a, 'PUT', `${CMS}/cm-4`, { ...cm4, data: { v: 'v2' } })).status, 200);
  assert.equal((await req(a, 'DELETE', `${CMS}/cm-6`)).status, 200);
  assert.equal((await req(a, 'POST', CMS, configMap('cm-5a', 'new'))).status, 201);

  const p2 = await req(b, 'GET', `${CMS}?limit=3&continue=${encodeURIComponent(p1.body.metadata.continue)}`);
  assert.equal(p2.status, 200, JSON.stringify(p2.body));
  assert.equal(p2.body.metadata.resourceVersion, listRv);
  assert.deepEqual(p2.body.items.map((o: any) => o.metadata.name), ['cm-3', 'cm-4', 'cm-5']);
  assert.equal(p2.body.items[1].data.v, 'v1', 'cm-4 as it was at the list\'s version');
  const p3 = await req(a, 'GET', `${CMS}?limit=3&continue=${encodeURIComponent(p2.body.metadata.continue)}`);
  assert.deepEqual(p3.body.items.map((o: any) => o.metadata.name), ['cm-6', 'cm-7', 'cm-8']);
  assert.equal(p3.body.metadata.continue, undefined);
  for (const o of [...p1.body.items, ...p2.body.items, ...p3.body.items]) {
    assert.equal(o.metadata.resourceVersion, before.get(o.metadata.name), `${o.metadata.name} at the list's version`);
  }
});

test('a continue token whose version has left the history is 410 Expired; a garbled one is 400', async () => {
  const dir = tempDir();
  const redis = await redisIn(join(dir, 'redis'));
  const api = await apiOn(redis.url, dir, 100);
  for (let i = 0; i < 4; i++) await req(api, 'POST', CMS, configMap(`cm-${i}`, 'v1'));
  const p1 = await req(api, 'GET', `${CMS}?limit=2`);
  // Enough writes elsewhere to trim the history past the token's version.
  for (let i = 0; i < 400; i++) await req(api, 'POST', '/api/v1/namespaces/kube-system/configmaps', configMap(`filler-${i}`, 'x'));
  const p2 = await req(api, 'GET', `${CMS}?limit=2&continue=${encodeURIComponent(p1.body.metadata.continue)}`);
  assert.equal(p2.status, 410, JSON.stringify(p2.body));
  assert.equal(p2.body.reason, 'Expired');
  const garbled = await req(api, 'GET', `${CMS}?limit=2&continue=not-a-token`);
  assert.equal(garbled.status, 400);
  // A token at the current version needs no history: it works however short the history is.
  const now = (await req(api, 'GET', CMS)).body.metadata.resourceVersion;
  const fresh = await req(api, 'GET', `${CMS}?limit=2&continue=${encodeContinue({ resourceVersion: now, start: 'default/cm-1' })}`);
  assert.deepEqual(fresh.body.items.map((o: any) => o.metadata.name), ['cm-2', 'cm-3']);
});
