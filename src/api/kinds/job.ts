// Jobs (batch/v1): the generated selector (controller-uid labels) unless
// spec.manualSelector, upstream's defaults, the Job spec rules (shared with a
// CronJob's jobTemplate), and kubectl's Status/Completions/Duration columns.
import { deepEqual } from '../../core/deep-equal.ts';
import type { KubeObject, LabelSelector, StatusCause } from '../../core/types.ts';
import {
  JOB_CONTROLLER_UID_LABEL,
  JOB_NAME_LABEL,
  JOBS,
  LEGACY_JOB_CONTROLLER_UID_LABEL,
  LEGACY_JOB_NAME_LABEL,
} from '../../core/well-known.ts';
import { asObj, cause, checkEnum, checkNonNegative, child, setDefault, type Obj } from './checks.ts';
import { defaultPodSpec, POD_SPEC_LISTS } from './pod-spec.ts';
import { age, ageCell, col, humanDuration, list, num, printer, record, selectorText, text, type Column } from './printer.ts';
import { CONDITIONS, prefixed, type KindStrategy } from './strategy.ts';
import { validateSelectorAndTemplate } from './pod-template.ts';

export const COMPLETION_MODES = ['NonIndexed', 'Indexed'] as const;
export const JOB_RESTART_POLICIES = ['OnFailure', 'Never'] as const;

/** Upstream's limit on an Indexed Job's completions (the index must fit a label). */
const MAX_INDEXED_COMPLETIONS = 100_000;

function checkPositive(field: string, value: unknown): StatusCause[] {
  if (value === undefined || value === null) return [];
  return Number.isInteger(value) && (value as number) > 0 ? [] : [cause.invalid(field, value, 'must be greater than 0')];
}

/**
 * The rules of a JobSpec at `field`, on a Job or a CronJob's jobTemplate.
 * `selectorRequired`: a Job's (given or generated); a jobTemplate's may be absent.
 */
export function validateJobSpec(field: string, specValue: unknown, opts: { selectorRequired: boolean }): StatusCause[] {
  const spec = asObj(specValue);
  if (!spec) return [cause.required(field)];
  const out: StatusCause[] = [];
  out.push(...checkNonNegative(`${field}.parallelism`, spec.parallelism));
  out.push(...checkNonNegative(`${field}.completions`, spec.completions));
  out.push(...checkNonNegative(`${field}.backoffLimit`, spec.backoffLimit));
  out.push(...checkPositive(`${field}.activeDeadlineSeconds`, spec.activeDeadlineSeconds));
  out.push(...checkNonNegative(`${field}.ttlSecondsAfterFinished`, spec.ttlSecondsAfterFinished));
  out.push(...checkEnum(`${field}.completionMode`, spec.completionMode, COMPLETION_MODES));
  if (spec.completionMode === 'Indexed') {
    if (spec.completions === undefined || spec.completions === null) {
      out.push(cause.required(`${field}.completions`, 'when completion mode is Indexed'));
    } else if (typeof spec.completions === 'number' && spec.completions > MAX_INDEXED_COMPLETIONS) {
      out.push(cause.invalid(`${field}.completions`, spec.completions, `must be less than or equal to ${MAX_INDEXED_COMPLETIONS} when completion mode is Indexed`));
    }
  }
  out.push(...validateSelectorAndTemplate(field, spec, { selectorRequired: opts.selectorRequired, restartPolicies: JOB_RESTART_POLICIES }));
  return out;
}

/** The labels a Job's generated selector matches (and its pod template gets). */
export function generatedJobLabels(name: string, uid: string): Record<string, string> {
  return {
    [LEGACY_JOB_CONTROLLER_UID_LABEL]: uid,
    [JOB_CONTROLLER_UID_LABEL]: uid,
    [LEGACY_JOB_NAME_LABEL]: name,
    [JOB_NAME_LABEL]: name,
  };
}

function generatedSelector(uid: string): LabelSelector {
  return { matchLabels: { [JOB_CONTROLLER_UID_LABEL]: uid } };
}

function validateJob(obj: KubeObject, old: KubeObject | undefined): StatusCause[] {
  const spec = asObj(obj.spec);
  const manual = spec?.manualSelector === true;
  const out = validateJobSpec('spec', obj.spec, { selectorRequired: true });
  if (spec && !manual && obj.metadata.uid && spec.selector !== undefined && !deepEqual(spec.selector, generatedSelector(obj.metadata.uid))) {
    out.push(cause.invalid('spec.selector', spec.selector, '`selector` not auto-generated'));
  }
  if (old && spec) {
    const was = asObj(old.spec) ?? {};
    for (const f of ['selector', 'completionMode', 'manualSelector']) {
      if (!deepEqual(was[f], spec[f])) out.push(cause.invalid(`spec.${f}`, spec[f], 'field is immutable'));
    }
    // Upstream lets completions change only together with parallelism on Indexed Jobs; meshlet keeps it fixed.
    if (!deepEqual(was.completions, spec.completions)) out.push(cause.invalid('spec.completions', spec.completions, 'field is immutable'));
    if (!deepEqual(was.template, spec.template)) out.push(cause.invalid('spec.template', spec.template, 'field is immutable'));
  }
  return out;
}

