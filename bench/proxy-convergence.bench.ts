// Convergence of the service proxy (root): from a pod turning Ready until a
// real TCP connection to its Service's ClusterIP reaches it from every node.
// A lab of N nodes (default 3, lab name "pconv<hex>"), a client pod per node
// and a Service (selector app=pconv, port 80 → 8080). Each sample creates one
// endpoint pod (round robin over the nodes) whose server answers its own name
// and whose readiness probe (exec, period 1 s) checks a flag file; before the
// flip the Service has no ready endpoint (connections are rejected). The bench
// creates the flag file (t_flip), polls the API every ~10 ms for Ready=True
// (t_ready), and a prober in every client pod connects to ClusterIP:80 every
// ~5 ms (the time taken when the answer arrives); reachable on a node = the
// first connection from that node's client pod answered with the new pod's
// name. Reported: t_flip → reachable on all nodes (includes the probe period,
// up to 1 s) and t_ready → reachable on all nodes (the proxy's own path:
// EndpointSlice update, every agent's table; includes up to ~10 ms of API
// polling and ~5 ms + one connection of probing). Then the pod is deleted and
// the bench waits until no node reaches it any more.
//   node --import tsx bench/proxy-convergence.bench.ts [--nodes 3] [--samples 20]
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBenchLab, waitRunning, podObject } from './lab-harness.ts';
import type { ApiClient } from '../src/client/types.ts';
import type { KubeObject } from '../src/core/types.ts';
import { machineInfo, median, parseFlags, percentile, printResult } from './stats.ts';

const flags = parseFlags(process.argv.slice(2), { nodes: 3, samples: 20 });
const SAMPLE_TIMEOUT_MS = 30_000;

const SERVER = `
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 8080)); s.listen(128)
name = sys.argv[1].encode() + b'\\n'
while True:
    c, _ = s.accept()
    try: c.sendall(name)
    except OSError: pass
    c.close()
`;
// Prints "<epoch ms> <answer>" whenever the answer changes ("-" for a refused or failed connection).
const PROBER = `
import socket, sys, time
ip, port, last = sys.argv[1], int(sys.argv[2]), None
while True:
    try:
        c = socket.create_connection((ip, port), timeout=0.2); c.settimeout(0.2)
        d = c.recv(64).decode().strip() or '-'; c.close()
    except OSError:
        d = '-'
    if d != last:
        print('%.3f %s' % (time.time() * 1000, d), flush=True); last = d
    time.sleep(0.005)
`;

/** One node's prober: the answers it saw, in order, and a way to wait for one. */
class Prober {
  readonly events: { at: number; answer: string }[] = [];
  private waiters: (() => void)[] = [];
  constructor(readonly node: string, readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const [at, answer] = line.split(' ');
      this.events.push({ at: Number(at), answer });
      for (const w of this.waiters.splice(0)) w();
    });
  }
  /** Epoch ms of the first answer after `since` that satisfies `pred` (the current one included). */
  async first(since: number, pred: (answer: string) => boolean, deadline: number): Promise<number> {
    for (;;) {
      const last = this.events.at(-1);
      const hit = this.events.find((e) => e.at >= since && pred(e.answer)) ?? (last && pred(last.answer) ? last : undefined);
      if (hit) return Math.max(hit.at, since);
      if (Date.now() > deadline) throw new Error(`node ${this.node}: no matching answer within ${SAMPLE_TIMEOUT_MS / 1000} s (last: ${last?.answer})`);
      await Promise.race([new Promise<void>((r) => this.waiters.push(r)), sleep(100)]);
    }
  }
}

function isReady(pod: KubeObject | undefined): boolean {
  const conds = ((pod?.status ?? {}) as { conditions?: { type: string; status: string }[] }).conditions ?? [];
  return conds.some((c) => c.type === 'Ready' && c.status === 'True');
}

