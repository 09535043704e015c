// The store keeps what it acknowledged (issue 6 §2), with real `meshlet server`
// processes and their private redis-server: a clean restart and a kill -9 of both
// keep every object, its resourceVersion and the watch history; what a crash left
// behind is cleaned without help, and a process we did not start is never touched.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MESHLET_BIN } from '../helpers/run.ts';
import { watchEvents } from '../helpers/api-server.ts';
import { isAlive, readStat } from '../../src/kubelet/proc.ts';
import { describePersistence, readPersistence } from '../../src/store/redis-process.ts';

interface RunningServer {
  child: ChildProcess;
  url: string;
  token: string;
  output: () => string;
  exited: Promise<number | null>;
}

const dirs: string[] = [];
const children: ChildProcess[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) {
    // A redis-server of ours that a test left running (by its record: pid + start time).
    const rec = readRecord(d);
    if (rec && isAlive(rec.pid, rec.startTicks)) process.kill(rec.pid, 'SIGKILL');
  }
  await sleep(100);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'mlt-store-durable-'));
  dirs.push(d);
  return d;
}

function readRecord(dataDir: string): { pid: number; startTicks: number } | undefined {
  const path = join(dataDir, 'redis', 'redis.owner.json');
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as { pid: number; startTicks: number }) : undefined;
}

