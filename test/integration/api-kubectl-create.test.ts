// Every `kubectl create` subcommand of the real kubectl v1.32, read from its
// own help: those whose kind meshlet serves create the object (sent as
// protobuf) with the fields the flags ask for; the others fail with the
// server's NotFound ("the server could not find the requested resource"),
// and create nothing. A subcommand this test does not know fails it, so a
// new kubectl (or a newly served kind) is noticed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureServingCert } from '../../src/api/tls.ts';
import { KUBECTL, runProcess, type RunResult } from '../helpers/run.ts';
import { startTestApiServer, type TestApiServer } from '../helpers/api-server.ts';

let api: TestApiServer;
let work: string;

function kubectl(args: string[]): Promise<RunResult> {
  return runProcess(KUBECTL, ['--kubeconfig', api.kubeconfigPath, '--cache-dir', join(work, 'cache'), ...args], { env: { ...process.env, HOME: work } });
}

async function getJson(path: string): Promise<Record<string, unknown>> {
  const r = await kubectl(['get', '--raw', path]);
  assert.equal(r.code, 0, `GET ${path}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** The subcommands a `kubectl create ... --help` lists under "Available Commands". */
async function subcommands(...path: string[]): Promise<string[]> {
  const r = await runProcess(KUBECTL, ['create', ...path, '--help'], { env: { ...process.env, HOME: work } });
  const block = r.stdout.split('Available Commands:')[1]?.split(/\n\s*\n/)[0] ?? '';
  return block.split('\n').map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);
}

type Check = (get: typeof getJson) => Promise<void>;
interface Served {
  args: string[];
  check: Check;
}

const spec = (o: Record<string, unknown>) => o.spec as Record<string, unknown>;
const servicePorts = (o: Record<string, unknown>) => spec(o).ports as { port: number; targetPort: number; nodePort?: number }[];

/** Subcommands whose kind meshlet serves → how to run one and what it must have created. */
const SERVED: Record<string, Served> = {
  configmap: {
    args: ['configmap', 'mlt-w3api-cm', '--from-literal=a=b'],
    check: async (get) => assert.deepEqual((await get('/api/v1/namespaces/default/configmaps/mlt-w3api-cm')).data, { a: 'b' }),
  },
  deployment: {
    args: ['deployment', 'mlt-w3api-web', '--image=nginx', '--replicas=3', '--port=8080'],
    check: async (get) => {
      const d = await get('/apis/apps/v1/namespaces/default/deployments/mlt-w3api-web');
      assert.equal(spec(d).replicas, 3);
      assert.deepEqual(spec(d).selector, { matchLabels: { app: 'mlt-w3api-web' } });
    },
  },
  cronjob: {
    args: ['cronjob', 'mlt-w3jobs-cj', '--image=busybox', '--schedule=*/5 * * * *'],
    check: async (get) => {
      const c = await get('/apis/batch/v1/namespaces/default/cronjobs/mlt-w3jobs-cj');
      assert.equal(spec(c).schedule, '*/5 * * * *');
      assert.equal(spec(c).concurrencyPolicy, 'Allow');
      assert.equal(spec(c).successfulJobsHistoryLimit, 3);
    },
  },
  poddisruptionbudget: {
    args: ['poddisruptionbudget', 'mlt-w4pdb-pdb', '--selector=app=web', '--min-available=1'],
    check: async (get) => {
      const p = await get('/apis/policy/v1/namespaces/default/poddisruptionbudgets/mlt-w4pdb-pdb');
      assert.equal(spec(p).minAvailable, 1);
      assert.deepEqual(spec(p).selector, { matchLabels: { app: 'web' } });
    },
  },
  job: {
    args: ['job', 'mlt-w3jobs-job', '--image=busybox'],
    check: async (get) => {
      const j = await get('/apis/batch/v1/namespaces/default/jobs/mlt-w3jobs-job');
      const uid = (j.metadata as { uid: string }).uid;
      assert.equal(spec(j).backoffLimit, 6);
      assert.equal(spec(j).completions, 1);
      assert.deepEqual(spec(j).selector, { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } });
    },
  },
  namespace: {
    args: ['namespace', 'mlt-w3api-ns'],
    check: async (get) => assert.equal(((await get('/api/v1/namespaces/mlt-w3api-ns')).status as { phase: string }).phase, 'Active'),
  },
  'service clusterip': {
    args: ['service', 'clusterip', 'mlt-w3api-c', '--tcp=80:8080'],
    check: async (get) => {
      const s = await get('/api/v1/namespaces/default/services/mlt-w3api-c');
      assert.equal(spec(s).type, 'ClusterIP');
      assert.match(String(spec(s).clusterIP), /^10\.96\./);
      assert.deepEqual(servicePorts(s).map((p) => [p.port, p.targetPort]), [[80, 8080]]);
    },
  },
  'service nodeport': {
    args: ['service', 'nodeport', 'mlt-w3api-n', '--tcp=81:8081'],
    check: async (get) => {
      const np = servicePorts(await get('/api/v1/namespaces/default/services/mlt-w3api-n'))[0].nodePort ?? 0;
      assert.ok(np >= 30000 && np <= 32767, `nodePort ${np}`);
    },
  },
  'service loadbalancer': {
    args: ['service', 'loadbalancer', 'mlt-w3api-l', '--tcp=82:8082'],
    check: async (get) => {
      const s = await get('/api/v1/namespaces/default/services/mlt-w3api-l');
      assert.equal(spec(s).type, 'LoadBalancer');
      assert.ok((servicePorts(s)[0].nodePort ?? 0) >= 30000);
    },
  },
  'service externalname': {
    args: ['service', 'externalname', 'mlt-w3api-e', '--external-name=example.org'],
    check: async (get) => {
      const s = await get('/api/v1/namespaces/default/services/mlt-w3api-e');
      assert.equal(spec(s).externalName, 'example.org');
      assert.equal(spec(s).clusterIP, undefined);
    },
  },
};

/** Subcommands whose kind meshlet does not serve → a run that must fail with NotFound. */
function unserved(certPath: string, keyPath: string): Record<string, string[]> {
  return {
    clusterrole: ['clusterrole', 'mlt-w3api-cr', '--verb=get', '--resource=pods'],
    clusterrolebinding: ['clusterrolebinding', 'mlt-w3api-crb', '--clusterrole=view', '--user=u'],
    ingress: ['ingress', 'mlt-w3api-ing', '--rule=example.org/=svc:80'],
    priorityclass: ['priorityclass', 'mlt-w3api-pc', '--value=1000'],
    quota: ['quota', 'mlt-w3api-q', '--hard=pods=2'],
    role: ['role', 'mlt-w3api-role', '--verb=get', '--resource=pods'],
    rolebinding: ['rolebinding', 'mlt-w3api-rb', '--clusterrole=view', '--user=u'],
    'secret docker-registry': ['secret', 'docker-registry', 'mlt-w3api-dr', '--docker-server=registry.example', '--docker-username=u', '--docker-password=p'],
    'secret generic': ['secret', 'generic', 'mlt-w3api-sg', '--from-literal=a=b'],
    'secret tls': ['secret', 'tls', 'mlt-w3api-st', `--cert=${certPath}`, `--key=${keyPath}`],
    serviceaccount: ['serviceaccount', 'mlt-w3api-sa'],
    token: ['token', 'default'],
  };
}

const NOT_FOUND = /the server could not find the requested resource|the server doesn't have a resource type|no matches for kind/;

describe('kubectl create, every subcommand', { concurrency: false }, () => {
  let cert: { certPath: string; keyPath: string };
  let all: string[];

  before(async () => {
    api = await startTestApiServer({ logLevel: 'silent' });
    work = mkdtempSync(join(tmpdir(), 'mlt-w3api-create-'));
    cert = ensureServingCert(join(work, 'tls'));
    const top = await subcommands();
    all = [];
    for (const c of top) {
      const nested = c === 'service' || c === 'secret' ? await subcommands(c) : [];
      if (nested.length > 0) all.push(...nested.map((n) => `${c} ${n}`));
      else all.push(c);
    }
  });
  after(async () => {
    await api?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('the help lists exactly the subcommands this test knows', () => {
    const known = [...Object.keys(SERVED), ...Object.keys(unserved('', ''))].sort();
    assert.deepEqual([...all].sort(), known);
  });

  test('each subcommand of a served kind creates it', async () => {
    for (const [name, { args, check }] of Object.entries(SERVED)) {
      const r = await kubectl(['create', ...args]);
      assert.equal(r.code, 0, `kubectl create ${name}: ${r.stderr}`);
      assert.match(r.stdout, /created/, name);
      await check(getJson);
    }
  });

  test('each subcommand of a kind meshlet does not serve fails with NotFound and creates nothing', async () => {
    for (const [name, args] of Object.entries(unserved(cert.certPath, cert.keyPath))) {
      const r = await kubectl(['create', ...args]);
      assert.notEqual(r.code, 0, `kubectl create ${name} should fail`);
      assert.match(r.stderr, NOT_FOUND, `kubectl create ${name}: ${r.stderr}`);
    }
    // Nothing of them reached the store.
    const names = Object.values(unserved('', '')).map((a) => a.find((x) => x.startsWith('mlt-w3api-'))).filter(Boolean);
    for (const gr of ['configmaps', 'services', 'pods', 'namespaces']) {
      const items = (await api.store.list(gr)).items.map((o) => o.metadata.name);
      for (const n of names) assert.ok(!items.includes(n), `${n} not stored as ${gr}`);
    }
  });
});
