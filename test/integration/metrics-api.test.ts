// metrics.k8s.io/v1beta1 against a real API server whose Nodes' kubelet
// endpoints are the real kubelet server (src/agent/kubelet-server.ts) given a
// usage provider with set figures, and real kubectl v1.32 `top`. Two nodes
// answer; one hangs (accepts, never answers), one refuses connections, one is
// NotReady: those three are left out, and the NotReady one is never asked.
// A kubelet's figures count only for pods bound to it that the API still has
// (by uid). Node credentials read no metrics.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pino } from 'pino';
import { apiRequest, startTestApiServer, type TestApiServer } from '../helpers/api-server.ts';
import { KUBECTL, runProcess } from '../helpers/run.ts';
import { createClient } from '../../src/client/http-client.ts';
import type { ApiClient } from '../../src/client/types.ts';
import { startKubeletServer, type KubeletServer } from '../../src/agent/kubelet-server.ts';
import type { KubeObject } from '../../src/core/types.ts';
import type { ContainerUsage, UsageSummary } from '../../src/core/usage-summary.ts';
import { KUBELET_ENDPOINT_ANNOTATION, POD_METRICS } from '../../src/core/well-known.ts';

const NODES = { a: 'w4met-a', b: 'w4met-b', hung: 'w4met-hung', down: 'w4met-down', notReady: 'w4met-notready' } as const;
const NS = 'w4met-ns';
const GI = 1024 ** 3;
const MI = 1024 ** 2;

let api: TestApiServer;
let admin: ApiClient;
let work: string;
const kubelets: KubeletServer[] = [];
let hung: Server;
const hungSockets = new Set<Socket>();
let notReadyAsked = 0;
const uids = new Map<string, string>();

/** Figures per pod: container → [nanocores, bytes]. */
const FIGURES: Record<string, Record<string, [number, number]>> = {
  'default/web-1': { web: [250_000_000, 64 * MI], side: [12_345_678, 10 * MI + 512] },
  'default/db-1': { db: [1_500_000_000, 512 * MI] },
  [`${NS}/web-2`]: { web: [40_000_000, 32 * MI] },
};
const NODE_FIGURES: Record<string, [number, number]> = { [NODES.a]: [1_750_000_123, 3 * GI], [NODES.b]: [500_000_000, 2 * GI + 4096] };

const at = new Date(Date.UTC(2026, 11, 2, 0, 0, 5)).toISOString();
const sample = (cpu: number, mem: number) => ({ timestamp: at, windowSeconds: 10.062, cpuNanoCores: cpu, memoryWorkingSetBytes: mem });

function podUsage(key: string, uid: string) {
  const [namespace, name] = key.split('/');
  const containers: ContainerUsage[] = Object.entries(FIGURES[key]).map(([c, [cpu, mem]]) => ({ name: c, ...sample(cpu, mem) }));
  const sum = (i: 0 | 1) => Object.values(FIGURES[key]).reduce((s, f) => s + f[i], 0);
  return { namespace, name, uid, ...sample(sum(0), sum(1)), containers };
}

function summaryOf(node: string): UsageSummary {
  const [cpu, mem] = NODE_FIGURES[node];
  const pods = node === NODES.a
    ? [
        podUsage('default/web-1', uids.get('default/web-1')!),
        podUsage('default/db-1', uids.get('default/db-1')!),
        // A pod the API no longer has, and a claim on a pod bound to another node: neither counts.
        { ...podUsage('default/db-1', 'uid-of-a-deleted-pod'), name: 'gone' },
        podUsage(`${NS}/web-2`, uids.get(`${NS}/web-2`)!),
      ]
    : [podUsage(`${NS}/web-2`, uids.get(`${NS}/web-2`)!)];
  return { node: { nodeName: node, ...sample(cpu, mem) }, pods };
}

