// CronJob controller: creates a CronJob's Jobs on its schedule. reconcileCronJob
// is the pure decision (CronJob + its Jobs + the clock → actions and when to
// look again); the shell feeds it from the shared informers.
//
// As upstream: the most recent missed schedule time runs (never a backlog),
// startingDeadlineSeconds bounds how far back a missed time counts, more than
// 100 missed times gives a TooManyMissedTimes warning, Job names are
// `<cronjob>-<scheduled time in minutes since the epoch>`, and the schedule is
// read in spec.timeZone (else the controller process's zone).
import { CronExpressionParser } from 'cron-parser';
import type { KubeObject } from '../core/types.ts';
import { splitKey } from '../client/informer.ts';
import { deepEqual } from '../core/deep-equal.ts';
import { CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION, CRONJOBS, JOBS } from '../core/well-known.ts';
import { applyActions, exceptAlreadyCreated, throwFirstError, type Action } from './actions.ts';
import { MAX_REQUEUE_MS } from './job.ts';
import { conditionOf, controllerKeyOf, isBeingDeleted, isControlledBy, ownerRefTo } from './objects.ts';
import { enqueueMapped, enqueueSelf, newController, type Controller, type ControllerDeps } from './runtime.ts';

/** Upstream's bound on missed start times before it warns. */
export const MAX_MISSED = 100;

interface CronJobSpec {
  schedule?: string;
  timeZone?: string;
  startingDeadlineSeconds?: number;
  concurrencyPolicy?: 'Allow' | 'Forbid' | 'Replace';
  suspend?: boolean;
  successfulJobsHistoryLimit?: number;
  failedJobsHistoryLimit?: number;
  jobTemplate?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: Record<string, unknown> };
}

interface ObjectReference {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
}

interface CronJobStatus {
  active?: ObjectReference[];
  lastScheduleTime?: string;
  lastSuccessfulTime?: string;
}

export interface CronJobSnapshot {
  cronJob: KubeObject;
  /** Jobs of the CronJob's namespace. */
  jobs: readonly KubeObject[];
  nowMs: number;
}

export interface CronJobPlan {
  actions: Action[];
  /** Look again after this many ms (the next schedule time, or a history clean-up); undefined: only on change. */
  requeueAfterMs?: number;
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function parse(schedule: string, tz: string | undefined, fromMs: number): ReturnType<typeof CronExpressionParser.parse> {
  return CronExpressionParser.parse(schedule.trim(), { currentDate: new Date(fromMs), ...(tz ? { tz } : {}) });
}

/** The first schedule time strictly after `afterMs`. */
export function nextScheduleMs(schedule: string, tz: string | undefined, afterMs: number): number {
  return parse(schedule, tz, afterMs).next().getTime();
}

/**
 * The latest schedule time in (earliestMs, nowMs], and how many times fell in
 * that window (counted up to MAX_MISSED + 1). undefined time: none fell.
 */
export function mostRecentSchedule(schedule: string, tz: string | undefined, earliestMs: number, nowMs: number): { timeMs?: number; missed: number } {
  if (earliestMs >= nowMs) return { missed: 0 };
  const latest = parse(schedule, tz, nowMs + 1).prev().getTime();
  if (latest <= earliestMs) return { missed: 0 };
  const it = parse(schedule, tz, earliestMs);
  let missed = 0;
  while (missed <= MAX_MISSED && it.next().getTime() <= nowMs) missed++;
  return { timeMs: latest, missed };
}

/** Upstream's Job name: the CronJob's name and the scheduled time in minutes. */
export function jobNameFor(cronJob: KubeObject, scheduledMs: number): string {
  return `${cronJob.metadata.name ?? ''}-${Math.floor(scheduledMs / 60_000)}`;
}

export function jobFromTemplate(cronJob: KubeObject, scheduledMs: number): KubeObject {
  const spec = cronJob.spec as CronJobSpec;
  const meta = spec.jobTemplate?.metadata ?? {};
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobNameFor(cronJob, scheduledMs),
      namespace: cronJob.metadata.namespace,
      labels: { ...(meta.labels ?? {}) },
      annotations: { ...(meta.annotations ?? {}), [CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION]: iso(scheduledMs) },
      ownerReferences: [ownerRefTo(cronJob)],
    },
    spec: structuredClone(spec.jobTemplate?.spec ?? {}),
  };
}

