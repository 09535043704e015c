// HorizontalPodAutoscalers (autoscaling/v2): upstream's defaults (minReplicas 1,
// a cpu 80% target when no metric is given, behavior rules filled in when a
// behavior is given), upstream's validation of the target reference, replica
// bounds, metric targets and behavior rules, and kubectl's Reference / Targets /
// MinPods / MaxPods / Replicas columns.
//
// meshlet serves only resource metrics (metrics.k8s.io): metrics of type
// Resource with a cpu or memory target are accepted; Pods, Object, External
// and ContainerResource metrics are refused with a message saying so, rather
// than stored and never acted on (DECISIONS.md, "Autoscaling").
import { parseQuantity, QuantityError } from '../../core/quantity.ts';
import type { KubeObject, StatusCause } from '../../core/types.ts';
import { HORIZONTALPODAUTOSCALERS } from '../../core/well-known.ts';
import { asList, asObj, cause, checkEnum, child, setDefault, str, type Obj } from './checks.ts';
import { ageCell, col, list, num, printer, record, text } from './printer.ts';
import { CONDITIONS, type KindStrategy } from './strategy.ts';

export const METRIC_SOURCE_TYPES = ['Object', 'Pods', 'Resource', 'ContainerResource', 'External'] as const;
export const SUPPORTED_RESOURCES = ['cpu', 'memory'] as const;
export const TARGET_TYPES = ['Utilization', 'Value', 'AverageValue'] as const;
export const SCALING_POLICY_TYPES = ['Pods', 'Percent'] as const;
export const SELECT_POLICIES = ['Max', 'Min', 'Disabled'] as const;
export type SelectPolicy = (typeof SELECT_POLICIES)[number];
export type ScalingPolicyType = (typeof SCALING_POLICY_TYPES)[number];

export interface ScalingPolicy {
  type: ScalingPolicyType;
  value: number;
  periodSeconds: number;
}

export interface ScalingRules {
  stabilizationWindowSeconds: number;
  selectPolicy: SelectPolicy;
  policies: ScalingPolicy[];
}

/** upstream's autoscaling.DefaultCPUUtilization */
export const DEFAULT_CPU_UTILIZATION = 80;
const MAX_PERIOD_SECONDS = 1800;
const MAX_STABILIZATION_WINDOW_SECONDS = 3600;

/** The scale-up rules when none are given (upstream's GenerateHPAScaleUpRules). */
export function defaultScaleUpRules(): ScalingRules {
  return {
    stabilizationWindowSeconds: 0,
    selectPolicy: 'Max',
    policies: [
      { type: 'Pods', value: 4, periodSeconds: 15 },
      { type: 'Percent', value: 100, periodSeconds: 15 },
    ],
  };
}

/** The scale-down rules when none are given (upstream's GenerateHPAScaleDownRules). */
export function defaultScaleDownRules(): ScalingRules {
  return { stabilizationWindowSeconds: 300, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] };
}

/** Fills the unset fields of given rules from the defaults, in place. */
function fillRules(rules: Obj, defaults: ScalingRules): void {
  setDefault(rules, 'stabilizationWindowSeconds', defaults.stabilizationWindowSeconds);
  setDefault(rules, 'selectPolicy', defaults.selectPolicy);
  if (asList(rules.policies).length === 0) rules.policies = structuredClone(defaults.policies);
}

function defaultsHpa(obj: KubeObject): void {
  const spec = child(obj as unknown as Obj, 'spec');
  setDefault(spec, 'minReplicas', 1);
  if (asList(spec.metrics).length === 0) {
    spec.metrics = [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: DEFAULT_CPU_UTILIZATION } } }];
  }
  // As upstream: a behavior that is absent stays absent (the controller uses the defaults); a given one is completed.
  const behavior = asObj(spec.behavior);
  if (behavior) {
    fillRules(child(behavior, 'scaleUp'), defaultScaleUpRules());
    fillRules(child(behavior, 'scaleDown'), defaultScaleDownRules());
  }
}

function isPositiveInt(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) > 0;
}

function checkQuantity(field: string, v: unknown, positive: boolean): StatusCause[] {
  if (typeof v !== 'string' && typeof v !== 'number') return [cause.invalid(field, v, 'must be a quantity')];
  try {
    const q = parseQuantity(String(v));
    if (positive && q.mantissa <= 0n) return [cause.invalid(field, v, 'must be positive')];
    return [];
  } catch (err) {
    if (err instanceof QuantityError) return [cause.invalid(field, v, err.message)];
    throw err;
  }
}

