import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseCidr, formatCidr, normalizeCidr, nthSubnet, subnetCount, subnetIndex, splitCidr, gatewayOf, hostRange,
  ipToBigInt, bigIntToIp, contains, addressAt, offsetOf, defaultNodePrefix, ipToBytes, bytesToIp,
} from '../../src/core/cidr.ts';

test('IPv4 ↔ BigInt round trip', () => {
  assert.equal(ipToBigInt('10.244.1.1'), 0x0af40101n);
  assert.equal(bigIntToIp(0x0af40101n, 4), '10.244.1.1');
  assert.equal(bigIntToIp(0n, 4), '0.0.0.0');
  assert.equal(bigIntToIp(0xffffffffn, 4), '255.255.255.255');
  assert.throws(() => bigIntToIp(1n << 32n, 4));
  assert.throws(() => ipToBigInt('10.1'));
  assert.throws(() => ipToBigInt('10.0.0.256'));
});

test('IPv6 ↔ BigInt round trip, canonical spelling', () => {
  assert.equal(ipToBigInt('::1'), 1n);
  assert.equal(bigIntToIp(ipToBigInt('fd00:10:244:0:0:0:0:1'), 6), 'fd00:10:244::1');
  assert.equal(normalizeCidr('fd00:10:244:0::/64'), 'fd00:10:244::/64');
  assert.deepEqual([...ipToBytes('10.0.0.1')], [10, 0, 0, 1]);
  assert.equal(bytesToIp(ipToBytes('fd00::5')), 'fd00::5');
});

test('parseCidr rejects bad input and host bits unless allowed', () => {
  assert.deepEqual(parseCidr('10.244.0.0/16'), { family: 4, network: 0x0af40000n, prefix: 16 });
  assert.throws(() => parseCidr('10.244.0.1/16'), /host bits/);
  assert.equal(formatCidr(parseCidr('10.244.0.1/16', { allowHostBits: true })), '10.244.0.0/16');
  assert.throws(() => parseCidr('10.244.0.0/33'), /prefix/);
  assert.throws(() => parseCidr('10.244.0.0'), /invalid CIDR/);
  assert.throws(() => parseCidr('fd00::/129'), /prefix/);
});

test('split 10.244.0.0/16 into /24s', () => {
  const c = parseCidr('10.244.0.0/16');
  assert.equal(subnetCount(c, 24), 256n);
  assert.equal(formatCidr(nthSubnet(c, 24, 0)), '10.244.0.0/24');
  assert.equal(formatCidr(nthSubnet(c, 24, 1)), '10.244.1.0/24');
  assert.equal(formatCidr(nthSubnet(c, 24, 255)), '10.244.255.0/24');
  assert.throws(() => nthSubnet(c, 24, 256), /out of range/);
  assert.equal(subnetIndex(c, 24, '10.244.7.0/24'), 7n);
  assert.throws(() => subnetIndex(c, 24, '10.245.7.0/24'));
  assert.throws(() => subnetIndex(c, 24, '10.244.7.0/25'));
  const all = [...splitCidr(c, 24)];
  assert.equal(all.length, 256);
  assert.equal(new Set(all.map(formatCidr)).size, 256);
  assert.throws(() => subnetCount(c, 15));
});

test('split fd00:10:244::/56 into /64s', () => {
  const c = parseCidr('fd00:10:244::/56');
  assert.equal(subnetCount(c, 64), 256n);
  assert.equal(formatCidr(nthSubnet(c, 64, 0)), 'fd00:10:244::/64');
  assert.equal(formatCidr(nthSubnet(c, 64, 1)), 'fd00:10:244:1::/64');
  assert.equal(formatCidr(nthSubnet(c, 64, 255)), 'fd00:10:244:ff::/64');
  assert.equal(subnetIndex(c, 64, 'fd00:10:244:2a::/64'), 42n);
  const s = nthSubnet(c, 64, 3);
  assert.equal(gatewayOf(s), 'fd00:10:244:3::1');
  const r = hostRange(s);
  assert.equal(bigIntToIp(r.first, 6), 'fd00:10:244:3::1');
  assert.equal(bigIntToIp(r.last, 6), 'fd00:10:244:3:ffff:ffff:ffff:ffff');
  assert.equal(r.count, (1n << 64n) - 1n);
  assert.equal(defaultNodePrefix(c), 64);
});

test('gateway, host range, offsets of an IPv4 subnet', () => {
  const s = parseCidr('10.244.1.0/24');
  assert.equal(gatewayOf(s), '10.244.1.1');
  const r = hostRange(s);
  assert.equal(bigIntToIp(r.first, 4), '10.244.1.1');
  assert.equal(bigIntToIp(r.last, 4), '10.244.1.254');
  assert.equal(r.count, 254n);
  assert.equal(addressAt(s, 2), '10.244.1.2');
  assert.equal(offsetOf(s, '10.244.1.200'), 200n);
  assert.throws(() => offsetOf(s, '10.244.2.1'));
  assert.throws(() => addressAt(s, 256));
  assert.equal(hostRange(parseCidr('10.0.0.0/31')).count, 2n);
  assert.equal(defaultNodePrefix(parseCidr('10.244.0.0/16')), 24);
});

test('containment', () => {
  assert.ok(contains('10.244.0.0/16', '10.244.3.4'));
  assert.ok(contains('10.244.0.0/16', '10.244.3.0/24'));
  assert.ok(!contains('10.244.0.0/16', '10.245.0.1'));
  assert.ok(!contains('10.244.0.0/16', '10.0.0.0/8'));
  assert.ok(!contains('10.244.0.0/16', 'fd00::1'));
  assert.ok(contains('fd00:10:244::/56', 'fd00:10:244:ff::1'));
  assert.ok(!contains('fd00:10:244::/56', 'fd00:10:245::1'));
});
