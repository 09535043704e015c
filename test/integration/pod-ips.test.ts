// Pod IPs are allocated by each agent from its own node's subnet, in a table
// on the node (src/agent/pod-ips.ts). Real processes, real files, real fsync;
// the node subnets come from the real subnet pool (the node-IPAM controller's
// Ipam on a real redis-server), so they are disjoint as in a cluster.
// - 1,000 IPs allocated concurrently by 3 allocator processes (3 nodes) are all distinct;
// - an allocator SIGKILLed mid-allocation and started again loses no IP it
//   handed out and hands none out twice.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedis, type RedisProcess } from '../../src/store/redis-process.ts';
import { Ipam } from '../../src/overlay/ipam.ts';
import { contains } from '../../src/core/cidr.ts';

const CHILD = fileURLToPath(new URL('../helpers/pod-ips-allocator.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'mlt-node-ipam-podips-'));
let redis: RedisProcess;
let ipam: Ipam;

before(async () => {
  redis = await startRedis({ dir: join(dir, 'redis') });
  ipam = await Ipam.connect(redis.url, { prefix: 'mltpodips', clusterCidr: '10.236.0.0/16', nodePrefix: 22 });
});
after(async () => {
  await ipam?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  lines: Map<string, string>;
  done: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Runs an allocator; with killAfter, SIGKILLs it once that many IPs were handed out. */
function allocate(dataDir: string, subnet: string, prefix: string, count: number, parallel: number, killAfter?: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dataDir, subnet, prefix, String(count), String(parallel)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = new Map<string, string>();
    let buf = '';
    let err = '';
    let done = false;
    child.stdout.on('data', (d: Buffer) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line === 'done') done = true;
        else {
          const [key, ip] = line.split(' ');
          if (lines.has(key)) reject(new Error(`${key} handed out twice in one run`));
          lines.set(key, ip);
          if (killAfter !== undefined && lines.size === killAfter) child.kill('SIGKILL');
        }
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0 && signal !== 'SIGKILL') reject(new Error(`allocator exited ${code}: ${err}`));
      else resolve({ lines, done, code, signal });
    });
  });
}

test('1,000 pod IPs allocated concurrently across 3 nodes are all distinct', async () => {
  const nodes = ['mlt-ipam-n1', 'mlt-ipam-n2', 'mlt-ipam-n3'];
  const subnets = await Promise.all(nodes.map(async (n) => (await ipam.leaseSubnet(n)).subnets[0]));
  assert.equal(new Set(subnets).size, 3);
  const counts = [334, 333, 333];
  const runs = await Promise.all(nodes.map((n, i) => allocate(mkdtempSync(join(dir, `${n}-`)), subnets[i], `default/${n}`, counts[i], 16)));
  const all: string[] = [];
  for (const [i, r] of runs.entries()) {
    assert.ok(r.done);
    assert.equal(r.lines.size, counts[i]);
    for (const ip of r.lines.values()) {
      assert.ok(contains(subnets[i], ip), `${ip} in ${subnets[i]}`);
      all.push(ip);
    }
  }
  assert.equal(all.length, 1000);
  assert.equal(new Set(all).size, 1000, 'no IP twice');
});

test('kill -9 of an allocator mid-allocation, then a restart: no allocation lost, none duplicated', async () => {
  const subnet = (await ipam.leaseSubnet('mlt-ipam-crash')).subnets[0];
  const dataDir = mkdtempSync(join(dir, 'crash-'));
  const count = 600;
  const first = await allocate(dataDir, subnet, 'default/p', count, 8, 150);
  assert.equal(first.signal, 'SIGKILL');
  assert.equal(first.done, false, 'killed mid-allocation');
  assert.ok(first.lines.size >= 150 && first.lines.size < count);

  const second = await allocate(dataDir, subnet, 'default/p', count, 8);
  assert.ok(second.done);
  assert.equal(second.lines.size, count);
  // Every IP handed out before the kill is still that pod's: nothing lost.
  for (const [key, ip] of first.lines) assert.equal(second.lines.get(key), ip, `${key} kept ${ip}`);
  // And no two pods share an IP across both runs.
  assert.equal(new Set(second.lines.values()).size, count, 'no IP twice');
});
