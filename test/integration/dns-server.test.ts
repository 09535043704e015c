// A real `meshlet dns` process on 127.0.0.1, fed through its unix socket by this
// test as the agent will, asked with the real dig; names outside the cluster go
// to a stub upstream run by the test, which counts the queries it receives.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import type { FeedEndpointSlice, FeedService, FeedSnapshot } from '../../src/dns/feed.ts';
import { FeedClient, StubUpstream, dig, startDnsProcess, type DnsProcess } from '../helpers/dns.ts';

const Z = 'cluster.local';

function headlessSlice(name: string, service: string, n: number, offset = 10): FeedEndpointSlice {
  return {
    namespace: 'default', name, service, addressType: 'IPv4', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: Array.from({ length: n }, (_, i) => ({ addresses: [`10.244.2.${offset + i}`] })),
  };
}

const services: FeedService[] = [
  { namespace: 'default', name: 'web', clusterIPs: ['10.96.0.20', 'fd00:96::20'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { port: 81, protocol: 'TCP' }] },
  { namespace: 'default', name: 'v4only', clusterIPs: ['10.96.0.21'], ports: [{ port: 80, protocol: 'TCP' }] },
  { namespace: 'default', name: 'hl', clusterIPs: ['None'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
  { namespace: 'default', name: 'empty', clusterIPs: ['None'], ports: [] },
  { namespace: 'default', name: 'unready', clusterIPs: ['None'], ports: [] },
  { namespace: 'default', name: 'unready-pub', clusterIPs: ['None'], ports: [], publishNotReadyAddresses: true },
  { namespace: 'default', name: 'big', clusterIPs: ['None'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
  { namespace: 'default', name: 'ext', type: 'ExternalName', externalName: 'www.example.com' },
  { namespace: 'other', name: 'db', clusterIPs: ['10.96.0.30'], ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] },
];

const snapshot: FeedSnapshot = {
  type: 'snapshot', seq: 1, services,
  endpointSlices: [
    {
      namespace: 'default', name: 'hl-abc', service: 'hl', addressType: 'IPv4', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: [
        { addresses: ['10.244.1.5'], hostname: 'pet-0' },
        { addresses: ['10.244.1.6'], podName: 'named' },
        { addresses: ['10.244.1.7'] },
        { addresses: ['10.244.1.8'], ready: false },
      ],
    },
    { namespace: 'default', name: 'unready-1', service: 'unready', addressType: 'IPv4', endpoints: [{ addresses: ['10.244.1.20'], ready: false }] },
    { namespace: 'default', name: 'unready-pub-1', service: 'unready-pub', addressType: 'IPv4', endpoints: [{ addresses: ['10.244.1.21'], ready: false }] },
    headlessSlice('big-1', 'big', 60),
  ],
  pods: [
    // The test's own dig runs from 127.0.0.1: a "pod" of namespace default, so autopath applies to it.
    { namespace: 'default', name: 'client', ips: ['127.0.0.1'] },
    { namespace: 'default', name: 'named', ips: ['10.244.1.6'], hostname: 'db-1', subdomain: 'hl' },
    { namespace: 'default', name: 'p5', ips: ['10.244.1.5'] },
  ],
  namespaces: [{ name: 'default' }, { name: 'other' }, { name: 'quiet' }],
};

let dir: string;
let upstream: StubUpstream;
let dns: DnsProcess;
let feed: FeedClient;
let port: number;

const q = (...args: string[]) => dig(port, args);
const rdata = (rows: string[][]): string[] => rows.map((r) => r.slice(4).join(' ')).sort();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mlt-dns-it-'));
  upstream = new StubUpstream();
  upstream.add('www.example.com', 'A', '192.0.2.53');
  upstream.add('api.example.com', 'A', '192.0.2.54');
  upstream.add('cached.example.com', 'A', '192.0.2.55');
  await upstream.start();
  dns = await startDnsProcess(dir, ['--listen', '127.0.0.1:0', '--upstream', `127.0.0.1:${upstream.port}`, '--dns-address', '10.96.0.10', '--upstream-timeout', '300', '--tcp-idle-timeout', '500']);
  port = dns.port;
  feed = await FeedClient.connect(dns.pid.feedSocket);
  assert.deepEqual(await feed.send(snapshot), { type: 'ack', seq: 1 });
});

after(async () => {
  feed?.close();
  if (dns) assert.equal(await dns.stop(), 0, dns.stderr());
  if (dir) {
    assert.ok(!existsSync(join(dir, 'dns.pid')), 'the pid file is removed on exit');
    rmSync(dir, { recursive: true, force: true });
  }
  await upstream?.stop();
});

describe('records of the Kubernetes DNS specification', () => {
  test('dns-version TXT', async () => {
    const r = await q(`dns-version.${Z}`, 'TXT');
    assert.equal(r.status, 'NOERROR');
    assert.deepEqual(rdata(r.answers), ['"1.1.0"']);
    assert.ok(r.flags.includes('aa'));
  });

  test('ClusterIP A and AAAA, case-insensitive', async () => {
    assert.deepEqual(rdata((await q(`web.default.svc.${Z}`, 'A')).answers), ['10.96.0.20']);
    assert.deepEqual(rdata((await q(`web.default.svc.${Z}`, 'AAAA')).answers), ['fd00:96::20']);
    const mixed = await q(`WeB.DeFault.SVC.Cluster.Local`, 'A');
    assert.deepEqual(rdata(mixed.answers), ['10.96.0.20']);
    assert.equal(mixed.answers[0][0], 'WeB.DeFault.SVC.Cluster.Local.', 'the answer carries the question\'s case');
  });

  test('SRV for named ports only, with the service as target and its address in additional', async () => {
    const r = await q(`_http._tcp.web.default.svc.${Z}`, 'SRV');
    assert.deepEqual(rdata(r.answers), [`0 100 80 web.default.svc.${Z}.`]);
    assert.deepEqual(rdata(r.additional.filter((x) => x[3] === 'A' || x[3] === 'AAAA')), ['10.96.0.20', 'fd00:96::20']);
    assert.equal((await q(`_pg._tcp.db.other.svc.${Z}`, 'SRV')).answers.length, 1);
  });

  test('headless: ready endpoints only, hostnames from the endpoint or the pod, SRV per endpoint', async () => {
    const a = await q(`hl.default.svc.${Z}`, 'A');
    assert.deepEqual(rdata(a.answers), ['10.244.1.5', '10.244.1.6', '10.244.1.7']);
    assert.deepEqual(rdata((await q(`pet-0.hl.default.svc.${Z}`, 'A')).answers), ['10.244.1.5']);
    assert.deepEqual(rdata((await q(`db-1.hl.default.svc.${Z}`, 'A')).answers), ['10.244.1.6'], 'pod hostname + subdomain');
    assert.deepEqual(rdata((await q(`10-244-1-7.hl.default.svc.${Z}`, 'A')).answers), ['10.244.1.7'], 'no hostname: the dashed IP, as CoreDNS');
    assert.equal((await q(`10-244-1-8.hl.default.svc.${Z}`, 'A')).status, 'NXDOMAIN', 'not ready: no record');
    const srv = await q(`_http._tcp.hl.default.svc.${Z}`, 'SRV');
    assert.deepEqual(rdata(srv.answers), [
      `0 33 8080 10-244-1-7.hl.default.svc.${Z}.`, `0 33 8080 db-1.hl.default.svc.${Z}.`, `0 33 8080 pet-0.hl.default.svc.${Z}.`,
    ]);
    assert.equal(srv.additional.filter((x) => x[3] === 'A').length, 3);
  });

  test('headless with no ready endpoints is NXDOMAIN, unless publishNotReadyAddresses', async () => {
    assert.equal((await q(`empty.default.svc.${Z}`, 'A')).status, 'NXDOMAIN');
    assert.equal((await q(`unready.default.svc.${Z}`, 'A')).status, 'NXDOMAIN');
    assert.deepEqual(rdata((await q(`unready-pub.default.svc.${Z}`, 'A')).answers), ['10.244.1.21']);
  });

  test('PTR for ClusterIPs and endpoint IPs', async () => {
    assert.deepEqual(rdata((await q('-x', '10.96.0.20')).answers), [`web.default.svc.${Z}.`]);
    assert.deepEqual(rdata((await q('-x', 'fd00:96::20')).answers), [`web.default.svc.${Z}.`]);
    assert.deepEqual(rdata((await q('-x', '10.244.1.5')).answers), [`pet-0.hl.default.svc.${Z}.`]);
  });

  test('ExternalName: a CNAME, and for A its target resolved upstream', async () => {
    assert.deepEqual(rdata((await q(`ext.default.svc.${Z}`, 'CNAME')).answers), ['www.example.com.']);
    const a = await q(`ext.default.svc.${Z}`, 'A');
    assert.equal(a.status, 'NOERROR');
    assert.deepEqual(a.answers.map((r) => [r[3], r[4]]), [['CNAME', 'www.example.com.'], ['A', '192.0.2.53']]);
  });

  test('pod records in verified mode: only for a pod with that IP in that namespace', async () => {
    assert.deepEqual(rdata((await q(`10-244-1-5.default.pod.${Z}`, 'A')).answers), ['10.244.1.5']);
    assert.equal((await q(`10-244-1-5.other.pod.${Z}`, 'A')).status, 'NXDOMAIN');
    assert.equal((await q(`10-244-9-9.default.pod.${Z}`, 'A')).status, 'NXDOMAIN');
  });

  test('NXDOMAIN and NODATA are told apart, both with the zone SOA in authority', async () => {
    const nx = await q(`nope.default.svc.${Z}`, 'A');
    assert.equal(nx.status, 'NXDOMAIN');
    assert.equal(nx.authority[0]?.[3], 'SOA');
    const nodata = await q(`v4only.default.svc.${Z}`, 'AAAA');
    assert.equal(nodata.status, 'NOERROR');
    assert.equal(nodata.answers.length, 0);
    assert.equal(nodata.authority[0]?.[3], 'SOA');
    assert.equal((await q(`quiet.svc.${Z}`, 'A')).status, 'NOERROR', 'an existing namespace is NODATA');
    assert.equal((await q(`missing.svc.${Z}`, 'A')).status, 'NXDOMAIN');
    assert.equal((await q(`_tcp.web.default.svc.${Z}`, 'A')).status, 'NOERROR', 'an empty non-terminal is NODATA');
    assert.equal((await q(Z, 'SOA')).answers[0]?.[3], 'SOA');
    const ns = await q(Z, 'NS');
    assert.deepEqual(rdata(ns.answers), [`ns.dns.${Z}.`]);
    assert.deepEqual(rdata(ns.additional.filter((x) => x[3] === 'A')), ['10.96.0.10']);
  });

  test('zones match by whole labels: xcluster.local is not ours', async () => {
    const before = upstream.count(`web.default.svc.x${Z}`);
    const r = await q(`web.default.svc.x${Z}`, 'A');
    assert.equal(r.status, 'NXDOMAIN');
    assert.ok(!r.flags.includes('aa'));
    assert.equal(upstream.count(`web.default.svc.x${Z}`), before + 1, 'forwarded upstream');
  });
});

describe('forwarding, cache, autopath', () => {
  test('outside names go upstream once, then come from the cache with a decreasing TTL', async () => {
    const first = await q('cached.example.com', 'A');
    assert.deepEqual(rdata(first.answers), ['192.0.2.55']);
    const again = await q('CACHED.example.com', 'A');
    assert.deepEqual(rdata(again.answers), ['192.0.2.55']);
    assert.equal(upstream.count('cached.example.com', 'A'), 1);
    assert.ok(Number(again.answers[0][1]) <= 300);
  });

  test('autopath: <name>.<ns>.svc.<zone> from a known pod is answered at once with a CNAME, costing one upstream query', async () => {
    const before = upstream.count('api.example.com', 'A');
    const r = await q(`api.example.com.default.svc.${Z}`, 'A');
    assert.equal(r.status, 'NOERROR');
    assert.deepEqual(r.answers.map((x) => [x[0], x[3], x[4]]), [
      [`api.example.com.default.svc.${Z}.`, 'CNAME', 'api.example.com.'], ['api.example.com.', 'A', '192.0.2.54'],
    ]);
    assert.equal(upstream.count('api.example.com', 'A'), before + 1);
    assert.equal(upstream.count(`api.example.com.default.svc.${Z}`), 0, 'the search names never leave the node');
    // A cluster name through the search path: web.svc.<zone> does not exist, web.default.svc does: the short-cut targets the next one.
    const svc = await q(`db.other.default.svc.${Z}`, 'A');
    assert.deepEqual(svc.answers.map((x) => [x[3], x[4]]), [['CNAME', `db.other.svc.${Z}.`], ['A', '10.96.0.30']]);
  });

  test('autopath applies only to known pod IPs, and a final NXDOMAIN stands', async () => {
    const other = await dig(port, ['-b', '127.0.0.2', `api.example.com.default.svc.${Z}`, 'A']);
    assert.equal(other.status, 'NXDOMAIN', 'not a pod: the plain answer');
    const none = await q(`nothing.example.com.default.svc.${Z}`, 'A');
    assert.equal(none.status, 'NXDOMAIN');
    assert.equal(none.answers.length, 0);
  });

  test('upstream failure is a quick SERVFAIL, not a hang', async () => {
    upstream.silent = true;
    try {
      const r = await q('silent.example.com', 'A');
      assert.equal(r.status, 'SERVFAIL');
      assert.equal(upstream.count('silent.example.com'), 1);
    } finally {
      upstream.silent = false;
    }
  });
});

describe('EDNS0, truncation, TCP', () => {
  test('a headless Service with 60 endpoints fits one 1232-byte UDP answer (compression)', async () => {
    const r = await q(`big.default.svc.${Z}`, 'A', '+bufsize=1232', '+ignore');
    assert.ok(!r.flags.includes('tc'));
    assert.equal(r.answers.length, 60);
  });

  test('over the client limit: TC, and dig falls back to TCP for the whole answer', async () => {
    const tc = await q(`big.default.svc.${Z}`, 'A', '+noedns', '+ignore');
    assert.ok(tc.flags.includes('tc'));
    assert.equal(tc.answers.length, 0);
    const full = await q(`_http._tcp.big.default.svc.${Z}`, 'SRV', '+noedns');
    assert.match(full.raw, /Truncated, retrying in TCP mode/);
    assert.equal(full.answers.length, 60);
    assert.equal((await q(`big.default.svc.${Z}`, 'A', '+tcp')).answers.length, 60);
  });

  test('TCP: pipelined queries each get their answer; idle connections are closed', async () => {
    const ids = [101, 102, 103];
    const names = [`web.default.svc.${Z}`, `db.other.svc.${Z}`, `nope.default.svc.${Z}`];
    const frames = names.map((name, i) => {
      const m = dnsPacket.encode({ type: 'query', id: ids[i], flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] });
      const l = Buffer.alloc(2);
      l.writeUInt16BE(m.length);
      return Buffer.concat([l, m]);
    });
    const c = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const got = new Map<number, dnsPacket.Packet>();
    const closed = new Promise<void>((r) => c.on('close', () => r()));
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const p = dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        got.set(p.id ?? -1, p);
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
    });
    c.write(Buffer.concat(frames));
    await closed; // the server closes it after --tcp-idle-timeout 500 ms of silence
    assert.deepEqual([...got.keys()].sort(), ids);
    assert.equal((got.get(101)?.answers?.[0] as { data?: string })?.data, '10.96.0.20');
    assert.equal((got.get(103) as { rcode?: string } | undefined)?.rcode, "NXDOMAIN");
  });

  test('a client that trickles a message cannot hold its connection', async () => {
    const c = connect(port, '127.0.0.1');
    const closed = new Promise<void>((r) => c.on('close', () => r()));
    await new Promise<void>((r) => c.once('connect', () => r()));
    let writes = 0;
    const timer = setInterval(() => {
      if (!c.destroyed) c.write(Buffer.from([0]));
      writes++;
    }, 100); // a byte every 100 ms keeps it from being idle, but the message never completes
    c.on('error', () => undefined);
    await closed;
    clearInterval(timer);
    assert.ok(writes >= 1);
    assert.equal((await q(`web.default.svc.${Z}`, 'A', '+tcp')).status, 'NOERROR');
  });
});

