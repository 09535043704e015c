// What one `nft -f` costs, by command type, against the proxy's table with N
// Services (root). A network namespace of its own (mlt-w4proxy-nftcost-<pid>,
// removed by exact name) gets the real proxy table (proxyTable of N Services
// × E endpoints, one transaction); then each probe transaction is applied R
// times (and undone after each run, untimed), and the median wall time of the
// `nft` process is reported, with its user and system CPU. The same probes
// run in a second, empty namespace as the baseline of the same run (the cost
// of starting nft at all). Where the time goes: the nft cache (what nft
// fetches before it evaluates the commands) grows with the chains and sets of
// the namespace; the kernel validates the chain graph on a commit that adds
// a jump, a goto or an expression with a validate hook.
// Then the proxy's real one-endpoint change (new endpoint chain, service
// chain refilled, old endpoint chain flushed) against the table as the proxy
// builds it (a random cascade of rules per service chain) and, in a third
// namespace in the same run, against the earlier shape (one anonymous
// `numgen … vmap` per service chain): the price of a set per Service; and
// the change as the adapter renders it (rules in `add chain T C { … }`
// blocks, for which nft loads no chain or set cache) against `add rule`s.
//   node --import tsx bench/nft-command-cost.bench.ts [--services 1000] [--endpoints 5] [--runs 7]
import { BENCH_PROXY_CONFIG, benchCluster } from './proxy-cluster-data.ts';
import { spawnSync } from 'node:child_process';
import { run } from '../test/helpers/netns-lab.ts';
import { TableOwners } from '../src/nft/owners.ts';
import { planSync } from '../src/nft/diff.ts';
import { renderTransaction } from '../src/nft/transaction.ts';
import { servicePorts } from '../src/proxy/service-ports.ts';
import { proxyTable, proxyTableId, PROXY_OWNER } from '../src/proxy/ruleset.ts';
import { endpointChainName, serviceChainName } from '../src/proxy/names.ts';
import { numgen, randomChoice, renderRule, rule, type Rule } from '../src/nft/rule.ts';
import type { DesiredTable } from '../src/nft/model.ts';
import type { Verdict } from '../src/nft/values.ts';
import { machineInfo, median, parseFlags, printResult } from './stats.ts';

const flags = parseFlags(process.argv.slice(2), { services: 1000, endpoints: 5, runs: 7 });
const NS = `mlt-w4proxy-nftcost-${process.pid}`;
const NS_EMPTY = `mlt-w4proxy-nftcoste-${process.pid}`;
const NS_MAPS = `mlt-w4proxy-nftcostm-${process.pid}`;
const CFG = BENCH_PROXY_CONFIG;


/** The earlier shape: each service chain's random cascade folded back into one anonymous numgen map. */
function withNumgenMaps(t: DesiredTable): DesiredTable {
  return {
    ...t,
    chains: t.chains.map((c) => {
      const at = c.rules.findIndex((r) => 'numgenIs' in r.body[0]);
      if (at < 0) return c;
      const verdicts: Verdict[] = c.rules.slice(at).map((r) => { const v = r.body[r.body.length - 1]; if (!('verdict' in v)) throw new Error('not a cascade'); return v.verdict; });
      return { ...c, rules: [...c.rules.slice(0, at), rule(numgen(verdicts))] };
    }),
  };
}

