// Real kubectl v1.32 where it sends protobuf bodies or reads OpenAPI and
// aggregated discovery, and a second real client (python3-kubernetes) for
// watches: issue 10 §1-3 and §5.
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestApiServer, type TestApiServer } from '../helpers/api-server.ts';
import { KUBECTL, runProcess, type RunResult } from '../helpers/run.ts';
import { decodeKubeProtobuf } from '../../src/api/protobuf/codec.ts';

let api: TestApiServer;
let work: string;

function kubectl(args: string[], input?: string, cacheDir = join(work, 'cache')): Promise<RunResult> {
  return runProcess(KUBECTL, ['--kubeconfig', api.kubeconfigPath, '--cache-dir', cacheDir, ...args], { env: { ...process.env, HOME: work }, input });
}

async function ok(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

async function getJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await ok(['get', '--raw', path])) as Record<string, unknown>;
}

describe('kubectl: protobuf bodies, OpenAPI, aggregated discovery', { concurrency: false }, () => {
  before(async () => {
    api = await startTestApiServer({ logLevel: 'silent' });
    work = mkdtempSync(join(tmpdir(), 'mlt-protobuf-kubectl-'));
  });
  after(async () => {
    await api?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  // Every `kubectl create <subcommand>` whose kind meshlet serves. All send protobuf.
  test('kubectl create configmap, deployment, namespace, service clusterip/nodeport/externalname/loadbalancer', async () => {
    await ok(['create', 'configmap', 'cm1', '--from-literal=a=b', '--from-literal=empty=']);
    const cm = await getJson('/api/v1/namespaces/default/configmaps/cm1');
    assert.deepEqual(cm.data, { a: 'b', empty: '' });

    await ok(['create', 'deployment', 'web', '--image=nginx', '--replicas=2', '--port=8080']);
    const deploy = await getJson('/apis/apps/v1/namespaces/default/deployments/web');
    const spec = deploy.spec as { replicas: number; template: { spec: { containers: { image: string; ports: { containerPort: number }[]; resources: unknown }[] } } };
    assert.equal(spec.replicas, 2);
    assert.equal(spec.template.spec.containers[0].image, 'nginx');
    assert.equal(spec.template.spec.containers[0].ports[0].containerPort, 8080);
    assert.deepEqual(spec.template.spec.containers[0].resources, {});
    // The shape upstream serves: a new Deployment has `status: {}`.
    assert.deepEqual(deploy.status, {});

    await ok(['create', 'namespace', 'mlt-protobuf-ns']);
    assert.equal((await getJson('/api/v1/namespaces/mlt-protobuf-ns')).kind, 'Namespace');

    await ok(['create', 'service', 'clusterip', 'svc-c', '--tcp=80:8080']);
    const svc = await getJson('/api/v1/namespaces/default/services/svc-c');
    const ports = (svc.spec as { ports: { port: number; targetPort: number }[] }).ports;
    assert.deepEqual([ports[0].port, ports[0].targetPort], [80, 8080]);
    await ok(['create', 'service', 'nodeport', 'svc-n', '--tcp=81:8081']);
    assert.equal(((await getJson('/api/v1/namespaces/default/services/svc-n')).spec as { type: string }).type, 'NodePort');
    await ok(['create', 'service', 'externalname', 'svc-e', '--external-name=example.org']);
    assert.equal(((await getJson('/api/v1/namespaces/default/services/svc-e')).spec as { externalName: string }).externalName, 'example.org');
    const lb = await kubectl(['create', 'service', 'loadbalancer', 'svc-l', '--tcp=82:8082']);
    assert.equal(lb.code, 0, lb.stderr);
  });

  test('a protobuf body that does not decode is a 400 with a clear message', async () => {
    const res = await fetch(`${api.url}/api/v1/namespaces/default/configmaps`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/vnd.kubernetes.protobuf' },
      body: Buffer.from('k8s\u0000\u0012\u00ff', 'binary'),
    });
    assert.equal(res.status, 400);
    const status = (await res.json()) as { message: string; reason: string };
    assert.equal(status.reason, 'BadRequest');
    assert.match(status.message, /protobuf request body could not be decoded/);
  });

  test('a client that accepts only protobuf gets protobuf, errors included', async () => {
    const headers = { authorization: `Bearer ${api.token}`, accept: 'application/vnd.kubernetes.protobuf' };
    const res = await fetch(`${api.url}/api/v1/namespaces/default/configmaps/cm1`, { headers });
    assert.equal(res.headers.get('content-type'), 'application/vnd.kubernetes.protobuf');
    const decoded = decodeKubeProtobuf(Buffer.from(await res.arrayBuffer()));
    assert.deepEqual(decoded, await getJson('/api/v1/namespaces/default/configmaps/cm1'));
    const missing = await fetch(`${api.url}/api/v1/namespaces/default/configmaps/absent`, { headers });
    assert.equal(missing.status, 404);
    const status = decodeKubeProtobuf(Buffer.from(await missing.arrayBuffer()));
    assert.equal(status.kind, 'Status');
    assert.equal(status.reason, 'NotFound');
  });

  test('kubectl explain prints fields and their types', async () => {
    const containers = await ok(['explain', 'pod.spec.containers']);
    assert.match(containers, /FIELDS:/);
    assert.match(containers, /image\s+<string>/);
    assert.match(containers, /ports\s+<\[\]ContainerPort>/);
    assert.match(containers, /resources\s+<ResourceRequirements>/);
    const strategy = await ok(['explain', 'deployment.spec.strategy']);
    assert.match(strategy, /rollingUpdate\s+<RollingUpdateDeployment>/);
    assert.match(strategy, /type\s+<string>/);
    const ingress = await ok(['explain', 'networkpolicy.spec.ingress']);
    assert.match(ingress, /from\s+<\[\]NetworkPolicyPeer>/);
    assert.match(ingress, /ports\s+<\[\]NetworkPolicyPort>/);
  });

  test('get -o yaml | apply -f - and create -f of a kind: List', async () => {
    const listed = await ok(['get', 'configmaps,deployments,services', '-o', 'yaml']);
    assert.match(listed, /kind: List/);
    const applied = await ok(['apply', '-f', '-'], listed);
    assert.match(applied, /configmap\/cm1 (configured|unchanged)/);
    const list = join(work, 'list.yaml');
    writeFileSync(
      list,
      `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: from-list-1}
  data: {k: v}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: from-list-2}
`,
    );
    const created = await ok(['create', '-f', list]);
    assert.match(created, /configmap\/from-list-1 created/);
    assert.match(created, /configmap\/from-list-2 created/);
  });

  test('apply --validate=strict reports a misspelt field, at any depth', async () => {
    const path = join(work, 'bad.yaml');
    writeFileSync(
      path,
      `apiVersion: apps/v1
kind: Deployment
metadata: {name: misspelt}
spec:
  selector: {matchLabels: {app: m}}
  template:
    metadata: {labels: {app: m}}
    spec:
      containers:
      - name: m
        image: busybox
        imagePullPolcy: Always
`,
    );
    const r = await kubectl(['apply', '--validate=strict', '-f', path]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unknown field "spec\.template\.spec\.containers\[0\]\.imagePullPolcy"/);
    // The same as a List item is caught by kubectl's own validation against /openapi/v2.
    const listPath = join(work, 'bad-list.yaml');
    writeFileSync(listPath, `apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: bad-in-list}\n  dta: {a: b}\n`);
    const l = await kubectl(['apply', '--validate=strict', '-f', listPath]);
    assert.notEqual(l.code, 0);
    assert.match(l.stderr, /dta/);
  });

  test('discovery: aggregated documents with the exact Content-Type; kubectl needs only /api and /apis', async () => {
    const res = await fetch(`${api.url}/apis`, {
      headers: { authorization: `Bearer ${api.token}`, accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' },
    });
    assert.equal(res.headers.get('content-type'), 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    const body = (await res.json()) as { kind: string; items: { metadata: { name: string } }[] };
    assert.equal(body.kind, 'APIGroupDiscoveryList');
    assert.ok(body.items.some((g) => g.metadata.name === 'apps'));
    const plain = await fetch(`${api.url}/apis`, { headers: { authorization: `Bearer ${api.token}`, accept: 'application/json' } });
    assert.equal(((await plain.json()) as { kind: string }).kind, 'APIGroupList');

    // With a fresh cache, kubectl -v=6 logs its requests: no per-group-version discovery.
    const r = await kubectl(['get', 'deployments', '-v=6'], undefined, join(work, 'fresh-cache'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /GET https:\/\/[^ /]+\/apis\?timeout=\S+ 200/);
    assert.doesNotMatch(r.stderr, /GET https:\/\/[^ /]+\/apis\/apps\/v1\?timeout/);
    assert.doesNotMatch(r.stderr, /GET https:\/\/[^ /]+\/api\/v1\?timeout/);
  });

  test('?watch=True (the Python client) watches; python3-kubernetes watches', async () => {
    const ac = new AbortController();
    const res = await fetch(`${api.url}/api/v1/namespaces/default/configmaps?watch=True`, { headers: { authorization: `Bearer ${api.token}` }, signal: ac.signal });
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    ac.abort();
    assert.equal(JSON.parse(first.split('\n')[0]).type, 'ADDED');

    const script = `
import sys
from kubernetes import client, config, watch
config.load_kube_config(config_file=sys.argv[1])
v1 = client.CoreV1Api()
names = []
for ev in watch.Watch().stream(v1.list_namespaced_config_map, 'default', timeout_seconds=5):
    names.append(ev['type'] + ' ' + ev['object'].metadata.name)
    if ev['object'].metadata.name == 'cm1':
        break
print('\\n'.join(names))
`;
    const py = await runProcess('/usr/bin/python3', ['-c', script, api.kubeconfigPath], { env: { ...process.env, HOME: work } });
    assert.equal(py.code, 0, py.stderr);
    assert.match(py.stdout, /ADDED cm1/);
  });
});
