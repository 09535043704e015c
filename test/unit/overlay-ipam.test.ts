// IPAM configuration arithmetic (no Redis: the client is never connected).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { Ipam, renewDueAt } from '../../src/overlay/ipam.ts';

const redis = new Redis({ lazyConnect: true });
after(() => redis.disconnect());

test('default network: 10.244.0.0/16 in /24s', () => {
  const i = new Ipam(redis);
  assert.deepEqual(i.clusterCidrs, ['10.244.0.0/16']);
  assert.equal(i.subnetCount, 256);
  assert.deepEqual(i.subnetsOf(1), ['10.244.1.0/24']);
  assert.equal(i.indexOf('10.244.77.0/24'), 77);
  assert.throws(() => i.indexOf('10.244.77.0/25'));
  assert.throws(() => i.indexOf('fd00::/64'), /no IPv6 cluster CIDR/);
});

test('dual-stack shares one index space; the smaller family bounds it', () => {
  const i = new Ipam(redis, { clusterCidr: '10.244.0.0/16', clusterCidrV6: 'fd00:10:244::/60' });
  assert.equal(i.subnetCount, 16);
  assert.deepEqual(i.subnetsOf(3), ['10.244.3.0/24', 'fd00:10:244:3::/64']);
  assert.equal(i.indexOf('fd00:10:244:3::/64'), 3);
  assert.throws(() => i.indexOf('10.244.20.0/24'), /beyond/);
  const v6 = new Ipam(redis, { clusterCidr: null, clusterCidrV6: 'fd00:10:244::/56' });
  assert.equal(v6.subnetCount, 256);
  assert.deepEqual(v6.subnetsOf(1), ['fd00:10:244:1::/64']);
});

test('invalid configurations are refused', () => {
  assert.throws(() => new Ipam(redis, { clusterCidr: null }), /at least one/);
  assert.throws(() => new Ipam(redis, { clusterCidr: '10.244.0.0/24', nodePrefix: 24 }), /fewer than two/);
  assert.throws(() => new Ipam(redis, { clusterCidr: '10.244.0.0/16', nodePrefix: 31 }), /too small/);
  assert.throws(() => new Ipam(redis, { clusterCidr: 'fd00::/48' }), /not an IPv4/);
  assert.throws(() => new Ipam(redis, { network: 'a:b' }), /network name/);
});

test('renewal is due 1 h before expiry (halfway for short TTLs); never for reservations', () => {
  const day = 24 * 3600_000;
  assert.equal(renewDueAt({ node: 'n', subnets: [], expiresAt: day }, day), day - 3600_000);
  assert.equal(renewDueAt({ node: 'n', subnets: [], expiresAt: 60_000 }, 60_000), 30_000);
  assert.equal(renewDueAt({ node: 'n', subnets: [], expiresAt: null }), null);
});
