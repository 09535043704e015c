// The usage sampler: every interval it reads each pod's and container's cgroup
// (and the node's), keeps the figures over the last window as a UsageSummary
// (src/core/usage-summary.ts, served at KUBELET_USAGE_PATH) and publishes them
// as the kubelet's resource metrics (container_/pod_/node_ cpu_usage_seconds_total
// and memory_working_set_bytes).
//
// The node's figures: its pods' cgroup (<parent>, every pod under it) plus the
// agent's own process (CPU time and resident memory), i.e. what this node's
// meshlet runs; not the whole host, which lab nodes share.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { PodCgroups } from './cgroups.ts';
import { addReadings, sampleBetween, workingSet, type UsageReading } from './usage-plan.ts';
import type { ContainerUsage, PodUsage, UsageSummary, NodeUsage } from '../core/usage-summary.ts';

export const DEFAULT_USAGE_INTERVAL_MS = 10_000;

export interface UsagePod {
  uid: string;
  namespace: string;
  name: string;
}

export interface UsageSamplerOptions {
  cgroups: Pick<PodCgroups, 'paths' | 'readUsage' | 'containerNames'>;
  nodeName: string;
  /** The pods with state on this node. */
  pods: () => UsagePod[];
  intervalMs?: number;
  registry?: Registry;
  logger: Logger;
  /** The agent process's own figures (default: this process). */
  self?: () => Omit<UsageReading, 'at' | 'inactiveFileBytes'>;
}

interface Tracked {
  pod: UsagePod;
  reading?: UsageReading;
  containers: Map<string, UsageReading>;
}

function thisProcess(): Omit<UsageReading, 'at' | 'inactiveFileBytes'> {
  const cpu = process.cpuUsage();
  return { cpuNs: (cpu.user + cpu.system) * 1000, memoryBytes: process.memoryUsage.rss() };
}

export class UsageSampler {
  private readonly intervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  /** The latest and the one before, per pod uid (pods gone since are dropped). */
  private prev = new Map<string, Tracked>();
  private cur = new Map<string, Tracked>();
  private nodePrev: UsageReading | undefined;
  private nodeCur: UsageReading | undefined;
  private readonly log: Logger;

  constructor(private readonly opts: UsageSamplerOptions) {
    this.intervalMs = opts.intervalMs ?? DEFAULT_USAGE_INTERVAL_MS;
    if (!(this.intervalMs > 0)) throw new Error(`usage interval must be positive, not ${this.intervalMs}`);
    this.log = opts.logger.child({ component: 'usage' });
    if (opts.registry) this.registerMetrics(opts.registry);
  }

