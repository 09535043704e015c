import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedis, type RedisProcess } from '../../src/store/redis-process.ts';
import {
  Ipam, type IpamOptions, type Lease, IpPoolExhaustedError, SubnetPoolExhaustedError, NoLeaseError, SubnetConflictError,
} from '../../src/overlay/ipam.ts';
import { contains } from '../../src/core/cidr.ts';

let dir: string;
let redis: RedisProcess;
const open: Ipam[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mlt-ipam-'));
  redis = await startRedis({ dir });
});

after(async () => {
  for (const i of open) await i.close().catch(() => {});
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function ipam(opts: IpamOptions): Promise<Ipam> {
  const i = await Ipam.connect(redis.url, opts);
  open.push(i);
  return i;
}

test('1,000 concurrent allocations from 3 agents give 1,000 distinct IPs; a restart keeps them', async () => {
  const opts: IpamOptions = { network: 'conc', nodePrefix: 22 };
  const agents = [await ipam(opts), await ipam(opts), await ipam(opts)];
  const lease = await agents[0].leaseSubnet('node-a');
  assert.deepEqual(lease.subnets, ['10.244.4.0/22']); // index 0 is skipped
  const jobs: Promise<string>[] = [];
  for (let i = 0; i < 1000; i++) jobs.push(agents[i % 3].allocateIp('node-a', `ns/pod-${i}`));
  const ips = await Promise.all(jobs);
  assert.equal(new Set(ips).size, 1000);
  for (const ip of ips) {
    assert.ok(contains('10.244.4.0/22', ip), ip);
    assert.notEqual(ip, '10.244.4.0');
    assert.notEqual(ip, '10.244.4.1');
    assert.notEqual(ip, '10.244.7.255');
  }
  // Idempotent: the same pod key gets the same IP, from any agent.
  assert.equal(await agents[2].allocateIp('node-a', 'ns/pod-7'), ips[7]);

  // "Restart": a fresh connection sees every allocation and never reuses one.
  const restarted = await ipam(opts);
  const allocs = await restarted.listAllocations('node-a');
  assert.equal(allocs.size, 1000);
  assert.equal(allocs.get(ips[500]), 'ns/pod-500');
  const fresh = await restarted.allocateIp('node-a', 'ns/new-pod');
  assert.ok(!ips.includes(fresh));

  // Release and reclaim.
  assert.equal(await restarted.releaseIp('node-a', 'ns/pod-0'), ips[0]);
  assert.equal(await restarted.releaseIp('node-a', 'ns/pod-0'), undefined);
  const live = new Set(Array.from({ length: 1000 }, (_, i) => `ns/pod-${i}`).filter((_, i) => i % 2 === 0));
  const released = await restarted.reclaim('node-a', live);
  assert.equal(released.length, 501); // 500 odd pods + ns/new-pod
  assert.ok(released.includes('ns/new-pod'));
  const left = await restarted.listAllocations('node-a');
  assert.equal(left.size, 499); // even pods minus pod-0
  assert.ok([...left.values()].every((k) => live.has(k)));
});

test('pool exhaustion throws IpPoolExhaustedError; a freed IP is handed out again', async () => {
  const i = await ipam({ network: 'tiny', clusterCidr: '10.9.0.0/24', nodePrefix: 29 });
  await i.leaseSubnet('n1');
  const got: string[] = [];
  for (let k = 0; k < 5; k++) got.push(await i.allocateIp('n1', `p${k}`)); // /29: .2-.6 (not .0 network, .1 gateway, .7 broadcast)
  assert.deepEqual(got, ['10.9.0.10', '10.9.0.11', '10.9.0.12', '10.9.0.13', '10.9.0.14']);
  await assert.rejects(i.allocateIp('n1', 'p5'), (err: unknown) => {
    assert.ok(err instanceof IpPoolExhaustedError);
    assert.match(err.message, /exhausted.*n1.*10\.9\.0\.8\/29/);
    return true;
  });
  await i.releaseIp('n1', 'p2');
  assert.equal(await i.allocateIp('n1', 'p5'), '10.9.0.12');
  await assert.rejects(i.allocateIp('no-lease', 'p'), NoLeaseError);
});

test('leases: create-if-absent, re-acquire after restart, preferred, reservation, exhaustion', async () => {
  let now = 1_000_000;
  const opts: IpamOptions = { network: 'leases', clusterCidr: '10.10.0.0/22', nodePrefix: 24, now: () => now };
  const a = await ipam(opts);
  const l1 = await a.leaseSubnet('node-1', { ttlMs: 60_000 });
  assert.deepEqual(l1, { node: 'node-1', subnets: ['10.10.1.0/24'], expiresAt: now + 60_000 });
  assert.deepEqual((await a.leaseSubnet('node-1', { ttlMs: 60_000 })).subnets, ['10.10.1.0/24']);
  const l2 = await a.leaseSubnet('node-2', { ttlMs: 60_000, preferred: '10.10.3.0/24' });
  assert.deepEqual(l2.subnets, ['10.10.3.0/24']);
  // Reservation: permanent, survives any clock.
  const r = await a.reserveSubnet('node-r', '10.10.2.0/24');
  assert.equal(r.expiresAt, null);
  await assert.rejects(a.reserveSubnet('node-x', '10.10.2.0/24'), SubnetConflictError);
  await assert.rejects(a.leaseSubnet('node-3'), SubnetPoolExhaustedError); // 4 /24s, index 0 skipped
  assert.deepEqual((await a.listLeases()).map((l) => [l.node, l.subnets[0]]), [
    ['node-1', '10.10.1.0/24'], ['node-2', '10.10.3.0/24'], ['node-r', '10.10.2.0/24'],
  ]);

  // Agent restart: a new connection, same node → same subnet; renew extends.
  const b = await ipam(opts);
  now += 30_000;
  assert.deepEqual((await b.leaseSubnet('node-1', { ttlMs: 60_000 })).subnets, ['10.10.1.0/24']);
  assert.equal((await b.renewSubnet('node-1', { ttlMs: 60_000 })).expiresAt, now + 60_000);

  // Expiry frees the subnet (and its pod IPs); the watcher sees it go.
  await b.allocateIp('node-2', 'ns/p');
  const seen: Lease[][] = [];
  const watcher = await b.watchLeases((ls) => void seen.push(ls), { resyncMs: 50 });
  try {
    assert.equal(seen.at(-1)?.length, 3);
    now += 45_000; // node-2 (expires at t0+60 s) is past; node-1 was renewed to t0+90 s
    assert.deepEqual(await b.reapExpired(), ['node-2']);
    await assert.rejects(b.renewSubnet('node-2'), NoLeaseError);
    await assert.rejects(b.allocateIp('node-2', 'ns/p'), NoLeaseError);
    for (let k = 0; k < 200 && seen.at(-1)?.length !== 2; k++) await new Promise((res) => setTimeout(res, 10));
    assert.deepEqual(seen.at(-1)?.map((l) => l.node), ['node-1', 'node-r']);
  } finally {
    await watcher.stop();
  }
  // node-3 now gets the freed subnet; node-2 coming back cannot have its old one.
  assert.deepEqual((await b.leaseSubnet('node-3', { ttlMs: 60_000 })).subnets, ['10.10.3.0/24']);
  assert.equal((await b.listAllocations('node-3')).size, 0);
  await assert.rejects(b.leaseSubnet('node-2'), SubnetPoolExhaustedError);
  // A long time later only the reservation is left.
  now += 10 * 24 * 3600_000;
  assert.deepEqual((await b.listLeases()).map((l) => l.node), ['node-r']);
  // node-2 comes back after expiry and gets its previous subnet again (lease() reaps first).
  assert.deepEqual((await b.leaseSubnet('node-2')).subnets, ['10.10.3.0/24']);
  assert.equal(await b.releaseSubnet('node-2'), true);
  assert.equal(await b.releaseSubnet('node-2'), false);
});

test('dual-stack leases hold one subnet per family; pods get one IP per family', async () => {
  const i = await ipam({ network: 'dual', clusterCidr: '10.20.0.0/16', clusterCidrV6: 'fd00:10:244::/56' });
  const l = await i.leaseSubnet('node-a');
  assert.deepEqual(l.subnets, ['10.20.1.0/24', 'fd00:10:244:1::/64']);
  assert.deepEqual(await i.allocateIps('node-a', 'ns/p'), ['10.20.1.2', 'fd00:10:244:1::2']);
  assert.equal(await i.allocateIp('node-a', 'ns/p'), '10.20.1.2');
  assert.deepEqual((await i.reserveSubnet('node-b', 'fd00:10:244:9::/64')).subnets, ['10.20.9.0/24', 'fd00:10:244:9::/64']);
  // An agent with another layout for the same network is refused.
  await assert.rejects(Ipam.connect(redis.url, { network: 'dual', clusterCidr: '10.20.0.0/16' }), /laid out as/);
});
