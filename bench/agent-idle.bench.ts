// An agent's steady-state cost in a busy cluster (issue 6 §6): one real agent
// in a lab, plus 100 simulated Nodes that heartbeat as real agents do (Lease
// renewed every 10 s, Node status reposted every 40 s). Reports the agent's
// CPU use (utime + stime from /proc over the window) and its reconciles per
// second (every counter its /metrics exposes whose name says reconcile or
// sync), over a window with the heartbeats (default 300 s) against a baseline
// window in the same run with the 100 Nodes present but silent.
// Then one simulated peer really changes (its VTEP MAC), and the overlay
// reconcile count must move: proof that the counters count.
//   node --import tsx bench/agent-idle.bench.ts [--nodes 100] [--seconds 300] [--baseline 60]
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBenchLab } from './lab-harness.ts';
import { rssMiB } from './rss.ts';
import { machineInfo, parseFlags, printResult } from './stats.ts';
import { readLabState } from '../src/lab/state-file.ts';
import { labStateDir } from '../src/lab/plan.ts';
import {
  LEASE_RENEW_INTERVAL_MS, NODE_STATUS_INTERVAL_MS,
  buildNode, buildNodeLease, buildNodeStatus, leaseRenewal, type NodeFacts,
} from '../src/agent/node-object.ts';
import { vtepAnnotations } from '../src/overlay/node-annotations.ts';
import { LEASES, NODE_LEASE_NAMESPACE } from '../src/core/well-known.ts';
import type { ApiClient } from '../src/client/types.ts';

const flags = parseFlags(process.argv.slice(2), { nodes: 100, seconds: 300, baseline: 60 });
const CLK_TCK = 100;

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
}

function scrape(socketPath: string): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/metrics', method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        const out = new Map<string, number>();
        for (const line of body.split('\n')) {
          if (!line || line.startsWith('#')) continue;
          const i = line.lastIndexOf(' ');
          const name = line.slice(0, i);
          if (/reconcile|sync/i.test(name) && /(_total|_count)(\{|$)/.test(name)) out.set(name, Number(line.slice(i + 1)));
        }
        resolve(out);
      });
    });
    req.on('error', reject);
    req.end();
  });
}

function delta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of after) out[k] = v - (before.get(k) ?? 0);
  return out;
}

function facts(i: number): NodeFacts {
  return {
    nodeName: `sim-${i}`,
    nodeIP: `172.31.${100 + Math.floor(i / 250)}.${(i % 250) + 1}`,
    hostname: `sim-${i}`,
    cpus: 2,
    memoryBytes: 8 * 2 ** 30,
    kernelVersion: 'sim',
    osImage: 'sim',
    arch: 'x64',
    bootID: `boot-${i}`,
    machineID: `machine-${i}`,
    healthPort: 0,
  };
}

function macFor(i: number, gen: number): string {
  return `02:5e:${gen.toString(16).padStart(2, '0')}:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
}

/** Each simulated node renews its Lease every 10 s and reposts its status every 40 s, spread evenly. */
function simulate(client: ApiClient, n: number): { stop(): Promise<void>; writes(): number } {
  let stopped = false;
  let writes = 0;
  const loops: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    loops.push((async () => {
      await sleep((i / n) * LEASE_RENEW_INTERVAL_MS);
      let beat = 0;
      while (!stopped) {
        const now = new Date();
        await client.patch(LEASES, NODE_LEASE_NAMESPACE, `sim-${i}`, leaseRenewal(`sim-${i}`, now), 'merge');
        writes++;
        if (beat % (NODE_STATUS_INTERVAL_MS / LEASE_RENEW_INTERVAL_MS) === 0) {
          const node = await client.get('nodes', '', `sim-${i}`);
          await client.patch('nodes', '', `sim-${i}`, { status: buildNodeStatus(facts(i), now, node) }, 'merge', { subresource: 'status' });
          writes++;
        }
        beat++;
        await sleep(LEASE_RENEW_INTERVAL_MS);
      }
    })());
  }
  return {
    writes: () => writes,
    async stop() {
      stopped = true;
      await Promise.allSettled(loops);
    },
  };
}

const lab = await startBenchLab('idle', 1);
try {
  const { client, plan } = lab;
  const state = readLabState(`${labStateDir(lab.root, lab.name)}/state.json`);
  const agent = state?.processes.find((p) => p.role === 'agent node-1');
  if (!agent?.pid) throw new Error('no agent pid in the lab state');
  const health = plan.nodes[0].healthSocket;

  process.stderr.write(`  creating ${flags.nodes} simulated nodes\n`);
  for (let i = 0; i < flags.nodes; i++) {
    const f = facts(i);
    const node = buildNode(f);
    node.metadata.annotations = { ...(node.metadata.annotations ?? {}), ...vtepAnnotations({ ip: f.nodeIP, mac: macFor(i, 0) }) };
    const created = await client.create('nodes', node);
    await client.patch('nodes', '', f.nodeName, { status: buildNodeStatus(f, new Date(), created) }, 'merge', { subresource: 'status' });
    await client.create(LEASES, buildNodeLease(f.nodeName, new Date(), created.metadata.uid));
  }
  // Let the controllers give them subnets and the agent program them as peers.
  await sleep(15_000);

  const window = async (seconds: number): Promise<{ cpuPercent: number; reconciles: Record<string, number>; perSecond: Record<string, number> }> => {
    const m0 = await scrape(health);
    const t0 = cpuTicks(agent.pid!);
    const w0 = Date.now();
    await sleep(seconds * 1000);
    const t1 = cpuTicks(agent.pid!);
    const wall = (Date.now() - w0) / 1000;
    const reconciles = delta(m0, await scrape(health));
    const perSecond = Object.fromEntries(Object.entries(reconciles).map(([k, v]) => [k, v / wall]));
    return { cpuPercent: (100 * (t1 - t0)) / CLK_TCK / wall, reconciles, perSecond };
  };

  process.stderr.write(`  baseline: ${flags.baseline} s with the nodes silent\n`);
  const quiet = await window(flags.baseline);
  process.stderr.write(`  busy: ${flags.seconds} s with ${flags.nodes} nodes heartbeating\n`);
  const sim = simulate(client, flags.nodes);
  const busy = await window(flags.seconds);
  await sim.stop();

  // One real peer change must show as overlay work.
  const before = await scrape(health);
  const f = facts(0);
  await client.patch('nodes', '', f.nodeName, { metadata: { annotations: vtepAnnotations({ ip: f.nodeIP, mac: macFor(0, 1) }) } }, 'merge');
  await sleep(3000);
  const change = delta(before, await scrape(health));

  printResult({
    bench: 'agent-idle',
    what: `one lab agent with ${flags.nodes} simulated Nodes (Lease every 10 s, status every 40 s); CPU from /proc utime+stime; reconcile/sync counters from the agent's /metrics`,
    seconds: flags.seconds,
    simulated_writes: sim.writes(),
    baseline_cpu_percent_of_one_core: quiet.cpuPercent,
    busy_cpu_percent_of_one_core: busy.cpuPercent,
    baseline_reconciles: quiet.reconciles,
    busy_reconciles: busy.reconciles,
    busy_reconciles_per_second: busy.perSecond,
    after_one_peer_change: change,
    agent_rss_mib: rssMiB(agent.pid),
    aim: 'under 1% of one core; no overlay or nft work unless a peer changed',
    machine: machineInfo(),
  });
} finally {
  await lab.down();
}
