// exec round trip (issue 10 §8): `kubectl exec p -- true` against
// `meshlet lab exec default/p -- true`, interleaved in the same run, plus the
// same exec as one WebSocket session from this process (no client start-up:
// the API server's relay, the agent, nsenter and the command).
//   node --import tsx bench/exec.bench.ts [--runs 30]   (root)
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { WebSocket } from 'ws';
import { loadKubeconfig } from '../src/client/kubeconfig.ts';
import { machineInfo, median, parseFlags, percentile, printResult } from './stats.ts';
import { podObject, startBenchLab, waitRunning } from './lab-harness.ts';
import { MESHLET_BIN, KUBECTL } from '../test/helpers/run.ts';

const execFileP = promisify(execFile);
const flags = parseFlags(process.argv.slice(2), { runs: 30 });

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** One exec of `true` over a WebSocket to the API server's unix socket; resolves when the Status arrives. */
function wsExec(socket: string, token: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws+unix://${socket}:/api/v1/namespaces/default/pods/p/exec?command=true&stdout=true&stderr=true`, ['v5.channel.k8s.io'], {
      headers: { Authorization: `Bearer ${token}` },
    });
    let status = '';
    ws.on('message', (d: Buffer) => {
      if (d[0] === 3) status = d.subarray(1).toString();
    });
    ws.on('close', () => (status.includes('"Success"') ? resolve() : reject(new Error(`exec ended without success: ${status}`))));
    ws.on('error', reject);
  });
}

const lab = await startBenchLab('exec', 1);
try {
  await lab.client.create('pods', podObject('p', 'node-1', ['sleep', '3600']));
  await waitRunning(lab.client, 'default', 'p');
  const env = { ...process.env, KUBECONFIG: lab.plan.kubeconfig, MESHLET_LAB_ROOT: lab.root };
  const cacheDir = `${lab.root}/.kube-cache`;
  const { token } = loadKubeconfig(lab.plan.kubeconfig);
  const runs = {
    kubectl: () => execFileP(KUBECTL, ['--cache-dir', cacheDir, 'exec', 'p', '--', 'true'], { env }),
    labExec: () => execFileP(process.execPath, [MESHLET_BIN, 'lab', 'exec', '--name', lab.name, 'default/p', '--', 'true'], { env }),
    websocket: () => wsExec(lab.plan.apiSocket, token ?? ''),
  };
  const samples: Record<keyof typeof runs, number[]> = { kubectl: [], labExec: [], websocket: [] };
  // Warm-up (kubectl's discovery cache, the agent's first nsenter), then interleaved runs.
  for (const fn of Object.values(runs)) await fn();
  for (let i = 0; i < flags.runs; i++) {
    for (const [name, fn] of Object.entries(runs) as [keyof typeof runs, () => Promise<unknown>][]) samples[name].push(await timed(fn));
  }
  const summary = (v: number[]) => ({ p50: median(v), p90: percentile(v, 90), max: Math.max(...v) });
  printResult({
    bench: 'exec-round-trip',
    runs: flags.runs,
    kubectlExecMs: summary(samples.kubectl),
    labExecMs: summary(samples.labExec),
    websocketExecMs: summary(samples.websocket),
    machine: machineInfo(),
  });
} finally {
  await lab.down();
}
