// One autoscaler sync as data (pure): the HPA object, its target's scale, the
// selected pods and their measured use, and the controller's memory of this
// HPA (recommendations, scale events) → the replica count to set (if any), the
// status to write, the event to record and the memory to keep. The shell
// (hpa.ts) reads and writes; the arithmetic is hpa-algorithm.ts. As upstream's
// reconcileAutoscaler, in order: a target scaled to zero disables autoscaling; a
// count outside [min, max] is brought inside; otherwise every metric proposes a
// count, the largest wins, and it is stabilized and rate limited.
import { intValue, milliValue } from '../core/quantity.ts';
import type { KubeObject } from '../core/types.ts';
import { kubeTime } from '../core/time.ts';
import type { ScalingRules } from '../api/kinds/hpa.ts';
import {
  defaultBehavior,
  limitRate,
  longestPeriodSeconds,
  prune,
  resourceReplicas,
  stabilize,
  type Behavior,
  type CalculatorOptions,
  type PodFacts,
  type PodUsage,
  type Recommendation,
  type ResourceName,
  type ResourceTarget,
  type ScaleEvent,
} from './hpa-algorithm.ts';
import type { Condition } from './objects.ts';

/** What the controller remembers of one HPA between syncs (upstream keeps the same in memory). */
export interface HpaMemory {
  recommendations: Recommendation[];
  scaleUpEvents: ScaleEvent[];
  scaleDownEvents: ScaleEvent[];
}

export const emptyMemory = (): HpaMemory => ({ recommendations: [], scaleUpEvents: [], scaleDownEvents: [] });

export interface MetricStatus {
  type: 'Resource';
  resource: { name: ResourceName; current: { averageUtilization?: number; averageValue: string } };
}

export interface HpaSpecFacts {
  minReplicas: number;
  maxReplicas: number;
  targets: ResourceTarget[];
  behavior: Behavior;
}

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : {});

function quantityIn(resource: ResourceName, v: unknown): number | undefined {
  if (typeof v !== 'string' && typeof v !== 'number') return undefined;
  return resource === 'cpu' ? milliValue(String(v)) : intValue(String(v));
}

function rulesOf(v: unknown, defaults: ScalingRules): ScalingRules {
  const r = rec(v);
  const policies = Array.isArray(r.policies) && r.policies.length > 0 ? (r.policies as ScalingRules['policies']) : defaults.policies;
  return {
    stabilizationWindowSeconds: typeof r.stabilizationWindowSeconds === 'number' ? r.stabilizationWindowSeconds : defaults.stabilizationWindowSeconds,
    selectPolicy: (r.selectPolicy as ScalingRules['selectPolicy'] | undefined) ?? defaults.selectPolicy,
    policies,
  };
}

/** The spec as the algorithm reads it; a behavior that is absent is upstream's default one. */
export function specFacts(hpa: KubeObject): HpaSpecFacts {
  const spec = rec(hpa.spec);
  const d = defaultBehavior();
  const behavior = rec(spec.behavior);
  const targets: ResourceTarget[] = [];
  for (const m of Array.isArray(spec.metrics) ? spec.metrics : []) {
    const res = rec(rec(m).resource);
    const name = res.name;
    if (rec(m).type !== 'Resource' || (name !== 'cpu' && name !== 'memory')) continue;
    const t = rec(res.target);
    if (t.type === 'Utilization' && typeof t.averageUtilization === 'number') targets.push({ resource: name, utilization: t.averageUtilization });
    else if (t.type === 'AverageValue') targets.push({ resource: name, averageValue: quantityIn(name, t.averageValue) });
  }
  return {
    minReplicas: typeof spec.minReplicas === 'number' ? spec.minReplicas : 1,
    maxReplicas: typeof spec.maxReplicas === 'number' ? spec.maxReplicas : 1,
    targets,
    behavior: { scaleUp: rulesOf(behavior.scaleUp, d.scaleUp), scaleDown: rulesOf(behavior.scaleDown, d.scaleDown) },
  };
}

