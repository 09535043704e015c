// The Job and CronJob strategies: defaults, the generated selector, validation and the kubectl columns.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jobStrategy } from '../../src/api/kinds/job.ts';
import { cronJobStrategy, scheduleProblem } from '../../src/api/kinds/cronjob.ts';
import type { KubeObject } from '../../src/core/types.ts';

const template = (restartPolicy?: string) => ({ spec: { ...(restartPolicy ? { restartPolicy } : {}), containers: [{ name: 'c', command: ['true'] }] } });

function job(spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'pi', namespace: 'default', uid: 'u1' }, spec };
}

const prepared = (o: KubeObject): KubeObject => {
  jobStrategy.defaults?.(o);
  return o;
};
const fields = (o: KubeObject, s = jobStrategy, old?: KubeObject): string[] => (s.validate?.(o, old) ?? []).map((c) => `${c.field}: ${c.reason}`);

describe('Job strategy', () => {
  it('defaults as upstream and generates the controller-uid selector and labels', () => {
    const o = prepared(job({ template: template('Never') }));
    const spec = o.spec as Record<string, unknown>;
    assert.equal(spec.completions, 1);
    assert.equal(spec.parallelism, 1);
    assert.equal(spec.backoffLimit, 6);
    assert.equal(spec.completionMode, 'NonIndexed');
    assert.equal(spec.suspend, false);
    assert.deepEqual(spec.selector, { matchLabels: { 'batch.kubernetes.io/controller-uid': 'u1' } });
    const labels = ((spec.template as { metadata: { labels: Record<string, string> } }).metadata.labels);
    assert.deepEqual(labels, { 'controller-uid': 'u1', 'batch.kubernetes.io/controller-uid': 'u1', 'job-name': 'pi', 'batch.kubernetes.io/job-name': 'pi' });
    assert.deepEqual(fields(o), []);
  });

  it('only parallelism given: completions stays unset (a work queue)', () => {
    const o = prepared(job({ parallelism: 3, template: template('Never') }));
    assert.equal((o.spec as Record<string, unknown>).completions, undefined);
  });

  it('refuses restartPolicy Always, a hand-written selector without manualSelector, Indexed without completions', () => {
    assert.deepEqual(fields(prepared(job({ template: template() }))), ['spec.template.spec.restartPolicy: FieldValueNotSupported']);
    const manual = prepared(job({ selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, ...template('Never') } }));
    assert.deepEqual(fields(manual), ['spec.selector: FieldValueInvalid']);
    const indexed = prepared(job({ completionMode: 'Indexed', parallelism: 2, template: template('Never') }));
    assert.deepEqual(fields(indexed), ['spec.completions: FieldValueRequired']);
  });

  it('manualSelector: the selector must match the template labels', () => {
    const o = prepared(job({ manualSelector: true, selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'c' } }, ...template('OnFailure') } }));
    assert.deepEqual(fields(o), ['spec.template.metadata.labels: FieldValueInvalid']);
  });

  it('the template and completions are immutable', () => {
    const old = prepared(job({ template: template('Never') }));
    const next = structuredClone(old);
    (next.spec as Record<string, unknown>).completions = 3;
    assert.deepEqual(fields(next, jobStrategy, old), ['spec.completions: FieldValueInvalid']);
  });

  it('prints Status, Completions and Duration as kubectl', () => {
    const o = prepared(job({ completions: 5, template: template('Never') }));
    o.metadata.creationTimestamp = '2026-03-01T10:00:00Z';
    o.status = { succeeded: 5, startTime: '2026-03-01T10:00:00Z', completionTime: '2026-03-01T10:00:42Z', conditions: [{ type: 'Complete', status: 'True' }] };
    const cells = jobStrategy.printer?.cells(o, new Date('2026-03-01T10:05:00Z'));
    assert.deepEqual(cells?.slice(0, 4), ['Complete', '5/5', '42s', '5m']);
    assert.deepEqual(jobStrategy.printer?.columns.slice(0, 5).map((c) => c.name), ['Name', 'Status', 'Completions', 'Duration', 'Age']);
  });
});

describe('CronJob strategy', () => {
  const cj = (spec: Record<string, unknown>): KubeObject => ({
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'tick', namespace: 'default' },
    spec: { jobTemplate: { spec: { template: template('OnFailure') } }, ...spec },
  });
  const ready = (o: KubeObject): KubeObject => {
    cronJobStrategy.defaults?.(o);
    return o;
  };

  it('defaults as upstream and accepts a schedule with a time zone', () => {
    const o = ready(cj({ schedule: '*/5 * * * *', timeZone: 'Europe/Berlin' }));
    const spec = o.spec as Record<string, unknown>;
    assert.deepEqual([spec.concurrencyPolicy, spec.suspend, spec.successfulJobsHistoryLimit, spec.failedJobsHistoryLimit], ['Allow', false, 3, 1]);
    assert.deepEqual(fields(o, cronJobStrategy), []);
  });

  it('refuses a bad schedule, six fields, TZ= in the schedule and an unknown zone', () => {
    assert.deepEqual(fields(ready(cj({ schedule: '61 * * * *' })), cronJobStrategy), ['spec.schedule: FieldValueInvalid']);
    assert.match(scheduleProblem('0 0 * * * *', undefined) ?? '', /exactly 5 fields/);
    assert.match(scheduleProblem('CRON_TZ=UTC 0 * * * *', 'UTC') ?? '', /cannot use both/);
    assert.equal(scheduleProblem('@hourly', undefined), undefined);
    assert.deepEqual(fields(ready(cj({ schedule: '@daily', timeZone: 'Mars/Olympus' })), cronJobStrategy), ['spec.timeZone: FieldValueInvalid']);
    assert.deepEqual(fields(ready(cj({ schedule: '@daily', concurrencyPolicy: 'Sometimes' })), cronJobStrategy), ['spec.concurrencyPolicy: FieldValueNotSupported']);
  });

  it('prints Schedule, Timezone, Suspend, Active, Last Schedule as kubectl', () => {
    const o = ready(cj({ schedule: '*/1 * * * *' }));
    o.metadata.creationTimestamp = '2026-03-01T10:00:00Z';
    o.status = { active: [{ name: 'tick-1' }], lastScheduleTime: '2026-03-01T10:04:00Z' };
    assert.deepEqual(cronJobStrategy.printer?.cells(o, new Date('2026-03-01T10:05:00Z')).slice(0, 6), ['*/1 * * * *', '<none>', 'False', 1, '60s', '5m']);
  });
});
