// The Job controller's pure decision, with a fixed clock.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backoffMs, formatIndexes, jobPod, parseIndexes, reconcileJob, type JobStatus } from '../../src/controllers/job.ts';
import type { Action } from '../../src/controllers/actions.ts';
import type { KubeObject } from '../../src/core/types.ts';

const T0 = Date.parse('2026-03-01T10:00:00Z');
const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function job(spec: Record<string, unknown>, status: JobStatus = {}): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'pi', namespace: 'default', uid: 'job-uid', creationTimestamp: iso(T0) },
    spec: {
      parallelism: 1,
      backoffLimit: 6,
      completionMode: 'NonIndexed',
      selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': 'job-uid' } },
      template: { metadata: { labels: { 'batch.kubernetes.io/controller-uid': 'job-uid' } }, spec: { restartPolicy: 'Never', containers: [{ name: 'c', command: ['true'] }] } },
      ...spec,
    },
    status,
  };
}

let podSeq = 0;
function pod(owner: KubeObject, phase: string, extra: { index?: number; finishedAt?: number; deleting?: boolean } = {}): KubeObject {
  const p = jobPod(owner, extra.index);
  p.metadata.name = `pi-${podSeq++}`;
  p.metadata.uid = `pod-${podSeq}`;
  p.metadata.creationTimestamp = iso(T0);
  if (extra.deleting) p.metadata.deletionTimestamp = iso(T0);
  p.status = {
    phase,
    ...(extra.finishedAt !== undefined ? { containerStatuses: [{ name: 'c', restartCount: 0, state: { terminated: { finishedAt: iso(extra.finishedAt), exitCode: 1 } } }] } : {}),
  };
  return p;
}

const creates = (actions: Action[]): KubeObject[] => actions.flatMap((a) => (a.op === 'create' ? [a.object] : []));
const deletes = (actions: Action[]): string[] => actions.flatMap((a) => (a.op === 'delete' ? [a.name] : []));
const statusOf = (actions: Action[]): Record<string, unknown> => {
  const p = actions.find((a) => a.op === 'patch' && a.subresource === 'status');
  return p && p.op === 'patch' ? ((p.patch as { status: Record<string, unknown> }).status) : {};
};
const conditionTypes = (s: Record<string, unknown>): string[] => ((s.conditions ?? []) as { type: string; status: string }[]).filter((c) => c.status === 'True').map((c) => c.type);
const events = (actions: Action[]): string[] => actions.flatMap((a) => (a.op === 'event' ? [a.reason] : []));

const run = (j: KubeObject, pods: KubeObject[], nowMs = T0) => reconcileJob({ job: j, pods, nowMs, expectationsSatisfied: true });