function finishedAs(job: KubeObject): 'Complete' | 'Failed' | undefined {
  if (conditionOf(job, 'Complete')?.status === 'True') return 'Complete';
  if (conditionOf(job, 'Failed')?.status === 'True') return 'Failed';
  return undefined;
}

function refTo(job: KubeObject): ObjectReference {
  return { apiVersion: 'batch/v1', kind: 'Job', name: job.metadata.name ?? '', namespace: job.metadata.namespace ?? '', uid: job.metadata.uid ?? '', resourceVersion: job.metadata.resourceVersion ?? '' };
}

function deleteJob(job: KubeObject): Action {
  return { op: 'delete', gr: JOBS, namespace: job.metadata.namespace ?? '', name: job.metadata.name ?? '', options: { propagationPolicy: 'Background', preconditions: { uid: job.metadata.uid } } };
}

const startOf = (job: KubeObject): string => ((job.status as { startTime?: string } | undefined)?.startTime ?? job.metadata.creationTimestamp ?? '');

/** What to do for one CronJob. Pure. */
export function reconcileCronJob(s: CronJobSnapshot): CronJobPlan {
  const { cronJob, nowMs } = s;
  const spec = cronJob.spec as CronJobSpec;
  const ns = cronJob.metadata.namespace ?? '';
  const name = cronJob.metadata.name ?? '';
  const old = (cronJob.status ?? {}) as CronJobStatus;
  const actions: Action[] = [];
  const event = (type: 'Normal' | 'Warning', reason: string, message: string): void => {
    actions.push({ op: 'event', regarding: cronJob, type, reason, message });
  };
  let requeueAfterMs: number | undefined;

  const mine = s.jobs.filter((j) => (j.metadata.namespace ?? '') === ns && isControlledBy(j, cronJob));
  const running = mine.filter((j) => !finishedAs(j) && !isBeingDeleted(j));
  const status: CronJobStatus = { ...old };
  for (const j of mine) {
    const t = (j.status as { completionTime?: string } | undefined)?.completionTime;
    if (finishedAs(j) === 'Complete' && t && (!status.lastSuccessfulTime || Date.parse(t) > Date.parse(status.lastSuccessfulTime))) status.lastSuccessfulTime = t;
  }
  for (const j of mine) {
    const was = old.active?.some((r) => r.uid === j.metadata.uid);
    const how = finishedAs(j);
    if (was && how) event(how === 'Complete' ? 'Normal' : 'Warning', how === 'Complete' ? 'SawCompletedJob' : 'SawFailedJob', `Saw completed job: ${j.metadata.name}, condition: ${how}`);
  }

  // History: the oldest finished Jobs beyond their limits go.
  for (const [kind, limit] of [['Complete', spec.successfulJobsHistoryLimit ?? 3], ['Failed', spec.failedJobsHistoryLimit ?? 1]] as const) {
    const done = mine.filter((j) => finishedAs(j) === kind && !isBeingDeleted(j)).sort((a, b) => (startOf(a) < startOf(b) ? -1 : 1));
    for (const j of done.slice(0, Math.max(done.length - limit, 0))) {
      actions.push(deleteJob(j));
      event('Normal', 'SuccessfulDelete', `Deleted job ${j.metadata.name}`);
    }
  }

  let activeJobs = running;
  const schedule = spec.schedule ?? '';
  if (!isBeingDeleted(cronJob) && spec.suspend !== true && schedule) {
    const tz = spec.timeZone || undefined;
    try {
      const created = Date.parse(cronJob.metadata.creationTimestamp ?? '') || nowMs;
      let earliest = old.lastScheduleTime ? Date.parse(old.lastScheduleTime) : created;
      if (spec.startingDeadlineSeconds !== undefined) earliest = Math.max(earliest, nowMs - spec.startingDeadlineSeconds * 1000);
      const recent = mostRecentSchedule(schedule, tz, earliest, nowMs);
      if (recent.missed > MAX_MISSED) {
        event('Warning', 'TooManyMissedTimes', `too many missed start times: > ${MAX_MISSED}. Set or decrease .spec.startingDeadlineSeconds or check clock skew`);
      }
      const scheduled = recent.timeMs;
      const jobName = scheduled !== undefined ? jobNameFor(cronJob, scheduled) : '';
      if (scheduled !== undefined && !mine.some((j) => j.metadata.name === jobName)) {
        const policy = spec.concurrencyPolicy ?? 'Allow';
        if (policy === 'Forbid' && running.length > 0) {
          event('Normal', 'JobAlreadyActive', 'Not starting job because prior execution is running and concurrency policy is Forbid');
        } else {
          if (policy === 'Replace') {
            for (const j of running) {
              actions.push(deleteJob(j));
              event('Normal', 'SuccessfulDelete', `Deleted job ${j.metadata.name}`);
            }
            activeJobs = [];
          }
          actions.push({ op: 'create', gr: JOBS, object: jobFromTemplate(cronJob, scheduled) });
          event('Normal', 'SuccessfulCreate', `Created job ${jobName}`);
          status.lastScheduleTime = iso(scheduled);
        }
      }
      requeueAfterMs = Math.max(nextScheduleMs(schedule, tz, nowMs) - nowMs, 0);
    } catch (err) {
      event('Warning', 'UnparseableSchedule', `unparseable schedule: ${JSON.stringify(schedule)}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  status.active = activeJobs.map(refTo);
  const patch: Record<string, unknown> = {};
  for (const k of ['active', 'lastScheduleTime', 'lastSuccessfulTime'] as const) {
    const before = k === 'active' ? (old.active ?? []).map((r) => r.uid) : old[k];
    const after = k === 'active' ? status.active.map((r) => r.uid) : status[k];
    if (!deepEqual(before, after)) patch[k] = status[k] ?? null;
  }
  if (Object.keys(patch).length > 0) actions.push({ op: 'patch', gr: CRONJOBS, namespace: ns, name, patch: { status: patch }, patchType: 'merge', subresource: 'status' });
  return { actions, requeueAfterMs };
}

export function cronJobController(deps: ControllerDeps, opts: { now?: () => number } = {}): Controller {
  const now = opts.now ?? Date.now;
  const cronInf = deps.informers.informer(CRONJOBS);
  const jobInf = deps.informers.informer(JOBS);
  const log = deps.logger.child({ controller: 'cronjob' });

  const sync = async (key: string): Promise<void> => {
    const { namespace, name } = splitKey(key);
    const cronJob = cronInf.getByName(namespace, name);
    if (!cronJob) return;
    const plan = reconcileCronJob({ cronJob, jobs: jobInf.list(namespace), nowMs: now() });
    const results = await applyActions(deps.client, plan.actions, { logger: log, component: 'cronjob-controller' });
    throwFirstError(exceptAlreadyCreated(results));
    // A little after the schedule time, so that the clock has passed it.
    if (plan.requeueAfterMs !== undefined) controller.queue.addAfter(key, Math.min(plan.requeueAfterMs + 100, MAX_REQUEUE_MS));
  };

  const controller = newController('cronjob', deps, sync);
  enqueueSelf(cronInf, controller.queue);
  enqueueMapped(jobInf, controller.queue, (job) => {
    const k = controllerKeyOf(job, 'CronJob', 'batch/v1');
    return k ? [k] : [];
  });
  return controller;
}
