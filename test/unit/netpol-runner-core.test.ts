// The pure parts of `meshlet netpol serve|connect|run`: option and batch-line
// parsing, the requests of a round, judging a measured matrix, the topology
// objects the runner creates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCaseFile, TOPOLOGY_ORDER, type Step } from '../../src/policy/cases.ts';
import { openMatrixBut } from '../helpers/netpol-matrix.ts';
import { checkKey, formatStep, judgeLookups, judgeProbe, roundRequests, stepStatus, type Addresses } from '../../src/netpol/report.ts';
import { endpointSliceObject, podObject, serviceObject, topologyPods } from '../../src/netpol/topology.ts';
import { NetpolInputError, outcomeOfError, parseAddressPort, parseBatchLine, parseDurationMs, parseProtocol, type ProbeOutcome } from '../../src/netpol/wire.ts';

test('durations, protocols and IP:PORT targets are validated', () => {
  assert.equal(parseDurationMs('1s'), 1000);
  assert.equal(parseDurationMs('250ms'), 250);
  assert.equal(parseDurationMs('1.5'), 1500);
  assert.equal(parseDurationMs('2m', 'x', 600_000), 120_000);
  for (const bad of ['', 'soon', '0', '-1s', '61s']) assert.throws(() => parseDurationMs(bad), NetpolInputError, bad);
  assert.equal(parseProtocol('udp'), 'UDP');
  assert.throws(() => parseProtocol('icmp'), /tcp, udp or sctp/);
  assert.deepEqual(parseAddressPort('10.244.1.2:80'), { host: '10.244.1.2', port: 80 });
  assert.deepEqual(parseAddressPort('[fd00::1]:81'), { host: 'fd00::1', port: 81 });
  for (const bad of ['web:80', '10.0.0.1', '10.0.0.1:0', '10.0.0.1:70000', '[10.0.0.1]:80', '1.2.3:80']) assert.throws(() => parseAddressPort(bad), NetpolInputError, bad);
});

test('batch lines: defaults, lookups, and clear errors', () => {
  assert.deepEqual(parseBatchLine('{"id":"a","host":"10.0.0.1","port":80}', 700), { id: 'a', target: { host: '10.0.0.1', port: 80, protocol: 'TCP', timeoutMs: 700 } });
  assert.deepEqual(parseBatchLine('{"id":"b","host":"10.0.0.1","port":"81","protocol":"udp","timeoutMs":300}', 700).target, { host: '10.0.0.1', port: 81, protocol: 'UDP', timeoutMs: 300 });
  assert.deepEqual(parseBatchLine('{"id":"c","lookup":"kube-dns.kube-system.svc.cluster.local"}', 700).target, { lookup: 'kube-dns.kube-system.svc.cluster.local', timeoutMs: 700 });
  assert.throws(() => parseBatchLine('nope', 1), /not JSON/);
  assert.throws(() => parseBatchLine('{"host":"10.0.0.1","port":80}', 1), /"id"/);
  assert.throws(() => parseBatchLine('{"id":"x","host":"web","port":80}', 1), /IP address/);
  assert.throws(() => parseBatchLine('{"id":"x","host":"10.0.0.1","port":80,"timeoutMs":0}', 1), /timeoutMs/);
  assert.throws(() => parseBatchLine('{"id":"x","lookup":"a b"}', 1), /not a DNS name/);
});

test('socket errors map to outcomes', () => {
  const cases: [string | undefined, ProbeOutcome][] = [['ECONNREFUSED', 'refused'], ['EHOSTUNREACH', 'unreachable'], ['EPROTONOSUPPORT', 'unsupported'], ['ETIMEDOUT', 'timeout'], ['EPERM', 'error'], [undefined, 'error']];
  for (const [code, want] of cases) assert.equal(outcomeOfError(code), want, String(code));
});

const CASE = parseCaseFile(`
name: t
steps:
  - name: s
    expect:
      - probes: [80/TCP, 81/UDP]
        matrix: |
${openMatrixBut([['x/b', 'x/a']], '          ')}
      - probes: [80/TCP]
        target: service
        matrix: |
${openMatrixBut([], '          ')}
    lookups:
      - name: kube-dns.kube-system.svc.cluster.local
        resolves: { x/a: false, y/a: true }
`)[0];
const STEP: Step = CASE.steps[0];
const ADDR: Addresses = {
  pods: Object.fromEntries(TOPOLOGY_ORDER.map((p, i) => [p, `10.244.1.${i + 2}`])),
  services: Object.fromEntries(TOPOLOGY_ORDER.map((p, i) => [p, `10.96.0.${i + 100}`])),
};

