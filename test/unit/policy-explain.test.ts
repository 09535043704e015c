// The text of `meshlet netpol explain` (formatExplanation over evaluate()) and its argument parsers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate } from '../../src/policy/evaluate.ts';
import { formatExplanation, parseIpArg, parsePodArg, parsePortArg } from '../../src/policy/explain.ts';
import { compilePolicy, type ClusterView } from '../../src/policy/model.ts';
import { topology } from '../../src/policy/cases.ts';

const np = (namespace: string, name: string, spec: Record<string, unknown>, annotations?: Record<string, string>) =>
  compilePolicy({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace, name, ...(annotations ? { annotations } : {}) }, spec });
const withPolicies = (...policies: ReturnType<typeof np>[]): ClusterView => ({ ...topology(), policies });
const explain = (c: ClusterView, from: string, to: string, port = 80, protocol: 'TCP' | 'UDP' = 'TCP'): string =>
  formatExplanation(evaluate(c, { pod: from }, { pod: to }, port, protocol), { from, to }, port, protocol);

test('denied by default: the isolating policies of the side that denies, and the other side', () => {
  const c = withPolicies(np('x', 'p1', { podSelector: {}, policyTypes: ['Ingress'] }), np('x', 'p2', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ ports: [{ port: 81 }] }] }));
  assert.equal(
    explain(c, 'y/b', 'x/a'),
    [
      'y/b -> x/a 80/TCP: DENIED',
      'egress at y/b: allowed: not isolated (no policy selects y/b for egress)',
      'ingress at x/a: denied by default: x/a isolated by x/p1 and x/p2 and no rule matches',
      '',
    ].join('\n'),
  );
});

test('allowed: the policy and rule index that admit it, and what isolates that side', () => {
  const c = withPolicies(
    np('x', 'deny', { podSelector: {}, policyTypes: ['Ingress'] }),
    np('x', 'web', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ ports: [{ port: 81 }] }, { from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }], ports: [{ port: 'serve-80-tcp' }] }] }),
    np('y', 'out', { podSelector: {}, egress: [{ to: [{ namespaceSelector: {} }] }] }),
  );
  assert.equal(
    explain(c, 'y/c', 'x/a'),
    [
      'y/c -> x/a 80/TCP: ALLOWED',
      'egress at y/c: allowed by y/out egress[0]',
      '  isolated by y/out',
      'ingress at x/a: allowed by x/web ingress[1]',
      '  isolated by x/deny and x/web',
      '',
    ].join('\n'),
  );
});

test('audit mode: allowed, with the audit policy that would deny it', () => {
  const c = withPolicies(np('x', 'trial', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Ingress'] }, { 'meshlet.io/policy-mode': 'audit' }));
  assert.equal(
    explain(c, 'z/a', 'x/a', 81, 'UDP'),
    [
      'z/a -> x/a 81/UDP: ALLOWED (audit mode would deny it)',
      'egress at z/a: allowed: not isolated (no policy selects z/a for egress)',
      'ingress at x/a: allowed: not isolated (no policy selects x/a for ingress)',
      '  audit: would be denied (isolated by x/trial in audit mode and no rule matches)',
      '',
    ].join('\n'),
  );
});

test("an address: the pod's own node, and an address outside the cluster", () => {
  const c = withPolicies(np('x', 'deny', { podSelector: {}, policyTypes: ['Ingress'] }));
  const xa = c.pods.find((p) => p.namespace === 'x' && p.name === 'a')!;
  const own = c.nodes![xa.node!][0];
  const v = evaluate(c, { ip: own }, { pod: 'x/a' }, 80, 'TCP');
  assert.equal(formatExplanation(v, { from: own, to: 'x/a' }, 80, 'TCP').split('\n')[2], "ingress at x/a: allowed: the pod's own node always reaches it");
  const out = formatExplanation(evaluate(c, { pod: 'x/b' }, { ip: '192.0.2.1' }, 443, 'TCP'), { from: 'x/b', to: '192.0.2.1' }, 443, 'TCP');
  assert.match(out, /^x\/b -> 192\.0\.2\.1 443\/TCP: ALLOWED\n/);
  assert.match(out, /ingress at 192\.0\.2\.1: allowed \(192\.0\.2\.1 is not a pod policies can select\)/);
});

test('arguments: ports with protocols, pod references and addresses; bad ones are clear errors', () => {
  assert.deepEqual(parsePortArg('80'), { port: 80, protocol: 'TCP' });
  assert.deepEqual(parsePortArg('53/udp'), { port: 53, protocol: 'UDP' });
  assert.deepEqual(parsePortArg('9/SCTP'), { port: 9, protocol: 'SCTP' });
  assert.throws(() => parsePortArg('0'), /PORT 1-65535/);
  assert.throws(() => parsePortArg('80/ICMP'), /TCP, UDP or SCTP/);
  assert.throws(() => parsePortArg('http'), /PORT or PORT\/PROTOCOL/);
  assert.deepEqual(parsePodArg('--from', 'x/a'), { namespace: 'x', name: 'a' });
  assert.throws(() => parsePodArg('--from', 'a'), /--from "a": NAMESPACE\/POD/);
  assert.throws(() => parsePodArg('--to', 'X/a;rm'), /NAMESPACE\/POD/);
  assert.equal(parseIpArg('--to-ip', '10.0.0.1'), '10.0.0.1');
  assert.throws(() => parseIpArg('--to-ip', '10.0.0'), /not an IP address/);
});
