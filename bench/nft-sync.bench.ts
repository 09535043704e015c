// The nftables adapter at proxy scale (root): a kube-proxy-shaped table (a
// verdict map dispatching to a chain per service, a chain per endpoint) with
// N services × 5 endpoints, programmed in a network namespace this bench
// creates (mlt-nft-bench-<pid>), removed by exact name. Measured in the same
// run: cold start in one transaction and in chunks (partial syncs); one
// endpoint change; a sync with nothing changed; and, as the baseline, the
// same endpoint change applied by a full resync of a second, identical table
// (every chain flushed and refilled: what a non-incremental proxy does per
// sync, and what the adapter does at start and on its periodic resync).
//   node --import tsx bench/nft-sync.bench.ts [--services 10000] [--endpoints 5] [--chunk 1000] [--runs 5]
import { run } from '../test/helpers/netns-lab.ts';
import { NftCommandRunner } from '../src/nft/runner.ts';
import { NftTable } from '../src/nft/table-sync.ts';
import { TableOwners } from '../src/nft/owners.ts';
import { planSync } from '../src/nft/diff.ts';
import { rule, vmap, numgen } from '../src/nft/rule.ts';
import type { DesiredChain, DesiredTable, MapElement } from '../src/nft/model.ts';
import { machineInfo, median, parseFlags, printResult } from './stats.ts';

const flags = parseFlags(process.argv.slice(2), { services: 10000, endpoints: 5, chunk: 1000, runs: 5 });
const NS = `mlt-nft-bench-${process.pid}`;
const TABLE = { family: 'ip' as const, name: 'meshlet-nftbench' };
const BASELINE = { family: 'ip' as const, name: 'meshlet-nftbase' };

function ip(base: number, i: number): string {
  return `10.${base}.${(i >> 8) & 255}.${i & 255}`;
}

interface Fragment {
  chains: DesiredChain[];
  element: MapElement;
}

// A part keeps the desired objects of what did not change (the adapter caches
// their rendering by identity), as a proxy keeps per-service state.
const fragments = new Map<string, Fragment>();

function fragment(s: number, count: number): Fragment {
  const key = `${s}/${count}`;
  let f = fragments.get(key);
  if (!f) {
    const epNames = Array.from({ length: count }, (_, e) => `ep-${s}-${e}`);
    f = {
      chains: [
        { name: `svc-${s}`, rules: [rule(numgen(epNames.map((c) => ({ goto: c }))))] },
        ...epNames.map((name, e) => ({ name, rules: [rule({ dnat: { family: 'ip' as const, addr: ip(128 + (e % 64), s), port: 8080, protocol: 'tcp' as const } })] })),
      ],
      element: { key: [ip(96, s), 'tcp', 80], value: { goto: `svc-${s}` } },
    };
    fragments.set(key, f);
  }
  return f;
}

const dispatch: DesiredChain = { name: 'services', base: { type: 'nat', hook: 'prerouting', priority: 'dstnat' }, rules: [rule(vmap('service-ips', 'ip daddr', 'meta l4proto', 'th dport'))] };

/** Services 0..n-1; service `bump` gets one more endpoint when given. */
function table(n: number, eps: number, bump?: number): DesiredTable {
  const chains: DesiredChain[] = [dispatch];
  const elements: MapElement[] = [];
  for (let s = 0; s < n; s++) {
    const f = fragment(s, eps + (s === bump ? 1 : 0));
    chains.push(...f.chains);
    elements.push(f.element);
  }
  return { chains, maps: [{ name: 'service-ips', type: ['ipv4_addr', 'inet_proto', 'inet_service'], value: 'verdict', elements }] };
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const r = await fn();
  return [performance.now() - t0, r];
}

async function main(): Promise<void> {
  const { services: n, endpoints: eps, chunk, runs } = flags;
  await run('ip', ['netns', 'add', NS]);
  try {
    const runner = new NftCommandRunner({ netns: NS, timeoutMs: 600_000 });
    const fresh = () => new NftTable({ owner: 'bench', table: TABLE, runner, owners: new TableOwners() });
    const full = table(n, eps);

    const oneShot = fresh();
    const [coldOne] = await timed(() => oneShot.sync(full));
    await oneShot.delete();

    const chunked = fresh();
    const chunkMs: number[] = [];
    let firstChunkMs = 0;
    const [coldChunked] = await timed(async () => {
      for (let k = chunk; k < n + chunk; k += chunk) {
        const [ms] = await timed(() => chunked.sync(table(Math.min(k, n), eps), { partial: k < n }));
        if (!firstChunkMs) firstChunkMs = ms;
        chunkMs.push(ms);
      }
    });

    const baseline = new NftTable({ owner: 'bench', table: BASELINE, runner, owners: new TableOwners() });
    await baseline.sync(full);
    const change: number[] = [];
    const changeOps: number[] = [];
    const planMs: number[] = [];
    const noop: number[] = [];
    const rebuild: number[] = [];
    const lockWaitNote = 'run under /tmp/meshlet-integration.lock';
    for (let r = 0; r < runs; r++) {
      const bump = (r * 7919) % n;
      const bumped = table(n, eps, bump);
      const [p] = await timed(async () => planSync({ table: chunked.handle, desired: bumped, committed: chunked.state!, now: Date.now() }));
      planMs.push(p);
      const [ms, out] = await timed(() => chunked.sync(bumped));
      change.push(ms);
      changeOps.push(out.ops);
      const [nm] = await timed(() => chunked.sync(bumped));
      noop.push(nm);
      await chunked.sync(full); // back
      // Baseline, in a second table: the same change by reprogramming the table whole (every chain
      // flushed and refilled, every element checked), what a non-incremental proxy does per sync.
      baseline.invalidate();
      const [rms] = await timed(() => baseline.sync(bumped));
      rebuild.push(rms);
      baseline.invalidate();
      await baseline.sync(full);
    }
    printResult({
      bench: 'nft-sync',
      note: lockWaitNote,
      machine: machineInfo(),
      services: n,
      endpointsPerService: eps,
      chains: 1 + n * (eps + 1),
      coldStartOneTransactionMs: coldOne,
      coldStartChunkedMs: coldChunked,
      chunk,
      firstChunkMs,
      medianChunkMs: median(chunkMs),
      oneEndpointChangeMs: median(change),
      oneEndpointChangeOps: median(changeOps),
      oneEndpointChangePlanMs: median(planMs),
      noChangeSyncMs: median(noop),
      fullResyncMs: median(rebuild),
      fullResyncOverIncremental: median(rebuild) / median(change),
    });
  } finally {
    await run('ip', ['netns', 'del', NS]).catch(() => {});
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
