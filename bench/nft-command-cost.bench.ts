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
//   node --import tsx bench/nft-command-cost.bench.ts [--services 1000] [--endpoints 5] [--runs 7]
import { spawnSync } from 'node:child_process';
import { run } from '../test/helpers/netns-lab.ts';
import { TableOwners } from '../src/nft/owners.ts';
import { planSync } from '../src/nft/diff.ts';
import { renderTransaction } from '../src/nft/transaction.ts';
import { servicePorts } from '../src/proxy/service-ports.ts';
import { proxyTable, proxyTableId, PROXY_OWNER } from '../src/proxy/ruleset.ts';
import { serviceChainName } from '../src/proxy/names.ts';
import type { SlimEndpointSlice, SlimService } from '../src/client/slim-objects.ts';
import { machineInfo, median, parseFlags, printResult } from './stats.ts';

const flags = parseFlags(process.argv.slice(2), { services: 1000, endpoints: 5, runs: 7 });
const NS = `mlt-w4proxy-nftcost-${process.pid}`;
const NS_EMPTY = `mlt-w4proxy-nftcoste-${process.pid}`;
const CFG = { family: 4 as const, serviceCidrs: ['10.96.0.0/12'], clusterCidrs: ['10.244.0.0/16'], clusterDns: '10.96.0.10' };
const svcIp = (i: number): string => `10.${97 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
const epIp = (s: number, e: number): string => `10.244.${(s * 7 + e) % 250}.${1 + ((s + e * 31) % 250)}`;

function cluster(n: number, eps: number): { services: SlimService[]; slices: Map<string, SlimEndpointSlice[]> } {
  const services: SlimService[] = [];
  const slices = new Map<string, SlimEndpointSlice[]>();
  for (let s = 0; s < n; s++) {
    const name = `s${s}`;
    services.push({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'bench' }, spec: { clusterIP: svcIp(s), clusterIPs: [svcIp(s)], ports: [{ name: 'http', protocol: 'TCP', port: 80 }] } });
    slices.set(`bench/${name}`, [{ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name, namespace: 'bench', labels: { 'kubernetes.io/service-name': name } }, addressType: 'IPv4', endpoints: Array.from({ length: eps }, (_, e) => ({ addresses: [epIp(s, e)], conditions: { ready: true } })), ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] }]);
  }
  return { services, slices };
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
  const { services: n, endpoints: eps, runs } = flags;
  await run('ip', ['netns', 'add', NS]);
  await run('ip', ['netns', 'add', NS_EMPTY]);
  try {
    const owners = new TableOwners();
    const handle = owners.claim(PROXY_OWNER, proxyTableId(4));
    const c = cluster(n, eps);
    const ports = servicePorts({ services: c.services, slicesByService: c.slices, nodeName: 'n1' });
    const full = renderTransaction(planSync({ table: handle, desired: proxyTable(ports, CFG), rebuild: true, now: Date.now() }).tx, owners);
    const t0 = performance.now();
    nftOnce(NS, full.text);
    const loadMs = performance.now() - t0;
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
    const chains = Number((await run('ip', ['netns', 'exec', NS, 'sh', '-c', `nft list chains ip | grep -c 'chain '`])).trim());
    printResult({ bench: 'nft-command-cost', machine: machineInfo(), services: n, endpointsPerService: eps, chains, loadMs, runs, results });
  } finally {
    await run('ip', ['netns', 'del', NS]).catch(() => {});
    await run('ip', ['netns', 'del', NS_EMPTY]).catch(() => {});
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
