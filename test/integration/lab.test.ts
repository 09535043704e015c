// The one-host lab end to end (root): real namespaces, veths and bridge, a real
// redis-server, meshlet server and agents, and real kubectl against it.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { parseLabState, type ProcessRecord } from '../../src/lab/state.ts';
import { isAlive, listNetns } from '../../src/lab/system.ts';
import { getOverSocket } from '../../src/lab/api.ts';
import { KUBECTL, runMeshlet, type RunResult } from '../helpers/run.ts';

const execFileP = promisify(execFile);

const root = mkdtempSync(join(tmpdir(), 'mlt-lab-'));
const cacheDir = join(root, '.kube-cache');
const suffix = randomBytes(2).toString('hex');
const labA = `mlt${suffix}`;
const labB = `mlt${suffix}b`;
const labC = `mlt${suffix}c`;
const labs = [labA, labB, labC];

type Result = RunResult;

const meshlet = (args: string[]): Promise<Result> => runMeshlet(args, { env: { ...process.env, MESHLET_LAB_ROOT: root } });

async function mustRun(args: string[]): Promise<Result> {
  const r = await meshlet(args);
  assert.equal(r.code, 0, `meshlet ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

function recorded(name: string): ProcessRecord[] {
  const file = join(root, name, 'state.json');
  return existsSync(file) ? parseLabState(readFileSync(file, 'utf8')).processes : [];
}

async function assertGone(name: string, pids: ProcessRecord[]): Promise<void> {
  assert.deepEqual((await listNetns()).filter((ns) => ns.startsWith(`ml-${name}-`)), [], 'no namespace left');
  assert.deepEqual(pids.filter(isAlive).map((p) => p.role), [], 'no recorded process left');
  assert.equal(existsSync(join(root, name)), false, 'no state dir left');
}

function kubectl(kubeconfig: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return execFileP(KUBECTL, ['--kubeconfig', kubeconfig, '--cache-dir', cacheDir, ...args]);
}

/** Real kubectl against the lab: apply (create, unchanged, configured, server-side), get -o wide, get -w, scale, delete. */
async function kubectlScenario(kubeconfig: string): Promise<void> {
  const deployment = (replicas: number, image: string) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: ${image}, command: [sleep, "3600"], ports: [{containerPort: 8080}]}
`;
  const file = join(root, 'web.yaml');
  writeFileSync(file, deployment(1, 'busybox:1'));
  assert.match((await kubectl(kubeconfig, ['apply', '-f', file])).stdout, /deployment\.apps\/web created/);
  assert.match((await kubectl(kubeconfig, ['apply', '-f', file])).stdout, /deployment\.apps\/web unchanged/);
  writeFileSync(file, deployment(2, 'busybox:2'));
  assert.match((await kubectl(kubeconfig, ['apply', '-f', file])).stdout, /deployment\.apps\/web configured/);
  const image = await kubectl(kubeconfig, ['get', 'deployment', 'web', '-o', 'jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image}']);
  assert.equal(image.stdout, '2 busybox:2');

  const cmFile = join(root, 'cm.yaml');
  writeFileSync(cmFile, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: default}\ndata: {mode: a}\n');
  assert.match((await kubectl(kubeconfig, ['apply', '--server-side', '-f', cmFile])).stdout, /configmap\/settings serverside-applied/);

  // get -w sees a change: watch in the background, change the object, read the change, stop kubectl by its PID.
  const watcher = spawn(KUBECTL, ['--kubeconfig', kubeconfig, '--cache-dir', cacheDir, 'get', 'configmap', 'settings', '-w', '-o', 'jsonpath={.data.mode}{"\\n"}'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let watched = '';
  watcher.stdout.on('data', (c: Buffer) => (watched += c));
  try {
    for (let i = 0; i < 100 && !watched.includes('a'); i++) await new Promise((r) => setTimeout(r, 100));
    await kubectl(kubeconfig, ['patch', 'configmap', 'settings', '--type', 'merge', '-p', '{"data":{"mode":"b"}}']);
    for (let i = 0; i < 100 && !watched.split('\n').includes('b'); i++) await new Promise((r) => setTimeout(r, 100));
  } finally {
    if (watcher.pid !== undefined && watcher.exitCode === null) process.kill(watcher.pid, 'SIGTERM');
  }
  assert.deepEqual(watched.split('\n').filter(Boolean), ['a', 'b']);

  assert.match((await kubectl(kubeconfig, ['scale', 'deployment', 'web', '--replicas=3'])).stdout, /deployment\.apps\/web scaled/);
  assert.equal((await kubectl(kubeconfig, ['get', 'deployment', 'web', '-o', 'jsonpath={.spec.replicas}'])).stdout, '3');

  // The deployment's pods are scheduled and get IPs: -o wide shows IP and NODE.
  let wide = '';
  for (let i = 0; i < 150; i++) {
    wide = (await kubectl(kubeconfig, ['get', 'pods', '-l', 'app=web', '-o', 'wide'])).stdout;
    if ((wide.match(/Running\s+\d+\s+\S+\s+10\.244\.\d+\.\d+\s+node-\d/g) ?? []).length === 3) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.match(wide.split('\n')[0], /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE/);
  assert.equal((wide.match(/Running\s+\d+\s+\S+\s+10\.244\.\d+\.\d+\s+node-\d/g) ?? []).length, 3, wide);

  // delete returns once the object is gone (a running pod: graceful, finished by its node).
  const victim = wide.split('\n')[1].split(/\s+/)[0];
  assert.match((await kubectl(kubeconfig, ['delete', 'pod', victim, '--grace-period=1'])).stdout, new RegExp(`pod "${victim}" deleted`));
  await assert.rejects(kubectl(kubeconfig, ['get', 'pod', victim]), /NotFound/);
  assert.match((await kubectl(kubeconfig, ['delete', 'deployment', 'web'])).stdout, /deployment\.apps "web" deleted/);
  assert.match((await kubectl(kubeconfig, ['delete', 'configmap', 'settings'])).stdout, /configmap "settings" deleted/);
}

before(() => {
  assert.equal(process.getuid?.(), 0, 'the lab test needs root');
});

after(async () => {
  for (const name of labs) await meshlet(['lab', 'down', '--name', name]);
  rmSync(root, { recursive: true, force: true });
});

test('a two-node lab: nodes Ready in kubectl, underlay inside the namespaces, exec, status, a second lab beside it, down', async () => {
  const up = await mustRun(['lab', 'up', '--nodes', '2', '--name', labA]);
  assert.match(up.stdout, /all 2 node\(s\) Ready/);
  const kubeconfig = join(root, labA, 'kubeconfig');
  assert.match(up.stdout, new RegExp(`export KUBECONFIG=${kubeconfig}`));
  assert.equal((await mustRun(['lab', 'kubeconfig', '--name', labA])).stdout.trim(), kubeconfig);

  const { stdout: nodes } = await execFileP(KUBECTL, ['--kubeconfig', kubeconfig, '--cache-dir', cacheDir, 'get', 'nodes', '-o', 'wide']);
  assert.match(nodes, /node-1\s+Ready/);
  assert.match(nodes, /node-2\s+Ready/);
  assert.match(nodes, /172\.31\.0\.11/);

  // The second lab (below) comes up meanwhile, beside this one.
  const upB = mustRun(['lab', 'up', '--nodes', '1', '--name', labB]);
  upB.catch(() => undefined); // awaited below; a failure is reported there
  const addr = await mustRun(['lab', 'exec', '--name', labA, 'node/node-1', '--', 'ip', '-4', 'addr', 'show', 'eth0']);
  assert.match(addr.stdout, /inet 172\.31\.0\.11\/24/);
  const ping = await mustRun(['lab', 'exec', '--name', labA, 'node/node-1', '--', 'ping', '-c1', '-W2', '172.31.0.12']);
  assert.match(ping.stdout, /1 received/);
  const exit7 = await meshlet(['lab', 'exec', '--name', labA, 'node/node-1', '--', 'sh', '-c', 'exit 7']);
  assert.equal(exit7.code, 7);
  const noNode = await meshlet(['lab', 'exec', '--name', labA, 'node/node-9', '--', 'true']);
  assert.equal(noNode.code, 1);
  assert.match(noNode.stderr, /has no node "node-9"/);

  // A pod is scheduled, gets its own namespace, and exec enters it (pod networking: test/integration/pod-network.test.ts).
  const podFile = join(root, 'pod.yaml');
  writeFileSync(podFile, 'apiVersion: v1\nkind: Pod\nmetadata: {name: p1, namespace: default}\nspec:\n  containers: [{name: c, image: busybox, command: [sleep, "3600"]}]\n');
  const applied = await mustRun(['apply', '-f', podFile, '--kubeconfig', kubeconfig]);
  assert.match(applied.stdout, /pod\/p1 created/);
  const noPod = await meshlet(['lab', 'exec', '--name', labA, 'default/p9', '--', 'true']);
  assert.equal(noPod.code, 1);
  assert.match(noPod.stderr, /pod default\/p9 not found/);
  let podExec = await meshlet(['lab', 'exec', '--name', labA, 'default/p1', '--', 'ip', '-4', '-o', 'addr', 'show', 'eth0']);
  for (let i = 0; i < 100 && podExec.code !== 0; i++) {
    await new Promise((r) => setTimeout(r, 200));
    podExec = await meshlet(['lab', 'exec', '--name', labA, 'default/p1', '--', 'ip', '-4', '-o', 'addr', 'show', 'eth0']);
  }
  assert.equal(podExec.code, 0, podExec.stderr);
  assert.match(podExec.stdout, /inet 10\.244\./);

  await kubectlScenario(kubeconfig);

  const status = await mustRun(['lab', 'status', '--name', labA]);
  assert.match(status.stdout, /healthz 200/);
  assert.match(status.stdout, /node-1 .*Ready=True .*agent healthy/);
  assert.match(status.stdout, /node-2 .*Ready=True/);
  assert.doesNotMatch(status.stdout, /DEAD|MISSING/);
  // The lab's Redis keeps the cluster in memory only, and status says so (from the Redis itself).
  assert.match(status.stdout, /store: +redis in memory only/);
  const metrics = await getOverSocket(join(root, labA, 'node-1', 'health.sock'), '/metrics');
  assert.ok('code' in metrics && metrics.code === 200);
  assert.match(metrics.body, /meshlet_agent_heartbeats_total\{result="success"\} [1-9]/);
  assert.match(metrics.body, /process_cpu_seconds_total/);

  const again = await meshlet(['lab', 'up', '--nodes', '1', '--name', labA]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already exists.*lab down/);

  // A second lab side by side: its own namespaces, port and state.
  await upB;
  const { stdout: nodesB } = await execFileP(KUBECTL, ['--kubeconfig', join(root, labB, 'kubeconfig'), '--cache-dir', cacheDir, 'get', 'nodes']);
  assert.match(nodesB, /node-1\s+Ready/);
  assert.doesNotMatch(nodesB, /node-2/);
  const portA = JSON.parse(readFileSync(join(root, labA, 'state.json'), 'utf8')).api.port;
  const portB = JSON.parse(readFileSync(join(root, labB, 'state.json'), 'utf8')).api.port;
  assert.notEqual(portA, portB);
  const list = await mustRun(['lab', 'status']);
  assert.match(list.stdout, new RegExp(labA));
  assert.match(list.stdout, new RegExp(labB));

  const pidsA = recorded(labA);
  assert.equal(pidsA.filter((p) => p.pid !== undefined).length, 4, 'redis, server and two agents recorded');
  // Agents hold no store credentials: no Redis address or socket path in their command line or environment.
  const redisSocket = join(root, labA, 'redis.sock');
  const proc = (pid: number, file: string): string => readFileSync(`/proc/${pid}/${file}`, 'utf8').split('\0').join(' ');
  const server = pidsA.find((p) => p.role === 'server')!;
  assert.ok(proc(server.pid!, 'cmdline').includes(redisSocket), 'the server has it (so this check would see it)');
  const agents = pidsA.filter((p) => p.role.startsWith('agent '));
  assert.equal(agents.length, 2);
  for (const a of agents) {
    for (const file of ['cmdline', 'environ']) {
      const text = proc(a.pid!, file);
      assert.ok(text.includes('agent') || file === 'environ', `${a.role}: /proc/${a.pid}/cmdline is the agent's`);
      assert.ok(!text.includes(redisSocket) && !/redis/i.test(text), `${a.role}: /proc/${a.pid}/${file} names no Redis: ${text}`);
    }
  }
  assert.ok((await listNetns()).some((ns) => ns.startsWith(`ml-${labA}-p-`)), 'the pod has its namespace');
  const down = await mustRun(['lab', 'down', '--name', labA]);
  assert.match(down.stdout, /deleted network namespaces/);
  await assertGone(labA, pidsA);
  // The other lab is untouched.
  assert.ok((await listNetns()).includes(`ml-${labB}-n1`));
  assert.ok(recorded(labB).every(isAlive));

  const pidsB = recorded(labB);
  await mustRun(['lab', 'down', '--name', labB]);
  await assertGone(labB, pidsB);
});

test('after a crash (every lab process SIGKILLed), lab down from a fresh process removes everything; twice is fine', async () => {
  await mustRun(['lab', 'up', '--nodes', '1', '--name', labC]);
  const pids = recorded(labC);
  assert.ok(pids.length >= 3);
  for (const p of pids) if (p.pid !== undefined && isAlive(p)) process.kill(p.pid, 'SIGKILL');
  const down = await mustRun(['lab', 'down', '--name', labC]);
  assert.match(down.stdout, new RegExp(`ml-${labC}-n1`));
  await assertGone(labC, pids);
  const twice = await mustRun(['lab', 'down', '--name', labC]);
  assert.match(twice.stdout, /nothing to remove/);
});
