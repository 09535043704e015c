// The node subnet pool on a real redis-server: the leases the node-IPAM controller takes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedis, type RedisProcess } from '../../src/store/redis-process.ts';
import {
  Ipam, type IpamOptions, SubnetPoolExhaustedError, NoLeaseError, SubnetConflictError,
} from '../../src/overlay/ipam.ts';

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

  // A server restart: a new connection, same node → same subnet; renew extends.
  const b = await ipam(opts);
  now += 30_000;
  assert.deepEqual((await b.leaseSubnet('node-1', { ttlMs: 60_000 })).subnets, ['10.10.1.0/24']);
  assert.equal((await b.renewSubnet('node-1', { ttlMs: 60_000 })).expiresAt, now + 60_000);

  // Expiry frees the subnet.
  now += 45_000; // node-2 (expires at t0+60 s) is past; node-1 was renewed to t0+90 s
  assert.equal(await b.getLease('node-2'), undefined, 'a lapsed lease is not live even before it is reaped');
  assert.deepEqual(await b.reapExpired(), ['node-2']);
  await assert.rejects(b.renewSubnet('node-2'), NoLeaseError);
  assert.deepEqual((await b.listLeases()).map((l) => l.node), ['node-1', 'node-r']);
  // node-3 now gets the freed subnet; node-2 coming back cannot have its old one.
  assert.deepEqual((await b.leaseSubnet('node-3', { ttlMs: 60_000 })).subnets, ['10.10.3.0/24']);
  await assert.rejects(b.leaseSubnet('node-2'), SubnetPoolExhaustedError);
  // A long time later only the reservation is left.
  now += 10 * 24 * 3600_000;
  assert.deepEqual((await b.listLeases()).map((l) => l.node), ['node-r']);
  // node-2 comes back after expiry and gets its previous subnet again (lease() reaps first).
  assert.deepEqual((await b.leaseSubnet('node-2')).subnets, ['10.10.3.0/24']);
  assert.equal(await b.releaseSubnet('node-2'), true);
  assert.equal(await b.releaseSubnet('node-2'), false);
});

test('dual-stack leases hold one subnet per family', async () => {
  const i = await ipam({ network: 'dual', clusterCidr: '10.20.0.0/16', clusterCidrV6: 'fd00:10:244::/56' });
  const l = await i.leaseSubnet('node-a');
  assert.deepEqual(l.subnets, ['10.20.1.0/24', 'fd00:10:244:1::/64']);
  assert.deepEqual((await i.reserveSubnet('node-b', 'fd00:10:244:9::/64')).subnets, ['10.20.9.0/24', 'fd00:10:244:9::/64']);
  // A server with another layout for the same network is refused.
  await assert.rejects(Ipam.connect(redis.url, { network: 'dual', clusterCidr: '10.20.0.0/16' }), /laid out as/);
});