test('a round asks each client pod for every compared cell of the open checks, through pod IPs or ClusterIPs, and its lookups', () => {
  const open = new Set([checkKey(0, { port: 80, protocol: 'TCP' }), checkKey(0, { port: 81, protocol: 'UDP' }), checkKey(1, { port: 80, protocol: 'TCP' })]);
  const reqs = roundRequests(STEP, open, new Set([0]), ADDR, 900);
  assert.deepEqual([...reqs.keys()], TOPOLOGY_ORDER);
  const xa = reqs.get('x/a')!;
  // 8 destinations × 3 checks (loopback "-" not probed) + 1 lookup.
  assert.equal(xa.length, 8 * 3 + 1);
  assert.deepEqual(xa.find((r) => r.id === '0:81/UDP|x/a|y/b')?.target, { host: ADDR.pods['y/b'], port: 81, protocol: 'UDP', timeoutMs: 900 });
  assert.deepEqual(xa.find((r) => r.id === '1:80/TCP|x/a|z/c')?.target, { host: ADDR.services['z/c'], port: 80, protocol: 'TCP', timeoutMs: 900 });
  assert.ok(xa.some((r) => r.id === 'dns:0|x/a'));
  assert.equal(reqs.get('x/b')!.filter((r) => r.id.startsWith('dns:')).length, 0, 'x/b is not asked to look up');
  // A check that matched is not asked again.
  assert.equal(roundRequests(STEP, new Set([checkKey(1, { port: 80, protocol: 'TCP' })]), new Set(), ADDR, 900).get('y/c')!.length, 8);
});

function outcomes(closed: [string, string][], other: ProbeOutcome = 'connected', closedAs: ProbeOutcome = 'timeout'): Map<string, ProbeOutcome> {
  const m = new Map<string, ProbeOutcome>();
  for (const f of TOPOLOGY_ORDER) for (const t of TOPOLOGY_ORDER) if (f !== t) m.set(`${f}|${t}`, closed.some(([a, b]) => a === f && b === t) ? closedAs : other);
  return m;
}

test('judging: matched, the differing cells with their outcome, SCTP skipped when unsupported', () => {
  const ex = STEP.expect[0];
  const probe = ex.probes[0];
  const ok = judgeProbe('k', ex, probe, outcomes([['x/b', 'x/a']]), 2);
  assert.equal(ok.status, 'matched');
  assert.equal(ok.matrix[1][0], false);
  assert.equal(ok.matrix[0][0], undefined);
  const bad = judgeProbe('k', ex, probe, outcomes([['z/c', 'y/a']]), 3);
  assert.equal(bad.status, 'differs');
  assert.deepEqual(bad.diffs, [
    { from: 'x/b', to: 'x/a', expected: false, actual: true, outcome: 'connected' },
    { from: 'z/c', to: 'y/a', expected: true, actual: false, outcome: 'timeout' },
  ]);
  assert.match(formatStep({ name: 'c' }, { name: 's', status: 'differs', ms: 1200, rounds: 3, probes: [bad], lookups: [] }), /differs: z\/c → y\/a 80\/TCP: expected \., got X \(timeout\)/);
  const sctp = judgeProbe('k', ex, { port: 80, protocol: 'SCTP' }, outcomes([], 'unsupported'), 1);
  assert.equal(sctp.status, 'skipped');
  assert.match(sctp.reason ?? '', /SCTP is not supported/);
  const lookups = judgeLookups(STEP.lookups[0], new Map([['x/a', { outcome: 'timeout' as const }], ['y/a', { outcome: 'connected' as const }]]));
  assert.deepEqual(lookups.map((l) => [l.from, l.expected, l.actual]), [['x/a', false, false], ['y/a', true, true]]);
  assert.equal(stepStatus([ok, sctp], lookups), 'matched');
  assert.equal(stepStatus([ok], judgeLookups(STEP.lookups[0], new Map([['x/a', { outcome: 'connected' as const }]]))), 'differs');
});

test('the topology: pods spread over the nodes, serving with the named ports; a selector-less Service per pod with its own EndpointSlice', () => {
  const pods = topologyPods(3);
  assert.deepEqual(pods.map((p) => p.id), TOPOLOGY_ORDER);
  assert.deepEqual(new Set(pods.map((p) => p.node)), new Set(['node-1', 'node-2', 'node-3']));
  assert.ok(['x', 'y', 'z'].every((ns) => new Set(pods.filter((p) => p.namespace === ns).map((p) => p.node)).size === 3), 'each namespace spans the nodes');
  const pod = podObject(pods[0], ['node', 'meshlet.js', 'netpol', 'serve']);
  const c = (pod.spec as { containers: { command: string[]; ports: { name: string; containerPort: number; protocol: string }[] }[] }).containers[0];
  assert.deepEqual(c.ports.map((p) => p.name), ['serve-80-tcp', 'serve-80-udp', 'serve-81-tcp', 'serve-81-udp']);
  assert.deepEqual(c.command.slice(4), ['--port', '80,81', '--protocol', 'tcp,udp,sctp', '--reply', 'x/a']);
  assert.deepEqual(pod.metadata.labels, { pod: 'a' });
  const svc = serviceObject(pods[0]);
  assert.equal((svc.spec as { selector?: unknown }).selector, undefined, 'no selector: label changes never move its endpoint');
  const slice = endpointSliceObject(pods[0], '10.244.1.2');
  assert.equal(slice.metadata.labels?.['kubernetes.io/service-name'], svc.metadata.name);
  assert.deepEqual((slice.endpoints as { addresses: string[] }[])[0].addresses, ['10.244.1.2']);
});
