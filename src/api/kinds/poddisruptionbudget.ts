// PodDisruptionBudgets (policy/v1): exactly one of minAvailable and
// maxUnavailable, each an integer ≥ 0 or "<n>%"; a valid selector; kubectl's
// Min Available / Max Unavailable / Allowed Disruptions columns.
import type { KubeObject, StatusCause } from '../../core/types.ts';
import { PODDISRUPTIONBUDGETS } from '../../core/well-known.ts';
import { asObj, cause, checkEnum, checkIntOrPercent, checkSelector } from './checks.ts';
import { ageCell, col, num, printer, record } from './printer.ts';
import { CONDITIONS, type KindStrategy } from './strategy.ts';

export const UNHEALTHY_POD_EVICTION_POLICIES = ['IfHealthyBudget', 'AlwaysAllow'] as const;

function checkPercentAtMost100(field: string, v: unknown): StatusCause[] {
  if (typeof v !== 'string') return [];
  const m = /^(\d+)%$/.exec(v);
  return m && Number(m[1]) > 100 ? [cause.invalid(field, v, 'must not be greater than 100%')] : [];
}

function validatePdb(obj: KubeObject): StatusCause[] {
  const spec = asObj(obj.spec) ?? {};
  const out: StatusCause[] = [];
  const hasMin = spec.minAvailable !== undefined && spec.minAvailable !== null;
  const hasMax = spec.maxUnavailable !== undefined && spec.maxUnavailable !== null;
  if (hasMin && hasMax) out.push(cause.invalid('spec', spec, 'minAvailable and maxUnavailable cannot be both set'));
  if (!hasMin && !hasMax) out.push(cause.required('spec.minAvailable', 'one of minAvailable or maxUnavailable must be set'));
  for (const f of ['minAvailable', 'maxUnavailable']) {
    const v = spec[f] ?? undefined;
    out.push(...checkIntOrPercent(`spec.${f}`, v), ...checkPercentAtMost100(`spec.${f}`, v));
  }
  if (spec.selector !== undefined && spec.selector !== null) out.push(...checkSelector('spec.selector', spec.selector));
  out.push(...checkEnum('spec.unhealthyPodEvictionPolicy', spec.unhealthyPodEvictionPolicy, UNHEALTHY_POD_EVICTION_POLICIES));
  return out;
}

/** kubectl's cell for an IntOrString that may be unset. */
function intOrStrCell(v: unknown): string {
  return v === undefined || v === null ? 'N/A' : String(v);
}

export const podDisruptionBudgetStrategy: KindStrategy = {
  groupResource: PODDISRUPTIONBUDGETS,
  topLevelFields: ['spec', 'status'],
  validate: validatePdb,
  listStrategies: CONDITIONS,
  printer: printer([
    [col('Min Available', 'The minimum number of pods that must be available.'), (o) => intOrStrCell(record(o.spec).minAvailable)],
    [col('Max Unavailable', 'The maximum number of pods that may be unavailable.'), (o) => intOrStrCell(record(o.spec).maxUnavailable)],
    [col('Allowed Disruptions', 'Calculated number of pods that may be disrupted at this time.', { type: 'integer' }), (o) => num(record(o.status).disruptionsAllowed)],
    ageCell,
  ]),
};