/** The proxy's one-endpoint change as text: endpoint 4 of service 0 replaced (the shape's own service-chain rules). */
function oneChange(T: string, svc: string, eps: string[], newEp: string, newIp: string, pick: Rule[], table: DesiredTable, block = false): { text: string; undo: string } {
  const rulesOf = (name: string): string[] => table.chains.find((c) => c.name === name)!.rules.map((r) => `add rule ${T} ${name} ${renderRule(r)}`);
  const oldEp = eps[eps.length - 1];
  const undo = [`flush chain ${T} ${svc}`, ...rulesOf(svc), ...rulesOf(oldEp), `flush chain ${T} ${newEp}`, `delete chain ${T} ${newEp}`];
  if (block) {
    // as src/nft/transaction.ts renders it: rules in `add chain T C { … }` blocks
    const svcRules = ['ip saddr != 10.244.0.0/16 jump mark-for-masquerade', ...pick.map(renderRule)];
    const text = [
      `add chain ${T} ${newEp}`,
      `add chain ${T} ${newEp} { ip saddr ${newIp} jump mark-for-masquerade ; meta l4proto tcp dnat ip to ${newIp}:8080 ; }`,
      `flush chain ${T} ${svc}`,
      `add chain ${T} ${svc} { ${svcRules.join(' ; ')} ; }`,
      `flush chain ${T} ${eps[eps.length - 1]}`,
    ];
    return { text: text.join('\n') + '\n', undo: undo.join('\n') + '\n' };
  }
  const lines = [
    `add chain ${T} ${newEp}`,
    `add rule ${T} ${newEp} ip saddr ${newIp} jump mark-for-masquerade`,
    `add rule ${T} ${newEp} meta l4proto tcp dnat ip to ${newIp}:8080`,
    `flush chain ${T} ${svc}`,
    `add rule ${T} ${svc} ip saddr != 10.244.0.0/16 jump mark-for-masquerade`,
    ...pick.map((r) => `add rule ${T} ${svc} ${renderRule(r)}`),
    `flush chain ${T} ${eps[eps.length - 1]}`,
  ];
  return { text: lines.join('\n') + '\n', undo: undo.join('\n') + '\n' };
}

interface Cost { wallMs: number; userMs: number; sysMs: number }

/** One `nft -f -` in `ns`, timed by the child's own rusage (bash's `times` is not needed: /usr/bin/time is not installed). */
function nftOnce(ns: string, text: string): Cost {
  const script = 'TIMEFORMAT="%R %U %S"; { time nft -f - ; } 2>&1 >/dev/null';
  const r = spawnSync('ip', ['netns', 'exec', ns, 'bash', '-c', script], { input: text, encoding: 'utf8' });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  const [wall, user, sys] = last.split(' ').map(Number);
  if (r.status !== 0 || !Number.isFinite(wall)) throw new Error(`nft failed in ${ns}: ${r.stdout}${r.stderr}`);
  return { wallMs: wall * 1000, userMs: user * 1000, sysMs: sys * 1000 };
}

function probe(ns: string, text: string, undo: string | undefined, runs: number): Cost {
  const out: Cost[] = [];
  for (let i = 0; i < runs; i++) {
    out.push(nftOnce(ns, text));
    if (undo) nftOnce(ns, undo);
  }
  return { wallMs: median(out.map((c) => c.wallMs)), userMs: median(out.map((c) => c.userMs)), sysMs: median(out.map((c) => c.sysMs)) };
}

