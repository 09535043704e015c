// Job controller: runs a Job's pods to completion. reconcileJob is the pure
// decision (snapshot + clock → actions, status, when to look again); the shell
// below feeds it from the shared informers and carries the actions out.
//
// Simplifications against upstream (docs/DECISIONS.md): terminal pods are
// counted from the cache (no tracking finalizers), so status.succeeded and
// status.failed never go down; the failure backoff before a replacement pod
// is 10 s · 2^(failures−1), capped at 6 min, from the latest failure.
import type { KubeObject, LabelSelector } from '../core/types.ts';
import { deepEqual } from '../core/deep-equal.ts';
import { JOB_COMPLETION_INDEX, JOBS } from '../core/well-known.ts';
import type { Action } from './actions.ts';
import { conditionOf, isBeingDeleted, isControlledBy, isPodReady, isPodTerminal, mergeCondition, ownerRefTo, podPhase, type Condition } from './objects.ts';
import { deletionOrder } from './replicaset.ts';
import { podOwnerController } from './pod-owner.ts';
import type { Controller, ControllerDeps } from './runtime.ts';

/** Most pods one sync creates. */
export const JOB_BURST = 500;
export const BACKOFF_BASE_MS = 10_000;
export const BACKOFF_MAX_MS = 360_000;
/** The longest a key waits for a timed look again (timers take at most 2^31 − 1 ms; a sync recomputes anyway). */
export const MAX_REQUEUE_MS = 3_600_000;

export interface JobSpec {
  parallelism?: number;
  completions?: number | null;
  backoffLimit?: number;
  activeDeadlineSeconds?: number;
  ttlSecondsAfterFinished?: number;
  completionMode?: 'NonIndexed' | 'Indexed';
  suspend?: boolean;
  selector?: LabelSelector;
  template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: Record<string, unknown> };
}

export interface JobStatus {
  active?: number;
  ready?: number;
  terminating?: number;
  succeeded?: number;
  failed?: number;
  startTime?: string;
  completionTime?: string;
  completedIndexes?: string;
  conditions?: Condition[];
}

export interface JobSnapshot {
  job: KubeObject;
  /** Pods of the Job's namespace. */
  pods: readonly KubeObject[];
  nowMs: number;
  expectationsSatisfied: boolean;
}

