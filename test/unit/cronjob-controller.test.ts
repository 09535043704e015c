// The CronJob controller's pure decision and its schedule arithmetic, with a fixed clock.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jobNameFor, MAX_MISSED, mostRecentSchedule, nextScheduleMs, reconcileCronJob } from '../../src/controllers/cronjob.ts';
import type { Action } from '../../src/controllers/actions.ts';
import type { KubeObject } from '../../src/core/types.ts';

const T0 = Date.parse('2026-03-01T10:00:00Z');
const MIN = 60_000;
const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function cronJob(spec: Record<string, unknown>, status: Record<string, unknown> = {}, created = T0): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'tick', namespace: 'default', uid: 'cj-uid', creationTimestamp: iso(created) },
    spec: {
      schedule: '*/1 * * * *',
      concurrencyPolicy: 'Allow',
      suspend: false,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 1,
      jobTemplate: { metadata: { labels: { app: 'tick' } }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', command: ['true'] }] } } } },
      ...spec,
    },
    status,
  };
}

function ownedJob(cj: KubeObject, name: string, state: 'running' | 'Complete' | 'Failed', at = T0): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: 'default',
      uid: `uid-${name}`,
      creationTimestamp: iso(at),
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'tick', uid: cj.metadata.uid ?? '', controller: true }],
    },
    spec: {},
    status: {
      startTime: iso(at),
      ...(state === 'running' ? { active: 1 } : { conditions: [{ type: state, status: 'True' }], ...(state === 'Complete' ? { completionTime: iso(at + 1000) } : {}) }),
    },
  };
}

const creates = (a: Action[]): KubeObject[] => a.flatMap((x) => (x.op === 'create' ? [x.object] : []));
const deletes = (a: Action[]): string[] => a.flatMap((x) => (x.op === 'delete' ? [x.name] : []));
const events = (a: Action[]): string[] => a.flatMap((x) => (x.op === 'event' ? [x.reason] : []));
const statusOf = (a: Action[]): Record<string, unknown> => {
  const p = a.find((x) => x.op === 'patch');
  return p && p.op === 'patch' ? (p.patch as { status: Record<string, unknown> }).status : {};
};

describe('schedule arithmetic', () => {
  it('the next time and the most recent one, in a time zone', () => {
    // 09:00 in New York is 14:00 UTC in March before DST (UTC-5).
    const daily = '0 9 * * *';
    assert.equal(iso(nextScheduleMs(daily, 'America/New_York', T0)), '2026-03-01T14:00:00Z');
    assert.equal(iso(nextScheduleMs(daily, 'UTC', T0)), '2026-03-02T09:00:00Z');
    const r = mostRecentSchedule('*/1 * * * *', 'UTC', T0, T0 + 3.5 * MIN);
    assert.equal(r.timeMs, T0 + 3 * MIN);
    assert.equal(r.missed, 3);
  });

  it('nothing fell in the window: no time', () => {
    assert.deepEqual(mostRecentSchedule('*/1 * * * *', 'UTC', T0, T0 + 30_000), { missed: 0 });
  });

  it('Job names are the scheduled time in minutes', () => {
    assert.equal(jobNameFor(cronJob({}), T0), `tick-${T0 / MIN}`);
  });
});

