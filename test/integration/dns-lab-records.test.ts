// Cluster DNS records from inside pods of a real 2-node lab (root), with the
// real dig and glibc: SRV for named ports, PTR for ClusterIPs and endpoint IPs,
// ExternalName (the target resolved upstream), headless hostname/subdomain names,
// NXDOMAIN when a headless Service has no ready endpoint, NXDOMAIN vs NODATA,
// dns-version, pod records, case-insensitive names, TCP fallback for a large
// headless answer, changes (create, delete, readiness) on both nodes, and an
// outside name through a stub upstream the test runs inside the lab: autopath
// answers `curl example.com`-style lookups in one query, without it the pod walks
// its search list; a StatefulSet pod's stable <pod>.<svc> name across its
// re-creation, and a DaemonSet on the real agents (rollout status, a node leaving
// its selector and coming back). One lab for the whole file.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { get } from 'node:http';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { labUp } from '../../src/lab/up.ts';
import { labDown } from '../../src/lab/down.ts';
import { labAdminClient } from '../../src/lab/api.ts';
import { Progress } from '../../src/lab/progress.ts';
import { labStateDir, planLab, type LabPlan } from '../../src/lab/plan.ts';
import { podNetnsName } from '../../src/kubelet/names.ts';
import { isAlive } from '../../src/kubelet/proc.ts';
import { dnsPaths } from '../../src/agent/dns-process.ts';
import { readDnsPidFile } from '../../src/dns/process.ts';
import type { ApiClient } from '../../src/client/types.ts';
import type { KubeObject } from '../../src/core/types.ts';
import { KUBECTL, runProcess, type RunResult } from '../helpers/run.ts';

import { waitFor } from '../helpers/wait.ts';
import { hostPod as pod, serviceFixture as service } from '../helpers/object-fixtures.ts';
import { addressesOf as addresses, digIn as dig, answersOf as ofType } from '../helpers/dns.ts';
import { waitRunning } from '../../bench/lab-harness.ts';

const execFileP = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'mlt-dns-records-lab-'));
const name = `dnsr${randomBytes(2).toString('hex')}`;
const Z = 'cluster.local';
const STUB_PORT = 5300;
const OUTSIDE: Record<string, string> = { 'www.example.com': '192.0.2.7', 'shop.example.com': '192.0.2.8', 'blog.example.com': '192.0.2.9' };
const READY_FLAG = join(root, 'hl-ready');
const BIG_ENDPOINTS = 100;
let plan: LabPlan;
let client: ApiClient;
let stub: ChildProcess | undefined;
const stubQueries: { name: string; type: string }[] = [];
/** The client pods: one per node. */
const clients: { node: string; netns: string; ip: string }[] = [];

const runningPod = (podName: string): Promise<KubeObject> => waitRunning(client, 'default', podName);

const podIP = async (podName: string): Promise<string> => ((await runningPod(podName)).status as { podIP: string }).podIP;

/** The sum of the node DNS process's meshlet_dns_requests_total (its /metrics on its health socket). */
async function dnsRequests(dataDir: string): Promise<number> {
  const text = await new Promise<string>((resolve, reject) => {
    get({ socketPath: dnsPaths(dataDir).healthSocket, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
  let n = 0;
  for (const m of text.matchAll(/^meshlet_dns_requests_total\{[^}]*\} (\d+)$/gm)) n += Number(m[1]);
  return n;
}

/** glibc's getaddrinfo (IPv4 only: one A query per name tried) with the pod's resolv.conf; the address or ''. */
async function getaddrinfo(netns: string, host: string): Promise<string> {
  const script = 'import socket, sys\ntry: print(socket.getaddrinfo(sys.argv[1], 80, socket.AF_INET, socket.SOCK_STREAM)[0][4][0])\nexcept Exception: print("")';
  const r = await execFileP('ip', ['netns', 'exec', netns, 'python3', '-c', script, host]);
  return r.stdout.trim();
}

const stubCount = (n: string): number => stubQueries.filter((q) => q.name === n).length;

function startStub(netns: string, host: string): Promise<void> {
  const script = fileURLToPath(new URL('../helpers/dns-stub-server.ts', import.meta.url));
  stub = spawn('ip', ['netns', 'exec', netns, process.execPath, '--import', 'tsx', script, host, String(STUB_PORT), JSON.stringify(OUTSIDE)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let buf = '';
  let err = '';
  stub.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    stub?.once('exit', (code) => reject(new Error(`stub upstream exited (${code}): ${err}`)));
    stub?.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = JSON.parse(buf.slice(0, i)) as { listening?: number; name?: string; type?: string };
        buf = buf.slice(i + 1);
        if (line.listening !== undefined) resolve();
        else if (line.name !== undefined) stubQueries.push({ name: line.name, type: line.type ?? '' });
      }
    });
  });
}