async function main(): Promise<void> {
  const { services: n, runs } = flags;
  await run('ip', ['netns', 'add', NS]);
  await run('ip', ['netns', 'add', NS_EMPTY]);
  await run('ip', ['netns', 'add', NS_MAPS]);
  try {
    const owners = new TableOwners();
    const handle = owners.claim(PROXY_OWNER, proxyTableId(4));
    const c = benchCluster(n, flags.endpoints);
    const ports = servicePorts({ services: c.services, slicesByService: c.slices, nodeName: 'n1' });
    const desired = proxyTable(ports, CFG);
    const full = renderTransaction(planSync({ table: handle, desired, rebuild: true, now: Date.now() }).tx, owners);
    const t0 = performance.now();
    const load = nftOnce(NS, full.text);
    const loadMs = performance.now() - t0;
    const mapsFull = renderTransaction(planSync({ table: handle, desired: withNumgenMaps(desired), rebuild: true, now: Date.now() }).tx, owners);
    const t1 = performance.now();
    const mapsLoad = nftOnce(NS_MAPS, mapsFull.text);
    const mapsLoadMs = performance.now() - t1;
    // The empty namespace gets the base table only (same maps and hooks, no Service).
    const base = renderTransaction(planSync({ table: handle, desired: proxyTable([], CFG), rebuild: true, now: Date.now() }).tx, owners);
    nftOnce(NS_EMPTY, base.text);
    const T = 'ip meshlet-proxy';
    const svc0 = serviceChainName(ports[0]);
    const probes: Record<string, { text: string; undo?: string; emptyText?: string; emptyUndo?: string }> = {
      'nothing (an empty transaction)': { text: '\n' },
      'add element, verdict drop (no chain reference)': { text: `add element ${T} no-endpoint-services { 10.111.0.1 . tcp . 81 : drop }\n`, undo: `delete element ${T} no-endpoint-services { 10.111.0.1 . tcp . 81 }\n` },
      'add element, goto an existing chain': {
        text: `add element ${T} service-ips { 10.111.0.1 . tcp . 81 : goto ${svc0} }\n`,
        undo: `delete element ${T} service-ips { 10.111.0.1 . tcp . 81 }\n`,
        emptyText: `add element ${T} service-ips { 10.111.0.1 . tcp . 81 : goto reject-chain }\n`,
        emptyUndo: `delete element ${T} service-ips { 10.111.0.1 . tcp . 81 }\n`,
      },
      'add chain (regular, empty)': { text: `add chain ${T} probe-chain\n`, undo: `delete chain ${T} probe-chain\n` },
      'add chain + add rule dnat': { text: `add chain ${T} probe-chain\nadd rule ${T} probe-chain meta l4proto tcp dnat ip to 10.244.9.9:8080\n`, undo: `flush chain ${T} probe-chain\ndelete chain ${T} probe-chain\n` },
      'add rule jump (mark chain) + dnat in a new chain': { text: `add chain ${T} probe-chain\nadd rule ${T} probe-chain ip saddr 10.244.9.9 jump mark-for-masquerade\nadd rule ${T} probe-chain meta l4proto tcp dnat ip to 10.244.9.9:8080\n`, undo: `flush chain ${T} probe-chain\ndelete chain ${T} probe-chain\n` },
      'flush chain by name (an existing service chain, refilled the same)': {
        text: `flush chain ${T} reject-chain\nadd rule ${T} reject-chain meta l4proto tcp reject with tcp reset\nadd rule ${T} reject-chain reject with icmp port-unreachable\n`,
      },
    };
    const results: Record<string, { table: Cost; empty: Cost }> = {};
    for (const [name, p] of Object.entries(probes)) {
      results[name] = { table: probe(NS, p.text, p.undo, runs), empty: probe(NS_EMPTY, p.emptyText ?? p.text, p.emptyUndo ?? p.undo, runs) };
    }
    // The real one-endpoint change, both shapes, alternating so that the machine's load falls on both alike.
    const eps = ports[0].endpoints.map((e) => endpointChainName(ports[0], e.ip, e.port));
    const newEp = endpointChainName(ports[0], '10.250.0.9', 8080);
    const targets = [...eps.slice(0, -1), newEp].map((t): Verdict => ({ goto: t }));
    const change = {
      cascadeBlocks: oneChange(T, svc0, eps, newEp, '10.250.0.9', randomChoice(targets), desired, true),
      cascade: oneChange(T, svc0, eps, newEp, '10.250.0.9', randomChoice(targets), desired),
      maps: oneChange(T, svc0, eps, newEp, '10.250.0.9', [rule(numgen(targets))], withNumgenMaps(desired)),
    };
    const samples: Record<'cascadeBlocks' | 'cascade' | 'maps', Cost[]> = { cascadeBlocks: [], cascade: [], maps: [] };
    for (let i = 0; i < runs; i++) {
      for (const [shape, ns] of [['cascadeBlocks', NS], ['cascade', NS], ['maps', NS_MAPS]] as const) {
        samples[shape].push(nftOnce(ns, change[shape].text));
        nftOnce(ns, change[shape].undo);
      }
    }
    const med = (c: Cost[]): Cost => ({ wallMs: median(c.map((x) => x.wallMs)), userMs: median(c.map((x) => x.userMs)), sysMs: median(c.map((x) => x.sysMs)) });
    const oneEndpointChange = { cascadeInBlocks: med(samples.cascadeBlocks), cascadeAddRule: med(samples.cascade), numgenMapsAddRule: med(samples.maps) };
    const chains = Number((await run('ip', ['netns', 'exec', NS, 'sh', '-c', `nft list chains ip | grep -c 'chain '`])).trim());
    printResult({ bench: 'nft-command-cost', machine: machineInfo(), services: n, endpointsPerService: flags.endpoints, chains, runs, coldLoad: { cascade: { ...load, wallMs: loadMs }, numgenMaps: { ...mapsLoad, wallMs: mapsLoadMs } }, oneEndpointChange, results });
  } finally {
    await run('ip', ['netns', 'del', NS]).catch(() => {});
    await run('ip', ['netns', 'del', NS_EMPTY]).catch(() => {});
    await run('ip', ['netns', 'del', NS_MAPS]).catch(() => {});
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