async function startServer(dataDir: string, extra: string[] = ['--no-controllers', '--no-scheduler']): Promise<RunningServer> {
  const addressFile = join(dataDir, 'address.json');
  rmSync(addressFile, { force: true });
  const child = spawn(
    process.execPath,
    [MESHLET_BIN, 'server', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--address-file', addressFile, ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c));
  child.stderr!.on('data', (c: Buffer) => (output += c));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  for (let i = 0; i < 600 && !existsSync(addressFile) && child.exitCode === null; i++) await sleep(50);
  assert.ok(existsSync(addressFile), `meshlet server did not start:\n${output}`);
  const { port } = JSON.parse(readFileSync(addressFile, 'utf8')) as { port: number };
  const token = readFileSync(join(dataDir, 'tokens.csv'), 'utf8').split(',')[0];
  return { child, url: `http://127.0.0.1:${port}`, token, output: () => output, exited };
}

async function req(s: { url: string; token: string }, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(s.url + path, {
    method,
    headers: { authorization: `Bearer ${s.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function killHard(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  child.kill('SIGKILL');
  await exited;
}

async function waitGone(pid: number, startTicks: number): Promise<void> {
  for (let i = 0; i < 200 && isAlive(pid, startTicks); i++) await sleep(25);
  assert.equal(isAlive(pid, startTicks), false, `process ${pid} is still alive`);
}

const configMap = (name: string, v: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { v } });

test('a namespace survives a clean restart of `meshlet server --redis auto` (the user\'s story)', async () => {
  const dir = tempDir();
  let s = await startServer(dir, []);
  const created = await req(s, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'mlt-store-durable-ns' } });
  assert.equal(created.status, 201);
  s.child.kill('SIGTERM');
  assert.equal(await s.exited, 0);
  assert.ok(existsSync(join(dir, 'redis', 'appendonlydir')), 'the AOF is in the data dir');

  s = await startServer(dir, []);
  const got = await req(s, 'GET', '/api/v1/namespaces/mlt-store-durable-ns');
  assert.equal(got.status, 200);
  assert.equal(got.body.metadata.uid, created.body.metadata.uid);
  assert.equal(got.body.metadata.resourceVersion, created.body.metadata.resourceVersion);
  s.child.kill('SIGTERM');
  assert.equal(await s.exited, 0);
});

test('after kill -9 of the server and its redis-server, the next server starts unaided with every object, version and event', async () => {
  const dir = tempDir();
  let s = await startServer(dir);
  const written: { name: string; rv: string }[] = [];
  for (let i = 0; i < 20; i++) {
    const r = await req(s, 'POST', '/api/v1/namespaces/default/configmaps', configMap(`cm-${i}`, String(i)));
    assert.equal(r.status, 201);
    written.push({ name: `cm-${i}`, rv: r.body.metadata.resourceVersion });
  }
  // A watcher from before the crash: it has seen the events up to cm-9.
  const seen = written[9].rv;
  const lastRv = Number(written[19].rv);

  const rec = readRecord(dir);
  assert.ok(rec && isAlive(rec.pid, rec.startTicks), 'the private redis-server runs and is recorded');
  await killHard(s.child, s.exited);
  process.kill(rec.pid, 'SIGKILL');
  await waitGone(rec.pid, rec.startTicks);
  assert.ok(existsSync(join(dir, 'redis', 'redis.sock')), 'the crash left the stale socket behind');

  s = await startServer(dir);
  assert.match(s.output(), /removed the stale .*redis\.sock/);
  const list = await req(s, 'GET', '/api/v1/namespaces/default/configmaps');
  assert.equal(list.status, 200);
  const byName = new Map<string, string>(list.body.items.map((o: any) => [o.metadata.name, o.metadata.resourceVersion]));
  for (const w of written) assert.equal(byName.get(w.name), w.rv, `${w.name} kept its resourceVersion`);
  assert.ok(Number(list.body.metadata.resourceVersion) >= lastRv);

  const next = await req(s, 'POST', '/api/v1/namespaces/default/configmaps', configMap('cm-after', 'x'));
  assert.equal(next.status, 201);
  assert.ok(Number(next.body.metadata.resourceVersion) > lastRv, 'the next write gets a larger version');

  // The watcher resumes from its version: the kept history replays what it missed, in order, then the new write.
  const w = watchEvents(s, `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${seen}`);
  try {
    const events = await w.until((evs) => evs.some((e) => e.object?.metadata?.name === 'cm-after'));
    const versions = events.map((e) => {
      assert.notEqual(e.type, 'ERROR', `unexpected ${JSON.stringify(e.object)}`);
      return Number(e.object.metadata.resourceVersion);
    });
    assert.ok(versions.every((v, i) => v > Number(seen) && (i === 0 || v > versions[i - 1])), `versions move forward: ${versions}`);
    assert.deepEqual(
      events.map((e) => e.object.metadata.name),
      [...written.slice(10).map((x) => x.name), 'cm-after'],
    );
  } finally {
    w.close();
  }
  s.child.kill('SIGTERM');
  assert.equal(await s.exited, 0);
});

test('after kill -9 of the server alone, the next server stops the redis-server it left (by pid and start time) and keeps the data', async () => {
  const dir = tempDir();
  let s = await startServer(dir);
  const made = await req(s, 'POST', '/api/v1/namespaces/default/configmaps', configMap('kept', '1'));
  assert.equal(made.status, 201);
  const rec = readRecord(dir)!;
  await killHard(s.child, s.exited);
  assert.ok(isAlive(rec.pid, rec.startTicks), 'the orphaned redis-server still runs');

  s = await startServer(dir);
  await waitGone(rec.pid, rec.startTicks);
  assert.match(s.output(), /stopped the previous redis-server/);
  const got = await req(s, 'GET', '/api/v1/namespaces/default/configmaps/kept');
  assert.equal(got.status, 200);
  assert.equal(got.body.metadata.resourceVersion, made.body.metadata.resourceVersion);
  s.child.kill('SIGTERM');
  assert.equal(await s.exited, 0);
});

test('a recorded pid that now belongs to another process is left alone', async () => {
  const dir = tempDir();
  const stranger = spawn('sleep', ['60'], { stdio: 'ignore' });
  children.push(stranger);
  const stat = readStat(stranger.pid!)!;
  // The record of a previous run names the stranger's pid with another start time (a recycled pid).
  const s0 = await startServer(dir);
  s0.child.kill('SIGTERM');
  assert.equal(await s0.exited, 0);
  writeFileSync(
    join(dir, 'redis', 'redis.owner.json'),
    JSON.stringify({ pid: stranger.pid, startTicks: stat.startTicks + 1, ownerPid: 1, ownerStartTicks: 0, bootId: '', persistence: 'everysec' }),
  );
  const s = await startServer(dir);
  assert.ok(isAlive(stranger.pid!, stat.startTicks), 'the stranger still runs');
  s.child.kill('SIGTERM');
  assert.equal(await s.exited, 0);
  stranger.kill('SIGKILL');
});

test('a private redis-server that dies is started again and the server heals without a restart', async () => {
  const dir = tempDir();
  const s = await startServer(dir);
  const made = await req(s, 'POST', '/api/v1/namespaces/default/configmaps', configMap('survivor', '1'));
  assert.equal(made.status, 201);
  const rec = readRecord(dir)!;
  process.kill(rec.pid, 'SIGKILL');
  await waitGone(rec.pid, rec.startTicks);
  let got: { status: number; body: any } | undefined;
  for (let i = 0; i < 200; i++) {
    got = await req(s, 'GET', '/api/v1/namespaces/default/configmaps/survivor');
    if (got.status === 200) break;
    assert.equal(got.status, 503, `while redis is down: ${JSON.stringify(got.body)}`);
    await sleep(50);
  }
  assert.equal(got?.status, 200);
  assert.equal(got!.body.metadata.resourceVersion, made.body.metadata.resourceVersion);
  const again = readRecord(dir)!;
  assert.notEqual(again.pid, rec.pid);
  assert.match(s.output(), /private redis-server exited; starting it again/);
  s.child.kill('SIGTERM');
  assert.equal(await s.exited, 0);
  await waitGone(again.pid, again.startTicks);
});

test('--store-fsync takes always or everysec, and only with --redis auto', async () => {
  const dir = tempDir();
  const s = await startServer(dir, ['--no-controllers', '--no-scheduler', '--store-fsync', 'always']);
  const cfg = await readPersistence(`redis+unix://${join(dir, 'redis', 'redis.sock')}`);
  assert.deepEqual(cfg, { appendonly: 'yes', appendfsync: 'always', save: '' });
  assert.match(describePersistence(cfg), /append-only file, appendfsync always/);
  s.child.kill('SIGTERM');
  assert.equal(await s.exited, 0);
  for (const bad of [['--store-fsync', 'never'], ['--store-fsync', 'always', '--redis', 'redis://127.0.0.1:1']]) {
    const child = spawn(process.execPath, [MESHLET_BIN, 'server', '--data-dir', dir, ...bad], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err += c));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    assert.equal(code, 2, err);
    assert.match(err, /--store-fsync/);
  }
});
