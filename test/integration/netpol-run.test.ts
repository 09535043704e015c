// `meshlet netpol run` end to end (root): the CLI brings up a 3-node lab of its
// own with the upstream topology (9 pods spread over the nodes, each serving
// TCP and UDP on 80 and 81), runs a representative subset of the hand-written
// cases in test/unit/policy-cases (default deny per direction, AND/OR peers,
// matchExpressions, namespace selectors, ipBlock except, named ports incl. a
// protocol mismatch, endPort, UDP-only and SCTP-only rules, DNS-only egress
// with lookups, stacked policies, live label changes, deletion, ClusterIP)
// against the real agents' enforcement, and must match every matrix; then a
// case whose expectation is wrong on purpose, run in that same lab (--name),
// must fail with exit code 1 and name the differing cell.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { labDown } from '../../src/lab/down.ts';
import { Progress } from '../../src/lab/progress.ts';
import { MESHLET_BIN } from '../../src/lab/paths.ts';
import { listNetns } from '../../src/lab/system.ts';
import type { RunReport } from '../../src/netpol/report.ts';
import { openMatrixBut } from '../helpers/netpol-matrix.ts';

const CASES_DIR = join(import.meta.dirname, '../unit/policy-cases');
const SUBSET = [
  'no-policies-all-open',
  'default-deny-ingress-x',
  'default-deny-egress-x',
  'default-deny-both-x',
  'and-peer-namespace-and-pod',
  'or-peers-namespace-or-pod',
  'match-expressions-namespace-not-in',
  'ipblock-except-one-pod',
  'named-port-protocol-mismatch',
  'end-port-range',
  'udp-only-rule-does-not-open-tcp',
  'sctp-only-rule-does-not-open-tcp-or-udp',
  'egress-only-dns',
  'stacked-deny-all-plus-allow',
  'pod-label-change-revokes',
  'namespace-label-change-grants',
  'policy-deletion-reopens',
  'clusterip-ingress-from-one-pod',
];

const quiet = (): Progress => new Progress(new Writable({ write: (_c, _e, cb) => cb() }));
const root = mkdtempSync(join(tmpdir(), 'mlt-netpol-run-'));
let labName: string | undefined;

function meshlet(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MESHLET_BIN, ...args], { env: { ...process.env, MESHLET_LAB_ROOT: root }, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

after(async () => {
  if (labName) await labDown({ name: labName, root }, quiet());
  rmSync(root, { recursive: true, force: true });
});

test('the representative subset matches every expected matrix in a 3-node lab of its own', async () => {
  assert.equal(process.getuid?.(), 0, 'netpol run needs root');
  const files = readdirSync(CASES_DIR).filter((f) => f.endsWith('.yaml')).sort().map((f) => join(CASES_DIR, f));
  const run = await meshlet(['netpol', 'run', ...files, ...SUBSET.flatMap((c) => ['--case', c]), '--json', '--keep', '--timeout', '20s']);
  const report = JSON.parse(run.stdout) as RunReport;
  labName = report.lab;
  const failed = report.cases.filter((c) => c.status !== 'passed');
  assert.deepEqual(failed.map((c) => c.name), [], `failed cases; the runner said:\n${run.stderr.split('\n').filter((l) => !/stopped|^\s+[xyz]\/[abc]\s/.test(l)).slice(-80).join('\n')}`);
  assert.equal(run.code, 0);
  assert.equal(report.nodes, 3);
  assert.deepEqual(report.cases.map((c) => c.name).sort(), [...SUBSET].sort());
  // Every compared cell was probed and judged: a case's steps carry their measured matrices.
  const dns = report.cases.find((c) => c.name === 'egress-only-dns')!;
  assert.ok(dns.steps[0].lookups.length === 4 && dns.steps[0].lookups.every((l) => l.actual), 'x resolves through the node-local DNS under DNS-only egress');
  const deny = report.cases.find((c) => c.name === 'default-deny-ingress-x')!;
  const m = deny.steps[0].probes[0].matrix;
  assert.equal(m[3][0], false, 'y/a → x/a measured as not connecting');
  assert.equal(m[3][4], true, 'y/a → y/b measured as connecting');
  // SCTP: measured where the kernel has it, else reported as skipped (never as passed silently).
  const sctp = report.cases.find((c) => c.name === 'sctp-only-rule-does-not-open-tcp-or-udp')!;
  assert.ok(sctp.steps[0].probes.every((p) => p.status === 'matched'), 'the TCP and UDP probes of the SCTP-only rule');
});

test('an expectation that is wrong on purpose fails with exit code 1 and names the differing cell (existing lab, --name)', async () => {
  assert.ok(labName, 'the first test kept its lab');
  const file = join(root, 'wrong.yaml');
  writeFileSync(file, `name: wrong-on-purpose\nsteps:\n  - name: no policy, but x/b -> x/a expected closed\n    expect:\n      - probes: [80/TCP]\n        matrix: |\n${openMatrixBut([['x/b', 'x/a']], '          ')}\n`);
  const run = await meshlet(['netpol', 'run', file, '--name', labName, '--json', '--timeout', '2s']);
  assert.equal(run.code, 1, run.stderr.slice(-2000));
  const report = JSON.parse(run.stdout) as RunReport;
  assert.equal(report.failed, 1);
  const diffs = report.cases[0].steps[0].probes[0].diffs;
  assert.deepEqual(diffs, [{ from: 'x/b', to: 'x/a', expected: false, actual: true, outcome: 'connected' }]);
  assert.match(run.stderr, /differs: x\/b → x\/a 80\/TCP: expected X, got \. \(connected\)/);
  await labDown({ name: labName, root }, quiet());
  assert.deepEqual((await listNetns()).filter((ns) => ns.startsWith(`ml-${labName}-`)), []);
  labName = undefined;
});
