// Per-packet cost of NetworkPolicy (root): connection latency and throughput
// between two "pods" routed through a "node" namespace holding the real
// `inet meshlet-policy` table, with 0 policies and with Q policies over P pods
// (bench/policy-sync.bench.ts's cluster, plus one policy admitting the client
// to the server, so the server is isolated and every new connection takes
// the set lookups), alternated in the same run. Namespaces
// mlt-polat-<pid>-{node,cli,srv}, removed by exact name.
//   node --import tsx bench/policy-latency.bench.ts [--pods 1000] [--policies 1000] [--connects 500] [--rounds 2]
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { inNs, run } from '../test/helpers/netns-lab.ts';
import { NftCommandRunner } from '../src/nft/runner.ts';
import { NftTable } from '../src/nft/table-sync.ts';
import { TableOwners } from '../src/nft/owners.ts';
import { compilePolicy, type ClusterView, type NamespaceView, type PodView, type Policy } from '../src/policy/model.ts';
import { policyRuleset, POLICY_TABLE, POLICY_TABLE_OWNER } from '../src/policy/ruleset.ts';
import { machineInfo, median, parseFlags, printResult } from './stats.ts';

const flags = parseFlags(process.argv.slice(2), { pods: 1000, policies: 1000, connects: 500, rounds: 2 });
const P = `mlt-polat-${process.pid}`;
const NODE = `${P}-node`;
const CLI = `${P}-cli`;
const SRV = `${P}-srv`;
const CLI_IP = '10.250.0.2';
const SRV_IP = '10.250.1.2';
const PORT = 8080;

const CONNECTS = `
import socket, sys, time, json
n = int(sys.argv[2]); out = []
for _ in range(n):
    t = time.perf_counter(); c = socket.create_connection((sys.argv[1], ${PORT}), timeout=5); c.recv(1); c.close(); out.append((time.perf_counter() - t) * 1e6)
out.sort(); print(json.dumps({'p50': out[len(out)//2], 'p99': out[int(len(out)*0.99)]}))
`;
const SERVER = `
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', ${PORT})); s.listen(512)
while True:
    c, _ = s.accept(); c.sendall(b'x'); c.close()
`;

function cluster(pods: number, policies: number): ClusterView {
  const namespaces: NamespaceView[] = Array.from({ length: 50 }, (_, i) => ({ name: `n${i}`, labels: { team: `t${i % 5}` } }));
  namespaces.push({ name: 'bench', labels: {} });
  const list: PodView[] = Array.from({ length: pods }, (_, k) => ({ namespace: `n${k % 50}`, name: `p${k}`, labels: { app: `a${k % 200}`, role: k % 4 === 0 ? 'client' : 'server' }, ips: [`10.244.${((k + 1) >> 8) & 255}.${(k + 1) & 255}`], node: 'node-1', ports: [] }));
  list.push({ namespace: 'bench', name: 'cli', labels: { app: 'cli' }, ips: [CLI_IP], node: 'node-1', ports: [] }, { namespace: 'bench', name: 'srv', labels: { app: 'srv' }, ips: [SRV_IP], node: 'node-1', ports: [] });
  const np = (ns: string, name: string, spec: Record<string, unknown>): Policy => compilePolicy({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace: ns, name }, spec });
  const pols: Policy[] = Array.from({ length: policies }, (_, q) =>
    np(`n${q % 50}`, `np${q}`, { podSelector: { matchLabels: { app: `a${q % 200}` } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: `t${q % 5}` } }, podSelector: { matchLabels: { role: 'client' } } }], ports: [{ port: 8000 + (q % 100) }] }] }),
  );
  if (policies > 0) pols.push(np('bench', 'srv-from-cli', { podSelector: { matchLabels: { app: 'srv' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'cli' } } }], ports: [{ port: PORT }, { port: 5201 }] }] }));
  return { namespaces, pods: list, policies: pols };
}

