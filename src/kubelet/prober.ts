// The prober: runs the due probes of the running containers on this node —
// each probe on its own period, never overlapping with itself, at most
// `maxConcurrent` at once — and keeps their state per container run
// (probe-state.ts decides). The kubelet tells it what runs (sync), asks it
// for started/ready/kill when it reconciles and reports status, and is told
// when a verdict changes (onChange) and when a probe fails (onFailure).
import type { Logger } from 'pino';
import type { ContainerObservation } from './containers.ts';
import { containersOf, type KubeletPod } from './pod-spec.ts';
import { probeHandler, probesOf, probeTimings, type ProbeHandler, type ProbeKind } from './probe-spec.ts';
import { runProbe, type ProbeOutcome } from './probe-run.ts';
import {
  markStarted, newRunStates, probeVerdict, recordResult,
  type ContainerProbes, type ProbeVerdict, type RunProbeStates,
} from './probe-state.ts';

export interface ProberOptions {
  logger: Logger;
  /** Set when this process does not run in the node's network namespace. */
  nodeNetns?: string;
  /** A container's started/ready/kill verdict changed: the pod wants a sync. */
  onChange: (podKey: string) => void;
  /** A probe failed (the Unhealthy event). */
  onFailure: (podKey: string, container: string, kind: ProbeKind, output: string) => void;
  maxConcurrent?: number;
  tickMs?: number;
  /** Runs a probe (tests may replace it). */
  run?: typeof runProbe;
}

interface Target {
  uid: string;
  podKey: string;
  container: string;
  probes: ContainerProbes;
  /** Handler per probe kind, or why it is invalid. */
  handlers: Partial<Record<ProbeKind, ProbeHandler | string>>;
  pid?: number;
  namespaces: string[];
  podIP?: string;
  run: RunProbeStates;
  inFlight: Set<ProbeKind>;
}

export interface ContainerHealth {
  started: boolean;
  ready: boolean;
}

const KIND_TITLE: Record<ProbeKind, string> = { startup: 'Startup', readiness: 'Readiness', liveness: 'Liveness' };

export function probeFailureMessage(kind: ProbeKind, output: string): string {
  return `${KIND_TITLE[kind]} probe failed: ${output}`;
}

function targetKey(uid: string, container: string): string {
  return `${uid}/${container}`;
}

function sameVerdict(a: ProbeVerdict, b: ProbeVerdict): boolean {
  return a.started === b.started && a.ready === b.ready && a.kill?.kind === b.kill?.kind;
}

export class Prober {
  private readonly targets = new Map<string, Target>();
  private active = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private readonly log: Logger;

  constructor(private readonly opts: ProberOptions) {
    this.log = opts.logger.child({ component: 'prober' });
  }

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Whether the tick timer is armed: only while something is to be probed, so an idle agent never wakes for it. */
  ticking(): boolean {
    return this.timer !== undefined;
  }

  private schedule(): void {
    this.timer = undefined;
    if (this.stopped || this.targets.size === 0) return;
    this.timer = setTimeout(() => {
      this.tick();
      this.schedule();
    }, this.opts.tickMs ?? 100);
    this.timer.unref();
  }

  /**
   * What runs in the pod now: containers with probes and a running current
   * run are probed (state reset when the run changes); everything else of the
   * pod is forgotten.
   */
  sync(pod: KubeletPod, containers: Record<string, ContainerObservation | undefined>, podIP: string | undefined): void {
    const uid = pod.metadata.uid ?? '';
    const podKey = `${pod.metadata.namespace ?? ''}/${pod.metadata.name ?? ''}`;
    const keep = new Set<string>();
    if (!pod.metadata.deletionTimestamp) {
      for (const c of containersOf(pod)) {
        const probes = probesOf(c);
        const cur = containers[c.name]?.current;
        if (Object.keys(probes).length === 0 || !cur?.running) continue;
        const key = targetKey(uid, c.name);
        keep.add(key);
        const existing = this.targets.get(key);
        if (existing && existing.run.restart === cur.restart && existing.run.startedAt === cur.startedAt) {
          existing.podIP = podIP ?? existing.podIP;
          continue;
        }
        const handlers: Target['handlers'] = {};
        for (const [kind, spec] of Object.entries(probes) as [ProbeKind, NonNullable<ContainerProbes[ProbeKind]>][]) {
          try {
            handlers[kind] = probeHandler(spec, c.ports);
          } catch (err) {
            handlers[kind] = `invalid ${kind} probe: ${(err as Error).message}`;
          }
        }
        this.targets.set(key, {
          uid, podKey, container: c.name, probes, handlers,
          pid: cur.pid, namespaces: cur.namespaces, podIP,
          run: newRunStates(cur.restart, cur.startedAt),
          inFlight: new Set(),
        });
      }
    }
    for (const key of [...this.targets.keys()]) if (key.startsWith(`${uid}/`) && !keep.has(key)) this.targets.delete(key);
    // The first target arms the timer; the tick after the last one is gone disarms it.
    if (!this.timer) this.schedule();
  }

