// The service proxy in a 3-node lab (root): real agents program their
// node's `ip meshlet-proxy` table from the shared informer cache; pods on
// every node reach a ClusterIP's endpoints on all nodes over TCP; a pod
// reaches itself through its own Service (hairpin); a Service left without
// endpoints refuses at once; an unallocated ClusterIP is refused, not routed
// out; `lab down` leaves nothing of the proxy's nftables state.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { nameServerPod } from '../helpers/name-server.ts';
import { startBenchLab, waitRunning, type BenchLab } from '../../bench/lab-harness.ts';
import { listNetns } from '../../src/lab/system.ts';
import type { KubeObject } from '../../src/core/types.ts';

const execFileP = promisify(execFile);
const PORT = 8080;
// Connects n times to ip:port; prints a JSON list of replies, or the error (ECONNREFUSED, EHOSTUNREACH, TimeoutError, …).
const CLIENT = `
import socket, sys, json, errno
out = []
for _ in range(int(sys.argv[3])):
    try:
        c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5); out.append(c.makefile('rb').readline().decode().strip()); c.close()
    except Exception as e:
        out.append('ERR ' + (errno.errorcode.get(e.errno, type(e).__name__) if isinstance(e, OSError) and e.errno else type(e).__name__))
print(json.dumps(out))
`;

let lab: BenchLab;
const pods = new Map<string, KubeObject>();
const NAMES = ['w1', 'w2', 'w3'];

async function connect(from: string, ip: string, port: number, n: number): Promise<string[]> {
  const { stdout } = await execFileP('ip', ['netns', 'exec', lab.podNetns(pods.get(from)!), 'python3', '-c', CLIENT, ip, String(port), String(n)]);
  return JSON.parse(stdout) as string[];
}

/** Polls until `ok` holds for what `probe` returns (the proxies program within a sync or two); returns the last result. */
async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (ok(v) || Date.now() > end) return v;
    await sleep(100);
  }
}

function service(name: string, selector: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { selector, ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: PORT }] } };
}

const clusterIP = async (name: string): Promise<string> => ((await lab.client.get('services', 'default', name))!.spec as { clusterIP: string }).clusterIP;

before(async () => {
  assert.equal(process.getuid?.(), 0, 'the proxy lab test needs root');
  lab = await startBenchLab('prx', 3);
  for (const [i, name] of NAMES.entries()) {
    await lab.client.create('pods', nameServerPod({ name, namespace: 'default', node: `node-${i + 1}`, port: PORT, labels: { app: 'web', self: name } }));
  }
  for (const name of NAMES) pods.set(name, await waitRunning(lab.client, 'default', name));
  await lab.client.create('services', service('web', { app: 'web' }));
  await lab.client.create('services', service('self', { self: 'w1' }));
});

after(async () => {
  await lab?.down();
});

test('from a pod on every node, TCP connections to a ClusterIP reach the endpoints on all nodes', async () => {
  const ip = await clusterIP('web');
  for (const from of NAMES) {
    // 40 connections: the chance that random choice misses one of 3 endpoints is 3·(2/3)^40 ≈ 3e-7.
    const replies = await until(() => connect(from, ip, 80, 40), (r) => NAMES.every((n) => r.includes(n)));
    assert.deepEqual([...new Set(replies)].sort(), NAMES, `${from} (on ${(pods.get(from)!.spec as { nodeName?: string }).nodeName}) → ${ip}:80: ${JSON.stringify(replies)}`);
  }
});

test('hairpin: a pod reaches itself through its own Service', async () => {
  const ip = await clusterIP('self');
  const replies = await until(() => connect('w1', ip, 80, 3), (r) => r.every((x) => x === 'w1'));
  assert.deepEqual(replies, ['w1', 'w1', 'w1']);
});

test('a Service left without endpoints refuses at once (connection refused, not a timeout); so does an unallocated ClusterIP', async () => {
  const ip = await clusterIP('self');
  assert.deepEqual(await until(() => connect('w2', ip, 80, 1), (r) => r[0] === 'w1'), ['w1'], 'the Service answers first');
  // Take w1 out of the Service: its EndpointSlice empties, the proxies move it to the no-endpoint map.
  const w1 = (await lab.client.get('pods', 'default', 'w1'))!;
  await lab.client.update('pods', { ...w1, metadata: { ...w1.metadata, labels: { app: 'web' } } });
  const refused = await until(() => connect('w2', ip, 80, 1), (r) => r[0] !== 'w1');
  assert.deepEqual(refused, ['ERR ECONNREFUSED']);
  // The same ClusterIP on a port no Service has, and an address no Service holds, are refused too (never routed out).
  assert.deepEqual(await connect('w3', ip, 81, 1), ['ERR ECONNREFUSED']);
  const used = new Set((await lab.client.list('services')).items.map((s) => (s.spec as { clusterIP?: string }).clusterIP));
  const free = ['10.96.200.200', '10.96.200.201'].find((a) => !used.has(a))!;
  assert.deepEqual(await connect('w3', free, 80, 1), ['ERR ECONNREFUSED']);
});

test('every node has the proxy table, and after lab down nothing of it is left', async () => {
  const nodeNs = lab.plan.nodes.map((n) => n.netns);
  assert.equal(nodeNs.length, 3);
  let withTable = 0;
  for (const ns of nodeNs) {
    const { stdout } = await execFileP('ip', ['netns', 'exec', ns, 'nft', 'list', 'tables']);
    if (/^table ip meshlet-proxy$/m.test(stdout)) withTable++;
  }
  assert.equal(withTable, 3, 'one proxy table per node');
  const name = lab.name;
  await lab.down();
  assert.deepEqual((await listNetns()).filter((ns) => ns.startsWith(`ml-${name}-`)), [], 'no namespace of the lab is left');
  const { stdout: host } = await execFileP('nft', ['list', 'tables']);
  assert.doesNotMatch(host, /meshlet-proxy/, 'the host netns never had a proxy table');
  lab = undefined as unknown as BenchLab;
});
