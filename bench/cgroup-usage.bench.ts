// Cost of one usage sampling round (issue 11 §4): the sampler (src/kubelet/usage.ts)
// over N pods of one container each, on this host's real cgroups, against a
// baseline measured in the same run: only reading the same files (3 per cgroup,
// pod and container cgroups and the node's), no parsing, no summary.
//   node --import tsx bench/cgroup-usage.bench.ts [--pods 100] [--rounds 50]   (root)
// The cgroups are empty (no processes): the cost is the kernel's file reads
// plus meshlet's work, which do not depend on what runs in them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { machineInfo, median, parseFlags, percentile, printResult } from './stats.ts';
import { PodCgroups } from '../src/kubelet/cgroups.ts';
import { UsageSampler } from '../src/kubelet/usage.ts';
import { usageFiles } from '../src/kubelet/usage-plan.ts';
import type { Controller } from '../src/kubelet/cgroup-plan.ts';
import type { KubeletPod } from '../src/kubelet/pod-spec.ts';

const flags = parseFlags(process.argv.slice(2), { pods: 100, rounds: 50 });
const logger = pino({ level: 'silent' });
const parent = `mlt-cgbench-${randomBytes(3).toString('hex')}`;
const cg = await PodCgroups.open({ parent, logger });
const pods = Array.from({ length: flags.pods }, (_, i) => ({ uid: `bench-${i}`, namespace: 'default', name: `p${i}` }));
try {
  for (const p of pods) {
    const pod: KubeletPod = {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: p.name, namespace: p.namespace, uid: p.uid },
      spec: { containers: [{ name: 'main', command: ['true'], resources: { limits: { cpu: '100m', memory: '64Mi' } } }] },
    };
    await cg.prepareContainer(pod, pod.spec!.containers![0]);
  }
  const sampler = new UsageSampler({ cgroups: cg, nodeName: 'bench', pods: () => pods, logger });
  const f = usageFiles(cg.hierarchy.version);
  const files = (dir: (c: Controller) => string): string[] => [join(dir(f.cpu.controller), f.cpu.file), join(dir(f.memory.controller), f.memory.file), join(dir(f.stat.controller), f.stat.file)];
  const all = [
    ...files(cg.paths.node),
    ...pods.flatMap((p) => [...files((c) => cg.paths.pod(c, p.uid)), ...files((c) => cg.paths.container(c, p.uid, 'main'))]),
  ];
  const time = (fn: () => void): number => {
    const t0 = process.hrtime.bigint();
    fn();
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  const baseline: number[] = [];
  const round: number[] = [];
  // Warm-up, then interleaved rounds.
  for (const p of all) readFileSync(p, 'utf8');
  sampler.sample();
  for (let i = 0; i < flags.rounds; i++) {
    baseline.push(time(() => { for (const p of all) readFileSync(p, 'utf8'); }));
    round.push(time(() => { sampler.sample(); sampler.summary(); }));
  }
  const summary = (v: number[]) => ({ p50: median(v), p90: percentile(v, 90), max: Math.max(...v) });
  const pass = sampler.summary().pods.length === flags.pods;
  printResult({
    bench: 'cgroup-usage-round',
    cgroupVersion: cg.hierarchy.version,
    pods: flags.pods,
    rounds: flags.rounds,
    filesPerRound: all.length,
    baselineReadMs: summary(baseline),
    samplerRoundMs: summary(round),
    overheadRatioP50: median(round) / median(baseline),
    allPodsReported: pass,
    machine: machineInfo(),
  });
} finally {
  for (const p of pods) await cg.removePod(p.uid);
  await cg.removeNode();
}