describe('the feed', () => {
  test('a Service created, scaled, made unready and deleted shows in answers right after each delta', async () => {
    let seq = 100;
    const svc: FeedService = { namespace: 'default', name: 'late', clusterIPs: ['None'], ports: [] };
    assert.equal((await q(`late.default.svc.${Z}`, 'A')).status, 'NXDOMAIN');
    assert.deepEqual(await feed.send({ type: 'upsert', seq: ++seq, kind: 'Service', object: svc }), { type: 'ack', seq });
    const slice = headlessSlice('late-1', 'late', 1, 100);
    await feed.send({ type: 'upsert', seq: ++seq, kind: 'EndpointSlice', object: slice });
    assert.deepEqual(rdata((await q(`late.default.svc.${Z}`, 'A')).answers), ['10.244.2.100']);
    await feed.send({ type: 'upsert', seq: ++seq, kind: 'EndpointSlice', object: headlessSlice('late-1', 'late', 2, 100) });
    assert.deepEqual(rdata((await q(`late.default.svc.${Z}`, 'A')).answers), ['10.244.2.100', '10.244.2.101']);
    const unready = { ...slice, endpoints: [{ addresses: ['10.244.2.100'], ready: false }, { addresses: ['10.244.2.101'] }] };
    await feed.send({ type: 'upsert', seq: ++seq, kind: 'EndpointSlice', object: unready });
    assert.deepEqual(rdata((await q(`late.default.svc.${Z}`, 'A')).answers), ['10.244.2.101']);
    await feed.send({ type: 'delete', seq: ++seq, kind: 'Service', namespace: 'default', name: 'late' });
    assert.equal((await q(`late.default.svc.${Z}`, 'A')).status, 'NXDOMAIN');
    await feed.send({ type: 'upsert', seq: ++seq, kind: 'Service', object: { ...services[1], clusterIPs: ['10.96.0.99'] } });
    assert.deepEqual(rdata((await q(`v4only.default.svc.${Z}`, 'A')).answers), ['10.96.0.99']);
  });

  test('a bad message is refused and closes the feed; the last data stays served; a new feeder resyncs', async () => {
    const bad = await FeedClient.connect(dns.pid.feedSocket);
    const r = await bad.send({ type: 'upsert', seq: 5, kind: 'Service', object: services[0] });
    assert.equal(r.type, 'error');
    assert.match((r as { message: string }).message, /snapshot must come first/);
    await bad.closed();
    const garbage = await FeedClient.connect(dns.pid.feedSocket);
    const g = await garbage.send('{"type":"upsert","seq":1,"kind":"Service","object":{"namespace":"Bad_NS","name":"x"}}');
    assert.equal(g.type, 'error');
    assert.match((g as { message: string }).message, /not a valid name/);
    assert.deepEqual(rdata((await q(`web.default.svc.${Z}`, 'A')).answers), ['10.96.0.20']);
    // The first feeder still feeds (the bad ones sent no snapshot).
    const seq = 200;
    assert.deepEqual(await feed.send({ type: 'upsert', seq, kind: 'Namespace', object: { name: 'fresh' } }), { type: 'ack', seq });
    assert.equal((await q(`fresh.svc.${Z}`, 'A')).status, 'NOERROR');
  });
});

