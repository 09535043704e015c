// The DNS wire layer: the hot-path query parser, our encoder's name compression,
// EDNS0/TC finishing of prebuilt answers, the message walker, the answer cache.
// dns-packet decodes what we write, as an independent reader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { AnswerCache, errorReply, finish, prebuild, prebuildUpstream, udpLimit, DEFAULT_CACHE_POLICY } from '../../src/dns/answers.ts';
import { walkMessage } from '../../src/dns/message.ts';
import { encodeMessage, type RR } from '../../src/dns/writer.ts';
import { inZone, keyToName, nameKey, parseQuery, RCODE, TYPE, type Query } from '../../src/dns/wire.ts';

const query = (name: string, type: dnsPacket.RecordType = 'A', extra: Partial<dnsPacket.Packet> = {}): Buffer =>
  dnsPacket.encode({ type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }], ...extra });

const opt = (size: number, flags = 0): dnsPacket.Answer =>
  ({ type: 'OPT', name: '.', udpPayloadSize: size, extendedRcode: 0, ednsVersion: 0, flags, flag_do: (flags & dnsPacket.DNSSEC_OK) !== 0, options: [] }) as dnsPacket.Answer;
const rcodeOf = (p: dnsPacket.Packet): string | undefined => (p as { rcode?: string }).rcode;
const rc = (m: Buffer): number => {
  const r = parseQuery(m);
  return r.ok ? 0 : r.rcode;
};

function parsed(msg: Buffer): Query {
  const r = parseQuery(msg);
  assert.ok(r.ok, `parse failed: ${JSON.stringify(r)}`);
  return r.query;
}

test('parseQuery: the question as a lowercase key, its type, and EDNS0', () => {
  const q = parsed(query('Web.Default.svc.cluster.local', 'AAAA'));
  assert.equal(q.id, 4242);
  assert.equal(q.key, nameKey('web.default.svc.cluster.local.'));
  assert.equal(keyToName(q.key), 'web.default.svc.cluster.local.');
  assert.equal(q.qtype, TYPE.AAAA);
  assert.equal(q.ednsSize, 0);
  const e = parsed(query('a.b', 'A', { additionals: [opt(4096, dnsPacket.DNSSEC_OK)] }));
  assert.equal(e.ednsSize, 4096);
  assert.equal(e.dnssecOk, true);
  assert.equal(udpLimit(e), 1232, 'capped at our size');
  assert.equal(udpLimit(q), 512);
});

test('parseQuery: bad input is FORMERR/NOTIMP or dropped, never a throw', () => {
  const ok = query('x.example');
  assert.equal(rc(Buffer.alloc(5)), -1, 'short: dropped');
  const resp = Buffer.from(ok);
  resp[2] |= 0x80;
  assert.equal(rc(resp), -1, 'a response: dropped');
  const notimp = Buffer.from(ok);
  notimp[2] |= 0x28; // opcode 5 (UPDATE)
  assert.equal(rc(notimp), RCODE.NOTIMP);
  assert.equal(rc(ok.subarray(0, ok.length - 2)), RCODE.FORMERR, 'truncated question');
  const two = Buffer.from(ok);
  two.writeUInt16BE(2, 4);
  assert.equal(rc(two), RCODE.FORMERR);
  const pointer = Buffer.from(ok);
  pointer[12] = 0xc0;
  assert.equal(rc(pointer), RCODE.FORMERR, 'compression in the question');
  for (let i = 0; i < 20000; i++) {
    const b = Buffer.from(ok);
    b[Math.floor(Math.random() * b.length)] = Math.floor(Math.random() * 256);
    const r = parseQuery(Math.random() < 0.3 ? b.subarray(0, Math.floor(Math.random() * b.length)) : b);
    assert.ok(r.ok || r.rcode >= -1);
  }
});

test('inZone matches whole labels only', () => {
  const zone = nameKey('cluster.local');
  assert.ok(inZone(nameKey('a.cluster.local'), zone));
  assert.ok(inZone(nameKey('cluster.local'), zone));
  assert.ok(!inZone(nameKey('a.xcluster.local'), zone));
  // A label whose bytes end like the zone's wire form.
  assert.ok(!inZone(nameKey('x\\007cluster.local'), zone));
});

