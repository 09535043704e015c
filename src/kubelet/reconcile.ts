// The kubelet's decision for one pod: from the pod as the API has it (or
// undefined once it is gone) and what runs on the node, the actions to take
// in order. Pure; kubelet.ts carries them out.
import type { ContainerObservation } from './containers.ts';
import { backoffFor, consecutiveShortRuns, DEFAULT_BACKOFF, nextRestartDelay, type BackoffOptions } from './backoff.ts';
import { containerConfigError } from './container-plan.ts';
import { containersOf, gracePeriodSeconds, isTerminalPhase, restartPolicy, type KubeletPod } from './pod-spec.ts';
import { probeGraceSeconds } from './probe-spec.ts';

export interface ObservedPod {
  /** The sandbox is in place (namespace with eth0 holding the pod IP). */
  sandboxReady: boolean;
  /** Something of the sandbox is left (record or namespace). */
  sandboxExists: boolean;
  /** Every container with state on disk, by name. */
  containers: Record<string, ContainerObservation | undefined>;
  /** Running containers their liveness or startup probe says to kill (and restart per restartPolicy). */
  unhealthy?: Record<string, { kind: 'liveness' | 'startup' } | undefined>;
}

export type WaitingReason = 'CrashLoopBackOff' | 'CreateContainerConfigError';

export type PodAction =
  | { type: 'createSandbox' }
  | { type: 'startContainer'; name: string }
  | { type: 'wait'; name: string; reason: WaitingReason; message: string }
  | { type: 'stopContainer'; name: string; graceSeconds: number; message?: string }
  | { type: 'teardownSandbox' }
  | { type: 'finishDeletion' }
  | { type: 'removePodState' }
  | { type: 'requeue'; afterMs: number };

export interface ReconcileOptions {
  backoff?: BackoffOptions;
}

function shouldRestart(policy: 'Always' | 'OnFailure' | 'Never', exitCode: number | undefined): boolean {
  if (policy === 'Always') return true;
  if (policy === 'OnFailure') return exitCode !== 0;
  return false;
}

function runningNames(observed: ObservedPod): string[] {
  return Object.entries(observed.containers)
    .filter(([, o]) => o?.current?.running)
    .map(([name]) => name)
    .sort();
}

export function reconcilePod(pod: KubeletPod | undefined, observed: ObservedPod, now: number, opts: ReconcileOptions = {}): PodAction[] {
  const backoff = opts.backoff ?? DEFAULT_BACKOFF;
  const actions: PodAction[] = [];

  // Gone from the API (force-deleted, or its deletion finished): kill now, clean up.
  if (!pod) {
    for (const name of runningNames(observed)) actions.push({ type: 'stopContainer', name, graceSeconds: 0 });
    if (observed.sandboxExists) actions.push({ type: 'teardownSandbox' });
    actions.push({ type: 'removePodState' });
    return actions;
  }

  // Being deleted: graceful stop, teardown, then let the API server drop the object.
  if (pod.metadata.deletionTimestamp) {
    const grace = gracePeriodSeconds(pod);
    for (const name of runningNames(observed)) actions.push({ type: 'stopContainer', name, graceSeconds: grace });
    actions.push({ type: 'teardownSandbox' });
    actions.push({ type: 'finishDeletion' });
    actions.push({ type: 'removePodState' });
    return actions;
  }

  // Finished pods keep their status and logs but not their network.
  if (isTerminalPhase(pod.status?.phase)) {
    for (const name of runningNames(observed)) actions.push({ type: 'stopContainer', name, graceSeconds: gracePeriodSeconds(pod) });
    if (observed.sandboxExists) actions.push({ type: 'teardownSandbox' });
    return actions;
  }

  const policy = restartPolicy(pod);
  const specs = containersOf(pod);
  const starts: PodAction[] = [];
  const waits: PodAction[] = [];
  const kills: PodAction[] = [];
  let retryAfter = Infinity;
  for (const c of specs) {
    const configError = containerConfigError(c);
    if (configError) {
      waits.push({ type: 'wait', name: c.name, reason: 'CreateContainerConfigError', message: configError });
      continue;
    }
    const o = observed.containers[c.name];
    const cur = o?.current;
    if (!cur) {
      starts.push({ type: 'startContainer', name: c.name });
      continue;
    }
    if (cur.running) {
      // A sandbox that vanished under a running container: the container goes with it and restarts.
      if (!observed.sandboxReady) starts.push({ type: 'startContainer', name: c.name });
      else {
        // Failed its liveness/startup probe: killed now; the restart (per restartPolicy, with back-off) follows its exit.
        const kind = observed.unhealthy?.[c.name]?.kind;
        const probe = kind === 'liveness' ? c.livenessProbe : kind === 'startup' ? c.startupProbe : undefined;
        if (kind && probe) {
          kills.push({
            type: 'stopContainer',
            name: c.name,
            graceSeconds: probeGraceSeconds(probe, gracePeriodSeconds(pod)),
            message: `Container ${c.name} failed ${kind} probe, will be restarted`,
          });
        }
      }
      continue;
    }
    if (!shouldRestart(policy, cur.exitCode)) continue;
    const delay = nextRestartDelay(o.history, now, backoff);
    if (delay <= 0) {
      starts.push({ type: 'startContainer', name: c.name });
    } else {
      const full = backoffFor(consecutiveShortRuns(o.history, backoff.resetAfterMs), backoff);
      const podName = `${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`;
      waits.push({
        type: 'wait',
        name: c.name,
        reason: 'CrashLoopBackOff',
        message: `back-off ${formatDuration(full)} restarting failed container=${c.name} pod=${podName}`,
      });
      retryAfter = Math.min(retryAfter, delay);
    }
  }

  if (!observed.sandboxReady) {
    // Containers still running in a broken sandbox are stopped before it is rebuilt.
    for (const name of runningNames(observed)) actions.push({ type: 'stopContainer', name, graceSeconds: gracePeriodSeconds(pod) });
    actions.push({ type: 'createSandbox' });
  }
  actions.push(...kills, ...waits, ...starts);
  if (Number.isFinite(retryAfter)) actions.push({ type: 'requeue', afterMs: retryAfter });
  return actions;
}

/** Go-style durations as the kubelet prints them: 10s, 1m20s, 5m0s; below a second, 250ms. Pure. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  return `${Math.floor(s / 60)}m${s % 60}s`;
}
