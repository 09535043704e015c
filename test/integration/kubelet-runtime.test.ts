// The kubelet's runtime on the real kernel: pod sandboxes (netns + veth into a
// bridge) and containers (processes under detached supervisors) on a stand-in
// node — a network namespace `mlt-<rand>-node` this test creates with a bridge
// mlbr0 holding the gateway address. The sandbox code is told the node
// namespace (SandboxConfig.nodeNetns) and uses `ip -n`; this process stays in
// the host namespace. Requires root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawn, execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { SandboxManager, type SandboxRecord } from '../../src/kubelet/sandbox.ts';
import { ContainerRuntime, detectNamespaces } from '../../src/kubelet/containers.ts';
import { readLogs } from '../../src/kubelet/logs.ts';
import { reconcilePod } from '../../src/kubelet/reconcile.ts';
import { podStatus } from '../../src/kubelet/status.ts';
import type { KubeletPod, ContainerStateWaiting } from '../../src/kubelet/pod-spec.ts';
import type { SandboxConfig } from '../../src/kubelet/sandbox-plan.ts';
import { waitFor } from '../helpers/wait.ts';

const tag = `mlt-${randomBytes(3).toString('hex')}-`;
const nodeNs = `${tag}node`;
const GW = '10.251.7.1';
let dataDir = '';
const cfg: SandboxConfig = { netnsPrefix: tag, bridge: 'mlbr0', mtu: 1450, dnsIp: '10.96.0.10', clusterDomain: 'cluster.local', nodeNetns: nodeNs };
let sandboxes: SandboxManager;
let runtime: ContainerRuntime;
const pods: KubeletPod[] = [];
const extraPids: number[] = [];

function ipx(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}

function mkPod(name: string, containers: KubeletPod['spec'] extends infer S ? S extends { containers?: infer C } ? C : never : never, extra: Partial<NonNullable<KubeletPod['spec']>> = {}): KubeletPod {
  const pod: KubeletPod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `${name}-${randomBytes(4).toString('hex')}` },
    spec: { nodeName: 'n1', containers, ...extra },
  };
  pods.push(pod);
  return pod;
}

let nextIp = 10;
async function sandboxFor(pod: KubeletPod): Promise<SandboxRecord> {
  return sandboxes.create(pod, { ip: `10.251.7.${nextIp++}`, prefixLength: 24, gateway: GW });
}


async function collect(stream: NodeJS.ReadableStream): Promise<string> {
  let s = '';
  for await (const chunk of stream) s += chunk.toString();
  return s;
}

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mlt-kubelet-'));
  ipx('netns', 'add', nodeNs);
  ipx('-n', nodeNs, 'link', 'add', 'mlbr0', 'type', 'bridge');
  ipx('-n', nodeNs, 'addr', 'add', `${GW}/24`, 'dev', 'mlbr0');
  ipx('-n', nodeNs, 'link', 'set', 'mlbr0', 'up');
  ipx('-n', nodeNs, 'link', 'set', 'lo', 'up');
  sandboxes = new SandboxManager(dataDir, cfg);
  runtime = new ContainerRuntime({ dataDir, nodeName: 'n1', hostIP: '192.0.2.1' });
});