test('compression: 60 A records of one name cost 16 bytes each, and dns-packet reads them back', () => {
  const name = 'big.default.svc.cluster.local.';
  const answers: RR[] = Array.from({ length: 60 }, (_, i) => ({ name, ttl: 5, data: { type: TYPE.A, ip: `10.244.2.${i}` } }));
  const buf = encodeMessage({ id: 1, flags: 0x8180, rcode: 0, question: { name, qtype: 1, qclass: 1 }, answers, authority: [], additional: [] });
  assert.equal(buf.length, 12 + (name.length + 1) + 4 + 60 * 16);
  const p = dnsPacket.decode(buf);
  assert.equal(p.answers?.length, 60);
  assert.equal((p.answers?.[59] as { data: string }).data, '10.244.2.59');
  // Suffixes are shared too: SRV targets under the zone, SOA names.
  const soa: RR = { name: 'cluster.local.', ttl: 5, data: { type: TYPE.SOA, mname: 'ns.dns.cluster.local.', rname: 'hostmaster.cluster.local.', serial: 7, refresh: 1, retry: 2, expire: 3, minimum: 5 } };
  const m = dnsPacket.decode(encodeMessage({ id: 1, flags: 0x8180, rcode: 3, question: { name, qtype: 1, qclass: 1 }, answers: [], authority: [soa], additional: [] }));
  assert.equal(rcodeOf(m), 'NXDOMAIN');
  assert.deepEqual((m.authorities?.[0] as { data: unknown }).data, { mname: 'ns.dns.cluster.local', rname: 'hostmaster.cluster.local', serial: 7, refresh: 1, retry: 2, expire: 3, minimum: 5 });
});

