// Pod networking end to end in ONE 3-node lab (root): the scheduler places
// pods, the server's node-IPAM controller leases /28 node subnets (small, so
// one node's pool can be exhausted) with a 10 s lease TTL and a 20 s node grace
// (so a silent node's lease lapses quickly) and writes them into the Nodes; the agents (no Redis)
// take theirs from there, the kubelets run the pods, the overlay carries pod
// traffic between nodes. 1,000 concurrent pod IP allocations across 3 nodes
// and kill -9 mid-allocation are proven in test/integration/pod-ips.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { podNetnsName } from '../../src/kubelet/names.ts';
import { restartAgent } from '../../src/lab/agents.ts';
import { isAlive } from '../../src/lab/system.ts';
import type { LabState, ProcessRecord } from '../../src/lab/state.ts';
import { getOverSocket } from '../../src/lab/api.ts';
import { KUBECTL, MESHLET_BIN as BIN, runProcess, type RunResult } from '../helpers/run.ts';
import { waitFor as waitForShared } from '../helpers/wait.ts';

const execFileP = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'mlt-podnet-'));
const lab = `mlt${randomBytes(2).toString('hex')}p`;
const prefix = `ml-${lab}-`;
const kubeconfig = join(root, lab, 'kubeconfig');
const markDir = mkdtempSync(join(tmpdir(), 'mlt-podnet-marks-'));
const PORT = 7000;
/** The lab server's --node-monitor-grace-period (the server's default is 40 s): the node-IPAM case waits for it. */
const NODE_GRACE_SECONDS = 20;

