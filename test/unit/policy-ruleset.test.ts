// The nftables desired state of NetworkPolicy: it agrees with the semantic
// model on every case file (a packet walked through the table's rules and set
// elements), its rules do not grow with pods × policies, new pods are held,
// and a one-label change is a small diff through the adapter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { policyRuleset, POLICY_TABLE, POLICY_TABLE_OWNER } from '../../src/policy/ruleset.ts';
import { applyStep, parseCaseFile, topology, TOPOLOGY_ORDER } from '../../src/policy/cases.ts';
import { evaluate } from '../../src/policy/evaluate.ts';
import { compilePolicy, type ClusterView, type PodView, type Protocol } from '../../src/policy/model.ts';
import { parseIp } from '../../src/core/cidr.ts';
import { planSync } from '../../src/nft/diff.ts';
import { TableOwners } from '../../src/nft/owners.ts';
import { renderRule } from '../../src/nft/rule.ts';
import { renderDesired } from '../../src/nft/state.ts';
import type { DesiredTable } from '../../src/nft/model.ts';
import type { Value } from '../../src/nft/values.ts';

const NP = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' };
const PROTO: Record<Protocol, string> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' };

type Part = string | readonly [bigint, bigint];
const parsed = new WeakMap<DesiredTable, Map<string, Part[][]>>();

/** A set element's key parts as [lo, hi] numbers (addresses, ports) or protocol names. */
function part(v: Value): Part {
  const num = (x: string | number): bigint => (typeof x === 'number' ? BigInt(x) : parseIp(x).value);
  if (Array.isArray(v)) return [num(v[0]), num(v[1])];
  if (typeof v === 'string' && !v.includes('.') && !v.includes(':')) return v;
  const n = num(v as string | number);
  return [n, n];
}

function lookup(table: DesiredTable, set: string, key: (bigint | string)[]): boolean {
  let sets = parsed.get(table);
  if (!sets) {
    sets = new Map((table.sets ?? []).map((x) => [x.name, (x.elements ?? []).map((e) => e.key.map(part))]));
    parsed.set(table, sets);
  }
  return sets.get(set)!.some((e) => e.every((p, i) => (typeof p === 'string' ? p === key[i] : p[0] <= (key[i] as bigint) && (key[i] as bigint) <= p[1])));
}

/** A new connection's first packet through the forward chain, as the kernel would walk the rules and sets. */
function walk(table: DesiredTable, src: string, dst: string, proto: Protocol, port: number): boolean {
  const s = parseIp(src).value;
  const d = parseIp(dst).value;
  if (lookup(table, 'held', [s]) || lookup(table, 'held', [d])) return false;
  if (lookup(table, 'egress-isolated', [s]) && !lookup(table, 'egress-any', [s, d]) && !lookup(table, 'egress-ports', [s, d, PROTO[proto], BigInt(port)])) return false;
  if (lookup(table, 'ingress-isolated', [d]) && !lookup(table, 'ingress-any', [d, s]) && !lookup(table, 'ingress-ports', [d, s, PROTO[proto], BigInt(port)])) return false;
  return true;
}

/** The audit chains' answer for a packet the enforced chains let through: would it pass with audit policies enforced? */
function walkAudit(table: DesiredTable, src: string, dst: string, proto: Protocol, port: number): boolean {
  const s = parseIp(src).value;
  const d = parseIp(dst).value;
  const k = [PROTO[proto], BigInt(port)];
  if (lookup(table, 'audit-egress-isolated', [s]) && !lookup(table, 'audit-egress-any', [s, d]) && !lookup(table, 'audit-egress-ports', [s, d, ...k])) return false;
  if (lookup(table, 'audit-ingress-isolated', [d]) && !lookup(table, 'audit-ingress-any', [d, s]) && !lookup(table, 'audit-ingress-ports', [d, s, ...k])) return false;
  return true;
}

const ruleTexts = (t: DesiredTable): string[] => t.chains.flatMap((c) => c.rules.map(renderRule));
const elementCount = (t: DesiredTable): number => (t.sets ?? []).reduce((n, s) => n + (s.elements?.length ?? 0), 0);