/** What the calculator needs of a pod object. */
export function podFacts(pod: KubeObject): PodFacts {
  const status = rec(pod.status);
  const conditions = Array.isArray(status.conditions) ? status.conditions.map(rec) : [];
  const ready = conditions.find((c) => c.type === 'Ready');
  const requests: Partial<Record<ResourceName, number>> = {};
  const containers = (Array.isArray(rec(pod.spec).containers) ? (rec(pod.spec).containers as unknown[]) : []).map(rec);
  for (const resource of ['cpu', 'memory'] as const) {
    let sum = 0;
    let all = containers.length > 0;
    for (const c of containers) {
      const q = quantityIn(resource, rec(rec(c.resources).requests)[resource]);
      if (q === undefined) all = false;
      else sum += q;
    }
    if (all) requests[resource] = sum;
  }
  const time = (v: unknown): number | undefined => (typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? Date.parse(v) : undefined);
  return {
    name: pod.metadata.name ?? '',
    phase: typeof status.phase === 'string' ? status.phase : 'Pending',
    deleting: pod.metadata.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null,
    ...(ready ? { ready: ready.status === 'True', readyTransitionMs: time(ready.lastTransitionTime) } : {}),
    startMs: time(status.startTime),
    requests,
  };
}

export interface SyncInput {
  hpa: KubeObject;
  /** The target's scale: spec.replicas and its selector; an error text when it could not be read. */
  scale: { replicas: number; statusReplicas: number; selector?: string } | { error: string };
  pods: readonly PodFacts[];
  /** Per resource, per pod name; an error text when the metrics could not be read. */
  usage: ReadonlyMap<ResourceName, ReadonlyMap<string, PodUsage>> | { error: string };
  memory: HpaMemory;
  nowMs: number;
  options?: CalculatorOptions;
}

export interface SyncPlan {
  /** Set the target's scale to this count. */
  rescaleTo?: number;
  status: Rec;
  events: { type: 'Normal' | 'Warning'; reason: string; message: string }[];
  memory: HpaMemory;
}

const cond = (type: string, ok: boolean, reason: string, message: string): Condition => ({ type, status: ok ? 'True' : 'False', reason, message });

function metricDescription(t: ResourceTarget): string {
  return t.utilization !== undefined ? `${t.resource} resource utilization (percentage of request)` : `${t.resource} resource`;
}

function averageValueText(resource: ResourceName, v: number): string {
  return resource === 'cpu' ? `${Math.round(v)}m` : String(Math.round(v));
}