interface Pod {
  metadata: { name: string; uid: string; namespace: string };
  spec: { nodeName?: string };
  status?: {
    phase?: string;
    podIP?: string;
    containerStatuses?: { name: string; restartCount: number; state: { running?: unknown; waiting?: { reason?: string } } }[];
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return runProcess(cmd, args, { ...opts, timeoutMs: opts.timeoutMs ?? 60_000, env: { ...process.env, MESHLET_LAB_ROOT: root, KUBECONFIG: kubeconfig } });
}

const meshlet = (...args: string[]) => run(process.execPath, [BIN, ...args]);
async function kubectl(...args: string[]): Promise<string> {
  const r = await run(KUBECTL, ['--cache-dir', join(root, '.kube-cache'), ...args]);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
async function kubectlApply(obj: unknown): Promise<void> {
  const r = await run(KUBECTL, ['--cache-dir', join(root, '.kube-cache'), 'apply', '-f', '-'], { input: JSON.stringify(obj) });
  if (r.code !== 0) throw new Error(`kubectl apply: ${r.stderr}`);
}
async function getPod(name: string): Promise<Pod | undefined> {
  const r = await run(KUBECTL, ['--cache-dir', join(root, '.kube-cache'), 'get', 'pod', name, '-o', 'json']);
  return r.code === 0 ? (JSON.parse(r.stdout) as Pod) : undefined;
}
/** This file's limit is a minute: pods start in a loaded lab. */
const waitFor = <T>(what: string, fn: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> => waitForShared(what, fn, ms);
const running = (p: Pod | undefined): p is Pod => !!p?.status?.podIP && p.status.phase === 'Running';
const waitRunning = (name: string) => waitFor(`pod ${name} Running`, async () => { const p = await getPod(name); return running(p) ? p : undefined; });
const ipn = async (ns: string, ...args: string[]) => (await execFileP('ip', ['-n', ns, ...args])).stdout;
const labState = (): LabState => JSON.parse(readFileSync(join(root, lab, 'state.json'), 'utf8')) as LabState;
const agentRecord = (node: string): ProcessRecord => labState().processes.find((p) => p.role === `agent ${node}`)!;

// A TCP (line echo, persistent connections) + UDP echo server; replies carry the pod's hostname.
const ECHO = `
import socket, threading
h = socket.gethostname().encode()
def serve(c):
    f = c.makefile('rb')
    for line in f:
        c.sendall(h + b' ' + line)
    c.close()
def udp():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('0.0.0.0', ${PORT}))
    while True:
        d, a = u.recvfrom(2048); u.sendto(h + b' ' + d, a)
threading.Thread(target=udp, daemon=True).start()
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', ${PORT})); s.listen(128)
print('listening', flush=True)
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
`;
// Probes every target by TCP and UDP; prints {ip: {tcp, udp}}.
const PROBE = `
import socket, sys, json
out = {}
for ip in sys.argv[1:]:
    r = {}
    try:
        c = socket.create_connection((ip, ${PORT}), timeout=3); c.sendall(b'tcp\\n'); r['tcp'] = c.makefile('rb').readline().decode().strip(); c.close()
    except Exception as e:
        r['tcp'] = 'ERR ' + str(e)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(1)
    r['udp'] = 'ERR timeout'
    for _ in range(3):
        try:
            u.sendto(b'udp', (ip, ${PORT})); r['udp'] = u.recvfrom(2048)[0].decode().strip(); break
        except Exception:
            pass
    out[ip] = r
print(json.dumps(out))
`;
// Holds one TCP connection open; echoes each stdin line through it and prints the reply.
const HOLD = `
import socket, sys
c = socket.create_connection((sys.argv[1], ${PORT}), timeout=30)
f = c.makefile('rb')
print('connected', flush=True)
for line in sys.stdin:
    c.sendall(line.encode()); print(f.readline().decode().strip(), flush=True)
`;

function pod(name: string, spec: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', ...extra }, spec: { terminationGracePeriodSeconds: 2, ...spec } };
}
// The echo pods tolerate an unreachable node forever: the tests below silence agents for longer than the lab's 30 s toleration and expect the pods to stay.
const echoPod = (name: string, node: string) => pod(name, {
  nodeName: node,
  tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' }],
  containers: [{ name: 'echo', image: 'python', command: ['python3', '-c', ECHO] }],
});
const sleeper = (name: string, spec: Record<string, unknown> = {}) => pod(name, { containers: [{ name: 'main', image: 'busybox', command: ['sleep', '3600'] }], ...spec });

const echoNames = ['e1a', 'e1b', 'e2a', 'e2b', 'e3a', 'e3b'];
const echo = new Map<string, Pod>();
let holder: ChildProcessWithoutNullStreams | undefined;

before(async () => {
  const up = await meshlet('lab', 'up', '--nodes', '3', '--name', lab, '--node-subnet-size', '28', '--subnet-lease-ttl', '10', '--node-monitor-grace-period', String(NODE_GRACE_SECONDS));
  if (up.code !== 0) throw new Error(`lab up failed: ${up.stderr}${up.stdout}`);
  // The crash-looping pod starts first: its back-off takes the longest.
  await kubectlApply(pod('crasher', { nodeName: 'node-1', containers: [{ name: 'c', image: 'busybox', command: ['sh', '-c', 'echo crashing; exit 3'] }] }));
  for (const n of echoNames) await kubectlApply(echoPod(n, `node-${n[1]}`));
  for (const n of echoNames) echo.set(n, await waitRunning(n));
});

after(async () => {
  holder?.kill('SIGKILL');
  const down = await meshlet('lab', 'down', '--name', lab);
  if (down.code !== 0) process.stderr.write(`lab down: ${down.stderr}\n`);
  rmSync(root, { recursive: true, force: true });
  rmSync(markDir, { recursive: true, force: true });
});

test('every pod reaches every other pod by IP over TCP and UDP, same node and across nodes', async () => {
  const ips = echoNames.map((n) => echo.get(n)!.status!.podIP!);
  assert.equal(new Set(ips).size, 6, 'distinct pod IPs');
  for (const n of echoNames) {
    const p = echo.get(n)!;
    assert.equal(p.spec.nodeName, `node-${n[1]}`);
    // Each node's pods come from its own subnet: the same /28 for both pods of a node.
  }
  const subnetOf = (ip: string) => ip.split('.').slice(0, 3).join('.') + '.' + (Number(ip.split('.')[3]) & 0xf0);
  assert.equal(subnetOf(echo.get('e1a')!.status!.podIP!), subnetOf(echo.get('e1b')!.status!.podIP!));
  assert.notEqual(subnetOf(echo.get('e1a')!.status!.podIP!), subnetOf(echo.get('e2a')!.status!.podIP!));
  const results = await Promise.all(
    echoNames.map(async (from) => {
      const p = echo.get(from)!;
      const targets = echoNames.filter((t) => t !== from).map((t) => echo.get(t)!.status!.podIP!);
      const { stdout } = await execFileP('ip', ['netns', 'exec', podNetnsName(prefix, p.metadata.uid), 'python3', '-c', PROBE, ...targets]);
      return [from, JSON.parse(stdout) as Record<string, { tcp: string; udp: string }>] as const;
    }),
  );
  for (const [from, res] of results) {
    for (const to of echoNames.filter((t) => t !== from)) {
      const r = res[echo.get(to)!.status!.podIP!];
      assert.equal(r.tcp, `${to} tcp`, `${from} → ${to} over TCP`);
      assert.equal(r.udp, `${to} udp`, `${from} → ${to} over UDP`);
    }
  }
  // `meshlet lab exec <ns>/<pod>` enters the pod's namespace.
  const viaExec = await meshlet('lab', 'exec', '--name', lab, 'default/e1a', '--', 'python3', '-c', PROBE, echo.get('e3b')!.status!.podIP!);
  assert.equal(viaExec.code, 0, viaExec.stderr);
  assert.equal(JSON.parse(viaExec.stdout)[echo.get('e3b')!.status!.podIP!].tcp, 'e3b tcp');
  // Each node programs one route + neighbour + FDB entry per remote node.
  const routes = await ipn(`${prefix}n1`, 'route', 'show', 'dev', 'mlvx1');
  assert.equal(routes.trim().split('\n').filter((l) => / via .* onlink/.test(l)).length, 2, routes);
  const fdb = (await execFileP('bridge', ['-n', `${prefix}n1`, 'fdb', 'show', 'dev', 'mlvx1'])).stdout;
  assert.equal(fdb.trim().split('\n').filter((l) => /permanent/.test(l)).length, 2, fdb);
});

/** node's agent counters: overlay reconciles caused by Node changes, and Node events that changed nothing it programs. */
async function overlayCounters(node: string): Promise<{ reconciles: number; ignored: number; syncs: number }> {
  const m = await getOverSocket(join(root, lab, node, 'health.sock'), '/metrics');
  if (!('code' in m) || m.code !== 200) throw new Error(`no metrics from ${node}`);
  const value = (re: RegExp): number => Number(re.exec(m.body)?.[1] ?? 0);
  return {
    reconciles: value(/^meshlet_agent_overlay_reconciles_total\{reason="node-change"\} (\d+)$/m),
    ignored: value(/^meshlet_agent_node_events_total\{relevant="false"\} (\d+)$/m),
    // The overlay's reconciles, timed by the data plane's shared sync runner.
    syncs: value(/^meshlet_dataplane_sync_duration_seconds_count\{part="overlay",result="success"\} (\d+)$/m),
  };
}

test('a Node change the overlay does not program causes no reconcile; a peer change does, and the peer repairs its VTEP', async () => {
  const before = await overlayCounters('node-1');
  // A label (like the 40 s status repost) changes nothing node-1 programs.
  await kubectl('label', 'node', 'node-2', 'mlt-irrelevant=1', '--overwrite');
  const seen = await waitFor('node-1 saw the update', async () => {
    const c = await overlayCounters('node-1');
    return c.ignored > before.ignored ? c : undefined;
  });
  assert.equal(seen.reconciles, before.reconciles, 'no overlay reconcile for it');
  assert.ok(seen.syncs > 0, 'the overlay reconciles through the sync runner');
  // A VTEP change is a peer change: node-1 reconciles; node-2's agent puts its real VTEP back.
  const mac = async () => ((JSON.parse(await kubectl('get', 'node', 'node-2', '-o', 'json')) as { metadata: { annotations: Record<string, string> } }).metadata.annotations['meshlet.io/vtep-mac']);
  const real = await mac();
  await kubectl('annotate', 'node', 'node-2', 'meshlet.io/vtep-mac=02:00:5e:00:00:99', '--overwrite');
  await waitFor('node-1 reconciled', async () => (await overlayCounters('node-1')).reconciles > seen.reconciles);
  await waitFor('node-2 restored its VTEP MAC', async () => (await mac()) === real);
  await waitFor('node-1 neighbours point at the real MAC again', async () => {
    const neigh = await ipn(`${prefix}n1`, 'neigh', 'show', 'dev', 'mlvx1');
    return neigh.includes(real) && !neigh.includes('02:00:5e:00:00:99');
  });
  await kubectl('label', 'node', 'node-2', 'mlt-irrelevant-');
});

test('kubectl logs, --tail and -f go through the API server to the node', async () => {
  await kubectlApply(pod('ticker', { nodeName: 'node-2', containers: [{ name: 't', image: 'busybox', command: ['sh', '-c', 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done'] }] }));
  await waitRunning('ticker');
  const all = await waitFor('5 ticks', async () => { const s = await kubectl('logs', 'ticker'); return s.includes('tick 4') ? s : undefined; });
  assert.match(all, /^tick 0\ntick 1\n/);
  const tail = await kubectl('logs', 'ticker', '--tail=2');
  assert.equal(tail.trim().split('\n').length, 2);
  assert.match(tail, /^tick \d+\ntick \d+\n$/);
  const lastSeen = Number(/tick (\d+)\n$/.exec(tail)![1]);
  // -f: the stream keeps delivering lines written after it started.
  const follow = spawn(KUBECTL, ['--cache-dir', join(root, '.kube-cache'), 'logs', '-f', 'ticker', '--tail=1'], { env: { ...process.env, KUBECONFIG: kubeconfig } });
  let streamed = '';
  follow.stdout.on('data', (d: Buffer) => (streamed += d));
  try {
    await waitFor('followed lines', async () => {
      const nums = [...streamed.matchAll(/tick (\d+)/g)].map((m) => Number(m[1]));
      return nums.length >= 3 && Math.max(...nums) > lastSeen + 2;
    }, 20_000);
  } finally {
    follow.kill();
  }
  const echoLog = await kubectl('logs', 'e1a');
  assert.equal(echoLog, 'listening\n', 'a pod on another node');
  const bad = await run(KUBECTL, ['--cache-dir', join(root, '.kube-cache'), 'logs', 'ticker', '-c', 'nope']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /container nope is not valid for pod ticker/);
  const missing = await run(KUBECTL, ['--cache-dir', join(root, '.kube-cache'), 'logs', 'no-such-pod']);
  assert.match(missing.stderr, /pods "no-such-pod" not found/);
  await kubectl('delete', 'pod', 'ticker', '--wait=false');
});

test('a crashing container backs off: restartCount rises, CrashLoopBackOff shows', async () => {
  const p = await waitFor('CrashLoopBackOff', async () => {
    const x = await getPod('crasher');
    const c = x?.status?.containerStatuses?.[0];
    return c && c.restartCount >= 1 && c.state.waiting?.reason === 'CrashLoopBackOff' ? x : undefined;
  });
  assert.ok(p.status!.containerStatuses![0].restartCount >= 1);
  const table = await kubectl('get', 'pod', 'crasher');
  assert.match(table, /crasher\s+0\/1\s+CrashLoopBackOff\s+[1-9]/);
  const prev = await kubectl('logs', 'crasher', '--previous');
  assert.equal(prev, 'crashing\n');
  await kubectl('delete', 'pod', 'crasher', '--wait=false');
});

test('graceful deletion: a pod trapping SIGTERM finishes cleanly and kubectl delete returns after it is gone', async () => {
  const mark = join(markDir, 'graceful');
  await kubectlApply(pod('graceful', {
    nodeName: 'node-3',
    terminationGracePeriodSeconds: 20,
    containers: [{ name: 'g', image: 'busybox', command: ['sh', '-c', `trap 'echo term >> ${mark}; sleep 1; echo bye >> ${mark}; exit 0' TERM; echo up >> ${mark}; while true; do sleep 0.1; done`] }],
  }));
  const p = await waitRunning('graceful');
  await waitFor('trap installed', async () => existsSync(mark) && readFileSync(mark, 'utf8').includes('up'));
  await kubectl('delete', 'pod', 'graceful');
  assert.equal(await getPod('graceful'), undefined, 'gone when kubectl delete returns');
  assert.equal(readFileSync(mark, 'utf8'), 'up\nterm\nbye\n', 'the handler ran to its end (no SIGKILL)');
  const netns = podNetnsName(prefix, p.metadata.uid);
  await waitFor('sandbox removed', async () => !(await execFileP('ip', ['netns', 'list'])).stdout.includes(netns));
});

test('scheduling respects nodeSelector, taints and resources; an impossible pod stays Pending with FailedScheduling', async () => {
  await kubectl('label', 'node', 'node-2', 'mlt-zone=b');
  await kubectlApply(sleeper('sel', { nodeSelector: { 'mlt-zone': 'b' } }));
  assert.equal((await waitRunning('sel')).spec.nodeName, 'node-2');

  await kubectl('taint', 'node', 'node-1', 'mlt-only=x:NoSchedule');
  await kubectlApply(sleeper('tainted', { nodeSelector: { 'kubernetes.io/hostname': 'node-1' } }));
  await kubectlApply(sleeper('tolerant', { nodeSelector: { 'kubernetes.io/hostname': 'node-1' }, tolerations: [{ key: 'mlt-only', operator: 'Equal', value: 'x', effect: 'NoSchedule' }] }));
  assert.equal((await waitRunning('tolerant')).spec.nodeName, 'node-1');

  await kubectlApply(sleeper('huge', { containers: [{ name: 'main', image: 'busybox', command: ['sleep', '3600'], resources: { requests: { cpu: '1000' } } }] }));
  const events = await waitFor('FailedScheduling events', async () => {
    const out = await kubectl('get', 'events', '--field-selector', 'reason=FailedScheduling', '-o', 'json');
    const items = (JSON.parse(out) as { items: { involvedObject: { name: string }; message: string }[] }).items;
    const huge = items.find((e) => e.involvedObject.name === 'huge');
    const tainted = items.find((e) => e.involvedObject.name === 'tainted');
    return huge && tainted ? { huge, tainted } : undefined;
  });
  assert.match(events.huge.message, /Insufficient cpu/);
  assert.match(events.tainted.message, /untolerated taint.*mlt-only|mlt-only.*untolerated/);
  for (const name of ['huge', 'tainted']) {
    const p = await getPod(name);
    assert.equal(p?.status?.phase, 'Pending');
    assert.equal(p?.spec.nodeName, undefined);
    assert.equal(p?.status?.conditions?.find((c) => c.type === 'PodScheduled')?.reason, 'Unschedulable');
  }
  await kubectl('taint', 'node', 'node-1', 'mlt-only=x:NoSchedule-');
  await kubectl('delete', 'pod', 'sel', 'tainted', 'tolerant', 'huge', '--wait=false');
});

test('killing and restarting an agent keeps its pods running and an open TCP connection alive', async () => {
  const from = echo.get('e1a')!;
  const to = echo.get('e2a')!;
  holder = spawn('ip', ['netns', 'exec', podNetnsName(prefix, from.metadata.uid), 'python3', '-u', '-c', HOLD, to.status!.podIP!]);
  let out = '';
  holder.stdout.on('data', (d: Buffer) => (out += d));
  holder.stderr.on('data', (d: Buffer) => (out += d));
  await waitFor('connected', async () => out.includes('connected'), 20_000);
  holder.stdin.write('one\n');
  await waitFor('first echo', async () => out.includes('e2a one'), 10_000);

  const before2 = await Promise.all(['e2a', 'e2b'].map(getPod));
  const agent = agentRecord('node-2');
  assert.ok(isAlive(agent));
  process.kill(agent.pid!, 'SIGKILL');
  await waitFor('agent gone', async () => !isAlive(agent));
  holder.stdin.write('two\n');
  await waitFor('echo while the agent is down', async () => out.includes('e2a two'), 10_000).catch((err: Error) => {
    throw new Error(`${err.message}; the connection printed: ${out}`);
  });

  const again = restartAgent(lab, root, 'node-2');
  assert.notEqual(again.pid, agent.pid);
  await waitFor('agent healthy', async () => {
    const h = await getOverSocket(join(root, lab, 'node-2', 'health.sock'), '/healthz');
    return 'code' in h && h.code === 200;
  });
  // The restarted kubelet re-adopted the pods and reports them (a fresh status write proves it is working).
  await kubectlApply(sleeper('after-restart', { nodeName: 'node-2' }));
  await waitRunning('after-restart');
  holder.stdin.write('three\n');
  await waitFor('echo after the restart', async () => out.includes('e2a three'), 10_000);
  const after2 = await Promise.all(['e2a', 'e2b'].map(getPod));
  for (const [i, p] of after2.entries()) {
    assert.equal(p?.status?.phase, 'Running');
    assert.equal(p?.metadata.uid, before2[i]!.metadata.uid);
    assert.equal(p?.status?.podIP, before2[i]!.status!.podIP, 'same IP');
    assert.equal(p?.status?.containerStatuses?.[0].restartCount, 0, 'not restarted');
  }
  holder.stdin.end();
  holder.kill();
  holder = undefined;
  await kubectl('delete', 'pod', 'after-restart', '--wait=false');
});

test('an exhausted node pool: the extra pod stays Pending with a clear event, no IP is handed out twice', async () => {
  // node-3's /28 has 13 pod addresses; e3a and e3b hold two. Wait for earlier pods there to be gone.
  await waitFor('only the echo pods on node-3', async () => {
    const out = JSON.parse(await kubectl('get', 'pods', '-o', 'json', '--field-selector', 'spec.nodeName=node-3')) as { items: Pod[] };
    return out.items.length === 2;
  });
  const names = Array.from({ length: 12 }, (_, i) => `fill${i}`);
  await Promise.all(names.map((n) => kubectlApply(sleeper(n, { nodeName: 'node-3' }))));
  const state = await waitFor('11 running, 1 pending with an event', async () => {
    const pods = await Promise.all(names.map(getPod));
    const withIp = pods.filter(running);
    if (withIp.length < 11) return undefined;
    const out = await kubectl('get', 'events', '--field-selector', 'reason=FailedCreatePodSandBox', '-o', 'json');
    const ev = (JSON.parse(out) as { items: { involvedObject: { name: string }; message: string }[] }).items.find((e) => names.includes(e.involvedObject.name));
    return ev ? { pods, withIp, ev } : undefined;
  });
  assert.equal(state.withIp.length, 11);
  const pending = state.pods.filter((p) => !running(p)) as (Pod | undefined)[];
  assert.equal(pending.length, 1);
  assert.equal(pending[0]!.status?.podIP, undefined);
  assert.equal(state.ev.involvedObject.name, pending[0]!.metadata.name);
  assert.match(state.ev.message, /IP pool exhausted/);
  const ips = [...state.withIp.map((p) => p.status!.podIP!), echo.get('e3a')!.status!.podIP!, echo.get('e3b')!.status!.podIP!];
  assert.equal(new Set(ips).size, 13, 'all distinct');
  // Freeing one address lets the pending pod start.
  await kubectl('delete', 'pod', state.withIp[0].metadata.name);
  const late = await waitRunning(pending[0]!.metadata.name);
  assert.ok(!ips.slice(1).includes(late.status!.podIP!), 'not an address in use');
  await kubectl('delete', 'pod', ...names.filter((n) => n !== state.withIp[0].metadata.name), '--wait=false');
});

test('the node-IPAM controller: a deleted Node is withdrawn everywhere and gets its subnet back; a silent node loses it after the TTL and gets it back', async () => {
  const subnet = async (node: string) => ((JSON.parse(await kubectl('get', 'node', node, '-o', 'json')) as { spec: { podCIDR?: string } }).spec.podCIDR);
  const s2 = await subnet('node-2');
  const s3 = await subnet('node-3');
  assert.ok(s2 && s3 && s2 !== s3);
  const entries = async (ns: string, cidr: string) => {
    const via = cidr.split('/')[0];
    const route = (await ipn(ns, 'route', 'show', cidr)).trim();
    const neigh = (await ipn(ns, 'neigh', 'show', 'dev', 'mlvx1')).split('\n').filter((l) => l.startsWith(`${via} `));
    return { route, neigh };
  };
  const fdbCount = async (ns: string) => (await execFileP('bridge', ['-n', ns, 'fdb', 'show', 'dev', 'mlvx1'])).stdout.split('\n').filter((l) => /permanent/.test(l)).length;
  assert.notEqual((await entries(`${prefix}n1`, s2)).route, '');

  // Deleting node-2's Node: node-1 withdraws it at once; node-2's agent registers again,
  // the controller leases it its previous subnet, and it comes back.
  await kubectl('delete', 'node', 'node-2');
  await waitFor('node-2 withdrawn from node-1', async () => {
    const e = await entries(`${prefix}n1`, s2);
    return e.route === '' && e.neigh.length === 0 && (await fdbCount(`${prefix}n1`)) === 1;
  }, 20_000);
  await waitFor('node-2 back on node-1', async () => (await entries(`${prefix}n1`, s2)).route !== '' && (await fdbCount(`${prefix}n1`)) === 2, 40_000);
  assert.equal(await subnet('node-2'), s2, 'the same subnet');

  // node-3's agent goes silent: after the heartbeat grace (NODE_GRACE_SECONDS) the controller stops renewing,
  // the lease (TTL 10 s) lapses, the controller removes node-3's podCIDRs, both others withdraw it.
  const agent = agentRecord('node-3');
  process.kill(agent.pid!, 'SIGKILL');
  await waitFor('agent gone', async () => !isAlive(agent));
  for (const ns of [`${prefix}n1`, `${prefix}n2`]) {
    await waitFor(`node-3 withdrawn from ${ns}`, async () => {
      const e = await entries(ns, s3);
      return e.route === '' && e.neigh.length === 0 && (await fdbCount(ns)) === 1;
    }, 120_000);
  }
  assert.equal(await subnet('node-3'), undefined, 'the Node is still there, without its podCIDR');
  // Back: the restarted agent heartbeats, gets its old subnet, and its pods keep their IPs.
  restartAgent(lab, root, 'node-3');
  await waitFor('node-3 back on node-1', async () => (await entries(`${prefix}n1`, s3)).route !== '', 60_000);
  assert.equal(await subnet('node-3'), s3, 'its previous subnet');
  const e3a = await waitFor('e3a reachable again', async () => {
    const { stdout } = await execFileP('ip', ['netns', 'exec', podNetnsName(prefix, echo.get('e1a')!.metadata.uid), 'python3', '-c', PROBE, echo.get('e3a')!.status!.podIP!]);
    const r = (JSON.parse(stdout) as Record<string, { tcp: string }>)[echo.get('e3a')!.status!.podIP!];
    return r.tcp === 'e3a tcp' ? r : undefined;
  }, 60_000);
  assert.equal(e3a.tcp, 'e3a tcp');
});
