// evaluate(): the reasons `meshlet netpol explain` prints, the own node, addresses outside the cluster, audit mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate } from '../../src/policy/evaluate.ts';
import { compilePolicy, podView, type ClusterView } from '../../src/policy/model.ts';
import { topology } from '../../src/policy/cases.ts';
import type { SlimPod } from '../../src/client/slim-objects.ts';

const np = (namespace: string, name: string, spec: Record<string, unknown>, annotations?: Record<string, string>) =>
  compilePolicy({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace, name, ...(annotations ? { annotations } : {}) }, spec });
const withPolicies = (...policies: ReturnType<typeof np>[]): ClusterView => ({ ...topology(), policies });

test('denied by default names every isolating policy', () => {
  const c = withPolicies(np('x', 'p1', { podSelector: {}, policyTypes: ['Ingress'] }), np('x', 'p2', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ ports: [{ port: 81 }] }] }));
  const v = evaluate(c, { pod: 'y/b' }, { pod: 'x/a' }, 80, 'TCP');
  assert.equal(v.allowed, false);
  assert.deepEqual(v.ingress.isolatedBy, ['x/p1', 'x/p2']);
  assert.equal(v.ingress.reason, 'ingress 80/TCP: denied by default: x/a isolated by x/p1 and x/p2 and no rule matches');
  assert.equal(v.egress.allowed, true);
  assert.equal(v.egress.reason, 'egress 80/TCP: y/b is not isolated for egress');
  assert.match(v.summary, /^y\/b -> x\/a 80\/TCP: denied\n/);
});

test('allowed names the policy and the rule index', () => {
  const c = withPolicies(np('x', 'web', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ ports: [{ port: 81 }] }, { from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }], ports: [{ port: 'serve-80-tcp' }] }] }));
  const v = evaluate(c, { pod: 'y/c' }, { pod: 'x/a' }, 80, 'TCP');
  assert.equal(v.allowed, true);
  assert.deepEqual(v.ingress.allowedBy, [{ policy: 'x/web', rule: 1, audit: false }]);
  assert.equal(v.ingress.reason, 'ingress 80/TCP: allowed by x/web ingress[1]');
});

test("the pod's own node always reaches it; another node does not", () => {
  const c = withPolicies(np('x', 'deny', { podSelector: {}, policyTypes: ['Ingress'] }));
  const xa = c.pods.find((p) => p.namespace === 'x' && p.name === 'a')!;
  const own = c.nodes![xa.node!][0];
  const other = Object.entries(c.nodes!).find(([n]) => n !== xa.node)![1][0];
  assert.equal(evaluate(c, { ip: own }, { pod: 'x/a' }, 80, 'TCP').allowed, true);
  assert.match(evaluate(c, { ip: own }, { pod: 'x/a' }, 80, 'TCP').ingress.reason, /own node, always allowed/);
  assert.equal(evaluate(c, { ip: other }, { pod: 'x/a' }, 80, 'TCP').allowed, false);
});

test('egress allowing only DNS reaches the DNS address on 53 and nothing else', () => {
  const c = withPolicies(np('x', 'dns', { podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }] }] }));
  assert.equal(evaluate(c, { pod: 'x/a' }, { ip: '10.96.0.10' }, 53, 'UDP').allowed, true);
  assert.equal(evaluate(c, { pod: 'x/a' }, { ip: '10.96.0.10' }, 53, 'TCP').allowed, true);
  assert.equal(evaluate(c, { pod: 'x/a' }, { ip: '10.96.0.10' }, 80, 'TCP').allowed, false);
  assert.equal(evaluate(c, { pod: 'x/a' }, { ip: '1.1.1.1' }, 443, 'TCP').egress.reason, 'egress 443/TCP: denied by default: x/a isolated by x/dns and no rule matches');
});

test('an address given by IP resolves to its pod; pod selectors never match outside addresses, ipBlocks do', () => {
  const c = withPolicies(np('x', 'mixed', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: {} }, { ipBlock: { cidr: '203.0.113.0/24', except: ['203.0.113.128/25'] } }] }] }));
  const yb = c.pods.find((p) => p.namespace === 'y' && p.name === 'b')!.ips[0];
  assert.equal(evaluate(c, { ip: yb }, { pod: 'x/a' }, 80, 'TCP').allowed, true);
  assert.equal(evaluate(c, { ip: '198.51.100.1' }, { pod: 'x/a' }, 80, 'TCP').allowed, false);
  assert.equal(evaluate(c, { ip: '203.0.113.5' }, { pod: 'x/a' }, 80, 'TCP').allowed, true);
  assert.equal(evaluate(c, { ip: '203.0.113.200' }, { pod: 'x/a' }, 80, 'TCP').allowed, false);
});

test('audit mode: not enforced, its would-be denials are computed and named', () => {
  const c = withPolicies(np('x', 'staged', { podSelector: {}, policyTypes: ['Ingress'] }, { 'meshlet.io/policy-mode': 'audit' }));
  const v = evaluate(c, { pod: 'y/a' }, { pod: 'x/b' }, 80, 'TCP');
  assert.equal(v.allowed, true);
  assert.equal(v.allowedWithAudit, false);
  assert.deepEqual(v.ingress.isolatedBy, []);
  assert.deepEqual(v.ingress.auditIsolatedBy, ['x/staged']);
  assert.match(v.ingress.reason, /audit: would be denied \(isolated by x\/staged and no rule matches\)/);
  // An audit allow next to an enforced deny: still denied, and the audit rule is reported as matching.
  const c2 = withPolicies(np('x', 'deny', { podSelector: {}, policyTypes: ['Ingress'] }), np('x', 'try', { podSelector: {}, ingress: [{}] }, { 'meshlet.io/policy-mode': 'audit' }));
  const v2 = evaluate(c2, { pod: 'y/a' }, { pod: 'x/b' }, 80, 'TCP');
  assert.equal(v2.allowed, false);
  assert.deepEqual(v2.ingress.allowedBy, [{ policy: 'x/try', rule: 0, audit: true }]);
});

test('policies do not select host-network pods, and podView reads named ports from slim pods', () => {
  const pod: SlimPod = {
    apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'x', name: 'h', labels: { pod: 'h' } },
    spec: { nodeName: 'node-1', containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080 }, { name: 'dns', containerPort: 53, protocol: 'UDP' }] }] },
    status: { podIP: '10.244.1.77' },
  };
  const view = podView(pod);
  assert.deepEqual(view.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }]);
  const base = withPolicies(np('x', 'deny', { podSelector: {}, policyTypes: ['Ingress'] }));
  const c = { ...base, pods: [...base.pods, view] };
  assert.equal(evaluate(c, { pod: 'y/a' }, { pod: 'x/h' }, 8080, 'TCP').allowed, false);
  const host = { ...c, pods: [...base.pods, { ...view, hostNetwork: true }] };
  assert.equal(evaluate(host, { pod: 'y/a' }, { pod: 'x/h' }, 8080, 'TCP').allowed, true);
});