test('finish: ID and question case patched, RD echoed, OPT appended for EDNS0, TC when over the limit', () => {
  const key = nameKey('web.default.svc.cluster.local');
  const pre = prebuild(key, TYPE.A, 1, 0, true, [{ name: 'web.default.svc.cluster.local.', ttl: 5, data: { type: TYPE.A, ip: '10.96.0.20' } }], [], []);
  const msg = query('WEB.default.svc.cluster.local');
  const q = parsed(msg);
  const out = dnsPacket.decode(finish(pre, msg, q, udpLimit(q)));
  assert.equal(out.id, 4242);
  assert.equal(out.questions?.[0].name, 'WEB.default.svc.cluster.local');
  assert.equal(out.answers?.[0].name, 'WEB.default.svc.cluster.local');
  assert.ok((out.flags ?? 0) & dnsPacket.RECURSION_DESIRED);
  assert.ok((out.flags ?? 0) & dnsPacket.AUTHORITATIVE_ANSWER);
  assert.equal(out.additionals?.length ?? 0, 0);
  const emsg = query('web.default.svc.cluster.local', 'A', { additionals: [opt(1232)] });
  const e = dnsPacket.decode(finish(pre, emsg, parsed(emsg), 1232));
  assert.equal(e.additionals?.[0].type, 'OPT');
  const tc = finish(pre, msg, q, 40);
  const t = dnsPacket.decode(tc);
  assert.ok((t.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE);
  assert.equal(t.answers?.length, 0);
  assert.equal(t.questions?.length, 1);
});

test('errorReply carries the question and, for EDNS0 clients, an OPT with the extended rcode', () => {
  const msg = query('x.example', 'A', { additionals: [opt(1232)] });
  const q = parsed(msg);
  const r = errorReply(msg, q.id, q.flags, RCODE.BADVERS, q.questionEnd, true);
  assert.equal(r.readUInt16BE(2) & 0xf, 0);
  assert.equal(r[r.length - 11 + 5], 1, 'BADVERS = extended rcode 1');
  const refused = dnsPacket.decode(errorReply(msg, q.id, q.flags, RCODE.REFUSED, q.questionEnd, false));
  assert.equal(rcodeOf(refused), 'REFUSED');
  assert.equal(refused.questions?.[0].name, 'x.example');
});

test('upstream answers: cached as bytes, OPT stripped, TTLs aged in place, negative TTL from the SOA', () => {
  const resp = dnsPacket.encode({
    type: 'response', id: 9, flags: dnsPacket.RECURSION_AVAILABLE, questions: [{ type: 'A', name: 'example.com' }],
    answers: [{ type: 'A', name: 'example.com', ttl: 100, data: '192.0.2.1' }, { type: 'A', name: 'example.com', ttl: 60, data: '192.0.2.2' }],
    additionals: [opt(1232)],
  });
  const r = prebuildUpstream(resp, 1_000_000, DEFAULT_CACHE_POLICY);
  assert.ok(r?.pre);
  assert.equal(r.pre.expiresAt, 1_000_000 + 60_000, 'the smallest TTL');
  const cache = new AnswerCache(10);
  const key = nameKey('example.com');
  cache.set(key, 1, r.pre);
  const aged = cache.get(key, 1, 1_000_000 + 30_500);
  const p = dnsPacket.decode(aged!.buf);
  assert.deepEqual(p.answers?.map((a) => (a as { ttl?: number }).ttl), [70, 30]);
  assert.equal(p.additionals?.length ?? 0, 0);
  assert.equal(cache.get(key, 1, 1_000_000 + 60_000), undefined, 'expired');
  const nx = dnsPacket.encode({
    type: 'response', id: 9, flags: 3, questions: [{ type: 'A', name: 'nope.example.com' }],
    authorities: [{ type: 'SOA', name: 'example.com', ttl: 900, data: { mname: 'a.', rname: 'b.', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 120 } }],
  });
  assert.equal(prebuildUpstream(nx, 0, DEFAULT_CACHE_POLICY)?.pre?.expiresAt, 120_000);
  const servfail = dnsPacket.encode({ type: 'response', id: 9, flags: 2, questions: [{ type: 'A', name: 'x.example.com' }] });
  assert.equal(prebuildUpstream(servfail, 0, DEFAULT_CACHE_POLICY)?.pre, undefined, 'SERVFAIL is not cached');
});

test('the answer cache is bounded: the oldest names go first', () => {
  const cache = new AnswerCache(3);
  for (let i = 0; i < 5; i++) cache.set(nameKey(`n${i}.example`), 1, { buf: Buffer.alloc(12), rcode: 0, expiresAt: Infinity });
  assert.equal(cache.size, 3);
  assert.equal(cache.get(nameKey('n0.example'), 1, 0), undefined);
  assert.ok(cache.get(nameKey('n4.example'), 1, 0));
  assert.equal(cache.evictions, 2);
});

test('the answer cache evicts the least recently used name: a hit keeps a name in', () => {
  const cache = new AnswerCache(2);
  const e = { buf: Buffer.alloc(12), rcode: 0, expiresAt: Infinity };
  cache.set(nameKey('a.example'), 1, e);
  cache.set(nameKey('b.example'), 1, e);
  assert.ok(cache.get(nameKey('a.example'), 1, 0));
  cache.set(nameKey('c.example'), 1, e);
  assert.ok(cache.get(nameKey('a.example'), 1, 0), 'a was used after b');
  assert.equal(cache.get(nameKey('b.example'), 1, 0), undefined);
  assert.equal(cache.evictions, 1);
});

test('walkMessage reads compressed records, and refuses garbage', () => {
  const resp = dnsPacket.encode({
    type: 'response', id: 1, flags: 0, questions: [{ type: 'SRV', name: '_x._tcp.example.com' }],
    answers: [{ type: 'SRV', name: '_x._tcp.example.com', ttl: 5, data: { priority: 1, weight: 2, port: 3, target: 'h.example.com' } }],
  });
  const m = walkMessage(resp);
  assert.equal(m?.answers[0].rr.data.type, TYPE.SRV);
  assert.equal((m?.answers[0].rr.data as { target: string }).target, 'h.example.com.');
  assert.equal(walkMessage(resp.subarray(0, resp.length - 3)), undefined);
  const loop = Buffer.from(resp);
  loop.writeUInt16BE(0xc000 | 12, 12); // the question name points at itself
  assert.equal(walkMessage(loop), undefined);
});
