// default/kubernetes in a 2-node lab (root): the server creates the Service at
// the Service CIDR's first address with its Endpoints and EndpointSlice naming
// the address it advertises on the lab's underlay; a pod reaches the API
// server through the ClusterIP and through the name kubernetes.default.svc
// (cluster DNS), with curl over https; the kubelet gives pods the Service
// environment variables.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBenchLab, waitRunning, type BenchLab } from '../../bench/lab-harness.ts';
import { API_UNDERLAY_IP, API_UNDERLAY_PORT } from '../../src/lab/plan.ts';
import type { KubeObject } from '../../src/core/types.ts';

const execFileP = promisify(execFile);
let lab: BenchLab;
let client: KubeObject;

async function inPod(pod: KubeObject, argv: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const { stdout } = await execFileP('ip', ['netns', 'exec', lab.podNetns(pod), ...argv], { timeout: 15_000 });
    return { ok: true, out: stdout };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, out: `${e.stdout ?? ''}${e.stderr ?? e.message}` };
  }
}

/** Polls until `ok` holds for what `probe` returns (the proxies program within a sync or two); returns the last result. */
async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (ok(v) || Date.now() > end) return v;
    await sleep(200);
  }
}

before(async () => {
  assert.equal(process.getuid?.(), 0, 'the kubernetes Service lab test needs root');
  lab = await startBenchLab('ksv', 2);
  // A Service that exists before the pod starts: its variables must be in the pod's environment.
  await lab.client.create('services', {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'web-db', namespace: 'default' },
    spec: { selector: { app: 'db' }, ports: [{ name: 'sql', protocol: 'TCP', port: 5432, targetPort: 5432 }, { name: 'stats', protocol: 'UDP', port: 9000 }] },
  });
  await lab.client.create('pods', {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'c1', namespace: 'default' },
    spec: {
      nodeName: 'node-2', terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image: 'host', command: ['sh', '-c', 'env | sort; exec sleep 3600'], env: [{ name: 'WEB_DB_SERVICE_PORT', value: 'mine' }] }],
    },
  });
  client = await waitRunning(lab.client, 'default', 'c1');
});

after(async () => {
  await lab?.down();
});

test('the server creates default/kubernetes at the first address with endpoints naming its advertised address', async () => {
  const svc = (await lab.client.get('services', 'default', 'kubernetes'))!;
  const spec = svc.spec as { clusterIP: string; selector?: unknown; ports: { name: string; port: number; targetPort: number }[] };
  assert.equal(spec.clusterIP, '10.96.0.1');
  assert.equal(spec.selector, undefined);
  assert.deepEqual(spec.ports.map((p) => [p.name, p.port, p.targetPort]), [['https', 443, API_UNDERLAY_PORT]]);
  const eps = (await lab.client.get('endpoints', 'default', 'kubernetes'))!;
  assert.deepEqual(eps.subsets, [{ addresses: [{ ip: API_UNDERLAY_IP }], ports: [{ name: 'https', port: API_UNDERLAY_PORT, protocol: 'TCP' }] }]);
  const slice = (await lab.client.get('endpointslices.discovery.k8s.io', 'default', 'kubernetes'))!;
  assert.equal(slice.metadata.labels?.['kubernetes.io/service-name'], 'kubernetes');
  assert.deepEqual((slice.endpoints as { addresses: string[] }[]).map((e) => e.addresses), [[API_UNDERLAY_IP]]);
});

test('a pod reaches the API server through the ClusterIP and through kubernetes.default.svc', async () => {
  const byIp = await until(() => inPod(client, ['curl', '-sk', '--max-time', '5', 'https://10.96.0.1/version']), (r) => r.ok);
  assert.ok(byIp.ok, byIp.out);
  assert.match(JSON.parse(byIp.out).gitVersion as string, /^v\d/);
  const byName = await until(() => inPod(client, ['curl', '-sk', '--max-time', '5', 'https://kubernetes.default.svc/healthz']), (r) => r.ok);
  assert.deepEqual(byName, { ok: true, out: 'ok' });
  // Without -k: the server's certificate names the Service, so a pod that trusts it verifies it.
  const ca = `${lab.plan.serverDataDir}/pki/apiserver.crt`;
  const verified = await inPod(client, ['curl', '-s', '--max-time', '5', '--cacert', ca, 'https://kubernetes.default.svc.cluster.local/healthz']);
  assert.deepEqual(verified, { ok: true, out: 'ok' });
});

test('the pod has the Service environment variables; its own env wins', async () => {
  const env = new Map<string, string>();
  const log = await until(async () => {
    const { stdout } = await execFileP('kubectl', ['--kubeconfig', lab.plan.kubeconfig, 'logs', 'c1']).catch(() => ({ stdout: '' }));
    return stdout;
  }, (s) => s.includes('KUBERNETES_SERVICE_HOST='));
  for (const line of log.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const db = ((await lab.client.get('services', 'default', 'web-db'))!.spec as { clusterIP: string }).clusterIP;
  const want: Record<string, string> = {
    KUBERNETES_SERVICE_HOST: '10.96.0.1',
    KUBERNETES_SERVICE_PORT: '443',
    KUBERNETES_SERVICE_PORT_HTTPS: '443',
    KUBERNETES_PORT: 'tcp://10.96.0.1:443',
    KUBERNETES_PORT_443_TCP_ADDR: '10.96.0.1',
    WEB_DB_SERVICE_HOST: db,
    WEB_DB_SERVICE_PORT: 'mine',
    WEB_DB_SERVICE_PORT_SQL: '5432',
    WEB_DB_SERVICE_PORT_STATS: '9000',
    WEB_DB_PORT: `tcp://${db}:5432`,
    WEB_DB_PORT_5432_TCP: `tcp://${db}:5432`,
    WEB_DB_PORT_9000_UDP_PROTO: 'udp',
    WEB_DB_PORT_9000_UDP_PORT: '9000',
  };
  for (const [k, v] of Object.entries(want)) assert.equal(env.get(k), v, `${k} in ${JSON.stringify(Object.fromEntries(env))}`);
});