function checkTarget(field: string, target: Obj | undefined): StatusCause[] {
  if (!target) return [cause.required(field, 'must specify a metric target')];
  const out: StatusCause[] = [];
  const type = target.type;
  if (type === undefined) out.push(cause.required(`${field}.type`, 'must specify a metric target type'));
  else out.push(...checkEnum(`${field}.type`, type, TARGET_TYPES));
  if (target.averageUtilization !== undefined && !isPositiveInt(target.averageUtilization)) {
    out.push(cause.invalid(`${field}.averageUtilization`, target.averageUtilization, 'must be greater than 0'));
  }
  if (target.averageValue !== undefined) out.push(...checkQuantity(`${field}.averageValue`, target.averageValue, true));
  if (target.value !== undefined) out.push(...checkQuantity(`${field}.value`, target.value, true));
  // A resource metric's target: a utilization (of the pods' requests) or an average value per pod.
  if (type === 'Value') out.push(cause.invalid(`${field}.type`, type, 'must be either Utilization or AverageValue'));
  if (type === 'Utilization' && target.averageUtilization === undefined) {
    out.push(cause.required(`${field}.averageUtilization`, 'must set averageUtilization when metric target type is Utilization'));
  }
  if (type === 'AverageValue' && target.averageValue === undefined) {
    out.push(cause.required(`${field}.averageValue`, 'must set averageValue when metric target type is AverageValue'));
  }
  return out;
}

function checkMetric(field: string, metric: Obj | undefined): StatusCause[] {
  if (!metric) return [cause.required(field)];
  const type = metric.type;
  if (type === undefined) return [cause.required(`${field}.type`, 'must specify a metric source type')];
  if (!METRIC_SOURCE_TYPES.includes(type as (typeof METRIC_SOURCE_TYPES)[number])) return [cause.notSupported(`${field}.type`, type, METRIC_SOURCE_TYPES)];
  if (type !== 'Resource') {
    return [cause.notSupported(`${field}.type`, type, ['Resource'])].map((c) => ({
      ...c,
      message: `${c.message} (meshlet serves resource metrics only: metrics.k8s.io, no custom or external metrics API)`,
    }));
  }
  const resource = asObj(metric.resource);
  if (!resource) return [cause.required(`${field}.resource`, 'must populate information for the given metric source')];
  const out: StatusCause[] = [];
  if (resource.name === undefined || resource.name === '') out.push(cause.required(`${field}.resource.name`, 'must specify a resource name'));
  else out.push(...checkEnum(`${field}.resource.name`, resource.name, SUPPORTED_RESOURCES));
  out.push(...checkTarget(`${field}.resource.target`, asObj(resource.target)));
  return out;
}

function checkRules(field: string, rules: Obj | undefined): StatusCause[] {
  if (!rules) return [];
  const out: StatusCause[] = [];
  const window = rules.stabilizationWindowSeconds;
  if (window !== undefined && !(Number.isInteger(window) && (window as number) >= 0 && (window as number) <= MAX_STABILIZATION_WINDOW_SECONDS)) {
    out.push(cause.invalid(`${field}.stabilizationWindowSeconds`, window, `must be greater than or equal to zero and less than or equal to ${MAX_STABILIZATION_WINDOW_SECONDS}`));
  }
  out.push(...checkEnum(`${field}.selectPolicy`, rules.selectPolicy, SELECT_POLICIES));
  const policies = asList(rules.policies);
  if (rules.policies !== undefined && policies.length === 0) out.push(cause.required(`${field}.policies`, 'must specify at least one Policy'));
  policies.forEach((p, i) => {
    const f = `${field}.policies[${i}]`;
    const policy = asObj(p) ?? {};
    if (policy.type === undefined) out.push(cause.required(`${f}.type`));
    else out.push(...checkEnum(`${f}.type`, policy.type, SCALING_POLICY_TYPES));
    if (!isPositiveInt(policy.value)) out.push(cause.invalid(`${f}.value`, policy.value ?? null, 'must be greater than zero'));
    const period = policy.periodSeconds;
    if (!isPositiveInt(period) || period > MAX_PERIOD_SECONDS) {
      out.push(cause.invalid(`${f}.periodSeconds`, period ?? null, `must be greater than zero and less than or equal to ${MAX_PERIOD_SECONDS}`));
    }
  });
  return out;
}