export interface JobPlan {
  actions: Action[];
  creates: number;
  deletes: number;
  /** Look again after this many ms (deadline, backoff, TTL); undefined: only on change. */
  requeueAfterMs?: number;
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function isTrue(status: JobStatus, type: string): boolean {
  return status.conditions?.some((c) => c.type === type && c.status === 'True') ?? false;
}

/** A Job that has its Complete or Failed condition. */
export function isJobFinished(job: KubeObject): boolean {
  const s = (job.status ?? {}) as JobStatus;
  return isTrue(s, 'Complete') || isTrue(s, 'Failed');
}

/** When the Job finished (Complete's or Failed's transition), in ms; undefined while it runs. */
export function jobFinishedAtMs(job: KubeObject): number | undefined {
  const c = [conditionOf(job, 'Complete'), conditionOf(job, 'Failed')].find((x) => x?.status === 'True');
  const t = c?.lastTransitionTime ? Date.parse(c.lastTransitionTime) : NaN;
  return Number.isFinite(t) ? t : undefined;
}

export function podIndex(pod: KubeObject): number | undefined {
  const raw = pod.metadata.annotations?.[JOB_COMPLETION_INDEX] ?? pod.metadata.labels?.[JOB_COMPLETION_INDEX];
  if (raw === undefined || !/^\d+$/.test(raw)) return undefined;
  return Number(raw);
}

/** "0-2,4,6-7": upstream's completedIndexes format. */
export function formatIndexes(indexes: Iterable<number>): string {
  const sorted = [...new Set(indexes)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

export function parseIndexes(text: string | undefined): Set<number> {
  const out = new Set<number>();
  for (const part of (text ?? '').split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    for (let i = lo; i <= hi; i++) out.add(i);
  }
  return out;
}

/** The pod a Job creates; `index` for an Indexed Job. */
export function jobPod(job: KubeObject, index: number | undefined): KubeObject {
  const spec = job.spec as JobSpec;
  const meta = spec.template?.metadata ?? {};
  const podSpec = structuredClone(spec.template?.spec ?? {}) as Record<string, unknown>;
  const labels = { ...(meta.labels ?? {}) };
  const annotations = { ...(meta.annotations ?? {}) };
  const name = job.metadata.name ?? '';
  if (index !== undefined) {
    labels[JOB_COMPLETION_INDEX] = String(index);
    annotations[JOB_COMPLETION_INDEX] = String(index);
    if (podSpec.hostname === undefined) podSpec.hostname = `${name}-${index}`;
    for (const list of ['containers', 'initContainers']) {
      const containers = podSpec[list];
      if (!Array.isArray(containers)) continue;
      for (const c of containers as { env?: { name: string; value?: string }[] }[]) {
        c.env = [...(c.env ?? []).filter((e) => e.name !== 'JOB_COMPLETION_INDEX'), { name: 'JOB_COMPLETION_INDEX', value: String(index) }];
      }
    }
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: index === undefined ? `${name}-` : `${name}-${index}-`,
      namespace: job.metadata.namespace,
      labels,
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
      ownerReferences: [ownerRefTo(job)],
    },
    spec: podSpec,
  };
}

function restartCount(pod: KubeObject): number {
  const statuses = (pod.status as { containerStatuses?: { restartCount?: number }[] } | undefined)?.containerStatuses ?? [];
  return statuses.reduce((n, s) => n + (s.restartCount ?? 0), 0);
}

/** When a failed pod failed: its containers' latest finishedAt, else its creation. */
function failedAtMs(pod: KubeObject): number {
  type CS = { state?: { terminated?: { finishedAt?: string } } };
  const statuses = (pod.status as { containerStatuses?: CS[] } | undefined)?.containerStatuses ?? [];
  const times = statuses.map((s) => Date.parse(s.state?.terminated?.finishedAt ?? '')).filter(Number.isFinite);
  if (times.length > 0) return Math.max(...times);
  const created = Date.parse(pod.metadata.creationTimestamp ?? '');
  return Number.isFinite(created) ? created : 0;
}

export function backoffMs(failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(BACKOFF_BASE_MS * 2 ** (failures - 1), BACKOFF_MAX_MS);
}

function deletePod(pod: KubeObject): Action {
  return {
    op: 'delete',
    gr: 'pods',
    namespace: pod.metadata.namespace ?? '',
    name: pod.metadata.name ?? '',
    options: { preconditions: { uid: pod.metadata.uid } },
  };
}

/** What to do for one Job. Pure. */
export function reconcileJob(s: JobSnapshot): JobPlan {
  const { job, nowMs } = s;
  const spec = job.spec as JobSpec;
  const ns = job.metadata.namespace ?? '';
  const name = job.metadata.name ?? '';
  const now = iso(nowMs);
  const old = (job.status ?? {}) as JobStatus;
  const actions: Action[] = [];
  const event = (type: 'Normal' | 'Warning', reason: string, message: string): void => {
    actions.push({ op: 'event', regarding: job, type, reason, message });
  };
  let requeueAfterMs: number | undefined;
  const requeue = (ms: number): void => {
    const at = Math.max(ms, 0);
    requeueAfterMs = requeueAfterMs === undefined ? at : Math.min(requeueAfterMs, at);
  };

  const mine = s.pods.filter((p) => (p.metadata.namespace ?? '') === ns && isControlledBy(p, job));
  const active = mine.filter((p) => !isPodTerminal(p) && !isBeingDeleted(p));
  const terminating = mine.filter((p) => !isPodTerminal(p) && isBeingDeleted(p));
  const succeededPods = mine.filter((p) => podPhase(p) === 'Succeeded');
  const failedPods = mine.filter((p) => podPhase(p) === 'Failed');
  const indexed = spec.completionMode === 'Indexed';
  const completions = typeof spec.completions === 'number' ? spec.completions : undefined;
  const parallelism = spec.parallelism ?? 1;
  const backoffLimit = spec.backoffLimit ?? 6;

  // Counts never go down: a terminal pod someone deleted stays counted.
  const completed = parseIndexes(old.completedIndexes);
  if (indexed) for (const p of succeededPods) {
    const i = podIndex(p);
    if (i !== undefined && completions !== undefined && i < completions) completed.add(i);
  }
  const succeeded = indexed ? completed.size : Math.max(old.succeeded ?? 0, succeededPods.length);
  const failed = Math.max(old.failed ?? 0, failedPods.length);
  const restarts = active.reduce((n, p) => n + restartCount(p), 0);

  let conditions = old.conditions;
  const setCondition = (type: string, status: 'True' | 'False', reason: string, message: string): void => {
    const had = conditions?.find((c) => c.type === type);
    if (had && had.status === status && had.reason === reason && had.message === message) return;
    conditions = mergeCondition(conditions, { type, status, reason, message, lastProbeTime: now }, now);
  };

  const status: JobStatus = { ...old };
  let creates = 0;
  let deletes = 0;
  const deleteAll = (pods: KubeObject[], why: string): void => {
    if (pods.length === 0) return;
    for (const p of pods) actions.push(deletePod(p));
    deletes += pods.length;
    event('Normal', 'SuccessfulDelete', `Deleted pod(s) ${why}: ${pods.map((p) => p.metadata.name).join(', ')}`);
  };

  if (isJobFinished(job)) {
    // Finished: stop what still runs; delete the Job once its TTL after finishing is over.
    deleteAll(active, 'of a finished job');
    const ttl = spec.ttlSecondsAfterFinished;
    const finished = jobFinishedAtMs(job);
    if (ttl !== undefined && finished !== undefined && !isBeingDeleted(job)) {
      const left = finished + ttl * 1000 - nowMs;
      if (left <= 0) {
        actions.push({ op: 'delete', gr: JOBS, namespace: ns, name, options: { propagationPolicy: 'Foreground', preconditions: { uid: job.metadata.uid } } });
      } else requeue(left);
    }
  } else if (!isBeingDeleted(job)) {
    const suspended = spec.suspend === true;
    const wasSuspended = conditionOf(job, 'Suspended')?.status === 'True';
    if (suspended) {
      deleteAll(active, 'of a suspended job');
      if (!wasSuspended) {
        setCondition('Suspended', 'True', 'JobSuspended', 'Job suspended');
        event('Normal', 'Suspended', 'Job suspended');
      }
      delete status.startTime;
    } else {
      if (wasSuspended) {
        setCondition('Suspended', 'False', 'JobResumed', 'Job resumed');
        event('Normal', 'Resumed', 'Job resumed');
        status.startTime = now;
      }
      if (!status.startTime) status.startTime = now;
      const startMs = Date.parse(status.startTime);

      // Failure: the backoff limit or the active deadline. FailureTarget first; Failed once no pod runs.
      let failure = conditionOf(job, 'FailureTarget')?.status === 'True'
        ? { reason: conditionOf(job, 'FailureTarget')?.reason ?? 'BackoffLimitExceeded', message: conditionOf(job, 'FailureTarget')?.message ?? '' }
        : undefined;
      const onFailure = spec.template?.spec?.restartPolicy === 'OnFailure';
      const restartsExceed = onFailure && (backoffLimit === 0 ? restarts > 0 : restarts >= backoffLimit);
      if (!failure && (failed > backoffLimit || restartsExceed)) {
        failure = { reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
      }
      const deadline = spec.activeDeadlineSeconds;
      if (!failure && deadline !== undefined && Number.isFinite(startMs)) {
        const left = startMs + deadline * 1000 - nowMs;
        if (left <= 0) failure = { reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' };
        else requeue(left);
      }
      const successMet = conditionOf(job, 'SuccessCriteriaMet')?.status === 'True' || (completions !== undefined ? succeeded >= completions : succeeded > 0);

      if (failure) {
        if (conditionOf(job, 'FailureTarget')?.status !== 'True') {
          setCondition('FailureTarget', 'True', failure.reason, failure.message);
          event('Warning', failure.reason, failure.message);
        }
        deleteAll(active, 'of a failed job');
        if (active.length === 0 && terminating.length === 0) setCondition('Failed', 'True', failure.reason, failure.message);
      } else if (successMet) {
        if (conditionOf(job, 'SuccessCriteriaMet')?.status !== 'True') setCondition('SuccessCriteriaMet', 'True', 'CompletionsReached', 'Reached expected number of succeeded pods');
        // With completions, pods still running are no longer needed; a work queue lets them finish.
        if (completions !== undefined) deleteAll(active, 'of a completed job');
        if (active.length === 0 && terminating.length === 0) {
          setCondition('Complete', 'True', 'CompletionsReached', 'Reached expected number of succeeded pods');
          status.completionTime = now;
          event('Normal', 'Completed', 'Job completed');
        }
      } else if (s.expectationsSatisfied) {
        // Backoff after failures: no new pod before the latest failure + backoff.
        const lastFailure = failedPods.length > 0 ? Math.max(...failedPods.map(failedAtMs)) : undefined;
        const waitMs = lastFailure === undefined ? 0 : lastFailure + backoffMs(failed) - nowMs;
        let want: number[] | number;
        if (indexed && completions !== undefined) {
          const running = new Set(active.map(podIndex).filter((i): i is number => i !== undefined));
          const pending: number[] = [];
          for (let i = 0; i < completions && pending.length < parallelism; i++) if (!completed.has(i) && !running.has(i)) pending.push(i);
          want = pending.slice(0, Math.max(parallelism - active.length, 0));
        } else if (completions !== undefined) {
          want = Math.min(parallelism, completions - succeeded) - active.length;
        } else {
          want = succeeded > 0 ? 0 : parallelism - active.length;
        }
        const count = Array.isArray(want) ? want.length : want;
        if (count > 0 && waitMs > 0) requeue(waitMs);
        else if (count > 0) {
          const indexes = Array.isArray(want) ? want.slice(0, JOB_BURST) : Array.from({ length: Math.min(count, JOB_BURST) }, () => undefined);
          for (const i of indexes) actions.push({ op: 'create', gr: 'pods', object: jobPod(job, i) });
          creates = indexes.length;
          event('Normal', 'SuccessfulCreate', `Created ${creates} pod(s)`);
        } else if (count < 0) {
          const surplus = [...active].sort(deletionOrder).slice(0, -count);
          deleteAll(surplus, 'above parallelism');
        }
      }
    }
  }

  status.active = active.length;
  status.ready = active.filter(isPodReady).length;
  status.terminating = terminating.length;
  status.succeeded = succeeded;
  status.failed = failed;
  if (indexed) status.completedIndexes = formatIndexes(completed);
  if (conditions) status.conditions = conditions;
  const patch = statusPatch(old, status);
  if (patch) actions.push({ op: 'patch', gr: JOBS, namespace: ns, name, patch: { status: patch }, patchType: 'merge', subresource: 'status' });
  return { actions, creates, deletes, requeueAfterMs };
}

/** The server stores no zero counts or empty strings (Go's omitempty): they read as absent. */
const unset = (v: unknown): unknown => (v === 0 || v === '' ? undefined : v);

/** A merge patch from `old` to `next` (removed keys → null); undefined when equal. */
function statusPatch(old: JobStatus, next: JobStatus): Record<string, unknown> | undefined {
  const patch: Record<string, unknown> = {};
  const o = old as Record<string, unknown>;
  const n = next as Record<string, unknown>;
  for (const k of new Set([...Object.keys(o), ...Object.keys(n)])) {
    if (!deepEqual(unset(o[k]), unset(n[k]))) patch[k] = n[k] ?? null;
  }
  return Object.keys(patch).length > 0 ? patch : undefined;
}

export function jobController(deps: ControllerDeps, opts: { now?: () => number } = {}): Controller {
  return podOwnerController(deps, {
    name: 'job',
    resource: JOBS,
    kind: 'Job',
    apiVersion: 'batch/v1',
    now: opts.now,
    plan: (job, view) => {
      const plan = reconcileJob({ job, ...view });
      // A little after the time, so that the clock has passed it.
      return { ...plan, requeueAfterMs: plan.requeueAfterMs === undefined ? undefined : Math.min(plan.requeueAfterMs + 50, MAX_REQUEUE_MS) };
    },
  }).controller;
}