test('the table agrees with evaluate() on every cell of every case file', () => {
  const dir = join(import.meta.dirname, 'policy-cases');
  let cells = 0;
  let auditDenials = 0;
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    for (const c of parseCaseFile(readFileSync(join(dir, f), 'utf8'))) {
      let cluster = topology();
      for (const step of c.steps) {
        cluster = applyStep(cluster, step);
        const table = policyRuleset({ cluster });
        renderDesired(table); // every element is valid nft (types, ranges, references)
        for (const probe of [{ port: 80, protocol: 'TCP' as const }, { port: 81, protocol: 'UDP' as const }, { port: 53, protocol: 'UDP' as const }, { port: 80, protocol: 'SCTP' as const }]) {
          for (const from of TOPOLOGY_ORDER) {
            for (const to of TOPOLOGY_ORDER) {
              const verdict = evaluate(cluster, { pod: from }, { pod: to }, probe.port, probe.protocol);
              const want = verdict.allowed;
              const ip = (id: string) => cluster.pods.find((p) => `${p.namespace}/${p.name}` === id)!.ips[0];
              assert.equal(walk(table, ip(from), ip(to), probe.protocol, probe.port), want, `${c.name}/${step.name} ${from} -> ${to} ${probe.port}/${probe.protocol}`);
              // What the enforced chains let through, the audit chains log exactly when evaluate() says "would be denied".
              if (want) {
                const wouldPass = walkAudit(table, ip(from), ip(to), probe.protocol, probe.port);
                assert.equal(wouldPass, verdict.allowedWithAudit, `audit ${c.name}/${step.name} ${from} -> ${to} ${probe.port}/${probe.protocol}`);
                if (!wouldPass) auditDenials++;
              }
              cells++;
            }
          }
        }
      }
    }
  }
  assert.ok(cells > 10000, `${cells} cells`);
  assert.ok(auditDenials > 0, 'some case has audit would-be denials');
});

/** A cluster of `pods` pods in one namespace and `policies` policies, each admitting app=i from role=client on 8000+i. */
function scaled(pods: number, policies: number): ClusterView {
  const c = topology(1);
  const list: PodView[] = [];
  for (let i = 0; i < pods; i++) {
    list.push({ namespace: 'x', name: `p${i}`, labels: { app: `a${i % policies}`, role: i % 2 ? 'client' : 'server' }, ips: [`10.244.${1 + (i >> 8)}.${i & 255}`], node: 'node-1', ports: [] });
  }
  const pols = Array.from({ length: policies }, (_, i) =>
    compilePolicy({ ...NP, metadata: { namespace: 'x', name: `np${i}` }, spec: { podSelector: { matchLabels: { app: `a${i}` } }, ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }], ports: [{ port: 8000 + i }] }] } }),
  );
  return { ...c, pods: list, policies: pols };
}

test('rules stay the same whatever the number of pods and policies; only elements grow', () => {
  const small = policyRuleset({ cluster: scaled(10, 2) });
  const large = policyRuleset({ cluster: scaled(200, 20) });
  assert.equal(ruleTexts(small).length, 28);
  assert.deepEqual(ruleTexts(large), ruleTexts(small));
  assert.deepEqual(large.chains.map((c) => c.name), ['forward', 'input', 'egress', 'ingress', 'audit-egress', 'audit-ingress']);
  assert.ok(elementCount(large) > 10 * elementCount(small), `${elementCount(small)} → ${elementCount(large)} elements`);
  console.log(`rules 10 pods/2 policies: ${ruleTexts(small).length}, 200 pods/20 policies: ${ruleTexts(large).length}; elements ${elementCount(small)} → ${elementCount(large)}`);
  // Every rule at most one set lookup: the per-packet cost is a fixed number of hash/interval lookups.
  for (const c of large.chains) for (const r of c.rules) assert.ok(r.body.filter((s) => 'inSet' in s || 'vmap' in s).length <= 1);
});

