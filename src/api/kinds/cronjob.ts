// CronJobs (batch/v1): the schedule (parsed with cron-parser, five fields or
// an @descriptor, as upstream's robfig/cron standard parser takes), the time
// zone (an IANA name the runtime knows), the jobTemplate's JobSpec rules,
// upstream's defaults and kubectl's columns.
import { CronExpressionParser } from 'cron-parser';
import type { KubeObject, StatusCause } from '../../core/types.ts';
import { CRONJOBS } from '../../core/well-known.ts';
import { asObj, cause, checkEnum, checkLabels, checkNonNegative, child, setDefault, str } from './checks.ts';
import { defaultJobSpec, JOB_SPEC_LISTS, templateWideColumns, validateJobSpec } from './job.ts';
import { age, ageCell, col, list, NONE, printer, record, text } from './printer.ts';
import { prefixed, type KindStrategy } from './strategy.ts';

export const CONCURRENCY_POLICIES = ['Allow', 'Forbid', 'Replace'] as const;

/** Upstream: a CronJob's name leaves room for the 11-character suffix of its Jobs' names. */
const MAX_CRONJOB_NAME = 52;

/** True when the runtime knows the IANA time zone. */
export function isTimeZone(tz: string): boolean {
  if (tz === '' || /\s/.test(tz) || tz.toLowerCase() === 'local') return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Why a schedule is not a standard cron expression; undefined when it is. */
export function scheduleProblem(schedule: string, tz: string | undefined): string | undefined {
  const trimmed = schedule.trim();
  if (/^(CRON_)?TZ=/.test(trimmed)) {
    return tz !== undefined ? 'cannot use both timeZone field and TZ or CRON_TZ in schedule' : 'TZ or CRON_TZ in schedule is not supported; use the timeZone field';
  }
  if (!trimmed.startsWith('@') && trimmed.split(/\s+/).length !== 5) {
    return `expected exactly 5 fields, found ${trimmed === '' ? 0 : trimmed.split(/\s+/).length}: ${schedule}`;
  }
  try {
    CronExpressionParser.parse(trimmed, tz ? { tz } : {});
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

function validateCronJob(obj: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  const name = obj.metadata.name ?? '';
  if (name.length > MAX_CRONJOB_NAME) out.push(cause.invalid('metadata.name', name, `must be no more than ${MAX_CRONJOB_NAME} characters`));
  const spec = asObj(obj.spec);
  if (!spec) return [...out, cause.required('spec')];
  const tz = spec.timeZone;
  if (tz !== undefined && tz !== null && (typeof tz !== 'string' || !isTimeZone(tz))) {
    out.push(cause.invalid('spec.timeZone', tz, 'unknown time zone'));
  }
  const schedule = str(spec.schedule);
  if (!schedule) out.push(cause.required('spec.schedule'));
  else {
    const problem = scheduleProblem(schedule, typeof tz === 'string' && isTimeZone(tz) ? tz : undefined);
    if (problem) out.push(cause.invalid('spec.schedule', schedule, problem));
  }
  out.push(...checkEnum('spec.concurrencyPolicy', spec.concurrencyPolicy, CONCURRENCY_POLICIES));
  out.push(...checkNonNegative('spec.startingDeadlineSeconds', spec.startingDeadlineSeconds));
  out.push(...checkNonNegative('spec.successfulJobsHistoryLimit', spec.successfulJobsHistoryLimit));
  out.push(...checkNonNegative('spec.failedJobsHistoryLimit', spec.failedJobsHistoryLimit));
  const jobTemplate = asObj(spec.jobTemplate);
  if (!jobTemplate) out.push(cause.required('spec.jobTemplate'));
  else {
    out.push(...checkLabels('spec.jobTemplate.metadata.labels', asObj(jobTemplate.metadata)?.labels));
    const jobSpec = asObj(jobTemplate.spec);
    if (jobSpec?.manualSelector === true) {
      out.push(cause.notSupported('spec.jobTemplate.spec.manualSelector', true, ['nil', 'false']));
    }
    out.push(...validateJobSpec('spec.jobTemplate.spec', jobTemplate.spec, { selectorRequired: false }));
  }
  return out;
}

function defaultCronJob(o: KubeObject): void {
  const spec = child(o, 'spec');
  setDefault(spec, 'concurrencyPolicy', 'Allow');
  setDefault(spec, 'suspend', false);
  setDefault(spec, 'successfulJobsHistoryLimit', 3);
  setDefault(spec, 'failedJobsHistoryLimit', 1);
  const jobTemplate = asObj(spec.jobTemplate);
  if (jobTemplate) defaultJobSpec(child(jobTemplate, 'spec'));
}

function boolText(v: unknown): string {
  return typeof v === 'boolean' ? (v ? 'True' : 'False') : '<unset>';
}

export const cronJobStrategy: KindStrategy = {
  groupResource: CRONJOBS,
  topLevelFields: ['spec', 'status'],
  validate: (obj) => validateCronJob(obj),
  defaults: defaultCronJob,
  listStrategies: prefixed('spec.jobTemplate.spec', JOB_SPEC_LISTS),
  printer: printer([
    [col('Schedule', 'The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.'), (o) => text(record(o.spec).schedule)],
    [col('Timezone', 'The time zone the cron is scheduled in.'), (o) => text(record(o.spec).timeZone) || NONE],
    [col('Suspend', 'This flag tells the controller to suspend subsequent executions.', { type: 'boolean' }), (o) => boolText(record(o.spec).suspend)],
    [col('Active', 'A list of pointers to currently running jobs.', { type: 'integer' }), (o) => list(record(o.status).active).length],
    [col('Last Schedule', 'Information when was the last time the job was successfully scheduled.'), (o, now) => (record(o.status).lastScheduleTime ? age(record(o.status).lastScheduleTime, now) : NONE)],
    ageCell,
    ...templateWideColumns((o) => record(record(record(o.spec).jobTemplate).spec)),
  ]),
};