  start(): void {
    this.sample();
    const tick = (): void => {
      try {
        this.sample();
      } catch (err) {
        this.log.warn({ err }, 'usage sampling failed');
      }
      this.timer = setTimeout(tick, this.intervalMs);
      this.timer.unref();
    };
    this.timer = setTimeout(tick, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One round: every pod's and container's cgroup, and the node. */
  sample(): void {
    const cg = this.opts.cgroups;
    const next = new Map<string, Tracked>();
    for (const pod of this.opts.pods()) {
      const reading = cg.readUsage((c) => cg.paths.pod(c, pod.uid));
      if (!reading) continue;
      const containers = new Map<string, UsageReading>();
      for (const name of cg.containerNames(pod.uid)) {
        const r = cg.readUsage((c) => cg.paths.container(c, pod.uid, name));
        if (r) containers.set(name, r);
      }
      next.set(pod.uid, { pod, reading, containers });
    }
    const node = cg.readUsage(cg.paths.node);
    const self = (this.opts.self ?? thisProcess)();
    this.prev = this.cur;
    this.cur = next;
    this.nodePrev = this.nodeCur;
    this.nodeCur = node ? addReadings(node, { ...self, inactiveFileBytes: 0 }) : undefined;
  }

  /** The figures over the last window; pods seen in only one round are not in it yet. */
  summary(): UsageSummary {
    const pods: PodUsage[] = [];
    for (const [uid, t] of this.cur) {
      const p = this.prev.get(uid);
      const s = t.reading ? sampleBetween(p?.reading, t.reading) : undefined;
      if (!s) continue;
      const containers: ContainerUsage[] = [];
      for (const [name, r] of t.containers) {
        const cs = sampleBetween(p?.containers.get(name), r);
        if (cs) containers.push({ name, ...cs });
      }
      containers.sort((a, b) => a.name.localeCompare(b.name));
      pods.push({ namespace: t.pod.namespace, name: t.pod.name, uid, ...s, containers });
    }
    pods.sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
    const ns = this.nodeCur ? sampleBetween(this.nodePrev, this.nodeCur) : undefined;
    const node: NodeUsage = {
      nodeName: this.opts.nodeName,
      ...(ns ?? { timestamp: new Date().toISOString(), windowSeconds: 0, cpuNanoCores: 0, memoryWorkingSetBytes: this.nodeCur ? workingSet(this.nodeCur) : 0 }),
    };
    return { node, pods };
  }

  private registerMetrics(registry: Registry): void {
    // Set from the latest round at every scrape (cumulative CPU seconds, working set bytes), as the kubelet's /metrics/resource.
    type Row = [labels: Record<string, string>, value: number];
    const containers = (value: (r: UsageReading) => number) => (): Row[] =>
      [...this.cur.values()].flatMap((t) => [...t.containers].map(([container, r]): Row => [{ namespace: t.pod.namespace, pod: t.pod.name, container }, value(r)]));
    const pods = (value: (r: UsageReading) => number) => (): Row[] =>
      [...this.cur.values()].flatMap((t) => (t.reading ? [[{ namespace: t.pod.namespace, pod: t.pod.name }, value(t.reading)] as Row] : []));
    const node = (value: (r: UsageReading) => number, absent?: number) => (): Row[] =>
      this.nodeCur ? [[{}, value(this.nodeCur)]] : absent === undefined ? [] : [[{}, absent]];
    const cpuSeconds = (r: UsageReading): number => r.cpuNs / 1e9;
    const series: { kind: 'counter' | 'gauge'; name: string; help: string; labelNames: string[]; rows: () => Row[] }[] = [
      { kind: 'counter', name: 'container_cpu_usage_seconds_total', help: 'Cumulative CPU time of the container (its cgroup), seconds', labelNames: ['namespace', 'pod', 'container'], rows: containers(cpuSeconds) },
      { kind: 'gauge', name: 'container_memory_working_set_bytes', help: 'Working set of the container (its cgroup), bytes', labelNames: ['namespace', 'pod', 'container'], rows: containers(workingSet) },
      { kind: 'counter', name: 'pod_cpu_usage_seconds_total', help: 'Cumulative CPU time of the pod (its cgroup), seconds', labelNames: ['namespace', 'pod'], rows: pods(cpuSeconds) },
      { kind: 'gauge', name: 'pod_memory_working_set_bytes', help: 'Working set of the pod (its cgroup), bytes', labelNames: ['namespace', 'pod'], rows: pods(workingSet) },
      { kind: 'counter', name: 'node_cpu_usage_seconds_total', help: "Cumulative CPU time of the node's pods and its agent, seconds", labelNames: [], rows: node(cpuSeconds) },
      { kind: 'gauge', name: 'node_memory_working_set_bytes', help: "Working set of the node's pods plus the agent's resident memory, bytes", labelNames: [], rows: node(workingSet, 0) },
    ];
    for (const { kind, name, help, labelNames, rows } of series) {
      if (kind === 'counter') {
        new Counter({ name, help, labelNames, registers: [registry], collect() {
          this.reset();
          for (const [labels, v] of rows()) this.inc(labels, v);
        } });
      } else {
        new Gauge({ name, help, labelNames, registers: [registry], collect() {
          this.reset();
          for (const [labels, v] of rows()) this.set(labels, v);
        } });
      }
    }
  }
}
