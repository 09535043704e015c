// Real kubectl v1.32 against the meshlet API server.
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiRequest, startTestApiServer, type TestApiServer } from '../helpers/api-server.ts';

const KUBECTL = '/usr/bin/kubectl';
let api: TestApiServer;
let work: string;
const children = new Set<number>();

function kubectlArgs(args: string[]): string[] {
  return ['--kubeconfig', api.kubeconfigPath, '--cache-dir', join(work, 'cache'), ...args];
}

function kubectl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(KUBECTL, kubectlArgs(args), { env: { ...process.env, HOME: work }, timeout: 120_000 }, (err, stdout, stderr) => {
      if (child.pid) children.delete(child.pid);
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (child.pid) children.add(child.pid);
  });
}

async function ok(...args: string[]): Promise<string> {
  const r = await kubectl(...args);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

function manifest(name: string, text: string): string {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
}

const deploymentYaml = (image: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: ${image}
        ports:
        - containerPort: 80
`;

before(async () => {
  api = await startTestApiServer();
  work = mkdtempSync(join(tmpdir(), 'mlt-kubectl-'));
});
after(async () => {
  for (const pid of children) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await api?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('kubectl', () => {
  test('apply: created, unchanged, configured', async () => {
    const v1 = manifest('web-v1.yaml', deploymentYaml('nginx:1.27'));
    assert.match(await ok('apply', '-f', v1), /deployment\.apps\/web created/);
    assert.match(await ok('apply', '-f', v1), /deployment\.apps\/web unchanged/);
    const v2 = manifest('web-v2.yaml', deploymentYaml('nginx:1.28'));
    assert.match(await ok('apply', '-f', v2), /deployment\.apps\/web configured/);
    const got = JSON.parse(await ok('get', 'deployment', 'web', '-o', 'json'));
    assert.equal(got.spec.template.spec.containers[0].image, 'nginx:1.28');
    assert.equal(got.spec.template.spec.containers[0].ports[0].containerPort, 80);
    assert.equal(got.metadata.generation, 2);
  });

  test('apply --server-side', async () => {
    const cm = manifest('cm.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  k: v\n');
    assert.match(await ok('apply', '--server-side', '-f', cm), /configmap\/ssa serverside-applied/);
    const cm2 = manifest('cm2.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  k: v2\n');
    assert.match(await ok('apply', '--server-side', '-f', cm2), /configmap\/ssa serverside-applied/);
    assert.equal(JSON.parse(await ok('get', 'configmap', 'ssa', '-o', 'json')).data.k, 'v2');
  });

  test('scale deployment', async () => {
    assert.match(await ok('scale', 'deployment', 'web', '--replicas=5'), /deployment\.apps\/web scaled/);
    assert.equal(JSON.parse(await ok('get', 'deploy', 'web', '-o', 'json')).spec.replicas, 5);
  });

  test('get pods -o wide shows IP and NODE', async () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'wide' }, spec: { nodeName: 'node-7', containers: [{ name: 'c', image: 'busybox' }] } };
    assert.equal((await apiRequest(api, 'POST', '/api/v1/namespaces/default/pods', { body: pod })).status, 201);
    const st = await apiRequest(api, 'PATCH', '/api/v1/namespaces/default/pods/wide/status', {
      body: { status: { phase: 'Running', podIP: '10.244.1.9', podIPs: [{ ip: '10.244.1.9' }] } },
      contentType: 'application/merge-patch+json',
    });
    assert.equal(st.status, 200);
    const out = await ok('get', 'pods', '-o', 'wide');
    const [header, ...rows] = out.trim().split('\n');
    assert.match(header, /NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE/);
    const row = rows.find((r) => r.startsWith('wide '));
    assert.ok(row, out);
    assert.match(row!, /Running/);
    assert.match(row!, /10\.244\.1\.9\s+node-7/);
  });

  test('get nodes, ns, svc,deploy', async () => {
    const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-7' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } };
    assert.equal((await apiRequest(api, 'POST', '/api/v1/nodes', { body: node })).status, 201);
    const nodes = await ok('get', 'nodes');
    assert.match(nodes, /NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION/);
    assert.match(nodes, /node-7\s+Ready/);
    const ns = await ok('get', 'ns');
    for (const n of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) assert.match(ns, new RegExp(`${n}\\s+Active`));
    const svc = manifest('svc.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: websvc\nspec:\n  clusterIP: 10.96.0.20\n  selector:\n    app: web\n  ports:\n  - port: 80\n');
    assert.match(await ok('apply', '-f', svc), /service\/websvc created/);
    const both = await ok('get', 'svc,deploy');
    assert.match(both, /service\/websvc\s+ClusterIP\s+10\.96\.0\.20/);
    assert.match(both, /deployment\.apps\/web\s+/);
  });

  test('get -w sees a change', async () => {
    await ok('apply', '-f', manifest('watched.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: watched\ndata:\n  a: "1"\n'));
    const child = spawn(KUBECTL, kubectlArgs(['get', 'configmap', 'watched', '-w']), { env: { ...process.env, HOME: work }, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid) children.add(child.pid);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      let out = '';
      let onLines!: () => void;
      let lines = new Promise<void>((r) => (onLines = r));
      child.stdout.on('data', (c) => {
        out += c;
        onLines();
      });
      const waitFor = async (pred: () => boolean) => {
        while (!pred()) {
          await lines;
          lines = new Promise<void>((r) => (onLines = r));
        }
      };
      // Whole lines only: a chunk may end in the middle of a row.
      const rows = () => out.split('\n').slice(0, -1).filter((l) => l.startsWith('watched'));
      const rowCount = () => rows().length;
      await waitFor(() => rowCount() >= 1);
      assert.match(out, /watched\s+1\s+/);
      const patched = await apiRequest(api, 'PATCH', '/api/v1/namespaces/default/configmaps/watched', {
        body: { data: { a: '1', b: '2' } },
        contentType: 'application/merge-patch+json',
      });
      assert.equal(patched.status, 200);
      await waitFor(() => rowCount() >= 2);
      assert.match(rows()[1], /watched\s+2\s+/);
    } finally {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      if (child.pid) children.delete(child.pid);
    }
  });

  test('delete returns once the object is gone (also after a graceful wait)', async () => {
    await ok('create', '-f', manifest('todelete.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: todelete\n'));
    assert.match(await ok('delete', 'configmap', 'todelete'), /configmap "todelete" deleted/);
    assert.equal((await apiRequest(api, 'GET', '/api/v1/namespaces/default/configmaps/todelete')).status, 404);

    // A pod on a node is deleted gracefully: kubectl waits until the node agent's grace-0 delete.
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'slow' }, spec: { nodeName: 'node-7', containers: [{ name: 'c', image: 'busybox' }] } };
    assert.equal((await apiRequest(api, 'POST', '/api/v1/namespaces/default/pods', { body: pod })).status, 201);
    const del = kubectl('delete', 'pod', 'slow');
    for (;;) {
      const r = await apiRequest(api, 'GET', '/api/v1/namespaces/default/pods/slow');
      if (r.body.metadata?.deletionTimestamp) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    const agent = await apiRequest(api, 'DELETE', '/api/v1/namespaces/default/pods/slow', { body: { gracePeriodSeconds: 0 } });
    assert.equal(agent.status, 200);
    const r = await del;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /pod "slow" deleted/);
  });

  test('errors come back as kubectl prints them', async () => {
    const r = await kubectl('get', 'configmap', 'absent');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Error from server \(NotFound\): configmaps "absent" not found/);
  });
});