before(async () => {
  // The stub upstream listens on node 1's underlay address (reachable from every node), inside node 1's namespace.
  const planned = planLab(name, 2, labStateDir(root, name));
  const upstream = `${planned.nodes[0].ip}:${STUB_PORT}`;
  ({ plan } = await labUp({ name, nodes: 2, root, network: { dnsUpstreams: [upstream] } }, new Progress()));
  await startStub(plan.nodes[0].netns, plan.nodes[0].ip);
  client = labAdminClient(plan);
  for (const n of plan.nodes) await client.create('pods', pod(`client-${n.nodeName}`, n.nodeName));
  await client.create('pods', pod('web-1', plan.nodes[0].nodeName, { app: 'web' }));
  await client.create('pods', pod('db-0', plan.nodes[1].nodeName, { app: 'db' }, { hostname: 'db-0', subdomain: 'db' }));
  await client.create('pods', pod('hl-0', plan.nodes[1].nodeName, { app: 'hl' }, {}, { readinessProbe: { exec: { command: ['test', '-f', READY_FLAG] }, periodSeconds: 1 } }));
  await client.create('services', service('web', { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }] }));
  await client.create('services', service('db', { clusterIP: 'None', selector: { app: 'db' }, ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] }));
  await client.create('services', service('hl', { clusterIP: 'None', selector: { app: 'hl' }, ports: [{ name: 'p', port: 7000, protocol: 'TCP' }] }));
  await client.create('services', service('ext', { type: 'ExternalName', externalName: 'www.example.com' }));
  // A headless Service with more endpoints than one UDP answer holds: a hand-made EndpointSlice (no selector).
  await client.create('services', service('big', { clusterIP: 'None', ports: [{ name: 'p', port: 80, protocol: 'TCP' }] }));
  await client.create('endpointslices.discovery.k8s.io', {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: 'big-manual', namespace: 'default', labels: { 'kubernetes.io/service-name': 'big' } },
    addressType: 'IPv4', ports: [{ name: 'p', port: 80, protocol: 'TCP' }],
    endpoints: Array.from({ length: BIG_ENDPOINTS }, (_, i) => ({ addresses: [`10.244.200.${i + 1}`], conditions: { ready: true } })),
  });
  for (const n of plan.nodes) {
    const p = await runningPod(`client-${n.nodeName}`);
    clients.push({ node: n.nodeName, netns: podNetnsName(`ml-${name}-`, p.metadata.uid!), ip: (p.status as { podIP: string }).podIP });
  }
  await runningPod('web-1');
  await runningPod('db-0');
});

after(async () => {
  client?.close();
  if (stub && stub.exitCode === null && stub.pid) {
    stub.kill('SIGTERM');
    await new Promise((r) => stub?.once('exit', r));
  }
  const pidFiles = plan ? plan.nodes.map((n) => readDnsPidFile(dnsPaths(n.dataDir).pidFile)) : [];
  await labDown({ name, root }, new Progress());
  for (const pf of pidFiles) if (pf) assert.ok(!isAlive(pf.pid, pf.startTicks), `DNS process ${pf.pid} stopped by lab down`);
  rmSync(root, { recursive: true, force: true });
});

