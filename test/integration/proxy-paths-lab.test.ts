// The service proxy's traffic paths in a 3-node lab (root), one lab for the
// file: the spread over 3 endpoints (a stated bound), NodePort from the
// underlay on every node, externalTrafficPolicy Local (only where an
// endpoint runs, client address kept, healthCheckNodePort 200/503),
// externalIPs, internalTrafficPolicy Local, session affinity that sticks and
// then expires, UDP (and a removed UDP endpoint stops receiving), readiness
// (no new connections, the established one continues), and an open TCP
// connection through a ClusterIP that survives kill -9 and restart of its
// node's agent. The client "outside" is the lab's underlay namespace, given
// an address of its own on the underlay bridge.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBenchLab, waitRunning, podStatus, type BenchLab } from '../../bench/lab-harness.ts';
import { restartAgent } from '../../src/lab/agents.ts';
import { readLabState } from '../../src/lab/state-file.ts';
import { BRIDGE, UNDERLAY_PREFIX, UNDERLAY_PREFIX_LEN } from '../../src/lab/plan.ts';
import type { KubeObject } from '../../src/core/types.ts';

const execFileP = promisify(execFile);
const TCP = 8080;
const UDP = 5353;
// An outside client's own address on the underlay (not the lab's API address .2, not in its LoadBalancer pool .240/28).
const OUTSIDE = `${UNDERLAY_PREFIX}.200`;
const EXTERNAL_IP = '192.0.2.10';
// TCP: answers "<pod> <peer address>" on connect, then echoes lines. UDP: answers "<pod>".
const SERVER = `
import socketserver, sys, threading
name = sys.argv[1]
class T(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(f"{name} {self.client_address[0]}\\n".encode()); self.wfile.flush()
        for line in self.rfile: self.wfile.write(line); self.wfile.flush()
class U(socketserver.BaseRequestHandler):
    def handle(self): self.request[1].sendto(name.encode(), self.client_address)
socketserver.ThreadingTCPServer.allow_reuse_address = True
threading.Thread(target=socketserver.ThreadingUDPServer(('0.0.0.0', ${UDP}), U).serve_forever, daemon=True).start()
socketserver.ThreadingTCPServer(('0.0.0.0', ${TCP}), T).serve_forever()
`;
// n TCP connections to ip:port (timeout s each; from source address argv[5] if given): a JSON list of first lines, or "ERR <errno name>".
const CLIENT = `
import socket, sys, json, errno
out = []
for _ in range(int(sys.argv[3])):
    try:
        c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[4]), source_address=(sys.argv[5], 0) if len(sys.argv) > 5 else None); out.append(c.makefile('rb').readline().decode().strip()); c.close()
    except Exception as e:
        out.append('ERR ' + (errno.errorcode.get(e.errno, type(e).__name__) if isinstance(e, OSError) and e.errno else type(e).__name__))
print(json.dumps(out))
`;
// One UDP datagram from a fixed source port (the same conntrack flow every call); the reply or "ERR timeout".
const UDP_CLIENT = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 40000)); s.settimeout(1)
s.sendto(b'x', (sys.argv[1], int(sys.argv[2])))
try: print(s.recvfrom(100)[0].decode())
except socket.timeout: print('ERR timeout')
`;
// An HTTP GET; prints "<status> <body>".
const HTTP_GET = `
import http.client, sys
c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=3); c.request('GET', '/healthz'); r = c.getresponse(); print(r.status, r.read().decode())
`;
// A held connection: prints the first line, then per stdin line sends it and prints the echo.
const HOLD = `
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10); f = c.makefile('rwb')
print(f.readline().decode().strip(), flush=True)
for line in sys.stdin:
    f.write(line.encode()); f.flush(); print('echo', f.readline().decode().strip(), flush=True)
