// `meshlet netpol explain` against a real API server (Redis store): the
// namespaces, pods and NetworkPolicies are created with kubectl v1.32, the
// pods' addresses written as a kubelet would (status subresource), and the
// command reads the live cluster through its kubeconfig.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { apiRequest, startTestApiServer, type TestApiServer } from '../helpers/api-server.ts';

const execFileP = promisify(execFile);
const MESHLET = join(import.meta.dirname, '../../bin/meshlet.js');
let api: TestApiServer;
let work: string;

const MANIFESTS = `
apiVersion: v1
kind: Namespace
metadata: { name: shop, labels: { team: shop } }
---
apiVersion: v1
kind: Namespace
metadata: { name: ops, labels: { team: ops } }
---
apiVersion: v1
kind: Pod
metadata: { name: web, namespace: shop, labels: { app: web } }
spec: { nodeName: node-1, containers: [{ name: c, image: host, ports: [{ name: http, containerPort: 8080 }] }] }
---
apiVersion: v1
kind: Pod
metadata: { name: db, namespace: shop, labels: { app: db } }
spec: { nodeName: node-1, containers: [{ name: c, image: host }] }
---
apiVersion: v1
kind: Pod
metadata: { name: probe, namespace: ops, labels: { app: probe } }
spec: { nodeName: node-2, containers: [{ name: c, image: host }] }
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: default-deny, namespace: shop }
spec: { podSelector: {}, policyTypes: [Ingress] }
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: web-from-ops, namespace: shop }
spec:
  podSelector: { matchLabels: { app: web } }
  ingress:
    - from: [{ podSelector: { matchLabels: { app: db } } }]
    - from: [{ namespaceSelector: { matchLabels: { team: ops } } }]
      ports: [{ port: http }]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: trial-egress, namespace: ops, annotations: { meshlet.io/policy-mode: audit } }
spec: { podSelector: {}, policyTypes: [Egress], egress: [{ to: [{ ipBlock: { cidr: 10.244.9.0/24 } }] }] }
`;
const IPS: Record<string, string> = { 'shop/web': '10.244.1.10', 'shop/db': '10.244.1.11', 'ops/probe': '10.244.2.10' };

async function meshlet(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [MESHLET, ...args, '--kubeconfig', api.kubeconfigPath], { env: { ...process.env, HOME: work } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

before(async () => {
  api = await startTestApiServer();
  work = mkdtempSync(join(tmpdir(), 'mlt-policy-explain-'));
  const file = join(work, 'cluster.yaml');
  writeFileSync(file, MANIFESTS);
  await execFileP('/usr/bin/kubectl', ['--kubeconfig', api.kubeconfigPath, '--cache-dir', join(work, 'cache'), 'apply', '-f', file], { env: { ...process.env, HOME: work } });
  for (const [id, ip] of Object.entries(IPS)) {
    const [ns, name] = id.split('/');
    const r = await apiRequest(api, 'PATCH', `/api/v1/namespaces/${ns}/pods/${name}/status`, { body: { status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } }, contentType: 'application/merge-patch+json' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
});

after(async () => {
  await api?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('a connection no rule admits: denied by default, naming the isolating policies', async () => {
  const r = await meshlet('netpol', 'explain', '--from', 'ops/probe', '--to', 'shop/db', '--port', '5432/TCP');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    [
      'ops/probe -> shop/db 5432/TCP: DENIED',
      'egress at ops/probe: allowed: not isolated (no policy selects ops/probe for egress)',
      '  audit: would be denied (isolated by ops/trial-egress in audit mode and no rule matches)',
      'ingress at shop/db: denied by default: shop/db isolated by shop/default-deny and no rule matches',
      '',
    ].join('\n'),
  );
});

test('allowed through a named port: the policy and rule index', async () => {
  const r = await meshlet('netpol', 'explain', '--from', 'ops/probe', '--to', 'shop/web', '--port', '8080');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ops\/probe -> shop\/web 8080\/TCP: ALLOWED \(audit mode would deny it\)\n/);
  assert.match(r.stdout, /\ningress at shop\/web: allowed by shop\/web-from-ops ingress\[1\]\n  isolated by shop\/default-deny and shop\/web-from-ops\n/);
  // The same pair on another port: rule 1 is for the named port only.
  const other = await meshlet('netpol', 'explain', '--from', 'ops/probe', '--to', 'shop/web', '--port', '8081');
  assert.match(other.stdout, /DENIED/);
  assert.match(other.stdout, /isolated by shop\/default-deny and shop\/web-from-ops and no rule matches/);
});

test('--to-ip finds the pod behind an address; --json carries the verdict', async () => {
  const r = await meshlet('netpol', 'explain', '--from', 'shop/db', '--to-ip', IPS['shop/web'], '--port', '80/UDP', '--json');
  assert.equal(r.code, 0, r.stderr);
  const v = JSON.parse(r.stdout) as { allowed: boolean; ingress: { pod: string; allowedBy: { policy: string; rule: number }[] } };
  assert.equal(v.allowed, true);
  assert.equal(v.ingress.pod, 'shop/web');
  assert.deepEqual(v.ingress.allowedBy.map((x) => [x.policy, x.rule]), [['shop/web-from-ops', 0]]);
});

test('bad arguments and unknown pods are clear errors', async () => {
  const bad = await meshlet('netpol', 'explain', '--from', 'ops/probe', '--to', 'shop/web', '--port', '80/ICMP');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /protocol must be TCP, UDP or SCTP/);
  const missing = await meshlet('netpol', 'explain', '--from', 'ops/nope', '--to', 'shop/web', '--port', '80');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /pod ops\/nope not found/);
});
