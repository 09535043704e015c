// The resolver without sockets: a fake forwarder stands in for upstream
// resolvers (counting what it is asked), a settable clock for time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { RecursionAcl } from '../../src/dns/acl.ts';
import { Resolver } from '../../src/dns/resolver.ts';
import type { Forwarder } from '../../src/dns/upstream.ts';
import { keyToName } from '../../src/dns/wire.ts';
import { ClusterZone } from '../../src/dns/zone.ts';

class FakeForwarder implements Forwarder {
  readonly asked: string[] = [];
  down = false;
  /** name (no trailing dot) → A data */
  readonly a = new Map<string, string>([['example.com', '192.0.2.1'], ['www.example.com', '192.0.2.2'], ['api.corp.example', '192.0.2.3']]);
  async query(key: string, qtype: number): Promise<Buffer | undefined> {
    const name = keyToName(key).replace(/\.$/, '');
    this.asked.push(`${name}/${qtype}`);
    if (this.down) return undefined;
    const ip = this.a.get(name);
    const type = qtype === 28 ? 'AAAA' : 'A';
    return dnsPacket.encode({
      type: 'response', id: 0, flags: dnsPacket.RECURSION_AVAILABLE | (ip ? 0 : 3),
      questions: [{ type, name }],
      answers: ip && qtype === 1 ? [{ type: 'A', name, ttl: 60, data: ip }] : [],
      authorities: ip ? [] : [{ type: 'SOA', name: 'example', ttl: 30, data: { mname: 'a.', rname: 'b.', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 30 } }],
    });
  }
  close(): void {}
}

function setup(opts: { autopath?: boolean; extraSearch?: string[] } = {}) {
  let now = 1_000_000;
  const forwarder = new FakeForwarder();
  const zone = new ClusterZone({ zone: 'cluster.local', ttl: 5, podMode: 'verified' });
  const r = new Resolver({
    zone, forwarder, acl: new RecursionAcl(['127.0.0.0/8', '10.244.0.0/16']), autopath: opts.autopath ?? true,
    ...(opts.extraSearch ? { extraSearch: opts.extraSearch } : {}), now: () => now,
  });
  r.applyFeed({
    type: 'snapshot', seq: 1,
    services: [
      { namespace: 'default', name: 'web', clusterIPs: ['10.96.0.20'], ports: [] },
      { namespace: 'other', name: 'db', clusterIPs: ['10.96.0.30'], ports: [] },
      { namespace: 'default', name: 'ext', type: 'ExternalName', externalName: 'www.example.com' },
      { namespace: 'default', name: 'alias', type: 'ExternalName', externalName: 'web.default.svc.cluster.local' },
    ],
    endpointSlices: [], namespaces: [{ name: 'default' }, { name: 'other' }],
    pods: [{ namespace: 'default', name: 'client', ips: ['10.244.1.10'] }, { namespace: 'default', name: 'hostnet', ips: ['10.244.1.11'], hostNetwork: true }],
  });
  const ask = async (name: string, type: dnsPacket.RecordType = 'A', src = '10.244.1.10', extra: Partial<dnsPacket.Packet> = {}): Promise<dnsPacket.Packet & { rcode?: string }> => {
    const msg = dnsPacket.encode({ type: 'query', id: 77, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }], ...extra });
    const out = await r.handle(msg, src, 'udp');
    assert.ok(out, 'an answer');
    return dnsPacket.decode(out);
  };
  return { r, forwarder, ask, tick: (ms: number) => (now += ms) };
}

const answersOf = (p: dnsPacket.Packet): string[] => (p.answers ?? []).map((a) => `${a.name} ${a.type} ${String((a as { data?: unknown }).data)}`);

