// NetworkPolicy programming cost: P pods, Q policies through the real policy
// core (model.ts, ruleset.ts) and the adapter, into the real kernel in a
// network namespace this bench creates (mlt-policy-bench-<pid>, removed by
// exact name), or into the in-memory FakeNft with --fake 1. Measured: the
// full programming (cold start, one transaction), then one policy change, one
// pod label change and one new pod (core + diff + nft each, median of runs).
//
// The cluster: pods spread over 50 namespaces (labelled team=t0..t4), label
// app=a<k mod 200>, every 4th role=client; policy q (namespace q mod 50)
// selects app=a<q mod 200> and admits role=client pods of the namespaces of
// team t<q mod 5> on TCP 8000 + q mod 100; every 10th policy also isolates
// egress, admitting 10.0.0.0/8 except the pod network on 443. Every pod is on
// the node programmed (--nodes 1): the worst case for one agent.
//   node --import tsx bench/policy-sync.bench.ts [--pods 1000] [--policies 1000] [--runs 3] [--fake 0]
// Keep sizes small while the machine is shared (docs: lessons of the first wave).
import { run } from '../test/helpers/netns-lab.ts';
import { NftCommandRunner, type NftRunner } from '../src/nft/runner.ts';
import { FakeNft } from '../src/nft/fake.ts';
import { NftTable } from '../src/nft/table-sync.ts';
import { TableOwners } from '../src/nft/owners.ts';
import type { DesiredTable } from '../src/nft/model.ts';
import { compilePolicy, type ClusterView, type NamespaceView, type PodView, type Policy } from '../src/policy/model.ts';
import { policyRuleset, POLICY_TABLE, POLICY_TABLE_OWNER } from '../src/policy/ruleset.ts';
import { machineInfo, median, parseFlags, printResult } from './stats.ts';

const flags = parseFlags(process.argv.slice(2), { pods: 1000, policies: 1000, runs: 3, fake: 0 });
const NS = `mlt-policy-bench-${process.pid}`;
const NAMESPACES = 50;
const SUBNETS = ['10.244.0.0/16'];

const podIp = (k: number): string => `10.244.${(k >> 8) & 255}.${k & 255}`;

function pod(k: number, role?: string): PodView {
  return { namespace: `n${k % NAMESPACES}`, name: `p${k}`, labels: { app: `a${k % 200}`, role: role ?? (k % 4 === 0 ? 'client' : 'server') }, ips: [podIp(k + 1)], node: 'node-1', ports: [] };
}

function policy(q: number, port = 8000 + (q % 100)): Policy {
  const spec: Record<string, unknown> = {
    podSelector: { matchLabels: { app: `a${q % 200}` } },
    ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: `t${q % 5}` } }, podSelector: { matchLabels: { role: 'client' } } }], ports: [{ port }] }],
  };
  if (q % 10 === 0) {
    spec.policyTypes = ['Ingress', 'Egress'];
    spec.egress = [{ to: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.244.0.0/16'] } }], ports: [{ port: 443 }] }];
  }
  return compilePolicy({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace: `n${q % NAMESPACES}`, name: `np${q}` }, spec });
}

function cluster(pods: number, policies: number): ClusterView {
  const namespaces: NamespaceView[] = Array.from({ length: NAMESPACES }, (_, i) => ({ name: `n${i}`, labels: { team: `t${i % 5}` } }));
  return { namespaces, pods: Array.from({ length: pods }, (_, k) => pod(k)), policies: Array.from({ length: policies }, (_, q) => policy(q)) };
}

async function timed<T>(fn: () => Promise<T> | T): Promise<[number, T]> {
  const t0 = performance.now();
  const r = await fn();
  return [performance.now() - t0, r];
}

const elements = (t: DesiredTable): number => (t.sets ?? []).reduce((n, s) => n + (s.elements?.length ?? 0), 0);

async function main(): Promise<void> {
  const { pods: P, policies: Q, runs } = flags;
  const fake = flags.fake === 1;
  if (!fake) await run('ip', ['netns', 'add', NS]);
  try {
    const runner: NftRunner = fake ? new FakeNft() : new NftCommandRunner({ netns: NS, timeoutMs: 300_000 });
    const table = new NftTable({ owner: POLICY_TABLE_OWNER, table: POLICY_TABLE, runner, owners: new TableOwners() });
    let c = cluster(P, Q);
    const compute = (): DesiredTable => policyRuleset({ cluster: c, node: 'node-1', localSubnets: SUBNETS });
    const [computeFullMs, desired] = await timed(compute);
    const [coldMs, cold] = await timed(() => table.sync(desired));
    const total = elements(desired);

    /** One change: apply it, time compute + sync; then undo it (untimed). */
    const measure = async (apply: () => void, undo: () => void): Promise<{ ms: number; computeMs: number; ops: number }[]> => {
      const out = [];
      for (let r = 0; r < runs; r++) {
        apply();
        let computeMs = 0;
        const [ms, res] = await timed(async () => {
          const [cm, d] = await timed(compute);
          computeMs = cm;
          return table.sync(d);
        });
        out.push({ ms, computeMs, ops: res.ops });
        undo();
        await table.sync(compute());
      }
      return out;
    };
    const base = c;
    const policyChange = await measure(
      () => (c = { ...base, policies: base.policies.map((p, i) => (i === 1 ? policy(1, 9000) : p)) }),
      () => (c = base),
    );
    const labelChange = await measure(
      () => (c = { ...base, pods: base.pods.map((p, k) => (k === 4 ? pod(4, 'server') : p)) }),
      () => (c = base),
    );
    const newPod = await measure(
      () => (c = { ...base, pods: [...base.pods, pod(P)] }),
      () => (c = base),
    );
    const sum = (xs: { ms: number; computeMs: number; ops: number }[]) => ({ ms: median(xs.map((x) => x.ms)), computeMs: median(xs.map((x) => x.computeMs)), ops: median(xs.map((x) => x.ops)) });
    printResult({
      bench: 'policy-sync',
      note: fake ? 'FakeNft (no kernel)' : 'real nft in a netns; run under /tmp/meshlet-integration.lock',
      machine: machineInfo(),
      pods: P,
      policies: Q,
      rules: desired.chains.reduce((n, ch) => n + ch.rules.length, 0),
      elements: total,
      computeFullMs,
      coldStartMs: coldMs,
      coldStartOps: cold.ops,
      onePolicyChange: sum(policyChange),
      onePodLabelChange: sum(labelChange),
      oneNewPod: sum(newPod),
    });
  } finally {
    if (!fake) await run('ip', ['netns', 'del', NS]).catch(() => {});
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