after(async () => {
  for (const pod of pods) {
    const uid = pod.metadata.uid!;
    for (const name of runtime.containerNames(uid)) await runtime.stop(uid, name, 0).catch(() => undefined);
    await runtime.killAllInNetns(sandboxes.names(uid).netns).catch(() => undefined);
    await sandboxes.remove(uid).catch(() => undefined);
  }
  for (const pid of extraPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  try {
    ipx('netns', 'del', nodeNs);
  } catch {
    /* gone */
  }
  await rm(dataDir, { recursive: true, force: true });
});

test('namespaces detected', async () => {
  const ns = await detectNamespaces();
  assert.equal(typeof ns.pid, 'boolean');
});

test('two pods get their IPs and talk TCP over the bridge; hostname, resolv.conf, logs', async () => {
  const server = mkPod('srv', [{
    name: 'web',
    image: 'python',
    command: ['python3', '-u', '-c', 'import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(("0.0.0.0",8080))\ns.listen()\nprint("listening",flush=True)\nwhile True:\n  c,a=s.accept()\n  c.sendall(b"hello from "+socket.gethostname().encode()+b"\\n")\n  c.close()'],
  }]);
  const client = mkPod('cli', [{
    name: 'probe',
    image: 'busybox',
    command: ['sh', '-c'],
    args: ['hostname; cat /etc/resolv.conf; grep cli /etc/hosts; echo POD=$POD_NAME; sleep 3600'],
    env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
  }], { hostname: 'client-host' });
  const sSb = await sandboxFor(server);
  const cSb = await sandboxFor(client);
  assert.ok(await sandboxes.isReady(sSb));
  assert.match(ipx('-n', sSb.netns, 'addr', 'show', 'eth0'), new RegExp(`inet ${sSb.ip.replace(/\./g, '\\.')}/24`));
  assert.match(ipx('-n', nodeNs, 'link', 'show', sSb.hostVeth), /master mlbr0/);
  assert.match(ipx('-n', sSb.netns, 'route'), new RegExp(`default via ${GW}`));

  const sRun = (await runtime.start(server, server.spec!.containers![0], sSb)).run;
  const cRun = (await runtime.start(client, client.spec!.containers![0], cSb)).run;
  assert.ok(sRun.pid && cRun.pid);
  await waitFor('server listening', async () => (await readFile(runtime.logPath(server.metadata.uid!, 'web', 0), 'utf8')).includes('listening'));

  // From the client pod's netns to the server pod's IP through the bridge.
  const reply = execFileSync('ip', ['netns', 'exec', cSb.netns, 'python3', '-c',
    `import socket\ns=socket.create_connection(("${sSb.ip}",8080),timeout=5)\nprint(s.recv(100).decode().strip())`], { encoding: 'utf8' });
  const ns = await detectNamespaces();
  assert.equal(reply.trim(), ns.uts ? 'hello from srv' : `hello from ${execFileSync('hostname', { encoding: 'utf8' }).trim()}`);

  // The client container saw its hostname, resolv.conf, hosts entry and env.
  const log = await waitFor('client output', async () => {
    const t = await readFile(runtime.logPath(client.metadata.uid!, 'probe', 0), 'utf8');
    return t.includes('POD=') ? t : undefined;
  });
  if (ns.uts) assert.match(log, /^client-host$/m);
  if (ns.mount) {
    assert.match(log, /search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local/);
    assert.match(log, /nameserver 10\.96\.0\.10/);
    assert.match(log, new RegExp(`${cSb.ip.replace(/\./g, '\\.')}\\tclient-host`));
  }
  assert.match(log, /^POD=cli$/m);

  // readLogs with tailLines.
  const tail = await collect(readLogs(runtime, client.metadata.uid!, 'probe', { tailLines: 1 }));
  assert.equal(tail, 'POD=cli\n');
  const all = await collect(readLogs(runtime, client.metadata.uid!, 'probe', {}));
  assert.ok(all.split('\n').length > 4);

  const o = runtime.observe(client.metadata.uid!, 'probe');
  assert.equal(o?.current?.running, true);
  assert.equal(o?.current?.pid, cRun.pid);
});

test('a crashing container restarts with back-off and shows CrashLoopBackOff', async () => {
  const pod = mkPod('crash', [{ name: 'c', image: 'busybox', command: ['sh', '-c', 'echo boom; exit 1'] }]);
  const sb = await sandboxFor(pod);
  const backoff = { baseMs: 300, maxMs: 5000, resetAfterMs: 60_000 };
  let sawBackOff = false;
  let lastStatus;
  const end = Date.now() + 20_000;
  // A kubelet loop without the API: observe, decide, act, compute status.
  while (Date.now() < end) {
    const c = runtime.observe(pod.metadata.uid!, 'c');
    const actions = reconcilePod(pod, { sandboxReady: await sandboxes.isReady(sb), sandboxExists: true, containers: { c } }, Date.now(), { backoff });
    const waiting: Record<string, ContainerStateWaiting> = {};
    for (const a of actions) {
      if (a.type === 'startContainer') await runtime.start(pod, pod.spec!.containers![0], sb);
      if (a.type === 'wait') waiting[a.name] = { reason: a.reason, message: a.message };
    }
    lastStatus = podStatus(pod, { hostIP: '192.0.2.1', podIP: sb.ip, sandboxReady: true, containers: { c: runtime.observe(pod.metadata.uid!, 'c') }, waiting }, Date.now());
    const cs = lastStatus.containerStatuses![0];
    if (cs.state.waiting?.reason === 'CrashLoopBackOff') sawBackOff = true;
    if (sawBackOff && cs.restartCount >= 3) break;
    await sleep(50);
  }
  const cs = lastStatus!.containerStatuses![0];
  assert.ok(sawBackOff, 'waiting reason CrashLoopBackOff seen');
  assert.ok(cs.restartCount >= 3, `restart count rose (${cs.restartCount})`);
  assert.equal(cs.lastState.terminated?.exitCode ?? cs.state.terminated?.exitCode, 1);
  assert.equal(lastStatus!.phase, 'Running');
  const prev = await collect(readLogs(runtime, pod.metadata.uid!, 'c', { previous: true }));
  assert.equal(prev, 'boom\n');
});

test('graceful stop: SIGTERM honoured; SIGTERM ignored → SIGKILL after the grace period', async () => {
  const pod = mkPod('term', [
    { name: 'polite', image: 'busybox', command: ['sh', '-c', 'trap "echo got-term; exit 0" TERM; echo ready; while :; do sleep 0.1; done'] },
    { name: 'stubborn', image: 'busybox', command: ['sh', '-c', 'trap "echo ignoring" TERM; echo ready; while :; do sleep 0.1; done'] },
  ]);
  const sb = await sandboxFor(pod);
  for (const c of pod.spec!.containers!) await runtime.start(pod, c, sb);
  const uid = pod.metadata.uid!;
  await waitFor('both ready', async () => {
    const a = await readFile(runtime.logPath(uid, 'polite', 0), 'utf8');
    const b = await readFile(runtime.logPath(uid, 'stubborn', 0), 'utf8');
    return a.includes('ready') && b.includes('ready');
  });
  const [polite, stubborn] = await Promise.all([runtime.stop(uid, 'polite', 5), runtime.stop(uid, 'stubborn', 1)]);
  assert.equal(polite?.running, false);
  assert.equal(polite?.exitCode, 0, 'trapped SIGTERM and exited 0');
  assert.match(await readFile(runtime.logPath(uid, 'polite', 0), 'utf8'), /got-term/);
  assert.equal(stubborn?.running, false);
  assert.equal(stubborn?.exitCode, 137, 'killed by SIGKILL');
  assert.match(await readFile(runtime.logPath(uid, 'stubborn', 0), 'utf8'), /ignoring/);
  // Teardown is idempotent and leaves no namespace.
  await sandboxes.teardownNetwork(uid);
  await sandboxes.teardownNetwork(uid);
  assert.ok(!existsSync(join('/run/netns', sb.netns)));
  assert.doesNotMatch(ipx('-n', nodeNs, 'link', 'show'), new RegExp(sb.hostVeth));
});

test('containers survive the agent being killed and are re-adopted', async () => {
  const pod = mkPod('adopt', [{ name: 'a', image: 'busybox', command: ['sh', '-c', 'echo up; exec sleep 3600'] }]);
  const sb = await sandboxFor(pod);
  // The "agent": a separate process that starts the container and is then SIGKILLed.
  const script = `
    import { ContainerRuntime } from ${JSON.stringify(new URL('../../src/kubelet/containers.ts', import.meta.url).pathname)};
    import { readSandboxRecord } from ${JSON.stringify(new URL('../../src/kubelet/sandbox.ts', import.meta.url).pathname)};
    const pod = JSON.parse(process.env.POD);
    const rt = new ContainerRuntime({ dataDir: process.env.DATA, nodeName: 'n1' });
    const sb = await readSandboxRecord(process.env.DATA, pod.metadata.uid);
    const { run } = await rt.start(pod, pod.spec.containers[0], sb);
    console.log(JSON.stringify(run));
    setInterval(() => {}, 1000);
  `;
  const agent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, POD: JSON.stringify(pod), DATA: dataDir },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  extraPids.push(agent.pid!);
  let out = '';
  agent.stdout!.on('data', (d) => (out += d));
  const run = await waitFor('agent started the container', () => {
    // Whole lines only: a chunk may end in the middle of the JSON.
    const line = out.split('\n').slice(0, -1).find((l) => l.startsWith('{'));
    return line ? (JSON.parse(line) as { pid: number; restart: number }) : undefined;
  });
  const exited = new Promise((resolve) => agent.once('exit', resolve));
  agent.kill('SIGKILL');
  await exited;

  // A new runtime instance (the restarted agent) sees the same process running.
  const fresh = new ContainerRuntime({ dataDir, nodeName: 'n1' });
  const o = fresh.observe(pod.metadata.uid!, 'a');
  assert.equal(o?.current?.running, true);
  assert.equal(o?.current?.pid, run.pid);
  assert.equal(o?.restartCount, 0);
  const status = podStatus(pod, { hostIP: '192.0.2.1', podIP: sb.ip, sandboxReady: await sandboxes.isReady(sb), containers: { a: o }, waiting: {} }, Date.now());
  assert.equal(status.phase, 'Running');
  assert.ok(status.containerStatuses![0].state.running);
  assert.deepEqual(reconcilePod(pod, { sandboxReady: true, sandboxExists: true, containers: { a: o } }, Date.now()), [], 'nothing to redo');
  // It can still stop it, and the exit is recorded by the surviving supervisor.
  const stopped = await fresh.stop(pod.metadata.uid!, 'a', 2);
  assert.equal(stopped?.running, false);
  assert.ok(stopped?.exitCode !== undefined && !stopped.unknown, 'the supervisor recorded the exit');
});
