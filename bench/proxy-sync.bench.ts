// The service proxy's sync cost (root): N Services × E endpoints through the
// real Proxier (informer events → dirty Services → fragments → adapter →
// nft) fed by an in-memory API behind the real informer factory, in a
// network namespace this bench creates (mlt-proxy-bench-<pid>, removed by
// exact name). Measured in the same run: the cold start (chunked: the first
// chunk's commit and the whole), one endpoint change (event to committed),
// and the same change by an iptables-style proxy as the baseline: one rule
// per Service in a linear dispatch chain (no verdict map) and the whole
// table rebuilt in one transaction per sync, as iptables-restore rewrites
// the nat table. Also: the agent process's heap/RSS with the Services held.
//   node --import tsx bench/proxy-sync.bench.ts [--services 1000] [--endpoints 5] [--runs 3] [--baseline-runs 1]
// Keep sizes small while the machine is shared (docs: lessons of the first wave).
import { BENCH_PROXY_CONFIG, benchCluster, benchEndpointSlice, epIp } from './proxy-cluster-data.ts';
import { run } from '../test/helpers/netns-lab.ts';
import { NftCommandRunner } from '../src/nft/runner.ts';
import { TableOwners } from '../src/nft/owners.ts';
import { planSync } from '../src/nft/diff.ts';
import { renderTransaction } from '../src/nft/transaction.ts';
import { goTo, match, numgen, rule } from '../src/nft/rule.ts';
import type { DesiredChain, DesiredTable } from '../src/nft/model.ts';
import { servicePorts, type ServicePort } from '../src/proxy/service-ports.ts';
import { Proxier } from '../src/proxy/proxier.ts';
import { FakeApiClient } from '../test/helpers/fake-api-client.ts';
import { InformerFactory } from '../src/client/informer-factory.ts';
import { SLIM_TRANSFORMS, stripMetadata } from '../src/client/slim-objects.ts';
import { ENDPOINTSLICES } from '../src/core/well-known.ts';
import type { NftRunner } from '../src/nft/runner.ts';
import type { RenderedTransaction } from '../src/nft/transaction.ts';
import type { TableListing } from '../src/nft/listing.ts';
import type { TableId } from '../src/nft/model.ts';
import { endpointChainName, serviceChainName } from '../src/proxy/names.ts';
import { machineInfo, median, parseFlags, printResult } from './stats.ts';

const flags = parseFlags(process.argv.slice(2), { services: 1000, endpoints: 5, runs: 3, 'baseline-runs': 1, chunk: 1000 });
const NS = `mlt-proxy-bench-${process.pid}`;
/** The baseline lives in a namespace of its own: nft reads every table of a namespace on each run. */
const NS_BASE = `mlt-proxy-benchb-${process.pid}`;
const CFG = BENCH_PROXY_CONFIG;
const BASELINE = { family: 'ip' as const, name: 'meshlet-proxybase' };




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

/** The real runner, with the time of each commit recorded. */
class TimedRunner implements NftRunner {
  readonly applied: { at: number; ms: number; lines: number }[] = [];
  constructor(private readonly inner: NftRunner) {}
  async apply(tx: RenderedTransaction): Promise<void> {
    const t0 = performance.now();
    await this.inner.apply(tx);
    this.applied.push({ at: performance.now(), ms: performance.now() - t0, lines: tx.lines.length });
  }
  list(t: TableId): Promise<TableListing | null> {
    return this.inner.list(t);
  }
}

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for the proxier');
    await new Promise((r) => setTimeout(r, 1));
  }
}

