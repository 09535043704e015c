// Cross-node TCP throughput between meshlet pods (root): iperf3 from a pod on
// node-1 to a pod on node-2 through the lab's VXLAN overlay, against iperf3
// over the raw underlay between the two node namespaces, in the same run,
// interleaved, --runs × --seconds each; medians and their ratio.
// The pods are real meshlet pods (scheduled, sandboxed by the kubelet); the
// client runs inside the client pod's network namespace. For meshlet's
// overlay against a hand-built VXLAN (flannel's pattern) see
// bench/overlay-throughput.bench.ts.
//   node --import tsx bench/pod-throughput.bench.ts [--runs 3] [--seconds 3]
// Aim: ratio ≥ 0.9. Cleans up its lab.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { machineInfo, median, parseFlags, printResult } from './stats.ts';
import { podObject, podStatus, startBenchLab, waitRunning } from './lab-harness.ts';

const execFileP = promisify(execFile);
const flags = parseFlags(process.argv.slice(2), { runs: 3, seconds: 3 });

async function iperf(netns: string, host: string, port: number): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      const { stdout } = await execFileP('ip', ['netns', 'exec', netns, 'iperf3', '-c', host, '-p', String(port), '-t', String(flags.seconds), '-J'], { maxBuffer: 16 << 20 });
      const j = JSON.parse(stdout) as { end: { sum_received: { bits_per_second: number } } };
      return j.end.sum_received.bits_per_second / 1e9;
    } catch (err) {
      if (attempt >= 20) throw err;
      await sleep(250); // the server is not listening yet
    }
  }
}

const lab = await startBenchLab('tput', 2);
try {
  const { client, plan } = lab;
  const [n1, n2] = plan.nodes;
  await client.create('pods', podObject('iperf-server', 'node-2', ['iperf3', '-s', '-p', '5201']));
  await client.create('pods', podObject('iperf-client', 'node-1', ['sleep', '36000']));
  const server = await waitRunning(client, 'default', 'iperf-server');
  const clientPod = await waitRunning(client, 'default', 'iperf-client');
  // The underlay reference: an iperf3 server in node-2's namespace itself.
  const { spawn } = await import('node:child_process');
  const underlayServer = spawn('ip', ['netns', 'exec', n2.netns, 'iperf3', '-s', '-p', '5202'], { stdio: 'ignore' });
  try {
    const pod: number[] = [];
    const underlay: number[] = [];
    for (let r = 0; r < flags.runs; r++) {
      pod.push(await iperf(lab.podNetns(clientPod), podStatus(server).podIP!, 5201));
      underlay.push(await iperf(n1.netns, n2.ip, 5202));
      process.stderr.write(`  run ${r + 1}: pods ${pod[r].toFixed(2)} Gbit/s, underlay ${underlay[r].toFixed(2)} Gbit/s\n`);
    }
    printResult({
      bench: 'pod-throughput',
      what: 'iperf3 TCP, meshlet pod on node-1 → pod on node-2 (VXLAN) vs node-1 → node-2 on the underlay; same run, interleaved',
      runs: flags.runs,
      seconds: flags.seconds,
      pod_gbps: pod,
      underlay_gbps: underlay,
      pod_median_gbps: median(pod),
      underlay_median_gbps: median(underlay),
      ratio: median(pod) / median(underlay),
      aim: 'ratio ≥ 0.9',
      machine: machineInfo(),
    });
  } finally {
    underlayServer.kill();
  }
} finally {
  await lab.down();
}
