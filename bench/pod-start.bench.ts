// Pod start latency (root): from the create request until the pod is Running
// with an IP that a pod on ANOTHER node can reach over TCP. A prober process
// inside a fixed pod on node-1 is handed each new pod's IP the moment the API
// shows it Running, and retries a TCP connect every 10 ms until it succeeds.
// Pods run on node-2 and node-3 (3-node lab), created in waves of --wave
// concurrent pods, --pods in all; p50 and p99 in ms.
//   node --import tsx bench/pod-start.bench.ts [--pods 100] [--wave 10]
// Anchor: the Kubernetes SLO p99 ≤ 5 s; aim < 1 s. Cleans up its lab.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { createInterface } from 'node:readline';
import { Informer } from '../src/client/informer.ts';
import type { KubeObject } from '../src/core/types.ts';
import { machineInfo, median, parseFlags, percentile, printResult } from './stats.ts';
import { podObject, podStatus, startBenchLab, waitRunning } from './lab-harness.ts';

const execFileP = promisify(execFile);
const flags = parseFlags(process.argv.slice(2), { pods: 100, wave: 10 });
const PORT = 8080;
const LISTEN = `import socket,time\ns=socket.socket(); s.bind(('0.0.0.0', ${PORT})); s.listen(16)\nwhile True: time.sleep(3600)`;
// Reads "ip" lines; for each, connects until it works; prints "ip" when it did.
const PROBER = `
import socket, sys, threading, time
out = threading.Lock()
def probe(ip):
    while True:
        try:
            c = socket.create_connection((ip, ${PORT}), timeout=0.5); c.close(); break
        except Exception:
            time.sleep(0.01)
    # One write per line under a lock: print() from several threads can interleave "ip" and "\\n".
    with out:
        sys.stdout.write(ip + "\\n"); sys.stdout.flush()
for line in sys.stdin:
    threading.Thread(target=probe, args=(line.strip(),), daemon=True).start()
`;

const lab = await startBenchLab('start', 3);
try {
  const { client } = lab;
  const prober = await client.create('pods', podObject('prober', 'node-1', ['sleep', '36000']));
  await waitRunning(client, 'default', 'prober');
  const probe = spawn('ip', ['netns', 'exec', lab.podNetns(prober), 'python3', '-u', '-c', PROBER], { stdio: ['pipe', 'pipe', 'inherit'] });
  const reachable = new Map<string, () => void>();
  createInterface({ input: probe.stdout! }).on('line', (ip) => reachable.get(ip.trim())?.());

  const created = new Map<string, number>();
  const sent = new Set<string>();
  const done = new Map<string, (ms: number) => void>();
  const informer = new Informer({ client, gr: 'pods', namespace: 'default', labelSelector: 'bench=pod-start' });
  const onPod = (pod: KubeObject): void => {
    const name = pod.metadata.name!;
    const { phase, podIP } = podStatus(pod);
    if (phase !== 'Running' || !podIP || sent.has(name) || !created.has(name)) return;
    sent.add(name);
    reachable.set(podIP, () => done.get(name)?.(Date.now() - created.get(name)!));
    probe.stdin!.write(`${podIP}\n`);
  };
  informer.addHandlers({ onAdd: onPod, onUpdate: (_o, n) => onPod(n) });
  informer.start();
  await informer.synced();

  const latencies: number[] = [];
  const failures: Record<string, unknown>[] = [];
  for (let start = 0; start < flags.pods; start += flags.wave) {
    const names = Array.from({ length: Math.min(flags.wave, flags.pods - start) }, (_, i) => `ps-${start + i}`);
    await Promise.all(
      names.map(async (name, i) => {
        const finished = new Promise<number | undefined>((resolve) => {
          done.set(name, resolve);
          setTimeout(() => resolve(undefined), 60_000).unref();
        });
        created.set(name, Date.now());
        await client.create('pods', podObject(name, `node-${2 + ((start + i) % 2)}`, ['python3', '-c', LISTEN], { bench: 'pod-start' }));
        const ms = await finished;
        if (ms === undefined) {
          const p = await client.get('pods', 'default', name);
          const netns = p ? lab.podNetns(p) : '';
          const look = async (...args: string[]) => (await execFileP('ip', ['netns', 'exec', netns, ...args]).catch((e: Error) => ({ stdout: `ERR ${e.message}` }))).stdout.trim();
          failures.push({
            name, phase: podStatus(p).phase, podIP: podStatus(p).podIP, node: (p?.spec as { nodeName?: string } | undefined)?.nodeName, sent: sent.has(name),
            addr: await look('ip', '-o', '-4', 'addr', 'show', 'eth0'), listening: await look('ss', '-ltnH'), pids: (await execFileP('ip', ['netns', 'pids', netns]).catch(() => ({ stdout: '' }))).stdout.trim(),
          });
        } else latencies.push(ms);
      }),
    );
    process.stderr.write(`  ${start + names.length}/${flags.pods} pods, last wave median ${median(latencies.slice(-names.length)).toFixed(0)} ms\n`);
  }
  await informer.stop();
  probe.stdin!.end();
  probe.kill();
  printResult({
    bench: 'pod-start',
    what: 'create → Running with an IP reachable over TCP from a pod on another node (3-node lab)',
    pods: flags.pods,
    wave: flags.wave,
    p50_ms: percentile(latencies, 50),
    p99_ms: percentile(latencies, 99),
    max_ms: Math.max(...latencies),
    not_reachable_within_60s: failures.length,
    ...(failures.length ? { failures: failures.slice(0, 5) } : {}),
    anchor: 'Kubernetes SLO p99 ≤ 5000 ms; aim < 1000 ms',
    machine: machineInfo(),
  });
} finally {
  await lab.down();
}