function validateHpa(obj: KubeObject): StatusCause[] {
  const spec = asObj(obj.spec) ?? {};
  const out: StatusCause[] = [];
  const ref = asObj(spec.scaleTargetRef);
  if (!ref) out.push(cause.required('spec.scaleTargetRef'));
  else {
    if (!str(ref.kind)) out.push(cause.required('spec.scaleTargetRef.kind'));
    else if (/[/%]/.test(ref.kind as string)) out.push(cause.invalid('spec.scaleTargetRef.kind', ref.kind, "may not contain '/' or '%'"));
    if (!str(ref.name)) out.push(cause.required('spec.scaleTargetRef.name'));
    else if (/[/%]/.test(ref.name as string) || ref.name === '.' || ref.name === '..') out.push(cause.invalid('spec.scaleTargetRef.name', ref.name, "may not contain '/' or '%', nor be '.' or '..'"));
  }
  const min = spec.minReplicas;
  const max = spec.maxReplicas;
  if (min !== undefined && !isPositiveInt(min)) out.push(cause.invalid('spec.minReplicas', min, 'must be greater than or equal to 1'));
  if (max === undefined) out.push(cause.required('spec.maxReplicas'));
  else if (!isPositiveInt(max)) out.push(cause.invalid('spec.maxReplicas', max, 'must be greater than 0'));
  else if (isPositiveInt(min) && max < min) out.push(cause.invalid('spec.maxReplicas', max, 'must be greater than or equal to `minReplicas`'));
  asList(spec.metrics).forEach((m, i) => out.push(...checkMetric(`spec.metrics[${i}]`, asObj(m))));
  const behavior = asObj(spec.behavior);
  if (behavior) {
    out.push(...checkRules('spec.behavior.scaleUp', asObj(behavior.scaleUp)));
    out.push(...checkRules('spec.behavior.scaleDown', asObj(behavior.scaleDown)));
  }
  return out;
}

// ------------------------------------------------------------ kubectl's columns

const MAX_SHOWN_METRICS = 2;

/** kubectl's Targets cell: "cpu: 30%/50%" per metric (current/target), at most two, then "+ N more...". */
export function targetsCell(obj: KubeObject): string {
  const specs = list(record(obj.spec).metrics).map(record);
  const statuses = list(record(obj.status).currentMetrics).map(record);
  if (specs.length === 0) return '<none>';
  const shown = specs.map((spec, i) => {
    const type = text(spec.type);
    if (type !== 'Resource') return `<unknown>/<unknown>`;
    const res = record(spec.resource);
    const target = record(res.target);
    const current = record(record(statuses[i]?.resource).current);
    const name = text(res.name);
    if (target.averageValue !== undefined) {
      const cur = current.averageValue !== undefined ? String(current.averageValue) : '<unknown>';
      return `${name}: ${cur}/${String(target.averageValue)}`;
    }
    const cur = typeof current.averageUtilization === 'number' ? `${current.averageUtilization}%` : '<unknown>';
    const tgt = typeof target.averageUtilization === 'number' ? `${target.averageUtilization}%` : '<auto>';
    return `${name}: ${cur}/${tgt}`;
  });
  if (shown.length <= MAX_SHOWN_METRICS) return shown.join(', ');
  return `${shown.slice(0, MAX_SHOWN_METRICS).join(', ')} + ${shown.length - MAX_SHOWN_METRICS} more...`;
}

export const horizontalPodAutoscalerStrategy: KindStrategy = {
  groupResource: HORIZONTALPODAUTOSCALERS,
  topLevelFields: ['spec', 'status'],
  defaults: defaultsHpa,
  validate: validateHpa,
  listStrategies: CONDITIONS,
  printer: printer([
    [col('Reference', 'The reference to the autoscaled object.'), (o) => { const ref = record(record(o.spec).scaleTargetRef); return `${text(ref.kind)}/${text(ref.name)}`; }],
    [col('Targets', 'The current and target metrics.'), (o) => targetsCell(o)],
    [col('MinPods', 'The minimum number of pods.'), (o) => { const v = record(o.spec).minReplicas; return typeof v === 'number' ? String(v) : '<unset>'; }],
    [col('MaxPods', 'The maximum number of pods.', { type: 'integer' }), (o) => num(record(o.spec).maxReplicas)],
    [col('Replicas', 'The current number of pods.', { type: 'integer' }), (o) => num(record(o.status).currentReplicas)],
    ageCell,
  ]),
};