describe('reconcileJob', () => {
  it('starts parallelism pods of a completions Job, owned by it, and records startTime', () => {
    const j = job({ completions: 5, parallelism: 2 });
    const plan = run(j, []);
    const made = creates(plan.actions);
    assert.equal(made.length, 2);
    assert.equal(made[0].metadata.ownerReferences?.[0].uid, 'job-uid');
    assert.equal(made[0].metadata.ownerReferences?.[0].controller, true);
    assert.equal(statusOf(plan.actions).startTime, iso(T0));
    assert.deepEqual(events(plan.actions), ['SuccessfulCreate']);
  });

  it('never runs more pods than the completions still missing', () => {
    const j = job({ completions: 5, parallelism: 2 }, { startTime: iso(T0), succeeded: 4 });
    const done = [0, 1, 2, 3].map(() => pod(j, 'Succeeded'));
    assert.equal(creates(run(j, done).actions).length, 1);
  });

  it('turns Complete with completionTime once the completions succeeded and nothing runs', () => {
    const j = job({ completions: 2, parallelism: 2 }, { startTime: iso(T0) });
    const plan = run(j, [pod(j, 'Succeeded'), pod(j, 'Succeeded')], T0 + 5000);
    const s = statusOf(plan.actions);
    assert.deepEqual(conditionTypes(s).sort(), ['Complete', 'SuccessCriteriaMet']);
    assert.equal(s.completionTime, iso(T0 + 5000));
    assert.equal(s.succeeded, 2);
    assert.equal(creates(plan.actions).length, 0);
    assert.ok(events(plan.actions).includes('Completed'));
  });

  it('a work queue (parallelism, no completions) completes when a pod succeeded and the rest ended', () => {
    const j = job({ parallelism: 3 }, { startTime: iso(T0) });
    const still = run(j, [pod(j, 'Succeeded'), pod(j, 'Running')]);
    assert.equal(creates(still.actions).length, 0, 'no new pods after a success');
    assert.ok(!conditionTypes(statusOf(still.actions)).includes('Complete'));
    const done = run(j, [pod(j, 'Succeeded'), pod(j, 'Succeeded')]);
    assert.ok(conditionTypes(statusOf(done.actions)).includes('Complete'));
  });

  it('replaces a failed pod only after the backoff, and fails past backoffLimit', () => {
    const j = job({ completions: 1, backoffLimit: 1 }, { startTime: iso(T0) });
    const first = pod(j, 'Failed', { finishedAt: T0 });
    const early = run(j, [first], T0 + 1000);
    assert.equal(creates(early.actions).length, 0);
    assert.equal(early.requeueAfterMs, backoffMs(1) - 1000);
    assert.equal(creates(run(j, [first], T0 + backoffMs(1)).actions).length, 1);
    const second = pod(j, 'Failed', { finishedAt: T0 + 20_000 });
    const failed = run(j, [first, second], T0 + 20_000);
    const s = statusOf(failed.actions);
    assert.deepEqual(conditionTypes(s).sort(), ['Failed', 'FailureTarget']);
    assert.equal(s.failed, 2);
    const cond = (s.conditions as { type: string; reason: string }[]).find((c) => c.type === 'Failed');
    assert.equal(cond?.reason, 'BackoffLimitExceeded');
    assert.ok(events(failed.actions).includes('BackoffLimitExceeded'));
  });

  it('backoff doubles and is capped at 6 minutes', () => {
    assert.deepEqual([1, 2, 3, 6, 7, 20].map(backoffMs), [10_000, 20_000, 40_000, 320_000, 360_000, 360_000]);
  });

  it('fails with DeadlineExceeded after activeDeadlineSeconds, deleting what runs, Failed once it is gone', () => {
    const j = job({ completions: 1, activeDeadlineSeconds: 30 }, { startTime: iso(T0) });
    const runningPod = pod(j, 'Running');
    const before = run(j, [runningPod], T0 + 10_000);
    assert.equal(before.requeueAfterMs, 20_000);
    const after = run(j, [runningPod], T0 + 30_000);
    assert.deepEqual(deletes(after.actions), [runningPod.metadata.name]);
    const s = statusOf(after.actions);
    assert.deepEqual(conditionTypes(s), ['FailureTarget']);
    const targeted = job({ completions: 1, activeDeadlineSeconds: 30 }, { startTime: iso(T0), conditions: s.conditions as JobStatus['conditions'] });
    const gone = run(targeted, [], T0 + 31_000);
    const failed = (statusOf(gone.actions).conditions as { type: string; reason: string }[]).find((c) => c.type === 'Failed');
    assert.equal(failed?.reason, 'DeadlineExceeded');
    assert.equal(creates(gone.actions).length, 0);
  });

  it('Indexed: one pod per missing index with the index annotation, label and env, and completedIndexes', () => {
    const j = job({ completions: 4, parallelism: 2, completionMode: 'Indexed' }, { startTime: iso(T0) });
    const plan = run(j, [pod(j, 'Succeeded', { index: 0 }), pod(j, 'Running', { index: 2 })]);
    const made = creates(plan.actions);
    assert.equal(made.length, 1);
    assert.equal(made[0].metadata.annotations?.['batch.kubernetes.io/job-completion-index'], '1');
    assert.equal(made[0].metadata.labels?.['batch.kubernetes.io/job-completion-index'], '1');
    const env = ((made[0].spec as { containers: { env: { name: string; value: string }[] }[] }).containers[0].env);
    assert.deepEqual(env, [{ name: 'JOB_COMPLETION_INDEX', value: '1' }]);
    assert.equal(statusOf(plan.actions).completedIndexes, '0');
  });

  it('suspend deletes running pods and sets Suspended; resuming starts pods again', () => {
    const j = job({ completions: 1, suspend: true }, { startTime: iso(T0) });
    const p = pod(j, 'Running');
    const plan = run(j, [p]);
    assert.deepEqual(deletes(plan.actions), [p.metadata.name]);
    const s = statusOf(plan.actions);
    assert.deepEqual(conditionTypes(s), ['Suspended']);
    assert.equal(s.startTime, null, 'startTime cleared');
    const resumed = run(job({ completions: 1, suspend: false }, { conditions: s.conditions as JobStatus['conditions'] }), [], T0 + 1000);
    assert.equal(creates(resumed.actions).length, 1);
    assert.ok(events(resumed.actions).includes('Resumed'));
  });

  it('ttlSecondsAfterFinished deletes the finished Job (foreground) once it is over', () => {
    const finished = { startTime: iso(T0), completionTime: iso(T0 + 1000), conditions: [{ type: 'Complete', status: 'True' as const, lastTransitionTime: iso(T0 + 1000) }] };
    const j = job({ completions: 1, ttlSecondsAfterFinished: 10 }, finished);
    const early = run(j, [], T0 + 5000);
    assert.deepEqual(deletes(early.actions), []);
    assert.equal(early.requeueAfterMs, 6000);
    const late = run(j, [], T0 + 11_000);
    const del = late.actions.find((a) => a.op === 'delete');
    assert.ok(del && del.op === 'delete' && del.gr === 'jobs.batch' && del.options?.propagationPolicy === 'Foreground');
  });

  it('a settled Job patches nothing', () => {
    const j = job({ completions: 2, parallelism: 2 });
    const first = run(j, []);
    const settled = job({ completions: 2, parallelism: 2 }, statusOf(first.actions) as JobStatus);
    const pods = [pod(settled, 'Running'), pod(settled, 'Running')];
    const next = run(settled, pods);
    const again = run(job({ completions: 2, parallelism: 2 }, { ...(statusOf(first.actions) as JobStatus), ...(statusOf(next.actions) as JobStatus) }), pods);
    assert.deepEqual(again.actions, []);
  });

  it('zero counts the server leaves out read as equal (no patch loop)', () => {
    const j = job({ completions: 2, parallelism: 2 }, { startTime: iso(T0), active: 2 });
    const pods = [pod(j, 'Running'), pod(j, 'Running')];
    assert.deepEqual(run(j, pods).actions, []);
  });

  it('completedIndexes round-trips', () => {
    assert.equal(formatIndexes([4, 0, 1, 2, 6, 7]), '0-2,4,6-7');
    assert.deepEqual([...parseIndexes('0-2,4,6-7')], [0, 1, 2, 4, 6, 7]);
  });
});
