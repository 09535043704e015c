// Cluster DNS in a real 2-node lab (root): every agent starts (or adopts) its
// node's `meshlet dns` on the cluster DNS address, feeds it from its informers,
// and pods resolve with the real dig and glibc through the resolv.conf the
// kubelet wrote (seen by `ip netns exec` / `meshlet lab exec` through
// /etc/netns/<pod netns>/). No conntrack entry for the queries; an agent
// kill -9 and restart loses no lookup.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { get } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { labUp } from '../../src/lab/up.ts';
import { labDown } from '../../src/lab/down.ts';
import { labAdminClient } from '../../src/lab/api.ts';
import { restartAgent } from '../../src/lab/agents.ts';
import { Progress } from '../../src/lab/progress.ts';
import { readLabState } from '../../src/lab/state-file.ts';
import type { LabPlan } from '../../src/lab/plan.ts';
import { podNetnsName } from '../../src/kubelet/names.ts';
import { isAlive } from '../../src/kubelet/proc.ts';
import { dnsPaths, runningDns } from '../../src/agent/dns-process.ts';
import { readDnsPidFile } from '../../src/dns/process.ts';
import type { ApiClient } from '../../src/client/types.ts';
import type { KubeObject } from '../../src/core/types.ts';
import { runMeshlet } from '../helpers/run.ts';
import { waitFor } from '../helpers/wait.ts';
import { hostPod as pod, serviceFixture as service } from '../helpers/object-fixtures.ts';
import { addressesOf as addresses, digIn as dig } from '../helpers/dns.ts';
import { waitRunning } from '../../bench/lab-harness.ts';

const execFileP = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'mlt-dns-agent-lab-'));
const name = `dnsa${randomBytes(2).toString('hex')}`;
const DNS = '10.96.0.10';
let plan: LabPlan;
let client: ApiClient;
/** The client pods: one per node. */
const clients: { node: string; netns: string }[] = [];

const runningPod = (podName: string): Promise<KubeObject> => waitRunning(client, 'default', podName);

before(async () => {
  ({ plan } = await labUp({ name, nodes: 2, root }, new Progress()));
  client = labAdminClient(plan);
  for (const n of plan.nodes) {
    const p = pod(`client-${n.nodeName}`, n.nodeName);
    await client.create('pods', p);
  }
  await client.create('pods', pod('web-1', plan.nodes[0].nodeName, { app: 'web' }));
  await client.create('pods', pod('db-0', plan.nodes[1].nodeName, { app: 'db' }, { hostname: 'db-0', subdomain: 'db' }));
  await client.create('services', service('web', { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }));
  await client.create('services', service('db', { clusterIP: 'None', selector: { app: 'db' }, ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] }));
  for (const n of plan.nodes) {
    const p = await runningPod(`client-${n.nodeName}`);
    clients.push({ node: n.nodeName, netns: podNetnsName(`ml-${name}-`, p.metadata.uid!) });
  }
  await runningPod('web-1');
  await runningPod('db-0');
});

after(async () => {
  client?.close();
  const pidFiles = plan ? plan.nodes.map((n) => readDnsPidFile(dnsPaths(n.dataDir).pidFile)) : [];
  await labDown({ name, root }, new Progress());
  // lab down leaves nothing behind: no DNS process, no pod files under /etc/netns.
  for (const pf of pidFiles) if (pf) assert.ok(!isAlive(pf.pid, pf.startTicks), `DNS process ${pf.pid} stopped by lab down`);
  for (const c of clients) assert.ok(!existsSync(`/etc/netns/${c.netns}`), `/etc/netns/${c.netns} removed`);
  rmSync(root, { recursive: true, force: true });
});