/** The sync: see the head of this file. */
export function planSync(input: SyncInput): SyncPlan {
  const { hpa, nowMs } = input;
  const spec = specFacts(hpa);
  const old = rec(hpa.status);
  const base: Rec = {
    observedGeneration: hpa.metadata.generation,
    ...(old.lastScaleTime ? { lastScaleTime: old.lastScaleTime } : {}),
    currentReplicas: typeof old.currentReplicas === 'number' ? old.currentReplicas : 0,
    desiredReplicas: typeof old.desiredReplicas === 'number' ? old.desiredReplicas : 0,
    ...(Array.isArray(old.currentMetrics) ? { currentMetrics: old.currentMetrics } : {}),
  };
  if ('error' in input.scale) {
    return {
      status: { ...base, conditions: [cond('AbleToScale', false, 'FailedGetScale', `the HPA controller was unable to get the target's current scale: ${input.scale.error}`)] },
      events: [{ type: 'Warning', reason: 'FailedGetScale', message: input.scale.error }],
      memory: input.memory,
    };
  }
  const current = input.scale.replicas;
  const ableToScale = cond('AbleToScale', true, 'SucceededGetScale', "the HPA controller was able to get the target's current scale");
  const status: Rec = { ...base, currentReplicas: input.scale.statusReplicas };
  const memory: HpaMemory = {
    recommendations: prune(input.memory.recommendations, Math.max(spec.behavior.scaleUp.stabilizationWindowSeconds, spec.behavior.scaleDown.stabilizationWindowSeconds), nowMs),
    scaleUpEvents: prune(input.memory.scaleUpEvents, longestPeriodSeconds(spec.behavior.scaleUp), nowMs),
    scaleDownEvents: prune(input.memory.scaleDownEvents, longestPeriodSeconds(spec.behavior.scaleDown), nowMs),
  };
  const conditions: Condition[] = [];
  let desired: number;
  let reason = '';
  const events: SyncPlan['events'] = [];

  if (current === 0 && spec.minReplicas !== 0) {
    desired = 0;
    conditions.push(ableToScale, cond('ScalingActive', false, 'ScalingDisabled', 'scaling is disabled since the replica count of the target is zero'));
  } else if (current > spec.maxReplicas) {
    desired = spec.maxReplicas;
    reason = 'Current number of replicas above Spec.MaxReplicas';
    conditions.push(ableToScale, cond('ScalingLimited', true, 'TooManyReplicas', 'the desired replica count is more than the maximum replica count'));
  } else if (current < spec.minReplicas) {
    desired = spec.minReplicas;
    reason = 'Current number of replicas below Spec.MinReplicas';
    conditions.push(ableToScale, cond('ScalingLimited', true, 'TooFewReplicas', 'the desired replica count is less than the minimum replica count'));
  } else {
    // Every metric proposes a count; the largest wins; an unreadable metric blocks scaling down.
    if (input.scale.selector === undefined) {
      const message = "the HPA target's scale is missing a selector";
      return { status: { ...status, conditions: [ableToScale, cond('ScalingActive', false, 'InvalidSelector', message)] }, events: [{ type: 'Warning', reason: 'SelectorRequired', message }], memory };
    }
    let proposed = -1;
    let winner: ResourceTarget | undefined;
    const errors: string[] = [];
    const metrics: MetricStatus[] = [];
    for (const target of spec.targets) {
      const usage = 'error' in input.usage ? undefined : input.usage.get(target.resource);
      const r = usage
        ? resourceReplicas(current, input.pods, usage, target, nowMs, input.options)
        : { ok: false as const, error: `unable to get metrics for resource ${target.resource}: ${'error' in input.usage ? input.usage.error : 'no metrics returned from resource metrics API'}` };
      if (!r.ok) {
        errors.push(`failed to get ${target.resource} ${target.utilization !== undefined ? 'utilization' : 'usage'}: ${r.error}`);
        continue;
      }
      metrics.push({
        type: 'Resource',
        resource: { name: target.resource, current: { ...(r.utilization !== undefined ? { averageUtilization: r.utilization } : {}), averageValue: averageValueText(target.resource, r.averageValue) } },
      });
      if (r.replicas > proposed) {
        proposed = r.replicas;
        winner = target;
      }
    }
    if (errors.length > 0 && (errors.length >= spec.targets.length || proposed < current)) {
      const message = `invalid metrics (${errors.length} invalid out of ${spec.targets.length}), first error is: ${errors[0]}`;
      const reasonCode = 'FailedGetResourceMetric';
      return {
        status: { ...status, ...(metrics.length ? { currentMetrics: metrics } : {}), conditions: [ableToScale, cond('ScalingActive', false, reasonCode, `the HPA was unable to compute the replica count: ${errors[0]}`)] },
        events: [{ type: 'Warning', reason: 'FailedComputeMetricsReplicas', message }, { type: 'Warning', reason: reasonCode, message: errors[0] }],
        memory,
      };
    }
    status.currentMetrics = metrics;
    conditions.push(cond('ScalingActive', true, 'ValidMetricFound', `the HPA was able to successfully calculate a replica count from ${winner ? metricDescription(winner) : 'its metrics'}`));
    const stable = stabilize(memory.recommendations, proposed, current, spec.behavior, nowMs);
    memory.recommendations = [...memory.recommendations, { timestampMs: nowMs, replicas: proposed }];
    conditions.unshift(cond('AbleToScale', true, stable.reason, stable.message));
    const limited = limitRate(stable.replicas, current, { min: spec.minReplicas, max: spec.maxReplicas }, spec.behavior, { up: memory.scaleUpEvents, down: memory.scaleDownEvents }, nowMs);
    conditions.push(cond('ScalingLimited', limited.replicas !== stable.replicas, limited.reason, limited.message));
    desired = limited.replicas;
    if (desired > current && winner) reason = `${metricDescription(winner)} above target`;
    else if (desired < current) reason = 'All metrics below target';
  }

  status.desiredReplicas = desired;
  const rescale = desired !== current;
  if (!rescale) return { status: { ...status, conditions }, events, memory };
  status.lastScaleTime = kubeTime(nowMs);
  const change = desired - current;
  if (change > 0) memory.scaleUpEvents = [...memory.scaleUpEvents, { timestampMs: nowMs, change }];
  else memory.scaleDownEvents = [...memory.scaleDownEvents, { timestampMs: nowMs, change: -change }];
  const able = conditions.findIndex((c) => c.type === 'AbleToScale');
  conditions[able] = cond('AbleToScale', true, 'SucceededRescale', `the HPA controller was able to update the target scale to ${desired}`);
  events.push({ type: 'Normal', reason: 'SuccessfulRescale', message: `New size: ${desired}; reason: ${reason}` });
  return { rescaleTo: desired, status: { ...status, conditions }, events, memory };
}
