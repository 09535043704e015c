// The meshlet command line as a user runs it: help, usage errors, and
// `meshlet server --redis auto` serving /healthz (real redis-server, real HTTP).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MESHLET_BIN as BIN, runMeshlet } from '../helpers/run.ts';

const run = (args: string[]) => runMeshlet(args);

function get(port: number, path: string, token?: string): Promise<{ code: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
    });
    req.once('error', reject);
    req.end();
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const dirs: string[] = [];
const pids: number[] = [];
after(async () => {
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  await sleep(100);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('meshlet --help lists the commands and exits 0', async () => {
  const r = await run(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Usage: meshlet <command>/);
  for (const c of ['server', 'agent', 'lab up', 'lab down', 'apply', 'get', 'delete']) assert.match(r.stdout, new RegExp(c));
  const sub = await run(['lab', 'up', '--help']);
  assert.equal(sub.code, 0);
  assert.match(sub.stdout, /--nodes N/);
});

test('an unknown command prints the usage and exits 2', async () => {
  const r = await run(['frobnicate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command "frobnicate"/);
  assert.match(r.stderr, /Usage: meshlet/);
  const bad = await run(['lab', 'up', '--nodes', '99']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--nodes must be an integer from 1 to 16/);
  const badName = await run(['lab', 'up', '--name', 'Not_Valid']);
  assert.equal(badName.code, 2);
});

test('meshlet server --redis auto serves /healthz and the API, and stops cleanly on SIGTERM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlt-cli-'));
  dirs.push(dir);
  const addressFile = join(dir, 'address.json');
  const child = spawn(
    process.execPath,
    [BIN, 'server', '--redis', 'auto', '--data-dir', dir, '--listen', '127.0.0.1:0', '--address-file', addressFile],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  assert.ok(child.pid);
  pids.push(child.pid);
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c));
  child.stderr.on('data', (c: Buffer) => (output += c));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  for (let i = 0; i < 300 && !existsSync(addressFile) && child.exitCode === null; i++) await sleep(100);
  assert.ok(existsSync(addressFile), `server did not start: ${output}`);
  const { port, pid } = JSON.parse(readFileSync(addressFile, 'utf8')) as { port: number; pid: number };
  assert.equal(pid, child.pid);
  assert.ok(port > 0);

  const health = await get(port, '/healthz');
  assert.equal(health.code, 200);

  // The generated token file holds an admin; without a token the API says 401.
  const tokenFile = join(dir, 'tokens.csv');
  assert.match(output, new RegExp(`generated token file ${tokenFile}`));
  const token = readFileSync(tokenFile, 'utf8').split(',')[0];
  assert.equal((await get(port, '/api/v1/namespaces')).code, 401);
  const namespaces = await get(port, '/api/v1/namespaces', token);
  assert.equal(namespaces.code, 200);
  assert.match(namespaces.body, /"kube-system"/);

  const redisPid = Number(readFileSync(join(dir, 'redis', 'redis.pid'), 'utf8').trim());
  assert.ok(alive(redisPid));
  process.kill(child.pid, 'SIGTERM');
  assert.equal(await exited, 0);
  for (let i = 0; i < 50 && alive(redisPid); i++) await sleep(100);
  assert.equal(alive(redisPid), false, 'the private redis-server stops with the server');
});