/** The JobSpec defaults (a Job's or a jobTemplate's). */
export function defaultJobSpec(spec: Obj): void {
  setDefault(spec, 'parallelism', 1);
  setDefault(spec, 'backoffLimit', 6);
  setDefault(spec, 'completionMode', 'NonIndexed');
  setDefault(spec, 'suspend', false);
  setDefault(spec, 'podReplacementPolicy', 'TerminatingOrFailed');
  const template = asObj(spec.template);
  if (template) defaultPodSpec(child(template, 'spec'));
}

function defaultJob(o: KubeObject): void {
  const spec = child(o, 'spec');
  // Upstream: both unset → completions 1 and parallelism 1; only parallelism set → completions stays unset (a work queue).
  if (spec.completions === undefined && spec.parallelism === undefined) spec.completions = 1;
  defaultJobSpec(spec);
  if (spec.manualSelector !== true && o.metadata.uid) {
    const labels = generatedJobLabels(o.metadata.name ?? '', o.metadata.uid);
    const meta = child(child(spec, 'template'), 'metadata');
    meta.labels = { ...(asObj(meta.labels) ?? {}), ...labels };
    if (spec.selector === undefined) spec.selector = generatedSelector(o.metadata.uid);
  }
}

type Cond = { type?: unknown; status?: unknown };

function hasCondition(o: KubeObject, type: string): boolean {
  return list(record(o.status).conditions).some((c) => (c as Cond).type === type && (c as Cond).status === 'True');
}

/** kubectl's Job status column. */
export function jobStatusText(o: KubeObject): string {
  if (hasCondition(o, 'Complete')) return 'Complete';
  if (hasCondition(o, 'Failed')) return 'Failed';
  if (o.metadata.deletionTimestamp) return 'Terminating';
  if (hasCondition(o, 'SuccessCriteriaMet')) return 'SuccessCriteriaMet';
  if (hasCondition(o, 'FailureTarget')) return 'FailureTarget';
  if (record(o.spec).suspend === true) return 'Suspended';
  return 'Running';
}

function completionsText(o: KubeObject): string {
  const spec = record(o.spec);
  const succeeded = num(record(o.status).succeeded);
  if (typeof spec.completions === 'number') return `${succeeded}/${spec.completions}`;
  const parallelism = num(spec.parallelism);
  return parallelism > 1 ? `${succeeded}/1 of ${parallelism}` : `${succeeded}/1`;
}

function durationText(o: KubeObject, now: Date): string {
  const status = record(o.status);
  const start = Date.parse(text(status.startTime));
  if (Number.isNaN(start)) return '';
  const end = Date.parse(text(status.completionTime));
  return Number.isNaN(end) ? age(status.startTime, now) : humanDuration(end - start);
}

/** The wide columns of a pod-template-carrying spec at `spec` (a Job's spec or a CronJob's jobTemplate.spec). */
export function templateWideColumns(jobSpec: (o: KubeObject) => Record<string, unknown>): Column[] {
  const containers = (o: KubeObject): Record<string, unknown>[] => list(record(record(jobSpec(o).template).spec).containers).map(record);
  return [
    [col('Containers', 'Names of each container in the template.', { priority: 1 }), (o) => containers(o).map((c) => text(c.name)).join(',')],
    [col('Images', 'Images referenced by each container in the template.', { priority: 1 }), (o) => containers(o).map((c) => text(c.image)).join(',')],
    [col('Selector', 'Query over pods that should match the pod count.', { priority: 1 }), (o) => selectorText(jobSpec(o).selector)],
  ];
}

export const JOB_SPEC_LISTS = prefixed('template.spec', POD_SPEC_LISTS);

export const jobStrategy: KindStrategy = {
  groupResource: JOBS,
  topLevelFields: ['spec', 'status'],
  validate: validateJob,
  defaults: defaultJob,
  listStrategies: { ...prefixed('spec', JOB_SPEC_LISTS), ...CONDITIONS },
  printer: printer([
    [col('Status', 'Status of the job.'), (o) => jobStatusText(o)],
    [col('Completions', 'The desired number of successfully finished pods the job should be run with.'), (o) => completionsText(o)],
    [col('Duration', 'Time required to complete the job.'), (o, now) => durationText(o, now)],
    ageCell,
    ...templateWideColumns((o) => record(o.spec)),
  ]),
  fieldSelectors: { 'status.successful': (o) => String(num(record(o.status).succeeded)) },
};
