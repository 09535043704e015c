// The service proxy's sync cost (root): N Services × E endpoints through the
// real proxy core (service-ports.ts, ruleset.ts) and the adapter, in a
// network namespace this bench creates (mlt-proxy-bench-<pid>, removed by
// exact name). Measured in the same run: the full programming (cold start,
// one transaction), one endpoint change (core + diff + nft), and the same
// change by an iptables-style proxy as the baseline: one rule per Service in
// a linear dispatch chain (no verdict map) and the whole table rebuilt in
// one transaction per sync, as iptables-restore rewrites the nat table.
//   node --import tsx bench/proxy-sync.bench.ts [--services 1000] [--endpoints 5] [--runs 3]
// Keep sizes small while the machine is shared (docs: lessons of the first wave).
import { run } from '../test/helpers/netns-lab.ts';
import { NftCommandRunner } from '../src/nft/runner.ts';
import { NftTable } from '../src/nft/table-sync.ts';
import { TableOwners } from '../src/nft/owners.ts';
import { planSync } from '../src/nft/diff.ts';
import { renderTransaction } from '../src/nft/transaction.ts';
import { goTo, match, numgen, rule } from '../src/nft/rule.ts';
import type { DesiredChain, DesiredTable } from '../src/nft/model.ts';
import type { SlimEndpointSlice, SlimService } from '../src/client/slim-objects.ts';
import { ServicePortMemo, servicePorts, type ServicePort } from '../src/proxy/service-ports.ts';
import { proxyTable, proxyTableId, PROXY_OWNER } from '../src/proxy/ruleset.ts';
import { endpointChainName, serviceChainName } from '../src/proxy/names.ts';
import { machineInfo, median, parseFlags, printResult } from './stats.ts';

const flags = parseFlags(process.argv.slice(2), { services: 1000, endpoints: 5, runs: 3 });
const NS = `mlt-proxy-bench-${process.pid}`;
const CFG = { family: 4 as const, serviceCidrs: ['10.96.0.0/12'], clusterCidrs: ['10.244.0.0/16'], clusterDns: '10.96.0.10' };
const BASELINE = { family: 'ip' as const, name: 'meshlet-proxybase' };

const svcIp = (i: number): string => `10.${97 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
const epIp = (s: number, e: number): string => `10.244.${(s * 7 + e) % 250}.${1 + ((s + e * 31) % 250)}`;

function cluster(n: number, eps: number): { services: SlimService[]; slices: Map<string, SlimEndpointSlice[]> } {
  const services: SlimService[] = [];
  const slices = new Map<string, SlimEndpointSlice[]>();
  for (let s = 0; s < n; s++) {
    const name = `s${s}`;
    services.push({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'bench' }, spec: { clusterIP: svcIp(s), ports: [{ name: 'http', protocol: 'TCP', port: 80 }] } });
    slices.set(`bench/${name}`, [endpointSlice(name, Array.from({ length: eps }, (_, e) => epIp(s, e)))]);
  }
  return { services, slices };
}

function endpointSlice(name: string, ips: string[]): SlimEndpointSlice {
  return { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name, namespace: 'bench' }, addressType: 'IPv4', endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })), ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] };
}

/** The iptables-style table: a linear dispatch chain (one rule per Service port), chains as the proxy's. */
function baselineTable(ports: readonly ServicePort[]): DesiredTable {
  const dispatch: DesiredChain = { name: 'services', base: { type: 'nat', hook: 'prerouting', priority: 'dstnat' }, rules: [] };
  const chains: DesiredChain[] = [dispatch];
  const rules = [];
  for (const p of ports) {
    const sc = serviceChainName(p);
    rules.push(rule(match('ip daddr', p.clusterIP), match('meta l4proto', p.protocol), match('th dport', p.port), goTo(sc)));
    const eps = p.endpoints.map((e) => endpointChainName(p, e.ip, e.port));
    chains.push({ name: sc, rules: [rule(numgen(eps.map((c) => ({ goto: c }))))] });
    p.endpoints.forEach((e, i) => chains.push({ name: eps[i], rules: [rule({ dnat: { family: 'ip', addr: e.ip, port: e.port, protocol: p.protocol } })] }));
  }
  chains[0] = { ...dispatch, rules };
  return { chains };
}

async function timed<T>(fn: () => Promise<T> | T): Promise<[number, T]> {
  const t0 = performance.now();
  const r = await fn();
  return [performance.now() - t0, r];
}

async function main(): Promise<void> {
  const { services: n, endpoints: eps, runs } = flags;
  await run('ip', ['netns', 'add', NS]);
  try {
    const runner = new NftCommandRunner({ netns: NS, timeoutMs: 300_000 });
    const owners = new TableOwners();
    const table = new NftTable({ owner: PROXY_OWNER, table: proxyTableId(4), runner, owners });
    const c = cluster(n, eps);
    const memo = new ServicePortMemo(); // as the proxier keeps it
    const compute = (): DesiredTable => proxyTable(servicePorts({ services: c.services, slicesByService: c.slices, nodeName: 'n1' }, memo), CFG);
    const [computeFullMs, desired] = await timed(compute);
    const [coldMs, cold] = await timed(() => table.sync(desired));

    const baseHandle = owners.claim('bench', BASELINE);
    const rebuild = async (): Promise<void> => {
      const ports = servicePorts({ services: c.services, slicesByService: c.slices, nodeName: 'n1' });
      const plan = planSync({ table: baseHandle, desired: baselineTable(ports), rebuild: true, now: Date.now() });
      await runner.apply(renderTransaction(plan.tx, owners));
    };
    await rebuild();

    const change: number[] = [];
    const changeOps: number[] = [];
    const computeMs: number[] = [];
    const baseline: number[] = [];
    for (let r = 0; r < runs; r++) {
      const s = (r * 7919) % n;
      const key = `bench/s${s}`;
      const was = c.slices.get(key)!;
      // One endpoint replaced by another.
      c.slices.set(key, [endpointSlice(`s${s}`, [...Array.from({ length: eps - 1 }, (_, e) => epIp(s, e)), `10.250.${r}.${1 + (s % 250)}`])]);
      const [ms, out] = await timed(async () => {
        const [cm, d] = await timed(compute);
        computeMs.push(cm);
        return table.sync(d);
      });
      change.push(ms);
      changeOps.push(out.ops);
      const [bms] = await timed(rebuild);
      baseline.push(bms);
      c.slices.set(key, was);
      await table.sync(compute());
    }
    printResult({
      bench: 'proxy-sync',
      note: 'run under /tmp/meshlet-integration.lock',
      machine: machineInfo(),
      services: n,
      endpointsPerService: eps,
      computeFullMs,
      coldStartMs: coldMs,
      coldStartOps: cold.ops,
      oneEndpointChangeMs: median(change),
      oneEndpointChangeOps: median(changeOps),
      oneEndpointChangeComputeMs: median(computeMs),
      iptablesStyleRebuildMs: median(baseline),
      rebuildOverIncremental: median(baseline) / median(change),
    });
  } finally {
    await run('ip', ['netns', 'del', NS]).catch(() => {});
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