describe('reconcileCronJob', () => {
  it('waits for the first schedule time, then creates its Job, owned, with lastScheduleTime', () => {
    const cj = cronJob({});
    const early = reconcileCronJob({ cronJob: cj, jobs: [], nowMs: T0 + 20_000 });
    assert.equal(creates(early.actions).length, 0);
    assert.equal(early.requeueAfterMs, 40_000);
    const due = reconcileCronJob({ cronJob: cj, jobs: [], nowMs: T0 + MIN + 500 });
    const [j] = creates(due.actions);
    assert.equal(j.metadata.name, `tick-${T0 / MIN + 1}`);
    assert.equal(j.metadata.ownerReferences?.[0].uid, 'cj-uid');
    assert.equal(j.metadata.labels?.app, 'tick');
    assert.equal(j.metadata.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp'], iso(T0 + MIN));
    assert.equal(statusOf(due.actions).lastScheduleTime, iso(T0 + MIN));
    assert.deepEqual(events(due.actions), ['SuccessfulCreate']);
  });

  it('runs only the most recent missed time, and warns past 100 missed', () => {
    const cj = cronJob({}, { lastScheduleTime: iso(T0) });
    const plan = reconcileCronJob({ cronJob: cj, jobs: [], nowMs: T0 + 5 * MIN + 1 });
    assert.deepEqual(creates(plan.actions).map((j) => j.metadata.name), [`tick-${T0 / MIN + 5}`]);
    const many = reconcileCronJob({ cronJob: cj, jobs: [], nowMs: T0 + (MAX_MISSED + 20) * MIN });
    assert.ok(events(many.actions).includes('TooManyMissedTimes'));
    assert.equal(creates(many.actions).length, 1);
  });

  it('startingDeadlineSeconds: a time older than the deadline is not run', () => {
    const cj = cronJob({ schedule: '0 * * * *', startingDeadlineSeconds: 60 }, { lastScheduleTime: iso(T0) });
    const late = reconcileCronJob({ cronJob: cj, jobs: [], nowMs: T0 + 62 * MIN });
    assert.equal(creates(late.actions).length, 0);
    const inTime = reconcileCronJob({ cronJob: cj, jobs: [], nowMs: T0 + 60 * MIN + 30_000 });
    assert.equal(creates(inTime.actions).length, 1);
  });

  it('the Job of a time already made is not made again', () => {
    const cj = cronJob({});
    const made = ownedJob(cj, `tick-${T0 / MIN + 1}`, 'running', T0 + MIN);
    assert.equal(creates(reconcileCronJob({ cronJob: cj, jobs: [made], nowMs: T0 + MIN + 500 }).actions).length, 0);
  });

  it('Forbid skips while a Job runs; Replace deletes it first; Allow runs both', () => {
    const now = T0 + 2 * MIN + 500;
    const runningFor = (policy: string): Action[] => {
      const cj = cronJob({ concurrencyPolicy: policy }, { lastScheduleTime: iso(T0 + MIN) });
      return reconcileCronJob({ cronJob: cj, jobs: [ownedJob(cj, `tick-${T0 / MIN + 1}`, 'running', T0 + MIN)], nowMs: now }).actions;
    };
    const forbid = runningFor('Forbid');
    assert.equal(creates(forbid).length, 0);
    assert.ok(events(forbid).includes('JobAlreadyActive'));
    const replace = runningFor('Replace');
    assert.deepEqual(deletes(replace), [`tick-${T0 / MIN + 1}`]);
    assert.equal(creates(replace).length, 1);
    const allow = runningFor('Allow');
    assert.deepEqual(deletes(allow), []);
    assert.equal(creates(allow).length, 1);
    assert.equal((statusOf(allow).active as unknown[]).length, 1);
  });

  it('suspend: no Job is created', () => {
    const cj = cronJob({ suspend: true });
    const plan = reconcileCronJob({ cronJob: cj, jobs: [], nowMs: T0 + 3 * MIN });
    assert.equal(creates(plan.actions).length, 0);
    assert.equal(plan.requeueAfterMs, undefined);
  });

  it('keeps the history limits, oldest first, and records lastSuccessfulTime', () => {
    const cj = cronJob({ successfulJobsHistoryLimit: 1, failedJobsHistoryLimit: 0 }, { lastScheduleTime: iso(T0 + 3 * MIN) });
    const jobs = [
      ownedJob(cj, 'tick-a', 'Complete', T0),
      ownedJob(cj, 'tick-b', 'Complete', T0 + MIN),
      ownedJob(cj, 'tick-c', 'Failed', T0 + 2 * MIN),
    ];
    const plan = reconcileCronJob({ cronJob: cj, jobs, nowMs: T0 + 3 * MIN + 1000 });
    assert.deepEqual(deletes(plan.actions).sort(), ['tick-a', 'tick-c']);
    assert.equal(statusOf(plan.actions).lastSuccessfulTime, iso(T0 + MIN + 1000));
  });
});