async function kubelet(node: string, usage: () => UsageSummary): Promise<string> {
  const socketPath = join(work, `${node}.sock`);
  kubelets.push(
    await startKubeletServer({
      listen: { socketPath },
      token: api.nodeTokens.get(node)!,
      readLogs: () => Readable.from([]),
      usage,
      logger: pino({ level: 'silent' }),
    }),
  );
  return `unix://${socketPath}`;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function addNode(name: string, endpoint: string, ready: boolean): Promise<void> {
  await admin.create('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'w4met/pool': name === NODES.b ? 'blue' : 'green' }, annotations: { [KUBELET_ENDPOINT_ANNOTATION]: endpoint } } });
  const resources = { cpu: '4', memory: '8Gi', pods: '110' };
  await admin.patch('nodes', '', name, { status: { capacity: resources, allocatable: resources, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', reason: 'KubeletReady' }] } }, 'merge', { subresource: 'status' });
}

async function addPod(namespace: string, name: string, node: string, app: string, containers: string[]): Promise<void> {
  const pod: KubeObject = {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels: { app } },
    spec: { nodeName: node, containers: containers.map((c) => ({ name: c, image: 'busybox' })) },
  };
  const created = await admin.create('pods', pod);
  uids.set(`${namespace}/${name}`, created.metadata.uid!);
}

async function kubectl(...args: string[]): Promise<string> {
  const r = await runProcess(KUBECTL, ['--kubeconfig', api.kubeconfigPath, '--cache-dir', join(work, 'cache'), ...args], { env: { ...process.env, HOME: work }, timeoutMs: 60_000 });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** kubectl's table as rows of cells (header first). */
function table(text: string): string[][] {
  return text.trim().split('\n').map((l) => l.trim().split(/\s+/));
}

const milli = (nano: number) => `${Math.ceil(nano / 1e6)}m`;
const mebi = (bytes: number) => `${Math.floor(bytes / MI)}Mi`;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'mlt-w4met-'));
  api = await startTestApiServer({ nodes: Object.values(NODES) });
  admin = createClient({ server: api.url, token: api.token });
  await admin.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  await addPod('default', 'web-1', NODES.a, 'web', ['web', 'side']);
  await addPod('default', 'db-1', NODES.a, 'db', ['db']);
  await addPod(NS, 'web-2', NODES.b, 'web', ['web']);
  await addPod('default', 'stuck-1', NODES.hung, 'web', ['web']);
  await addPod('default', 'idle-1', NODES.notReady, 'web', ['web']);
  hung = createServer((socket) => {
    hungSockets.add(socket);
    socket.on('close', () => hungSockets.delete(socket));
  });
  await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
  await addNode(NODES.a, await kubelet(NODES.a, () => summaryOf(NODES.a)), true);
  await addNode(NODES.b, await kubelet(NODES.b, () => summaryOf(NODES.b)), true);
  await addNode(NODES.hung, `http://127.0.0.1:${(hung.address() as { port: number }).port}`, true);
  await addNode(NODES.down, `http://127.0.0.1:${await freePort()}`, true);
  await addNode(NODES.notReady, await kubelet(NODES.notReady, () => {
    notReadyAsked++;
    return summaryOf(NODES.a);
  }), false);
});

after(async () => {
  admin?.close();
  for (const s of hungSockets) s.destroy();
  await new Promise<void>((resolve) => (hung ? hung.close(() => resolve()) : resolve()));
  for (const k of kubelets) await k.close();
  await api?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('NodeMetrics and PodMetrics carry the kubelets\' figures as metrics-server formats them', async () => {
  const node = await apiRequest(api, 'GET', `/apis/metrics.k8s.io/v1beta1/nodes/${NODES.a}`);
  assert.equal(node.status, 200, JSON.stringify(node.body));
  assert.equal(node.body.kind, 'NodeMetrics');
  assert.equal(node.body.apiVersion, 'metrics.k8s.io/v1beta1');
  assert.deepEqual(node.body.usage, { cpu: '1750000123n', memory: '3Gi' });
  assert.equal(node.body.window, '10.062s');
  assert.equal(node.body.timestamp, '2026-12-02T00:00:05Z');
  assert.deepEqual(node.body.metadata.labels, { 'w4met/pool': 'green' });
  const pod = await apiRequest(api, 'GET', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/web-1');
  assert.equal(pod.status, 200, JSON.stringify(pod.body));
  assert.deepEqual(pod.body.containers, [
    { name: 'web', usage: { cpu: '250m', memory: '64Mi' } },
    { name: 'side', usage: { cpu: '12345678n', memory: `${10 * MI + 512}` } },
  ]);
  const all = await apiRequest(api, 'GET', '/apis/metrics.k8s.io/v1beta1/pods');
  assert.equal(all.body.kind, 'PodMetricsList');
  assert.deepEqual(all.body.items.map((p: KubeObject) => `${p.metadata.namespace}/${p.metadata.name}`), ['default/db-1', 'default/web-1', `${NS}/web-2`]);
  const selected = await apiRequest(api, 'GET', `/apis/metrics.k8s.io/v1beta1/nodes?labelSelector=${encodeURIComponent('w4met/pool=blue')}`);
  assert.deepEqual(selected.body.items.map((n: KubeObject) => n.metadata.name), [NODES.b]);
  const byField = await apiRequest(api, 'GET', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods?fieldSelector=metadata.name%3Ddb-1');
  assert.deepEqual(byField.body.items.map((p: KubeObject) => p.metadata.name), ['db-1']);
});

test('nodes that hang, refuse or are NotReady are left out, and their pods have no metrics', async () => {
  for (const name of [NODES.hung, NODES.down, NODES.notReady]) {
    const r = await apiRequest(api, 'GET', `/apis/metrics.k8s.io/v1beta1/nodes/${name}`);
    assert.equal(r.status, 404, name);
    assert.equal(r.body.message, `nodemetrics.metrics.k8s.io "${name}" not found`);
  }
  const list = await apiRequest(api, 'GET', '/apis/metrics.k8s.io/v1beta1/nodes');
  assert.deepEqual(list.body.items.map((n: KubeObject) => n.metadata.name), [NODES.a, NODES.b]);
  const stuck = await apiRequest(api, 'GET', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/stuck-1');
  assert.equal(stuck.status, 404);
  assert.equal(stuck.body.message, 'podmetrics.metrics.k8s.io "default/stuck-1" not found');
  assert.equal(notReadyAsked, 0, 'the NotReady node\'s kubelet is never asked');
  // Once Ready it is asked; its provider answers with another node's summary, which is refused.
  const ready = (status: string) => admin.patch('nodes', '', NODES.notReady, { status: { conditions: [{ type: 'Ready', status }] } }, 'merge', { subresource: 'status' });
  await ready('True');
  assert.equal((await apiRequest(api, 'GET', `/apis/metrics.k8s.io/v1beta1/nodes/${NODES.notReady}`)).status, 404);
  assert.ok(notReadyAsked > 0, 'a Ready node is asked');
  await ready('False');
  const metrics = await apiRequest(api, 'GET', '/metrics');
  const text = String(metrics.body);
  for (const name of [NODES.hung, NODES.down, NODES.notReady]) assert.match(text, new RegExp(`apiserver_kubelet_usage_scrape_errors_total\\{node="${name}"\\} [1-9]`));
  assert.match(text, /apiserver_kubelet_usage_scrapes_total\{result="success"\} [1-9]/);
  assert.match(text, /apiserver_metrics_nodes_left_out_total\{reason="not-ready"\} [1-9]/);
  assert.match(text, /apiserver_kubelet_usage_scrape_duration_seconds_count [1-9]/);
});

test('kubectl top nodes shows the answering nodes with percentages of allocatable', async () => {
  const rows = table(await kubectl('top', 'nodes'));
  assert.deepEqual(rows[0], ['NAME', 'CPU(cores)', 'CPU(%)', 'MEMORY(bytes)', 'MEMORY(%)']);
  const byName = new Map(rows.slice(1).map((r) => [r[0], r.slice(1)]));
  for (const node of [NODES.a, NODES.b]) {
    const [cpu, mem] = NODE_FIGURES[node];
    assert.deepEqual(byName.get(node), [milli(cpu), `${Math.floor((Math.ceil(cpu / 1e6) * 100) / 4000)}%`, mebi(mem), `${Math.floor((mem * 100) / (8 * GI))}%`]);
  }
  for (const node of [NODES.hung, NODES.down, NODES.notReady]) {
    const row = byName.get(node);
    assert.ok(row === undefined || row.every((c) => c === '<unknown>'), `${node}: no figures (${row?.join(' ')})`);
  }
  const sorted = table(await kubectl('top', 'nodes', '--sort-by=memory', '--no-headers')).map((r) => r[0]).filter((n) => n === NODES.a || n === NODES.b);
  assert.deepEqual(sorted, [NODES.a, NODES.b]);
});

test('kubectl top pods: -A --containers, -n, -l and --sort-by', async () => {
  const rows = table(await kubectl('top', 'pods', '-A', '--containers'));
  assert.deepEqual(rows[0], ['NAMESPACE', 'POD', 'NAME', 'CPU(cores)', 'MEMORY(bytes)']);
  const expected = Object.entries(FIGURES).flatMap(([key, containers]) =>
    Object.entries(containers).map(([c, [cpu, mem]]) => [...key.split('/'), c, milli(cpu), mebi(mem)].join(' ')),
  );
  assert.deepEqual(rows.slice(1).map((r) => r.join(' ')).sort(), expected.sort());

  const inNs = table(await kubectl('top', 'pods', '-n', NS));
  assert.deepEqual(inNs.slice(1), [['web-2', milli(40_000_000), mebi(32 * MI)]]);

  const web = table(await kubectl('top', 'pods', '-A', '-l', 'app=web', '--no-headers'));
  assert.deepEqual(web.map((r) => `${r[0]}/${r[1]}`).sort(), ['default/web-1', `${NS}/web-2`]);
  const webTotal = FIGURES['default/web-1'].web[0] + FIGURES['default/web-1'].side[0];
  assert.equal(web.find((r) => r[1] === 'web-1')![2], `${Math.ceil(FIGURES['default/web-1'].web[0] / 1e6) + Math.ceil(FIGURES['default/web-1'].side[0] / 1e6)}m`, `sum of containers (${webTotal} n)`);

  const byCpu = table(await kubectl('top', 'pods', '--sort-by=cpu', '--no-headers')).map((r) => r[0]);
  assert.deepEqual(byCpu, ['db-1', 'web-1']);
  const byMemory = table(await kubectl('top', 'pods', '-A', '--sort-by=memory', '--no-headers')).map((r) => r[1]);
  assert.deepEqual(byMemory, ['db-1', 'web-1', 'web-2']);
});

test('a node token reads no metrics; the admin client reads them through src/client', async () => {
  const token = api.nodeTokens.get(NODES.a)!;
  for (const path of ['/apis/metrics.k8s.io/v1beta1/nodes', `/apis/metrics.k8s.io/v1beta1/nodes/${NODES.a}`, '/apis/metrics.k8s.io/v1beta1/pods', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/web-1']) {
    const r = await apiRequest(api, 'GET', path, { token });
    assert.equal(r.status, 403, path);
    assert.equal(r.body.reason, 'Forbidden');
  }
  // The same token still reads pods (what a kubelet needs), so the refusal is about metrics only.
  assert.equal((await apiRequest(api, 'GET', '/api/v1/namespaces/default/pods', { token })).status, 200);
  const listed = await admin.list(POD_METRICS, { namespace: 'default', labelSelector: 'app=db' });
  assert.deepEqual(listed.items.map((p) => [p.kind, p.metadata.name]), [['PodMetrics', 'db-1']]);
  const writes = await apiRequest(api, 'POST', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods', { body: { metadata: { name: 'x' } } });
  assert.equal(writes.status, 405);
  const watch = await apiRequest(api, 'GET', '/apis/metrics.k8s.io/v1beta1/pods?watch=true');
  assert.equal(watch.status, 405);
});
