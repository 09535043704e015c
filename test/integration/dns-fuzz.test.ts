// A real `meshlet dns` under a few hundred thousand random, mutated, truncated
// and oversized UDP packets and garbage TCP streams: it must neither crash nor
// wedge, and must answer correctly afterwards (checked with the real dig).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { FeedClient, StubUpstream, dig, startDnsProcess, udpClient, type DnsProcess } from '../helpers/dns.ts';

let dir: string;
let dns: DnsProcess;
let feed: FeedClient;
const upstream = new StubUpstream();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mlt-dns-fuzz-'));
  upstream.add('example.com', 'A', '192.0.2.1');
  await upstream.start();
  dns = await startDnsProcess(dir, ['--listen', '127.0.0.1:0', '--upstream', `127.0.0.1:${upstream.port}`, '--upstream-timeout', '200', '--tcp-idle-timeout', '1000']);
  feed = await FeedClient.connect(dns.pid.feedSocket);
  await feed.send({
    type: 'snapshot', seq: 1,
    services: [{ namespace: 'default', name: 'web', clusterIPs: ['10.96.0.20'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }],
    endpointSlices: [], pods: [{ namespace: 'default', name: 'me', ips: ['127.0.0.1'] }], namespaces: [{ name: 'default' }],
  });
});

after(async () => {
  feed?.close();
  if (dns) assert.equal(await dns.stop(), 0, dns.stderr());
  await upstream.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function seeds(): Buffer[] {
  const opt = { type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] } as dnsPacket.Answer;
  return [
    ['web.default.svc.cluster.local', 'A'], ['_http._tcp.web.default.svc.cluster.local', 'SRV'], ['example.com', 'A'],
    ['foo.example.com.default.svc.cluster.local', 'A'], ['20.0.96.10.in-addr.arpa', 'PTR'], ['dns-version.cluster.local', 'TXT'],
  ].map(([name, type], i) => dnsPacket.encode({ type: 'query', id: i, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: type as dnsPacket.RecordType, name }], ...(i % 2 ? { additionals: [opt] } : {}) }));
}

function mutate(b: Buffer, i: number): Buffer {
  const out = Buffer.from(b);
  switch (i % 6) {
    case 0: return Buffer.from(Array.from({ length: i % 97 }, () => Math.floor(Math.random() * 256)));
    case 1: out[Math.floor(Math.random() * out.length)] ^= 1 << (i % 8); return out;
    case 2: return out.subarray(0, Math.floor(Math.random() * out.length));
    case 3: out.writeUInt16BE(Math.floor(Math.random() * 65536), 4 + 2 * (i % 4)); return out; // section counts
    case 4: out[12 + Math.floor(Math.random() * 10)] = 0xc0 | (i & 0x3f); return out; // compression pointers in the question
    default: return Buffer.concat([out, Buffer.alloc(i % 3 === 0 ? 4000 + (i % 5000) : i % 300, i & 0xff)]); // trailing garbage, oversized
  }
}

test('300,000 hostile UDP packets and garbage TCP streams, then correct answers', async () => {
  const { sock, send } = udpClient();
  let replies = 0;
  sock.on('message', () => replies++);
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const base = seeds();
  const total = 300_000;
  for (let i = 0; i < total; i++) {
    send(mutate(base[i % base.length], i), dns.port);
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
  // TCP: random bytes, a huge length prefix that never completes, a valid query after garbage.
  for (let k = 0; k < 50; k++) {
    const c = connect(dns.port, '127.0.0.1');
    c.on('error', () => undefined);
    await new Promise<void>((r) => c.once('connect', () => r()));
    c.write(k % 2 ? Buffer.from(Array.from({ length: 200 }, () => Math.floor(Math.random() * 256))) : Buffer.from([0xff, 0xff, 1, 2, 3]));
    if (k % 10 === 0) c.destroy();
  }
  await new Promise((r) => setTimeout(r, 500));
  sock.close();
  assert.ok(replies > 1000, `the server kept answering during the fuzz (${replies} replies)`);
  assert.equal(dns.child.exitCode, null, `still running: ${dns.stderr()}`);
  // A flood fills socket buffers and a query can be lost there (UDP): retry as clients do; a wedged server fails all tries.
  const a = await dig(dns.port, ['web.default.svc.cluster.local', 'A', '+tries=5', '+time=2']);
  assert.equal(a.status, 'NOERROR');
  assert.equal(a.answers[0]?.[4], '10.96.0.20');
  const srv = await dig(dns.port, ['_http._tcp.web.default.svc.cluster.local', 'SRV', '+tcp']);
  assert.equal(srv.answers[0]?.slice(4).join(' '), '0 100 80 web.default.svc.cluster.local.');
  const out = await dig(dns.port, ['example.com', 'A', '+tries=5', '+time=2']);
  assert.equal(out.answers[0]?.[4], '192.0.2.1');
  const ap = await dig(dns.port, ['example.com.default.svc.cluster.local', 'A']);
  assert.equal(ap.answers.map((x) => x[3]).join(','), 'CNAME,A');
});
