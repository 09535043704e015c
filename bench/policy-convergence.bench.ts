// Convergence of NetworkPolicy (root): from the API's answer to a policy
// create (or delete) until every node's agent has it in its kernel table. A
// lab of N nodes (default 3) with one pod per node; the policy isolates all of
// them, so every node must program its own pod. "Programmed" is read from
// each node's `inet meshlet-policy` set ingress-isolated (`nft -j list set`,
// all nodes polled in parallel every ~10 ms, so the figures include up to one
// poll period).
//   node --import tsx bench/policy-convergence.bench.ts [--nodes 3] [--runs 20]
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBenchLab, waitRunning, podObject, type BenchLab } from './lab-harness.ts';
import { NETWORKPOLICIES } from '../src/core/well-known.ts';
import { machineInfo, median, parseFlags, percentile, printResult } from './stats.ts';

const execFileP = promisify(execFile);
const flags = parseFlags(process.argv.slice(2), { nodes: 3, runs: 20 });

async function isolated(netns: string): Promise<string[]> {
  const { stdout } = await execFileP('ip', ['netns', 'exec', netns, 'nft', '-j', 'list', 'set', 'inet', 'meshlet-policy', 'ingress-isolated']);
  const doc = JSON.parse(stdout) as { nftables: { set?: { elem?: unknown[] } }[] };
  return (doc.nftables.find((x) => x.set)?.set?.elem ?? []).map(String);
}

/** ms until every node's set holds (want) or lacks (!want) its pod's address. */
async function converge(lab: BenchLab, ipsByNode: Map<string, string>, want: boolean, t0: number): Promise<number> {
  const pending = new Set(ipsByNode.keys());
  const end = t0 + 30_000;
  while (pending.size) {
    await Promise.all(
      [...pending].map(async (netns) => {
        const has = (await isolated(netns)).includes(ipsByNode.get(netns)!);
        if (has === want) pending.delete(netns);
      }),
    );
    if (performance.now() > end) throw new Error(`not converged within 30 s on ${[...pending].join(', ')}`);
    if (pending.size) await sleep(10);
  }
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const lab = await startBenchLab('plc', flags.nodes);
  try {
    const ipsByNode = new Map<string, string>();
    for (const n of lab.plan.nodes) {
      await lab.client.create('pods', podObject(`c-${n.index}`, n.nodeName, ['sleep', '3600'], { app: 'conv' }));
    }
    for (const n of lab.plan.nodes) {
      const p = await waitRunning(lab.client, 'default', `c-${n.index}`);
      ipsByNode.set(n.netns, (p.status as { podIP: string }).podIP);
    }
    const create: number[] = [];
    const remove: number[] = [];
    for (let r = 0; r < flags.runs; r++) {
      const name = `conv-${r}`;
      await lab.client.create(NETWORKPOLICIES, { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace: 'default', name }, spec: { podSelector: { matchLabels: { app: 'conv' } }, policyTypes: ['Ingress'] } });
      const t0 = performance.now();
      create.push(await converge(lab, ipsByNode, true, t0));
      await lab.client.delete(NETWORKPOLICIES, 'default', name);
      const t1 = performance.now();
      remove.push(await converge(lab, ipsByNode, false, t1));
    }
    printResult({
      bench: 'policy-convergence',
      note: 'from the API answer until every node programmed it; ~10 ms poll period included; run under /tmp/meshlet-integration.lock',
      machine: machineInfo(),
      nodes: flags.nodes,
      runs: flags.runs,
      applyMsP50: median(create),
      applyMsP99: percentile(create, 99),
      deleteMsP50: median(remove),
      deleteMsP99: percentile(remove, 99),
    });
  } finally {
    await lab.down();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