test('SRV for named ports (priority weight port target), for ClusterIP and headless Services, from a pod on each node', async () => {
  const dbIp = await podIP('db-0');
  for (const c of clients) {
    const srv = await dig(c.netns, [`_http._tcp.web.default.svc.${Z}`, 'SRV']);
    assert.equal(srv.status, 'NOERROR');
    // <priority> <weight> <port> <target>: the Service port for a ClusterIP Service.
    assert.deepEqual(ofType(srv, 'SRV').map((a) => a.slice(4)), [['0', '100', '80', `web.default.svc.${Z}.`]]);
    const udp = await dig(c.netns, [`_dns._udp.web.default.svc.${Z}`, 'SRV']);
    assert.deepEqual(ofType(udp, 'SRV').map((a) => a.slice(4)), [['0', '100', '53', `web.default.svc.${Z}.`]]);
    // Headless: one per endpoint, the target its hostname name, its A record in the additional section.
    const hsrv = await dig(c.netns, [`_pg._tcp.db.default.svc.${Z}`, 'SRV']);
    assert.deepEqual(ofType(hsrv, 'SRV').map((a) => a.slice(4)), [['0', '100', '5432', `db-0.db.default.svc.${Z}.`]]);
    assert.deepEqual(hsrv.additional.filter((a) => a[3] === 'A').map((a) => [a[0], a[4]]), [[`db-0.db.default.svc.${Z}.`, dbIp]]);
    // A named port the Service does not have; the protocol it does not use: NXDOMAIN with the SOA.
    const wrong = await dig(c.netns, [`_http._udp.web.default.svc.${Z}`, 'SRV']);
    assert.equal(wrong.status, 'NXDOMAIN');
    assert.equal(wrong.authority[0]?.[3], 'SOA');
  }
});

test('PTR for a ClusterIP and for endpoint IPs (hostname name, else the dashed IP name); headless hostname/subdomain records', async () => {
  const webIp = ((await client.get('services', 'default', 'web'))?.spec as { clusterIP: string }).clusterIP;
  const dbIp = await podIP('db-0');
  const webPodIp = await podIP('web-1');
  for (const c of clients) {
    const ptr = await dig(c.netns, ['-x', webIp]);
    assert.equal(ptr.status, 'NOERROR');
    assert.deepEqual(ofType(ptr, 'PTR').map((a) => a[4]), [`web.default.svc.${Z}.`]);
    await waitFor('endpoint PTR', async () => (ofType(await dig(c.netns, ['-x', dbIp]), 'PTR').map((a) => a[4]).join() === `db-0.db.default.svc.${Z}.` ? true : undefined));
    const dashed = `${webPodIp.replace(/\./g, '-')}.web.default.svc.${Z}.`;
    await waitFor('endpoint PTR without hostname', async () => (ofType(await dig(c.netns, ['-x', webPodIp]), 'PTR').map((a) => a[4]).includes(dashed) ? true : undefined));
    assert.deepEqual(addresses(await dig(c.netns, [`db-0.db.default.svc.${Z}`, 'A'])), [dbIp], 'hostname.subdomain name');
    assert.deepEqual(addresses(await dig(c.netns, [dashed, 'A'])), [webPodIp], 'the dashed endpoint name');
    assert.equal((await dig(c.netns, [`db-9.db.default.svc.${Z}`, 'A'])).status, 'NXDOMAIN');
  }
});

test('ExternalName: a CNAME, and for A the target resolved through the stub upstream in the lab', async () => {
  for (const c of clients) {
    const cname = await dig(c.netns, [`ext.default.svc.${Z}`, 'CNAME']);
    assert.equal(cname.status, 'NOERROR');
    assert.deepEqual(ofType(cname, 'CNAME').map((a) => a[4]), ['www.example.com.']);
    const a = await dig(c.netns, [`ext.default.svc.${Z}`, 'A']);
    assert.equal(a.status, 'NOERROR');
    assert.deepEqual(a.answers.map((r) => [r[0], r[3], r[4]]), [[`ext.default.svc.${Z}.`, 'CNAME', 'www.example.com.'], ['www.example.com.', 'A', OUTSIDE['www.example.com']]]);
    assert.equal(await getaddrinfo(c.netns, 'ext'), OUTSIDE['www.example.com'], 'glibc follows the CNAME');
  }
  assert.ok(stubCount('www.example.com') >= 1, 'the target was asked upstream');
});