`;

let lab: BenchLab;
let readyDir: string;
const pods = new Map<string, KubeObject>();
const NAMES = ['w1', 'w2', 'w3'];

const podNs = (name: string): string => lab.podNetns(pods.get(name)!);
const nodeIp = (i: number): string => lab.plan.nodes[i].ip;

async function py(ns: string, script: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileP('ip', ['netns', 'exec', ns, 'python3', '-c', script, ...args], { timeout: 120_000 });
  return stdout.trim();
}
const connect = async (ns: string, ip: string, port: number, n: number, timeoutS = 3, source?: string): Promise<string[]> =>
  JSON.parse(await py(ns, CLIENT, ip, String(port), String(n), String(timeoutS), ...(source ? [source] : []))) as string[];
const who = (replies: string[]): string[] => replies.map((r) => r.split(' ')[0]);

/** Polls until `ok` holds for what `probe` returns (the proxies program within a sync or two); returns the last result. */
async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (ok(v) || Date.now() > end) return v;
    await sleep(150);
  }
}

function service(name: string, selector: Record<string, string>, spec: Record<string, unknown> = {}, ports?: Record<string, unknown>[]): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { selector, ports: ports ?? [{ name: 'http', protocol: 'TCP', port: 80, targetPort: TCP }], ...spec } };
}
const clusterIP = async (name: string): Promise<string> => ((await lab.client.get('services', 'default', name))!.spec as { clusterIP: string }).clusterIP;

async function relabel(pod: string, labels: Record<string, string>): Promise<void> {
  const p = (await lab.client.get('pods', 'default', pod))!;
  await lab.client.update('pods', { ...p, metadata: { ...p.metadata, labels } });
}

before(async () => {
  assert.equal(process.getuid?.(), 0, 'the proxy lab test needs root');
  lab = await startBenchLab('prp', 3);
  readyDir = join(lab.root, 'ready');
  await execFileP('mkdir', ['-p', readyDir]);
  for (const [i, name] of NAMES.entries()) {
    await lab.client.create('pods', {
      apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels: { app: 'web', self: name } },
      spec: {
        nodeName: `node-${i + 1}`, terminationGracePeriodSeconds: 1,
        containers: [{
          name: 'web', image: 'python', command: ['python3', '-c', SERVER, name], ports: [{ containerPort: TCP }],
          // Ready while <root>/ready/<name>.down does not exist.
          readinessProbe: { exec: { command: ['sh', '-c', `test ! -e ${readyDir}/${name}.down`] }, periodSeconds: 1, failureThreshold: 1, successThreshold: 1 },
        }],
      },
    });
  }
  for (const name of NAMES) pods.set(name, await waitRunning(lab.client, 'default', name));
  // The outside client: an address on the underlay bridge, and a route to the external IP through node-1.
  await execFileP('ip', ['-n', lab.plan.underlayNetns, 'addr', 'add', `${OUTSIDE}/${UNDERLAY_PREFIX_LEN}`, 'dev', BRIDGE]);
  await execFileP('ip', ['-n', lab.plan.underlayNetns, 'route', 'add', EXTERNAL_IP, 'via', nodeIp(0)]);
  const np = (nodePort: number): Record<string, unknown>[] => [{ name: 'http', protocol: 'TCP', port: 80, targetPort: TCP, nodePort }];
  for (const s of [
    service('web', { app: 'web' }),
    service('np', { app: 'web' }, { type: 'NodePort' }, np(30080)),
    service('npl', { self: 'w2' }, { type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 30090 }, np(30081)),
    service('ext', { app: 'web' }, { externalIPs: [EXTERNAL_IP] }),
    service('itl', { app: 'web' }, { internalTrafficPolicy: 'Local' }),
    service('aff', { app: 'web' }, { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 3 } } }),
    service('udp', { udp: 'yes' }, {}, [{ name: 'u', protocol: 'UDP', port: UDP, targetPort: UDP }]),
    service('one', { self: 'w3' }),
  ]) await lab.client.create('services', s);
  const kept = await lab.client.get('services', 'default', 'npl');
  const spec = kept!.spec as { ports: { nodePort?: number }[]; healthCheckNodePort?: number };
  assert.equal(spec.ports[0].nodePort, 30080 + 1, 'the API keeps an explicit nodePort');
  assert.equal(spec.healthCheckNodePort, 30090, 'the API keeps an explicit healthCheckNodePort');
});

after(async () => {
  await lab?.down();
});

test('600 connections to a ClusterIP spread over its 3 endpoints within ±5σ of even', async () => {
  const ip = await clusterIP('web');
  await until(() => connect(podNs('w1'), ip, 80, 30), (r) => NAMES.every((n) => who(r).includes(n)));
  // 200 from a pod on each node. Each count is Binomial(600, 1/3): mean 200, σ = √(600·⅓·⅔) ≈ 11.5;
  // the bound ±5σ = ±58 is exceeded by a fair choice with probability < 2e-6 per endpoint.
  const replies = (await Promise.all(NAMES.map((n) => connect(podNs(n), ip, 80, 200)))).flat();
  const counts = NAMES.map((n) => who(replies).filter((x) => x === n).length);
  assert.equal(counts.reduce((a, b) => a + b, 0), 600, `every connection answered: ${JSON.stringify(counts)}`);
  const sigma = Math.sqrt(600 * (1 / 3) * (2 / 3));
  for (const [i, c] of counts.entries()) assert.ok(Math.abs(c - 200) <= 5 * sigma, `${NAMES[i]}: ${c} of 600 (bound 200 ± ${(5 * sigma).toFixed(0)})`);
});

test('a NodePort answers from the underlay on every node', async () => {
  for (const [i] of lab.plan.nodes.entries()) {
    const r = await until(() => connect(lab.plan.underlayNetns, nodeIp(i), 30080, 3), (x) => x.every((y) => NAMES.includes(y.split(' ')[0])));
    assert.ok(r.every((y) => NAMES.includes(y.split(' ')[0])), `node-${i + 1} ${nodeIp(i)}:30080: ${JSON.stringify(r)}`);
  }
});

test('externalTrafficPolicy Local: answered only on the node with the endpoint, client address kept; healthCheckNodePort 200 there, 503 elsewhere', async () => {
  const on2 = await until(() => connect(lab.plan.underlayNetns, nodeIp(1), 30081, 3, 3, OUTSIDE), (x) => x.every((y) => y.startsWith('w2 ')));
  assert.deepEqual(on2, [`w2 ${OUTSIDE}`, `w2 ${OUTSIDE}`, `w2 ${OUTSIDE}`], 'the endpoint sees the outside client address (no SNAT)');
  for (const i of [0, 2]) assert.deepEqual(await connect(lab.plan.underlayNetns, nodeIp(i), 30081, 1, 1), ['ERR TimeoutError'], `node-${i + 1} has no endpoint: dropped`);
  const h2 = await until(() => py(lab.plan.underlayNetns, HTTP_GET, nodeIp(1), '30090').catch((e: Error) => e.message), (s) => s.startsWith('200 '));
  assert.match(h2, /^200 /);
  assert.equal(JSON.parse(h2.slice(4)).localEndpoints, 1);
  const h1 = await py(lab.plan.underlayNetns, HTTP_GET, nodeIp(0), '30090');
  assert.match(h1, /^503 /);
  assert.equal(JSON.parse(h1.slice(4)).localEndpoints, 0);
});

test('externalIPs: traffic to the external IP routed to a node reaches the endpoints', async () => {
  const r = await until(() => connect(lab.plan.underlayNetns, EXTERNAL_IP, 80, 3), (x) => x.every((y) => NAMES.includes(y.split(' ')[0])));
  assert.ok(r.every((y) => NAMES.includes(y.split(' ')[0])), JSON.stringify(r));
});

test('internalTrafficPolicy Local: a pod only reaches the endpoint on its own node', async () => {
  const ip = await clusterIP('itl');
  for (const n of NAMES) {
    const r = await until(() => connect(podNs(n), ip, 80, 20), (x) => x.length === 20 && who(x).every((y) => y === n));
    assert.deepEqual([...new Set(who(r))], [n], `${n}: ${JSON.stringify(r)}`);
  }
});

test('session affinity: one client sticks to one endpoint, and the entry expires after timeoutSeconds', async () => {
  const ip = await clusterIP('aff');
  const r = await until(() => connect(podNs('w1'), ip, 80, 20), (x) => x.length === 20 && !x.some((y) => y.startsWith('ERR')));
  assert.equal(new Set(who(r)).size, 1, `sticky: ${JSON.stringify(r)}`);
  // The affinity entry (client address, timeout) is in node-1's kernel set; 3 s later it is gone.
  const node1 = lab.plan.nodes[0].netns;
  const sets = async (): Promise<string> => (await execFileP('ip', ['netns', 'exec', node1, 'nft', 'list', 'sets', 'ip'])).stdout;
  // An element, not a set name (the sets are named after their endpoints): "{ 10.244.1.2 timeout 3s expires 2s… }".
  const element = new RegExp(`[{,]\\s*${podStatus(pods.get('w1')).podIP!.replace(/\./g, '\\.')}\\s+(timeout|expires)`);
  assert.match(await sets(), element, 'the client is in an affinity set');
  const gone = await until(sets, (s) => !element.test(s), 10_000);
  assert.doesNotMatch(gone, element, 'the affinity entry expired');
});

test('UDP: a Service answers, and a removed UDP endpoint stops receiving (its conntrack entry is deleted)', async () => {
  await relabel('w3', { app: 'web', self: 'w3', udp: 'yes' });
  const ip = await clusterIP('udp');
  assert.equal(await until(() => py(podNs('w1'), UDP_CLIENT, ip, String(UDP)), (x) => x === 'w3'), 'w3');
  // Move the Service to w2, keeping the client's flow alive: without the conntrack delete it would stay on w3.
  await relabel('w2', { app: 'web', self: 'w2', udp: 'yes' });
  await relabel('w3', { app: 'web', self: 'w3' });
  const moved = await until(() => py(podNs('w1'), UDP_CLIENT, ip, String(UDP)), (x) => x === 'w2');
  assert.equal(moved, 'w2');
  await relabel('w2', { app: 'web', self: 'w2' });
});

function hold(ns: string, ip: string): { child: ChildProcessWithoutNullStreams; lines: string[] } {
  const child = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', HOLD, ip, '80']);
  const lines: string[] = [];
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  return { child, lines };
}

type Held = ReturnType<typeof hold>;

/** A held connection from pod `from` through `ip`:80 that lands on `endpoint` (opened once new connections go there); its first reply checked. */
async function holdOn(from: string, ip: string, endpoint: string): Promise<Held> {
  await until(() => connect(podNs(from), ip, 80, 1), (x) => who(x)[0] === endpoint);
  const h = hold(podNs(from), ip);
  try {
    await until(async () => h.lines.length, (n) => n >= 1, 10_000);
    assert.match(h.lines[0], new RegExp(`^${endpoint} `));
    return h;
  } catch (err) {
    h.child.kill();
    throw err;
  }
}

/** Sends one line over the held connection; the reply (undefined if none came). */
async function say(h: Held, text: string): Promise<string | undefined> {
  const n = h.lines.length;
  h.child.stdin.write(`${text}\n`);
  await until(async () => h.lines.length, (m) => m > n, 10_000);
  return h.lines[n];
}

test('readiness: a pod that turns unready gets no new connections, while its established one continues', async () => {
  const ip = await clusterIP('one');
  const h = await holdOn('w1', ip, 'w3');
  try {
    writeFileSync(join(readyDir, 'w3.down'), '');
    const refused = await until(() => connect(podNs('w2'), ip, 80, 1), (x) => x[0] === 'ERR ECONNREFUSED');
    assert.deepEqual(refused, ['ERR ECONNREFUSED'], 'no new connection to the unready pod');
    assert.equal(await say(h, 'still-there'), 'echo still-there', 'the established connection continues');
  } finally {
    rmSync(join(readyDir, 'w3.down'), { force: true });
    h.child.kill();
  }
  await until(() => connect(podNs('w2'), ip, 80, 1), (x) => who(x)[0] === 'w3');
});

test('an open TCP connection through a ClusterIP survives kill -9 and restart of its node\'s agent', async () => {
  const ip = await clusterIP('one');
  const h = await holdOn('w1', ip, 'w3');
  try {
    const state = readLabState(join(lab.root, lab.name, 'state.json'));
    const agent = state?.processes.find((p) => p.role === 'agent node-1');
    assert.ok(agent?.pid);
    process.kill(agent.pid, 'SIGKILL');
    await until(async () => existsSync(`/proc/${agent.pid}/stat`) && !readFileSync(`/proc/${agent.pid}/stat`, 'utf8').includes(') Z'), (alive) => !alive, 10_000);
    assert.equal(await say(h, 'during'), 'echo during', 'while the agent is down');
    restartAgent(lab.name, lab.root, 'node-1');
    // The restarted agent adopts the table: new connections work again, the old one still does.
    const web = await clusterIP('web');
    await until(() => connect(podNs('w1'), web, 80, 3), (x) => x.every((y) => NAMES.includes(y.split(' ')[0])), 30_000);
    await sleep(1000);
    assert.equal(await say(h, 'after'), 'echo after', 'after the restart');
  } finally {
    h.child.kill();
  }
});
