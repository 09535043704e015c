// Cluster DNS propagation (root): from the Service create request until a pod
// on EVERY node gets the Service's A record from its node's `meshlet dns`.
// One poller per node, inside a pod's network namespace, sends a raw UDP query
// for the next name to the cluster DNS address every 2 ms (or on each reply) and prints
// the wall-clock time of the first NOERROR answer; the bench creates the
// Service once both pollers are polling. Services one at a time, --services in
// all; p50 and p99 in ms (the slower node counts).
//   node --import tsx bench/dns-propagation.bench.ts [--services 50] [--nodes 2]
// Aim (issue 7 §1): under 100 ms. Cleans up its lab.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { machineInfo, parseFlags, percentile, printResult } from './stats.ts';
import { podObject, startBenchLab, waitRunning } from './lab-harness.ts';

const flags = parseFlags(process.argv.slice(2), { services: 50, nodes: 2 });
const DNS = '10.96.0.10';
// Reads a name per line; polls it until NOERROR with an answer; prints "<name> <epoch ms>".
const POLLER = `
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.002); s.connect(("${DNS}", 53))
qid = 0
for line in sys.stdin:
    name = line.strip()
    q = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\\0" + struct.pack(">HH", 1, 1)
    sys.stdout.write("polling " + name + "\\n"); sys.stdout.flush()
    while True:
        qid = (qid + 1) & 0xffff
        s.send(struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q)
        try:
            r = s.recv(512)
        except socket.timeout:
            continue
        # Any reply to this name counts (a late one to an earlier query too): match the question, not the id.
        if r[12:12 + len(q)] == q and (r[3] & 15) == 0 and struct.unpack(">H", r[6:8])[0] > 0:
            sys.stdout.write(name + " " + repr(time.time() * 1000) + "\\n"); sys.stdout.flush(); break
`;

const lab = await startBenchLab('dnsprop', flags.nodes);
const pollers: ChildProcess[] = [];
try {
  const { client } = lab;
  const lines: ((line: string) => void)[] = [];
  for (const node of lab.plan.nodes) {
    const pod = await client.create('pods', podObject(`dnsprop-${node.nodeName}`, node.nodeName, ['sleep', '36000']));
    const running = await waitRunning(client, 'default', pod.metadata.name!);
    const p = spawn('ip', ['netns', 'exec', lab.podNetns(running), 'python3', '-u', '-c', POLLER], { stdio: ['pipe', 'pipe', 'inherit'] });
    pollers.push(p);
    const i = lines.length;
    lines.push(() => undefined);
    createInterface({ input: p.stdout! }).on('line', (l) => lines[i](l));
    process.stderr.write(`  poller on ${node.nodeName} started\n`);
  }
  const next = (i: number, prefix: string): Promise<string> => new Promise((resolve) => (lines[i] = (l) => l.startsWith(prefix) && resolve(l)));

  const latencies: number[] = [];
  for (let k = 0; k < flags.services; k++) {
    const name = `prop-${k}`;
    const fqdn = `${name}.default.svc.cluster.local`;
    const polling = pollers.map((_, i) => next(i, `polling ${fqdn}`));
    for (const p of pollers) p.stdin!.write(`${fqdn}\n`);
    await Promise.all(polling);
    const answered = pollers.map((_, i) => next(i, `${fqdn} `));
    const t0 = Date.now();
    await client.create('services', { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { ports: [{ port: 80, protocol: 'TCP' }] } });
    const times = (await Promise.all(answered)).map((l) => Number(l.split(' ')[1]));
    latencies.push(Math.max(...times) - t0);
    process.stderr.write(`  ${name}: ${latencies[latencies.length - 1]} ms\n`);
  }
  printResult({
    bench: 'dns-propagation',
    what: `Service create → its A record answered by the node DNS on every node (${flags.nodes}-node lab, a pod per node polling every 2 ms)`,
    services: flags.services,
    p50_ms: percentile(latencies, 50),
    p99_ms: percentile(latencies, 99),
    max_ms: Math.max(...latencies),
    aim: 'p99 < 100 ms (issue 7 §1)',
    machine: machineInfo(),
  });
} finally {
  for (const p of pollers) p.kill();
  await lab.down();
}