test('each node runs one detached DNS process on the cluster DNS address; pods get resolv.conf under /etc/netns', async () => {
  for (const n of plan.nodes) {
    const pf = readDnsPidFile(dnsPaths(n.dataDir).pidFile);
    assert.ok(pf && isAlive(pf.pid, pf.startTicks), `${n.nodeName}: DNS process running`);
    assert.deepEqual(pf.listen.map((l) => `${l.host}:${l.port}/${l.transport}`).sort(), [`${DNS}:53/tcp`, `${DNS}:53/udp`]);
    // On mldns0 (a dummy link), or on lo where the kernel has no dummy driver.
    const addr = await execFileP('ip', ['-n', n.netns, '-o', 'addr', 'show']);
    assert.match(addr.stdout, new RegExp(`^\\d+: (mldns0|lo) +inet ${DNS.replace(/\./g, '\\.')}/32`, 'm'));
  }
  // Each agent reports its feed connected (its /metrics on the health socket).
  for (const n of plan.nodes) {
    const text = await new Promise<string>((resolve, reject) => {
      get({ socketPath: n.healthSocket, path: '/metrics' }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });
    assert.match(text, /^meshlet_agent_dns_feed_connected 1$/m, `${n.nodeName}: feed connected`);
    assert.match(text, /^meshlet_agent_dns_feed_messages_total\{type="snapshot"\} [1-9]/m);
  }
  for (const c of clients) assert.match(readFileSync(`/etc/netns/${c.netns}/resolv.conf`, 'utf8'), new RegExp(`search default\\.svc\\.cluster\\.local svc\\.cluster\\.local cluster\\.local\\nnameserver ${DNS.replace(/\./g, '\\.')}\\n`));
});

test('from a pod on each node: A of a ClusterIP Service, dig +search, getent, NXDOMAIN vs NODATA, a headless Service and its scaling', async () => {
  const web = await client.get('services', 'default', 'web');
  const webIp = (web?.spec as { clusterIP: string }).clusterIP;
  const dbIps = [((await client.get('pods', 'default', 'db-0'))?.status as { podIP: string }).podIP];
  for (const c of clients) {
    const a = await dig(c.netns, ['web.default.svc.cluster.local', 'A']);
    assert.equal(a.status, 'NOERROR');
    assert.deepEqual(addresses(a), [webIp]);
    assert.deepEqual(addresses(await dig(c.netns, ['+search', 'web'])), [webIp], 'dig +search web from default');
    const getent = await execFileP('ip', ['netns', 'exec', c.netns, 'getent', 'hosts', 'web']);
    assert.equal(getent.stdout.split(/\s+/)[0], webIp, 'glibc with the pod\'s resolv.conf');
    const nx = await dig(c.netns, ['nope.default.svc.cluster.local', 'A']);
    assert.equal(nx.status, 'NXDOMAIN');
    assert.equal(nx.authority[0]?.[3], 'SOA');
    const nodata = await dig(c.netns, ['web.default.svc.cluster.local', 'AAAA']);
    assert.equal(nodata.status, 'NOERROR');
    assert.deepEqual(nodata.answers, []);
    assert.equal(nodata.authority[0]?.[3], 'SOA');
    await waitFor('headless endpoints', async () => (addresses(await dig(c.netns, ['db.default.svc.cluster.local', 'A'])).join() === dbIps.join() ? true : undefined));
    assert.deepEqual(addresses(await dig(c.netns, ['db-0.db.default.svc.cluster.local', 'A'])), dbIps);
  }
  // Scale the headless Service: a second ready endpoint shows on both nodes.
  await client.create('pods', pod('db-1', plan.nodes[0].nodeName, { app: 'db' }));
  dbIps.push(((await runningPod('db-1')).status as { podIP: string }).podIP);
  dbIps.sort();
  for (const c of clients) {
    await waitFor(`${c.node}: two headless endpoints`, async () => (addresses(await dig(c.netns, ['db.default.svc.cluster.local', 'A'])).join() === dbIps.join() ? true : undefined));
  }
  // `meshlet lab exec <ns>/<pod> -- dig +search web` sees what the pod sees.
  const viaLab = await runMeshlet(['lab', 'exec', '--name', name, 'default/client-' + clients[0].node, '--', 'dig', '+short', '+search', 'web'], { env: { ...process.env, MESHLET_LAB_ROOT: root } });
  assert.equal(viaLab.code, 0, viaLab.stderr);
  assert.equal(viaLab.stdout.trim(), webIp);
});

test('no conntrack entry for pods\' DNS queries (while other UDP to port 53 is tracked)', async () => {
  const node = plan.nodes[0];
  const c = clients[0];
  await execFileP('ip', ['netns', 'exec', node.netns, 'conntrack', '-F']).catch(() => undefined);
  // Something conntrack does see: a pod's UDP to port 53 of another pod's address, forwarded by the node.
  const other = ((await client.get('pods', 'default', 'db-0'))?.status as { podIP: string }).podIP;
  await dig(c.netns, [`@${other}`, '+tries=1', '+time=1', 'x.example']);
  for (let i = 0; i < 5; i++) assert.equal((await dig(c.netns, ['web.default.svc.cluster.local', 'A'])).status, 'NOERROR');
  await dig(c.netns, ['+tcp', 'web.default.svc.cluster.local', 'A']);
  const list = await execFileP('ip', ['netns', 'exec', node.netns, 'conntrack', '-L'], { maxBuffer: 16 << 20 }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
  assert.match(list.stdout, new RegExp(`dst=${other.replace(/\./g, '\\.')} .*dport=53`), 'conntrack tracks other DNS-port traffic here');
  assert.doesNotMatch(list.stdout, new RegExp(`dst=${DNS.replace(/\./g, '\\.')}\\b`), 'nothing to the cluster DNS address');
});

test('a pod resolving every 10 ms with glibc defaults sees no failure and no slow answer across a kill -9 and restart of its agent', async (t) => {
  const node = plan.nodes[0];
  const c = clients[0];
  const dnsBefore = runningDns(dnsPaths(node.dataDir));
  assert.ok(dnsBefore);
  // glibc's getaddrinfo with the pod's resolv.conf (timeout 5 s, 2 attempts): a lost query would take >= 5 s.
  const script = [
    'import socket, time, json, sys',
    'n = fail = 0; worst = 0.0; end = time.time() + float(sys.argv[1])',
    'while time.time() < end:',
    '    t = time.time()',
    '    try: socket.getaddrinfo("web", 80, socket.AF_INET, socket.SOCK_STREAM)',
    '    except Exception: fail += 1',
    '    worst = max(worst, time.time() - t); n += 1; time.sleep(0.01)',
    'print(json.dumps({"n": n, "fail": fail, "worst": worst}))',
  ].join('\n');
  const loop = spawn('ip', ['netns', 'exec', c.netns, 'python3', '-c', script, '6'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  loop.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<number | null>((r) => loop.on('exit', r));
  await sleep(1000);
  const state = readLabState(join(root, name, 'state.json'));
  const agent = state?.processes.find((p) => p.role === `agent ${node.nodeName}`);
  assert.ok(agent?.pid);
  process.kill(agent.pid, 'SIGKILL');
  await waitFor('the agent gone', async () => (existsSync(`/proc/${agent.pid}/stat`) && !readFileSync(`/proc/${agent.pid}/stat`, 'utf8').includes(') Z') ? undefined : true));
  await sleep(500);
  restartAgent(name, root, node.nodeName);
  assert.equal(await done, 0);
  const r = JSON.parse(out) as { n: number; fail: number; worst: number };
  t.diagnostic(`lookups ${r.n}, failures ${r.fail}, slowest ${(r.worst * 1000).toFixed(1)} ms`);
  assert.ok(r.n > 100, `the loop ran (${r.n} lookups)`);
  assert.equal(r.fail, 0, 'no failed lookup');
  assert.ok(r.worst < 1, `no lookup slower than 1 s (worst ${r.worst.toFixed(3)} s; a lost query costs 5 s)`);
  // The new agent adopted the same DNS process (no second one) and feeds it: a Service created now resolves.
  assert.deepEqual(runningDns(dnsPaths(node.dataDir)), dnsBefore, 'the same DNS process');
  await client.create('services', service('late', { ports: [{ port: 81, protocol: 'TCP' }] }));
  const late = ((await client.get('services', 'default', 'late'))?.spec as { clusterIP: string }).clusterIP;
  await waitFor('the restarted agent feeds the DNS', async () => (addresses(await dig(c.netns, ['late.default.svc.cluster.local', 'A']))[0] === late ? true : undefined));
});
