// `meshlet dns` as a process: option errors, two worker processes sharing the
// sockets (fed through the primary, a killed worker replaced and brought up to
// date), a reconnecting feeder, and a clean exit on SIGTERM.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FeedClient, dig, startDnsProcess, type DnsProcess } from '../helpers/dns.ts';
import { runMeshlet } from '../helpers/run.ts';

const dirs: string[] = [];
const procs: DnsProcess[] = [];
after(async () => {
  for (const p of procs) await p.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('bad options are usage errors (exit 2) that name the option', async () => {
  const pods = await runMeshlet(['dns', '--pods', 'sometimes']);
  assert.equal(pods.code, 2);
  assert.match(pods.stderr, /--pods must be one of disabled, insecure, verified/);
  const listen = await runMeshlet(['dns', '--listen', 'localhost:53']);
  assert.equal(listen.code, 2);
  assert.match(listen.stderr, /must be an IP address/);
  const cidr = await runMeshlet(['dns', '--allow-recursion', '10.0.0.0/99']);
  assert.equal(cidr.code, 2);
  assert.match(cidr.stderr, /--allow-recursion "10.0.0.0\/99"/);
  assert.match((await runMeshlet(['dns', '--help'])).stdout, /--feed-socket PATH/);
});

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

test('two workers: both serve the fed data, a killed worker is replaced with the current data, SIGTERM drains and exits 0', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlt-dns-proc-'));
  dirs.push(dir);
  const dns = await startDnsProcess(dir, ['--listen', '127.0.0.1:0', '--workers', '2', '--upstream', '127.0.0.1:9']);
  procs.push(dns);
  assert.equal(dns.pid.workers, 2);
  const workers = childPids(dns.pid.pid);
  assert.equal(workers.length, 2);
  const feed = await FeedClient.connect(dns.pid.feedSocket);
  await feed.send({ type: 'snapshot', seq: 1, services: [{ namespace: 'default', name: 'web', clusterIPs: ['10.96.0.20'], ports: [] }], endpointSlices: [], pods: [], namespaces: [] });
  await feed.send({ type: 'upsert', seq: 2, kind: 'Service', object: { namespace: 'default', name: 'api', clusterIPs: ['10.96.0.21'], ports: [] } });
  // Many queries from fresh source ports: the kernel spreads them over both workers; every one must know api.
  for (let i = 0; i < 20; i++) assert.equal((await dig(dns.port, ['api.default.svc.cluster.local', 'A'])).answers[0]?.[4], '10.96.0.21');

  process.kill(workers[0], 'SIGKILL');
  let now: number[] = [];
  for (let i = 0; i < 100 && !(now.length === 2 && !now.includes(workers[0])); i++) {
    await sleep(100);
    now = childPids(dns.pid.pid);
  }
  assert.equal(now.length, 2, 'a replacement worker runs');
  assert.ok(!now.includes(workers[0]));
  // A replacement gets the current data before it binds: whichever worker answers, it knows api.
  for (let i = 0; i < 20; i++) assert.equal((await dig(dns.port, ['api.default.svc.cluster.local', 'A'])).answers[0]?.[4], '10.96.0.21');

  // A feeder that reconnects (an agent restart) sends a snapshot and carries on.
  feed.close();
  const again = await FeedClient.connect(dns.pid.feedSocket);
  assert.deepEqual(await again.send({ type: 'snapshot', seq: 1, services: [{ namespace: 'default', name: 'web', clusterIPs: ['10.96.0.20'], ports: [] }], endpointSlices: [], pods: [], namespaces: [] }), { type: 'ack', seq: 1 });
  assert.equal((await dig(dns.port, ['api.default.svc.cluster.local', 'A'])).status, 'NXDOMAIN', 'the snapshot replaced everything');
  again.close();

  assert.equal(await dns.stop(), 0, dns.stderr());
  assert.ok(!existsSync(join(dir, 'dns.pid')));
  for (const w of now) assert.ok(!existsSync(`/proc/${w}/stat`) || readFileSync(`/proc/${w}/stat`, 'utf8').includes(') Z'), 'workers are gone');
});