test('NXDOMAIN vs NODATA with the SOA, dns-version, pod records, names matched case-insensitively by whole labels', async () => {
  const webPodIp = await podIP('web-1');
  for (const c of clients) {
    const nx = await dig(c.netns, [`nope.default.svc.${Z}`, 'A']);
    assert.equal(nx.status, 'NXDOMAIN');
    assert.deepEqual(nx.answers, []);
    assert.equal(nx.authority[0]?.[3], 'SOA');
    assert.equal(nx.authority[0]?.[0], `${Z}.`);
    assert.ok(nx.flags.includes('aa'), 'authoritative');
    for (const [q, t] of [[`web.default.svc.${Z}`, 'TXT'], [`default.svc.${Z}`, 'A'], [`_tcp.web.default.svc.${Z}`, 'A']]) {
      const nodata = await dig(c.netns, [q, t]);
      assert.equal(nodata.status, 'NOERROR', `${q} ${t}`);
      assert.deepEqual(nodata.answers, [], `${q} ${t}: NODATA`);
      assert.equal(nodata.authority[0]?.[3], 'SOA', `${q} ${t}: SOA`);
    }
    assert.equal((await dig(c.netns, [`nosuchns.svc.${Z}`, 'A'])).status, 'NXDOMAIN', 'a namespace that does not exist');
    const ver = await dig(c.netns, [`dns-version.${Z}`, 'TXT']);
    assert.deepEqual(ofType(ver, 'TXT').map((a) => a[4]), ['"1.1.0"']);
    const podName = `${webPodIp.replace(/\./g, '-')}.default.pod.${Z}`;
    assert.deepEqual(addresses(await dig(c.netns, [podName, 'A'])), [webPodIp], 'pod record (verified: the pod exists)');
    assert.equal((await dig(c.netns, [`10-244-250-250.default.pod.${Z}`, 'A'])).status, 'NXDOMAIN', 'no pod has that address');
    const upper = await dig(c.netns, ['WEB.Default.SVC.Cluster.LOCAL', 'A']);
    assert.equal(upper.status, 'NOERROR');
    assert.equal(addresses(upper).length, 1, 'case-insensitive');
    assert.equal(upper.answers[0]?.[0], 'WEB.Default.SVC.Cluster.LOCAL.', 'the question\'s case kept');
    // Whole labels: x<zone> is not the zone, so it goes upstream (the stub has no such name).
    const outside = await dig(c.netns, [`web.default.svc.x${Z}`, 'A']);
    assert.equal(outside.status, 'NXDOMAIN');
    assert.ok(!outside.flags.includes('aa'), 'not our answer');
    assert.ok(stubCount(`web.default.svc.x${Z}`) >= 1, 'asked upstream');
  }
});

test('TCP fallback: a headless answer too large for UDP comes back with TC, and dig retries over TCP', async () => {
  for (const c of clients) {
    await waitFor('the big EndpointSlice', async () => (addresses(await dig(c.netns, ['+tcp', `big.default.svc.${Z}`, 'A'])).length === BIG_ENDPOINTS ? true : undefined));
    const tc = await dig(c.netns, ['+ignore', `big.default.svc.${Z}`, 'A']);
    assert.ok(tc.flags.includes('tc'), `UDP answer truncated (flags ${tc.flags.join(' ')})`);
    assert.deepEqual(tc.answers, [], 'the truncated answer carries no records');
    const fallback = await dig(c.netns, [`big.default.svc.${Z}`, 'A']);
    assert.match(fallback.raw, /Truncated, retrying in TCP mode/);
    assert.equal(addresses(fallback).length, BIG_ENDPOINTS, 'every endpoint over TCP');
    // Without EDNS0 (512 bytes) too; and glibc (which retries over TCP itself) gets an address.
    assert.equal(addresses(await dig(c.netns, ['+noedns', `big.default.svc.${Z}`, 'A'])).length, BIG_ENDPOINTS);
    assert.match(await getaddrinfo(c.netns, 'big'), /^10\.244\.200\.\d+$/);
  }
});

