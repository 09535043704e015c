// The probe state machine, as the kubelet's prober workers keep it: per run
// of a container and per probe kind, the consecutive successes and failures,
// and what they mean — started (startup probe passed), ready (readiness probe
// passed successThreshold times and has not since failed failureThreshold
// times), kill (liveness or startup probe failed failureThreshold times) —
// and which probes are due now. Pure: results and times come in as data.
import { probeTimings, type ProbeKind, type ProbeSpec } from './probe-spec.ts';

export interface ProbeState {
  /** When the last probe of this kind started (ms since the epoch). */
  lastRunAt?: number;
  successes: number;
  failures: number;
  /** The verdict so far; undefined until a threshold was first reached. */
  result?: boolean;
  /** Output of the last probe (for events and logs). */
  output?: string;
}

/** Probe states for one run of a container. */
export interface RunProbeStates {
  restart: number;
  /** When the run started (ms): initial delays count from here. */
  startedAt: number;
  states: Partial<Record<ProbeKind, ProbeState>>;
}

export interface ProbeVerdict {
  /** The startup probe passed (or there is none). */
  started: boolean;
  /** Started, readiness probe passed (or none), and not being killed. */
  ready: boolean;
  /** The container is to be killed (and restarted per restartPolicy). */
  kill?: { kind: 'liveness' | 'startup'; output: string };
  /** Probes to run now. */
  due: ProbeKind[];
}

export type ContainerProbes = Partial<Record<ProbeKind, ProbeSpec>>;

export function newRunStates(restart: number, startedAt: number): RunProbeStates {
  return { restart, startedAt, states: {} };
}

/** The verdict before the first probe of its kind decided anything: readiness starts failed, liveness passed, startup not yet. */
function initialResult(kind: ProbeKind): boolean {
  return kind === 'liveness';
}

export function currentResult(kind: ProbeKind, s: ProbeState | undefined): boolean {
  return s?.result ?? initialResult(kind);
}

/** Marks a probe as started at `now` (so the next one is a period later, start to start). */
export function markStarted(s: ProbeState | undefined, now: number): ProbeState {
  return { successes: 0, failures: 0, ...s, lastRunAt: now };
}

/** Folds one result into the state: the verdict flips only at the thresholds; a passed startup probe stays passed for the run. */
export function recordResult(kind: ProbeKind, spec: ProbeSpec, s: ProbeState | undefined, ok: boolean, output: string): ProbeState {
  if (kind === 'startup' && s?.result === true) return s;
  const t = probeTimings(kind, spec);
  const successes = ok ? (s?.successes ?? 0) + 1 : 0;
  const failures = ok ? 0 : (s?.failures ?? 0) + 1;
  let result = s?.result;
  if (ok && successes >= t.successThreshold) result = true;
  if (!ok && failures >= t.failureThreshold) result = false;
  return { lastRunAt: s?.lastRunAt, successes, failures, result, output };
}

/** A probe is due once the initial delay has passed and a period since the last one started. */
export function isDue(kind: ProbeKind, spec: ProbeSpec, s: ProbeState | undefined, startedAt: number, now: number): boolean {
  const t = probeTimings(kind, spec);
  if (now < startedAt + t.initialDelayMs) return false;
  return s?.lastRunAt === undefined || now >= s.lastRunAt + t.periodMs;
}

/** What the probes of a running container say at `now`; `run` undefined when none has run for this run yet. */
export function probeVerdict(probes: ContainerProbes, run: RunProbeStates | undefined, startedAt: number, now: number): ProbeVerdict {
  const states = run?.states ?? {};
  const since = run?.startedAt ?? startedAt;
  const due: ProbeKind[] = [];
  const started = !probes.startup || states.startup?.result === true;
  let kill: ProbeVerdict['kill'];
  if (!started) {
    if (states.startup?.result === false) kill = { kind: 'startup', output: states.startup.output ?? '' };
    else if (isDue('startup', probes.startup!, states.startup, since, now)) due.push('startup');
  } else {
    if (probes.liveness && !currentResult('liveness', states.liveness)) kill = { kind: 'liveness', output: states.liveness?.output ?? '' };
    if (!kill) {
      for (const kind of ['readiness', 'liveness'] as const) {
        const spec = probes[kind];
        if (spec && isDue(kind, spec, states[kind], since, now)) due.push(kind);
      }
    }
  }
  const ready = started && !kill && (!probes.readiness || currentResult('readiness', states.readiness));
  return { started, ready, kill, due };
}