describe('operations', () => {
  const http = (path: string): Promise<{ code: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = request({ socketPath: join(dir, 'health.sock'), path }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
      });
      req.once('error', reject);
      req.end();
    });

  test('health and readiness, and Prometheus metrics by type and rcode, cache, upstream and latency', async () => {
    assert.equal((await http('/healthz')).code, 200);
    assert.equal((await http('/readyz')).code, 200);
    const m = (await http('/metrics')).body;
    assert.match(m, /meshlet_dns_requests_total\{type="A",rcode="NOERROR"\} [1-9]/);
    assert.match(m, /meshlet_dns_requests_total\{type="A",rcode="NXDOMAIN"\} [1-9]/);
    assert.match(m, /meshlet_dns_cache_hits_total\{cache="upstream"\} [1-9]/);
    assert.match(m, /meshlet_dns_upstream_duration_seconds_count\{server="127\.0\.0\.1:\d+",outcome="ok"\} [1-9]/);
    assert.match(m, /meshlet_dns_request_duration_seconds_count [1-9]/);
    assert.match(m, /meshlet_dns_autopath_total\{result="success"\} [1-9]/);
    assert.match(m, /meshlet_dns_feed_connected 1/);
  });

  test('the pid file says how to adopt the process', () => {
    assert.equal(dns.pid.pid, dns.child.pid);
    assert.ok(dns.pid.startTicks > 0);
    assert.deepEqual(dns.pid.listen.map((l) => l.transport).sort(), ['tcp', 'udp']);
  });
});