  forget(uid: string): void {
    for (const key of [...this.targets.keys()]) if (key.startsWith(`${uid}/`)) this.targets.delete(key);
  }

  /** Started/ready of the pod's running containers as the probes say (containers without probes: as running). */
  health(pod: KubeletPod, containers: Record<string, ContainerObservation | undefined>, now: number): Record<string, ContainerHealth> {
    const out: Record<string, ContainerHealth> = {};
    for (const c of containersOf(pod)) {
      const probes = probesOf(c);
      const cur = containers[c.name]?.current;
      if (Object.keys(probes).length === 0 || !cur?.running) continue;
      const v = probeVerdict(probes, this.runOf(pod, c.name, cur.restart, cur.startedAt), cur.startedAt, now);
      out[c.name] = { started: v.started, ready: v.ready };
    }
    return out;
  }

  /** Containers whose probes say kill, for their current run. */
  kills(pod: KubeletPod, containers: Record<string, ContainerObservation | undefined>, now: number): Record<string, { kind: 'liveness' | 'startup'; output: string }> {
    const out: Record<string, { kind: 'liveness' | 'startup'; output: string }> = {};
    for (const c of containersOf(pod)) {
      const cur = containers[c.name]?.current;
      const run = cur?.running ? this.runOf(pod, c.name, cur.restart, cur.startedAt) : undefined;
      if (!run || !cur) continue;
      const v = probeVerdict(probesOf(c), run, cur.startedAt, now);
      if (v.kill) out[c.name] = v.kill;
    }
    return out;
  }

  private runOf(pod: KubeletPod, name: string, restart: number, startedAt: number): RunProbeStates | undefined {
    const t = this.targets.get(targetKey(pod.metadata.uid ?? '', name));
    return t && t.run.restart === restart && t.run.startedAt === startedAt ? t.run : undefined;
  }

  /** Starts the probes that are due and not running, longest-waiting first, within the concurrency bound. */
  tick(now = Date.now()): void {
    const max = this.opts.maxConcurrent ?? 8;
    if (this.active >= max) return;
    const due: { t: Target; kind: ProbeKind; last: number }[] = [];
    for (const t of this.targets.values()) {
      for (const kind of probeVerdict(t.probes, t.run, t.run.startedAt, now).due) {
        if (!t.inFlight.has(kind)) due.push({ t, kind, last: t.run.states[kind]?.lastRunAt ?? -Infinity });
      }
    }
    due.sort((a, b) => a.last - b.last);
    for (const { t, kind } of due.slice(0, max - this.active)) void this.probe(t, kind, now);
  }

  private async probe(t: Target, kind: ProbeKind, now: number): Promise<void> {
    const run = t.run;
    run.states[kind] = markStarted(run.states[kind], now);
    t.inFlight.add(kind);
    this.active++;
    let outcome: ProbeOutcome;
    try {
      const h = t.handlers[kind]!;
      outcome =
        typeof h === 'string'
          ? { ok: false, output: h }
          : await (this.opts.run ?? runProbe)(h, {
              pid: t.pid, namespaces: t.namespaces, podIP: t.podIP, nodeNetns: this.opts.nodeNetns,
              timeoutMs: probeTimings(kind, t.probes[kind]!).timeoutMs,
            });
    } catch (err) {
      outcome = { ok: false, output: (err as Error).message };
    } finally {
      t.inFlight.delete(kind);
      this.active--;
    }
    // The container may have restarted or gone while the probe ran: its result then belongs to nobody.
    if (this.targets.get(targetKey(t.uid, t.container)) !== t) return;
    const before = probeVerdict(t.probes, run, run.startedAt, Date.now());
    run.states[kind] = recordResult(kind, t.probes[kind]!, run.states[kind], outcome.ok, outcome.output);
    const after = probeVerdict(t.probes, run, run.startedAt, Date.now());
    if (!outcome.ok) {
      this.log.debug({ pod: t.podKey, container: t.container, kind, output: outcome.output }, 'probe failed');
      this.opts.onFailure(t.podKey, t.container, kind, outcome.output);
    }
    if (!sameVerdict(before, after)) this.opts.onChange(t.podKey);
  }
}