test('changes reach every node: create, delete, headless readiness both ways (NXDOMAIN with no ready endpoint)', async () => {
  await runningPod('hl-0');
  const hlIp = await podIP('hl-0');
  // Not ready (its probe fails): the headless name does not exist.
  for (const c of clients) assert.equal((await dig(c.netns, [`hl.default.svc.${Z}`, 'A'])).status, 'NXDOMAIN', `${c.node}: no ready endpoint`);
  writeFileSync(READY_FLAG, '');
  for (const c of clients) await waitFor(`${c.node}: hl ready`, async () => (addresses(await dig(c.netns, [`hl.default.svc.${Z}`, 'A'])).join() === hlIp ? true : undefined));
  rmSync(READY_FLAG);
  for (const c of clients) await waitFor(`${c.node}: hl not ready`, async () => ((await dig(c.netns, [`hl.default.svc.${Z}`, 'A'])).status === 'NXDOMAIN' ? true : undefined));
  // Create, then delete, a Service.
  for (const c of clients) assert.equal((await dig(c.netns, [`fresh.default.svc.${Z}`, 'A'])).status, 'NXDOMAIN');
  await client.create('services', service('fresh', { ports: [{ port: 81, protocol: 'TCP' }] }));
  const freshIp = ((await client.get('services', 'default', 'fresh'))?.spec as { clusterIP: string }).clusterIP;
  for (const c of clients) await waitFor(`${c.node}: fresh created`, async () => (addresses(await dig(c.netns, [`fresh.default.svc.${Z}`, 'A'])).join() === freshIp ? true : undefined));
  await client.delete('services', 'default', 'fresh');
  for (const c of clients) await waitFor(`${c.node}: fresh deleted`, async () => ((await dig(c.netns, [`fresh.default.svc.${Z}`, 'A'])).status === 'NXDOMAIN' ? true : undefined));
  for (const c of clients) assert.equal(ofType(await dig(c.netns, ['-x', freshIp]), 'PTR').length, 0, `${c.node}: its PTR gone too`);
});