test('an address of the node\'s pod subnet that is no programmed pod is held, and released in the transaction that programs the pod', () => {
  const cluster = topology();
  const local = cluster.pods.filter((p) => p.node === 'node-1');
  const subnet = '10.244.1.0/24';
  assert.ok(local.every((p) => p.ips[0].startsWith('10.244.1.')), 'the topology puts node-1 pods in 10.244.1.0/24');
  const before = policyRuleset({ cluster, node: 'node-1', localSubnets: [subnet] });
  const other = cluster.pods.find((p) => p.node === 'node-2')!.ips[0];
  assert.equal(walk(before, other, '10.244.1.99', 'TCP', 80), false, 'to a new pod');
  assert.equal(walk(before, '10.244.1.99', other, 'TCP', 80), false, 'from a new pod');
  for (const p of local) assert.equal(walk(before, other, p.ips[0], 'TCP', 80), true, `${p.name} is programmed, not held`);
  const pod: PodView = { namespace: 'x', name: 'new', labels: { pod: 'new' }, ips: ['10.244.1.99'], node: 'node-1', ports: [] };
  const after = policyRuleset({ cluster: { ...cluster, pods: [...cluster.pods, pod] }, node: 'node-1', localSubnets: [subnet] });
  assert.equal(walk(after, other, '10.244.1.99', 'TCP', 80), true);
  // A terminating pod's address is held again (it may be handed to the next pod before the old one is gone).
  const gone = policyRuleset({ cluster: { ...cluster, pods: [...cluster.pods, { ...pod, terminating: true }] }, node: 'node-1', localSubnets: [subnet] });
  assert.equal(walk(gone, other, '10.244.1.99', 'TCP', 80), false);
  // Programming one pod changes only held elements (a range split), nothing else.
  const owners = new TableOwners();
  const handle = owners.claim(POLICY_TABLE_OWNER, POLICY_TABLE);
  const first = planSync({ table: handle, desired: before, now: 0 });
  const plan = planSync({ table: handle, desired: after, committed: first.next, now: 1 });
  assert.equal(plan.mode, 'incremental');
  assert.ok(plan.tx.ops.length > 0 && plan.tx.ops.length <= 4, plan.tx.ops.map((o) => o.kind).join(','));
  renderDesired(after);
});

test('the IPv6 addresses of isolated pods are closed, not open', () => {
  const base = topology();
  const pods = base.pods.map((p) => (p.namespace === 'x' && p.name === 'a' ? { ...p, ips: [...p.ips, 'fd00:10:244:1::0a'] } : p));
  const deny = compilePolicy({ ...NP, metadata: { namespace: 'x', name: 'deny' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } });
  const open = policyRuleset({ cluster: { ...base, pods } });
  assert.deepEqual(open.sets!.find((s) => s.name === 'ingress-isolated6')!.elements, []);
  const closed = policyRuleset({ cluster: { ...base, pods, policies: [deny] } });
  assert.deepEqual(closed.sets!.find((s) => s.name === 'ingress-isolated6')!.elements, [{ key: ['fd00:10:244:1::a'] }]);
  assert.ok(ruleTexts(closed).includes('ip6 daddr @ingress-isolated6 drop'));
  renderDesired(closed);
});

test('a node programs isolation for its own pods only', () => {
  let cluster = topology();
  cluster = { ...cluster, policies: [compilePolicy({ ...NP, metadata: { namespace: 'x', name: 'deny' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } })] };
  const ns = (node: string) => policyRuleset({ cluster, node }).sets!.find((s) => s.name === 'ingress-isolated')!.elements!.map((e) => e.key[0]);
  const xOn = (node: string) => cluster.pods.filter((p) => p.namespace === 'x' && p.node === node).map((p) => p.ips[0]).sort();
  for (const node of ['node-1', 'node-2', 'node-3']) assert.deepEqual(ns(node), xOn(node));
});

test('a one-label change is a small incremental diff through the adapter', () => {
  const owners = new TableOwners();
  const handle = owners.claim(POLICY_TABLE_OWNER, POLICY_TABLE);
  const cluster = scaled(120, 12);
  const first = planSync({ table: handle, desired: policyRuleset({ cluster }), now: 0 });
  assert.equal(first.mode, 'full');
  // p1 (a client of np1) stops being a client: it leaves the peer ranges of every policy.
  const relabelled = { ...cluster, pods: cluster.pods.map((p) => (p.name === 'p1' ? { ...p, labels: { ...p.labels, role: 'server' } } : p)) };
  const plan = planSync({ table: handle, desired: policyRuleset({ cluster: relabelled }), committed: first.next, now: 1 });
  assert.equal(plan.mode, 'incremental');
  const kinds = plan.tx.ops.map((o) => o.kind);
  assert.ok(!kinds.some((k) => k.includes('chain') || k.includes('rule') || k.includes('set') && !k.includes('elements')), kinds.join(','));
  const changed = plan.tx.ops.reduce((n, o) => n + ('elements' in o ? o.elements.length : 0), 0);
  const total = elementCount(policyRuleset({ cluster }));
  assert.ok(changed > 0 && changed < total / 10, `${changed} element changes of ${total}`);
  console.log(`one label change: ${plan.tx.ops.length} ops, ${changed} element changes of ${total} elements`);
});