async function main(): Promise<void> {
  const { services: n, endpoints: eps, runs } = flags;
  global.gc?.();
  const rssStart = process.memoryUsage().rss;
  await run('ip', ['netns', 'add', NS]);
  await run('ip', ['netns', 'add', NS_BASE]);
  const api = new FakeApiClient();
  const informers = new InformerFactory({ client: api, transforms: SLIM_TRANSFORMS, defaultTransform: stripMetadata });
  let proxier: Proxier | undefined;
  try {
    const nft = new NftCommandRunner({ netns: NS, timeoutMs: 300_000 });
    const runner = new TimedRunner(nft);
    const baseNft = new NftCommandRunner({ netns: NS_BASE, timeoutMs: 300_000 });
    const owners = new TableOwners();
    const c = benchCluster(n, eps);
    for (const s of c.services) api.putQuietly('services', s);
    for (const [, sl] of c.slices) api.putQuietly(ENDPOINTSLICES, sl[0]);
    informers.start();
    const rss0 = process.memoryUsage();
    proxier = new Proxier({
      informers, nodeName: 'n1', serviceCidrs: CFG.serviceCidrs, clusterCidrs: CFG.clusterCidrs, clusterDns: CFG.clusterDns,
      runner, owners, minSyncIntervalMs: 0, conntrack: false, healthChecks: false, chunkSize: flags.chunk, resyncMs: 0,
    });
    const t0 = performance.now();
    await proxier.start();
    await until(() => proxier!.syncs >= 1, 600_000);
    await proxier.idle();
    const coldMs = performance.now() - t0;
    const firstChunkMs = runner.applied[0].at - t0;
    const chunks = runner.applied.length;
    global.gc?.();
    const mem = process.memoryUsage();

    const baseHandle = owners.claim('bench', BASELINE);
    const rebuild = async (): Promise<void> => {
      const ports = servicePorts({ services: c.services, slicesByService: c.slices, nodeName: 'n1' });
      const plan = planSync({ table: baseHandle, desired: baselineTable(ports), rebuild: true, now: Date.now() });
      await baseNft.apply(renderTransaction(plan.tx, owners));
    };

    const change: number[] = [];
    const nftMs: number[] = [];
    const baseline: number[] = [];
    for (let r = 0; r < runs; r++) {
      const s = (r * 7919) % n;
      const name = `s${s}`;
      const was = c.slices.get(`bench/${name}`)!;
      // One endpoint replaced by another: event → dirty Service → one transaction.
      const next = benchEndpointSlice(name, [...Array.from({ length: eps - 1 }, (_, e) => epIp(s, e)), `10.250.${r}.${1 + (s % 250)}`]);
      const before = proxier.syncs;
      const applied = runner.applied.length;
      const [ms] = await timed(async () => {
        api.put(ENDPOINTSLICES, next);
        await until(() => proxier!.syncs > before, 60_000);
        await proxier!.idle();
      });
      change.push(ms);
      nftMs.push(runner.applied.slice(applied).reduce((a, x) => a + x.ms, 0));
      if (r < flags['baseline-runs']) {
        c.slices.set(`bench/${name}`, [next]);
        const [bms] = await timed(rebuild);
        baseline.push(bms);
        c.slices.set(`bench/${name}`, was);
      }
      const back = proxier.syncs;
      api.put(ENDPOINTSLICES, was[0]);
      await until(() => proxier!.syncs > back, 60_000);
      await proxier.idle();
    }
    printResult({
      bench: 'proxy-sync',
      note: 'run under /tmp/meshlet-integration.lock; times include `ip netns exec` (~8 ms per nft run)',
      machine: machineInfo(),
      services: n,
      endpointsPerService: eps,
      chunkSize: flags.chunk,
      coldStartMs: coldMs,
      coldStartFirstChunkMs: firstChunkMs,
      coldStartTransactions: chunks,
      oneEndpointChangeMs: median(change),
      oneEndpointChangeAllMs: change,
      oneEndpointChangeNftMs: median(nftMs),
      coldStartChunkMs: runner.applied.slice(0, chunks).map((a) => Math.round(a.ms)),
      ...(baseline.length ? { iptablesStyleRebuildMs: median(baseline), rebuildOverIncremental: median(baseline) / median(change) } : {}),
      heapUsedMiB: (mem.heapUsed - rss0.heapUsed) / 2 ** 20,
      rssMiB: mem.rss / 2 ** 20,
      rssAtStartMiB: rssStart / 2 ** 20,
    });
  } finally {
    await proxier?.stop().catch(() => {});
    await informers.stop().catch(() => {});
    await run('ip', ['netns', 'del', NS]).catch(() => {});
    await run('ip', ['netns', 'del', NS_BASE]).catch(() => {});
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
