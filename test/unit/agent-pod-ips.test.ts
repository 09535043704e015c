import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import {
  POD_IPS_FILE, PodIps, addressesOf, allocateIn, emptyTable, offsetRange, parseTable, reclaimIn, releaseIn,
} from '../../src/agent/pod-ips.ts';

const dir = mkdtempSync(join(tmpdir(), 'mlt-node-ipam-podips-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const logger = pino({ level: 'silent' });
let n = 0;
const freshDir = (): string => mkdtempSync(join(dir, `${n++}-`));

test('offsets skip network, gateway and broadcast; dual-stack takes the smaller family', () => {
  assert.deepEqual(offsetRange(['10.244.1.0/24']), { first: 2, last: 254 });
  assert.deepEqual(offsetRange(['10.244.1.0/28']), { first: 2, last: 14 });
  assert.deepEqual(offsetRange(['10.244.1.0/28', 'fd00:1::/64']), { first: 2, last: 14 });
  assert.throws(() => offsetRange(['10.244.1.0/31']), /no pod address/);
});

test('allocation: idempotent per key, next-fit, exhaustion, release and reclaim', () => {
  let t = emptyTable(['10.244.1.0/29']); // offsets 2..6: five pods
  const got: number[] = [];
  for (const k of ['a', 'b', 'c', 'd', 'e']) {
    const r = allocateIn(t, k);
    assert.ok(!('exhausted' in r));
    t = r.table;
    got.push(r.offset);
  }
  assert.deepEqual(got, [2, 3, 4, 5, 6]);
  const again = allocateIn(t, 'c');
  assert.ok(!('exhausted' in again) && again.offset === 4 && !again.fresh, 'same key, same offset');
  assert.deepEqual(allocateIn(t, 'f'), { exhausted: true });
  t = releaseIn(t, 'b').table;
  const f = allocateIn(t, 'f');
  assert.ok(!('exhausted' in f) && f.offset === 3, 'the freed offset');
  t = f.table;
  assert.deepEqual(addressesOf(t, 3), ['10.244.1.3']);
  const r = reclaimIn(t, new Set(['a', 'f']));
  assert.deepEqual(r.released, ['c', 'd', 'e']);
  assert.deepEqual(r.table.pods, { a: 2, f: 3 });
  // next-fit: after 3 the cursor is at 4, so a just-freed lower offset is not reused first.
  const g = allocateIn(r.table, 'g');
  assert.ok(!('exhausted' in g) && g.offset === 4);
});

test('the table on disk: written before the IP is handed out, reloaded, validated', async () => {
  const d = freshDir();
  const ips = await PodIps.open({ dataDir: d, nodeName: 'n1', subnets: ['10.244.3.0/24'], logger });
  const keys = Array.from({ length: 100 }, (_, i) => `default/p${i}/uid${i}`);
  const all = await Promise.all(keys.map((k) => ips.allocate(k)));
  assert.equal(new Set(all.map((a) => a[0])).size, 100, 'concurrent allocations are distinct');
  const onDisk = parseTable(readFileSync(join(d, POD_IPS_FILE), 'utf8'), 'x');
  for (const [i, k] of keys.entries()) assert.deepEqual(addressesOf(onDisk, onDisk.pods[k]), all[i], `${k} on disk when handed out`);
  assert.deepEqual(readdirSync(d).filter((f) => f !== POD_IPS_FILE), [], 'no temporary file left');

  const reopened = await PodIps.open({ dataDir: d, nodeName: 'n1', subnets: ['10.244.3.0/24'], logger });
  assert.deepEqual(await reopened.allocate(keys[7]), all[7], 'a restart gives the same pod the same IP');
  const fresh = await reopened.allocate('default/new/uid');
  assert.ok(!all.some((a) => a[0] === fresh[0]), 'and a new pod an IP nobody holds');
  assert.deepEqual(await reopened.reclaim(new Set(keys.slice(0, 10))), [...keys.slice(10), 'default/new/uid'].sort());
  assert.equal(reopened.allocations().size, 10);

  // Another subnet (a new lease): the old table does not apply.
  const moved = await PodIps.open({ dataDir: d, nodeName: 'n1', subnets: ['10.244.4.0/24'], logger });
  assert.equal(moved.allocations().size, 0);
  assert.match((await moved.allocate('k'))[0], /^10\.244\.4\./);

  // A corrupt file is refused with its path, and left as it was.
  const bad = freshDir();
  writeFileSync(join(bad, POD_IPS_FILE), '{"version":1,"subnets":["10.244.5.0/24"],"pods":{"a":7,"b":7},"cursor":2}');
  await assert.rejects(PodIps.open({ dataDir: bad, nodeName: 'n1', subnets: ['10.244.5.0/24'], logger }), /pod-ips\.json: offset 7 is held twice/);
  assert.match(readFileSync(join(bad, POD_IPS_FILE), 'utf8'), /"b":7/);
});

test('an exhausted subnet is the typed error the kubelet keeps the pod Pending on; no subnet held, no IP', async () => {
  let held = true;
  const ips = await PodIps.open({ dataDir: freshDir(), nodeName: 'n1', subnets: ['10.244.6.0/30'], holdsSubnet: () => held, logger });
  const ipam = ips.kubeletIpam();
  assert.deepEqual(await ipam.allocate('a'), { ip: '10.244.6.2', prefixLength: 30, gateway: '10.244.6.1' });
  await assert.rejects(ipam.allocate('b'), (e: Error) => e.name === 'IpPoolExhaustedError' && /IP pool exhausted/.test(e.message));
  await ipam.release('a');
  held = false;
  await assert.rejects(ipam.allocate('b'), /does not hold its subnet/);
  held = true;
  assert.equal((await ipam.allocate('b')).ip, '10.244.6.2');
});