async function setup(): Promise<void> {
  for (const ns of [NODE, CLI, SRV]) await run('ip', ['netns', 'add', ns]);
  for (const [ns, dev, peer, addr, gw] of [[CLI, 'c0', 'vc', CLI_IP, '10.250.0.1'], [SRV, 's0', 'vs', SRV_IP, '10.250.1.1']] as const) {
    await run('ip', ['-n', NODE, 'link', 'add', peer, 'type', 'veth', 'peer', 'name', dev, 'netns', ns]);
    await run('ip', ['-n', NODE, 'addr', 'add', `${gw}/24`, 'dev', peer]);
    await run('ip', ['-n', NODE, 'link', 'set', peer, 'up']);
    await run('ip', ['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev]);
    for (const d of [dev, 'lo']) await run('ip', ['-n', ns, 'link', 'set', d, 'up']);
    await run('ip', ['-n', ns, 'route', 'add', 'default', 'via', gw]);
  }
  await inNs(NODE, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
}

async function measure(): Promise<{ connectP50Us: number; connectP99Us: number; gbps: number }> {
  const c = JSON.parse(await inNs(CLI, 'python3', '-c', CONNECTS, SRV_IP, String(flags.connects))) as { p50: number; p99: number };
  const ip = JSON.parse(await inNs(CLI, 'iperf3', '-c', SRV_IP, '-t', '3', '-J')) as { end: { sum_received: { bits_per_second: number } } };
  return { connectP50Us: c.p50, connectP99Us: c.p99, gbps: ip.end.sum_received.bits_per_second / 1e9 };
}

async function main(): Promise<void> {
  const children: ChildProcess[] = [];
  try {
    await setup();
    children.push(spawn('ip', ['netns', 'exec', SRV, 'python3', '-c', SERVER], { stdio: 'ignore' }));
    children.push(spawn('ip', ['netns', 'exec', SRV, 'iperf3', '-s'], { stdio: 'ignore' }));
    await sleep(500);
    const table = new NftTable({ owner: POLICY_TABLE_OWNER, table: POLICY_TABLE, runner: new NftCommandRunner({ netns: NODE, timeoutMs: 300_000 }), owners: new TableOwners() });
    const empty = policyRuleset({ cluster: cluster(flags.pods, 0), node: 'node-1' });
    const full = policyRuleset({ cluster: cluster(flags.pods, flags.policies), node: 'node-1' });
    const res: Record<'none' | 'many', { connectP50Us: number; connectP99Us: number; gbps: number }[]> = { none: [], many: [] };
    for (let r = 0; r < flags.rounds; r++) {
      // Each table freshly loaded (deleting 51,000 interval elements one by one is far slower than a new table).
      await table.delete();
      await table.sync(empty);
      res.none.push(await measure());
      await table.delete();
      await table.sync(full);
      res.many.push(await measure());
    }
    const med = (k: 'none' | 'many', f: 'connectP50Us' | 'connectP99Us' | 'gbps'): number => median(res[k].map((x) => x[f]));
    printResult({
      bench: 'policy-latency',
      note: 'client and server namespaces routed through a node namespace with the policy table; run under /tmp/meshlet-integration.lock',
      machine: machineInfo(),
      pods: flags.pods,
      policies: flags.policies,
      elements: (full.sets ?? []).reduce((n, s) => n + (s.elements?.length ?? 0), 0),
      connects: flags.connects,
      rounds: flags.rounds,
      noPolicies: { connectP50Us: med('none', 'connectP50Us'), connectP99Us: med('none', 'connectP99Us'), gbps: med('none', 'gbps') },
      withPolicies: { connectP50Us: med('many', 'connectP50Us'), connectP99Us: med('many', 'connectP99Us'), gbps: med('many', 'gbps') },
      connectLatencyRatio: med('many', 'connectP50Us') / med('none', 'connectP50Us'),
      throughputRatio: med('none', 'gbps') / med('many', 'gbps'),
    });
  } finally {
    for (const c of children) if (c.pid) c.kill();
    await sleep(200);
    for (const ns of [CLI, SRV, NODE]) await run('ip', ['netns', 'del', ns]).catch(() => {});
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