test('an outside name via the search path: autopath answers it in one query from the pod; with autopath off the pod walks its search list', async () => {
  const [n1, n2] = plan.nodes;
  const [c1, c2] = clients;
  // Autopath (the default) on node 1: glibc with ndots:5 sends <name>.default.svc.<zone> first and gets the answer.
  const before1 = await dnsRequests(n1.dataDir);
  const stubBefore = stubCount('shop.example.com');
  assert.equal(await getaddrinfo(c1.netns, 'shop.example.com'), OUTSIDE['shop.example.com']);
  assert.equal(await dnsRequests(n1.dataDir) - before1, 1, 'one query from the pod');
  assert.equal(stubCount('shop.example.com') - stubBefore, 1, 'one query upstream, for the name itself');
  assert.equal(stubQueries.filter((q) => q.name.endsWith(`.${Z}`)).length, 0, 'no search-path name leaves the node');
  const viaDig = await dig(c1.netns, ['+search', 'shop.example.com', 'A']);
  assert.deepEqual(viaDig.answers.map((r) => [r[0], r[3], r[4]]), [[`shop.example.com.default.svc.${Z}.`, 'CNAME', 'shop.example.com.'], ['shop.example.com.', 'A', OUTSIDE['shop.example.com']]]);

  // Node 2's DNS replaced by one with --no-autopath (the agent keeps feeding whatever DNS process runs).
  const paths = dnsPaths(n2.dataDir);
  const old = readDnsPidFile(paths.pidFile);
  assert.ok(old);
  const argv = readFileSync(`/proc/${old.pid}/cmdline`, 'utf8').split('\0').filter((a) => a);
  process.kill(old.pid, 'SIGTERM');
  await waitFor('the old DNS process gone', async () => (isAlive(old.pid, old.startTicks) ? undefined : true));
  const log = openSync(paths.logFile, 'a');
  const child = spawn('nsenter', [`--net=/run/netns/${n2.netns}`, '--', ...argv, '--no-autopath'], { detached: true, stdio: ['ignore', log, log], cwd: '/' });
  closeSync(log);
  child.unref();
  await waitFor('the new DNS process serving', async () => (readDnsPidFile(paths.pidFile)?.pid === child.pid ? true : undefined));
  await waitFor('the agent feeding the new DNS', async () => ((await dig(c2.netns, [`web.default.svc.${Z}`, 'A'])).status === 'NOERROR' ? true : undefined));
  const before2 = await dnsRequests(n2.dataDir);
  const stubBefore2 = stubCount('blog.example.com');
  assert.equal(await getaddrinfo(c2.netns, 'blog.example.com'), OUTSIDE['blog.example.com']);
  assert.equal(await dnsRequests(n2.dataDir) - before2, 4, 'the pod walked default.svc, svc, cluster.local, then the name');
  assert.equal(stubCount('blog.example.com') - stubBefore2, 1, 'still one query upstream: the cluster names are answered locally');
  const plain = await dig(c2.netns, ['+search', 'blog.example.com', 'A']);
  assert.deepEqual(plain.answers.map((r) => [r[0], r[3], r[4]]), [['blog.example.com.', 'A', OUTSIDE['blog.example.com']]], 'no CNAME: the client found it itself');
});

// ---- Workload kinds in this lab (w4-workloads): a StatefulSet's stable DNS name, a DaemonSet on the real agents.

function kubectl(args: string[]): Promise<RunResult> {
  return runProcess(KUBECTL, ['--kubeconfig', plan.kubeconfig, '--cache-dir', join(root, 'kube-cache'), ...args], { env: { ...process.env, HOME: root } });
}

function workload(kind: 'StatefulSet' | 'DaemonSet', wlName: string, spec: Record<string, unknown>, podSpec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'apps/v1', kind, metadata: { name: wlName, namespace: 'default' },
    spec: {
      selector: { matchLabels: { app: wlName } }, ...spec,
      template: { metadata: { labels: { app: wlName } }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: 'host', command: ['sleep', '3600'] }], ...podSpec } },
    },
  };
}

test('a StatefulSet pod\'s <pod>.<svc> name answers its IP from a pod on each node, and the new IP once the pod is deleted and recreated', async () => {
  await client.create('services', service('mlt-w4-sts', { clusterIP: 'None', selector: { app: 'mlt-w4-sts' }, ports: [{ name: 'p', port: 7001, protocol: 'TCP' }] }));
  await client.create('statefulsets.apps', workload('StatefulSet', 'mlt-w4-sts', { serviceName: 'mlt-w4-sts', replicas: 1 }));
  const fqdn = `mlt-w4-sts-0.mlt-w4-sts.default.svc.${Z}`;
  const first = await runningPod('mlt-w4-sts-0');
  const spec = first.spec as { hostname?: string; subdomain?: string };
  assert.deepEqual([spec.hostname, spec.subdomain], ['mlt-w4-sts-0', 'mlt-w4-sts'], 'the controller set hostname and subdomain');
  const ip1 = (first.status as { podIP: string }).podIP;
  for (const c of clients) await waitFor(`${c.node}: ${fqdn} → ${ip1}`, async () => (addresses(await dig(c.netns, [fqdn, 'A'])).join() === ip1 ? true : undefined));
  await client.delete('pods', 'default', 'mlt-w4-sts-0');
  const second = await waitFor('mlt-w4-sts-0 recreated and Running', async () => {
    const p = await client.get('pods', 'default', 'mlt-w4-sts-0');
    const st = (p?.status ?? {}) as { phase?: string; podIP?: string };
    return p && p.metadata.uid !== first.metadata.uid && !p.metadata.deletionTimestamp && st.phase === 'Running' && st.podIP ? p : undefined;
  }, 90_000);
  const ip2 = (second.status as { podIP: string }).podIP;
  assert.notEqual(ip2, ip1, 'next-fit IPAM gives the recreated pod another address');
  for (const c of clients) await waitFor(`${c.node}: ${fqdn} → ${ip2}`, async () => (addresses(await dig(c.netns, [fqdn, 'A'])).join() === ip2 ? true : undefined));
  assert.deepEqual(ofType(await dig(clients[0].netns, ['-x', ip2]), 'PTR').map((a) => a[4]), [`${fqdn}.`], 'its PTR names it too');
});