test('cluster names are answered locally, prebuilt once and then served synchronously', async () => {
  const { r, ask, forwarder } = setup();
  assert.deepEqual(answersOf(await ask('web.default.svc.cluster.local')), ['web.default.svc.cluster.local A 10.96.0.20']);
  const msg = dnsPacket.encode({ type: 'query', id: 1, questions: [{ type: 'A', name: 'web.default.svc.cluster.local' }] });
  assert.ok(Buffer.isBuffer(r.handle(msg, '10.244.1.10', 'udp')), 'the second time straight from the prebuilt answer');
  assert.equal(forwarder.asked.length, 0);
});

test('outside names: forwarded once, then cached until their TTL runs out; negative answers cached by SOA', async () => {
  const { ask, forwarder, tick } = setup();
  assert.deepEqual(answersOf(await ask('example.com')), ['example.com A 192.0.2.1']);
  await ask('example.com');
  assert.equal(forwarder.asked.filter((a) => a === 'example.com/1').length, 1);
  tick(61_000);
  await ask('example.com');
  assert.equal(forwarder.asked.filter((a) => a === 'example.com/1').length, 2, 'refetched after the TTL');
  assert.equal((await ask('nx.example.com')).rcode, 'NXDOMAIN');
  await ask('nx.example.com');
  assert.equal(forwarder.asked.filter((a) => a === 'nx.example.com/1').length, 1);
});

test('recursion only for allowed clients; cluster names for everyone', async () => {
  const { ask } = setup();
  assert.equal((await ask('example.com', 'A', '192.0.2.99')).rcode, 'REFUSED');
  assert.equal((await ask('web.default.svc.cluster.local', 'A', '192.0.2.99')).rcode, 'NOERROR');
});

test('every upstream down: SERVFAIL', async () => {
  const { ask, forwarder } = setup();
  forwarder.down = true;
  assert.equal((await ask('down.example.com')).rcode, 'SERVFAIL');
});

test('ExternalName chases its target for A: upstream, or in the zone', async () => {
  const { ask } = setup();
  assert.deepEqual(answersOf(await ask('ext.default.svc.cluster.local')), ['ext.default.svc.cluster.local CNAME www.example.com', 'www.example.com A 192.0.2.2']);
  assert.deepEqual(answersOf(await ask('alias.default.svc.cluster.local')), ['alias.default.svc.cluster.local CNAME web.default.svc.cluster.local', 'web.default.svc.cluster.local A 10.96.0.20']);
});

test('autopath: the first search name from a known pod gets the first existing name behind a CNAME', async () => {
  const { ask, forwarder } = setup();
  const p = await ask('example.com.default.svc.cluster.local');
  assert.equal(p.rcode, 'NOERROR');
  assert.deepEqual(answersOf(p), ['example.com.default.svc.cluster.local CNAME example.com', 'example.com A 192.0.2.1']);
  assert.deepEqual(forwarder.asked, ['example.com/1'], 'one upstream query for the whole search list');
  // A cluster name: db.other is found as db.other.svc.cluster.local.
  assert.deepEqual(answersOf(await ask('db.other.default.svc.cluster.local')), ['db.other.default.svc.cluster.local CNAME db.other.svc.cluster.local', 'db.other.svc.cluster.local A 10.96.0.30']);
  // NODATA counts as found (CoreDNS): AAAA of example.com exists as a name.
  const aaaa = await ask('example.com.default.svc.cluster.local', 'AAAA');
  assert.equal(aaaa.rcode, 'NOERROR');
  assert.equal(aaaa.answers?.[0].type, 'CNAME');
});

test('autopath: not for unknown or host-network sources, not for another namespace, and a final NXDOMAIN stands', async () => {
  const { ask, forwarder } = setup();
  assert.equal((await ask('example.com.default.svc.cluster.local', 'A', '10.244.9.9')).rcode, 'NXDOMAIN');
  assert.equal((await ask('example.com.default.svc.cluster.local', 'A', '10.244.1.11')).rcode, 'NXDOMAIN');
  assert.equal((await ask('example.com.other.svc.cluster.local')).rcode, 'NXDOMAIN', 'the pod is in default: other.svc is not its first search domain');
  assert.equal(forwarder.asked.length, 0);
  const none = await ask('nothing.example.com.default.svc.cluster.local');
  assert.equal(none.rcode, 'NXDOMAIN');
  assert.equal(none.answers?.length ?? 0, 0);
});