async function waitReady(client: ApiClient, name: string, deadline: number): Promise<number> {
  for (;;) {
    if (isReady(await client.get('pods', 'default', name))) return Date.now();
    if (Date.now() > deadline) throw new Error(`pod ${name} not Ready within ${SAMPLE_TIMEOUT_MS / 1000} s`);
    await sleep(10);
  }
}

async function main(): Promise<void> {
  const lab = await startBenchLab('pconv', flags.nodes, {}, 'pconv');
  const probers: Prober[] = [];
  try {
    const svc = await lab.client.create('services', {
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'pconv', namespace: 'default' },
      spec: { selector: { app: 'pconv' }, ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }] },
    });
    const clusterIP = (svc.spec as { clusterIP: string }).clusterIP;
    for (const n of lab.plan.nodes) await lab.client.create('pods', podObject(`cl-${n.index}`, n.nodeName, ['sleep', '3600']));
    for (const n of lab.plan.nodes) {
      const p = await waitRunning(lab.client, 'default', `cl-${n.index}`);
      const child = spawn('ip', ['netns', 'exec', lab.podNetns(p), 'python3', '-u', '-c', PROBER, clusterIP, '80'], { stdio: ['ignore', 'pipe', 'inherit'] });
      probers.push(new Prober(n.nodeName, child));
    }
    const fromFlip: number[] = [];
    const fromReady: number[] = [];
    const flipToReady: number[] = [];
    for (let i = 0; i < flags.samples; i++) {
      const name = `ep-${i}`;
      const node = lab.plan.nodes[i % lab.plan.nodes.length];
      const flag = join(lab.root, `ready-${name}`);
      const pod = podObject(name, node.nodeName, ['python3', '-c', SERVER, name], { app: 'pconv' });
      const c = (pod.spec as { containers: Record<string, unknown>[] }).containers[0];
      c.readinessProbe = { exec: { command: ['test', '-f', flag] }, periodSeconds: 1, failureThreshold: 1 };
      await lab.client.create('pods', pod);
      await waitRunning(lab.client, 'default', name);
      await sleep(300); // the server listening, a few probe failures behind it
      const tFlip = Date.now();
      writeFileSync(flag, '');
      const deadline = tFlip + SAMPLE_TIMEOUT_MS;
      const [tReady, reached] = await Promise.all([
        waitReady(lab.client, name, deadline),
        Promise.all(probers.map((p) => p.first(tFlip, (a) => a === name, deadline))),
      ]);
      const tAll = Math.max(...reached);
      fromFlip.push(tAll - tFlip);
      fromReady.push(tAll - tReady);
      flipToReady.push(tReady - tFlip);
      process.stderr.write(`sample ${i} on ${node.nodeName}: flip→Ready ${tReady - tFlip} ms, Ready→all nodes ${(tAll - tReady).toFixed(1)} ms\n`);
      await lab.client.delete('pods', 'default', name);
      const tDel = Date.now();
      await Promise.all(probers.map((p) => p.first(tDel, (a) => a !== name, tDel + SAMPLE_TIMEOUT_MS)));
      for (const p of probers) p.events.splice(0);
    }
    printResult({
      bench: 'proxy-convergence',
      note: 'real TCP connections from a client pod on every node to the ClusterIP (every ~5 ms); API Ready polled every ~10 ms; run under /tmp/meshlet-integration.lock',
      machine: machineInfo(),
      nodes: flags.nodes,
      samples: flags.samples,
      readyToAllNodesMsP50: median(fromReady),
      readyToAllNodesMsP99: percentile(fromReady, 99),
      readyToAllNodesMsMax: Math.max(...fromReady),
      flipToAllNodesMsP50: median(fromFlip),
      flipToAllNodesMsP99: percentile(fromFlip, 99),
      flipToApiReadyMsP50: median(flipToReady),
      flipToApiReadyMsP99: percentile(flipToReady, 99),
    });
  } finally {
    for (const p of probers) p.child.kill();
    await lab.down();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