test('a DaemonSet gets a Running pod on each lab node from the real kubelets, rollout status completes, and it follows a node leaving its selector and coming back', async () => {
  const label = 'mlt-w4-ds';
  for (const n of plan.nodes) await client.patch('nodes', '', n.nodeName, { metadata: { labels: { [label]: 'yes' } } }, 'merge');
  const dsPods = async (): Promise<KubeObject[]> => (await client.list('pods', { namespace: 'default', labelSelector: 'app=mlt-w4-ds' })).items;
  const runningOn = async (): Promise<string[]> =>
    (await dsPods()).filter((p) => !p.metadata.deletionTimestamp && (p.status as { phase?: string } | undefined)?.phase === 'Running').map((p) => (p.spec as { nodeName: string }).nodeName).sort();
  const nodeNames = plan.nodes.map((n) => n.nodeName).sort();
  await client.create('daemonsets.apps', workload('DaemonSet', 'mlt-w4-ds', {}, { nodeSelector: { [label]: 'yes' } }));
  const status = await kubectl(['-n', 'default', 'rollout', 'status', 'ds/mlt-w4-ds', '--timeout=90s']);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /successfully rolled out/);
  assert.deepEqual(await runningOn(), nodeNames, 'one Running pod per node');
  // Node 2 leaves the DaemonSet's nodes (its label goes): its pod is stopped by its kubelet and gone; node 1's stays.
  const [n1, n2] = plan.nodes;
  const kept = (await dsPods()).find((p) => (p.spec as { nodeName: string }).nodeName === n1.nodeName)?.metadata.uid;
  await client.patch('nodes', '', n2.nodeName, { metadata: { labels: { [label]: null } } }, 'merge');
  await waitFor(`no DaemonSet pod left on ${n2.nodeName}`, async () => ((await dsPods()).every((p) => (p.spec as { nodeName: string }).nodeName !== n2.nodeName) ? true : undefined), 60_000);
  const after1 = await dsPods();
  assert.deepEqual(after1.map((p) => p.metadata.uid), [kept], `${n1.nodeName}'s pod untouched`);
  await waitFor('desiredNumberScheduled 1', async () => ((await client.get('daemonsets.apps', 'default', 'mlt-w4-ds'))?.status as { desiredNumberScheduled?: number } | undefined)?.desiredNumberScheduled === 1 ? true : undefined);
  // It joins again: a new pod there, and the rollout is complete again.
  await client.patch('nodes', '', n2.nodeName, { metadata: { labels: { [label]: 'yes' } } }, 'merge');
  await waitFor(`a Running DaemonSet pod on ${n2.nodeName} again`, async () => ((await runningOn()).join() === nodeNames.join() ? true : undefined), 90_000);
  const again = await kubectl(['-n', 'default', 'rollout', 'status', 'ds/mlt-w4-ds', '--timeout=60s']);
  assert.equal(again.code, 0, again.stderr);
  await client.delete('daemonsets.apps', 'default', 'mlt-w4-ds');
});