test('autopath off: plain NXDOMAIN; extra search domains are tried in order', async () => {
  const off = setup({ autopath: false });
  assert.equal((await off.ask('example.com.default.svc.cluster.local')).rcode, 'NXDOMAIN');
  const extra = setup({ extraSearch: ['corp.example'] });
  assert.deepEqual(answersOf(await extra.ask('api.default.svc.cluster.local')), ['api.default.svc.cluster.local CNAME api.corp.example', 'api.corp.example A 192.0.2.3']);
  assert.deepEqual(extra.forwarder.asked, ['api.corp.example/1']);
});

test('autopath answers are dropped when the zone changes', async () => {
  const { r, ask } = setup();
  assert.equal((await ask('late.default.svc.cluster.local')).rcode, 'NXDOMAIN', 'no such name anywhere on the search path');
  r.applyFeed({ type: 'upsert', seq: 2, kind: 'Service', object: { namespace: 'default', name: 'late', clusterIPs: ['10.96.0.40'], ports: [] } });
  assert.deepEqual(answersOf(await ask('late.default.svc.cluster.local')), ['late.default.svc.cluster.local A 10.96.0.40']);
  assert.equal((await ask('late.other.svc.cluster.local')).rcode, 'NXDOMAIN');
});

test('class, opcode and type rules: CHAOS refused, AXFR refused, EDNS version 1 BADVERS', async () => {
  const { r, ask } = setup();
  const ch = dnsPacket.encode({ type: 'query', id: 3, questions: [{ type: 'TXT', name: 'version.bind', class: 'CH' }] });
  assert.equal((dnsPacket.decode((await r.handle(ch, '127.0.0.1', 'udp'))!) as { rcode?: string }).rcode, 'REFUSED');
  assert.equal((await ask('cluster.local', 'AXFR')).rcode, 'REFUSED');
  const v1 = dnsPacket.encode({ type: 'query', id: 3, questions: [{ type: 'A', name: 'web.default.svc.cluster.local' }], additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 1, flags: 0, flag_do: false, options: [] } as dnsPacket.Answer] });
  const out = (await r.handle(v1, '127.0.0.1', 'udp'))!;
  assert.equal(out[out.length - 11 + 5], 1, 'extended rcode 1: BADVERS');
});

test('fuzz: 100,000 random and mutated packets never throw, then answers are still right', async () => {
  const { r, ask } = setup();
  const seeds = ['web.default.svc.cluster.local', 'example.com.default.svc.cluster.local', 'x.example.com', '_http._tcp.web.default.svc.cluster.local'].map((name, i) =>
    dnsPacket.encode({ type: 'query', id: i, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: i === 3 ? 'SRV' : 'A', name }], additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] } as dnsPacket.Answer] }));
  let answered = 0;
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < 100_000; i++) {
    let b: Buffer;
    if (i % 4 === 0) b = Buffer.from(Array.from({ length: Math.floor(Math.random() * 80) }, () => Math.floor(Math.random() * 256)));
    else {
      b = Buffer.from(seeds[i % seeds.length]);
      for (let k = 0; k < 1 + (i % 3); k++) b[Math.floor(Math.random() * b.length)] = Math.floor(Math.random() * 256);
      if (i % 5 === 0) b = b.subarray(0, Math.floor(Math.random() * b.length));
    }
    const out = r.handle(b, i % 2 ? '10.244.1.10' : '203.0.113.1', 'udp');
    if (out instanceof Promise) pending.push(out.then((x) => x && answered++));
    else if (out) answered++;
  }
  await Promise.all(pending);
  assert.ok(answered > 1000);
  assert.deepEqual(answersOf(await ask('web.default.svc.cluster.local')), ['web.default.svc.cluster.local A 10.96.0.20']);
  assert.deepEqual(answersOf(await ask('example.com')), ['example.com A 192.0.2.1']);
});
