// The horizontal pod autoscaler's arithmetic, pure, after upstream's
// pkg/controller/podautoscaler (replica_calculator.go, horizontal.go):
//   - the replica calculator for a resource metric: desired = ceil(ready pods ×
//     usage/target) outside a tolerance band, with pods grouped into ready,
//     unready (Pending, or within the CPU initialization period and not yet
//     measured since ready) and missing (no metric); missing pods count as 100%
//     of their request (at least the target) when scaling down and 0% when
//     scaling up, unready pods as 0% and only when scaling up, and a scale that
//     the fill-in would reverse does not happen;
//   - the stabilization windows over the recommendation history (the lowest
//     recent recommendation bounds a scale-up, the highest a scale-down);
//   - the behavior policies (Pods / Percent per period, selectPolicy Max / Min /
//     Disabled) over the scale events of each direction, and min/max clamping;
//   - the conditions AbleToScale / ScalingActive / ScalingLimited with upstream's
//     reasons and messages.
// Units are the caller's: CPU in millicores, memory in bytes, for requests and usage alike.
import { defaultScaleDownRules, defaultScaleUpRules, type ScalingPolicy, type ScalingRules, type SelectPolicy } from '../api/kinds/hpa.ts';

export type { ScalingPolicy, ScalingRules, SelectPolicy };
export type ResourceName = 'cpu' | 'memory';

/** upstream's --horizontal-pod-autoscaler-tolerance */
export const DEFAULT_TOLERANCE = 0.1;
/** upstream's --horizontal-pod-autoscaler-cpu-initialization-period */
export const CPU_INITIALIZATION_PERIOD_MS = 5 * 60_000;
/** upstream's --horizontal-pod-autoscaler-initial-readiness-delay */
export const INITIAL_READINESS_DELAY_MS = 30_000;

/** What the calculator needs of one pod selected by the target's scale. */
export interface PodFacts {
  name: string;
  phase: string;
  deleting: boolean;
  /** The Ready condition's status; undefined when the pod has none. */
  ready?: boolean;
  readyTransitionMs?: number;
  startMs?: number;
  /** The sum of the containers' requests; absent when a container requests none of it. */
  requests: Partial<Record<ResourceName, number>>;
}

/** One pod's measured use of a resource (summed over its containers). */
export interface PodUsage {
  timestampMs: number;
  windowMs: number;
  value: number;
}

export interface ResourceTarget {
  resource: ResourceName;
  /** Percent of the pods' requests. */
  utilization?: number;
  /** Per pod, in the resource's units. */
  averageValue?: number;
}

export interface CalculatorOptions {
  tolerance?: number;
  cpuInitializationPeriodMs?: number;
  initialReadinessDelayMs?: number;
}

export type ReplicaResult =
  | { ok: true; replicas: number; utilization?: number; averageValue: number; readyPods: number }
  | { ok: false; error: string };

interface Groups {
  ready: number;
  unready: Set<string>;
  missing: Set<string>;
  ignored: Set<string>;
}

/** upstream's groupPods: which pods count, which are unready, which have no metric. */
export function groupPods(pods: readonly PodFacts[], usage: ReadonlyMap<string, PodUsage>, resource: ResourceName, nowMs: number, opts: CalculatorOptions = {}): Groups {
  const init = opts.cpuInitializationPeriodMs ?? CPU_INITIALIZATION_PERIOD_MS;
  const delay = opts.initialReadinessDelayMs ?? INITIAL_READINESS_DELAY_MS;
  const g: Groups = { ready: 0, unready: new Set(), missing: new Set(), ignored: new Set() };
  for (const pod of pods) {
    if (pod.deleting || pod.phase === 'Failed') {
      g.ignored.add(pod.name);
      continue;
    }
    if (pod.phase === 'Pending') {
      g.unready.add(pod.name);
      continue;
    }
    const metric = usage.get(pod.name);
    if (!metric) {
      g.missing.add(pod.name);
      continue;
    }
    let unready = false;
    if (resource === 'cpu') {
      if (pod.ready === undefined || pod.startMs === undefined) unready = true;
      else if (pod.startMs + init > nowMs) {
        // Within the initialization period: unready, or ready so recently that the sample predates it.
        unready = !pod.ready || metric.timestampMs < (pod.readyTransitionMs ?? 0) + metric.windowMs;
      } else {
        // After it: unready only if it never became ready since its start (plus the readiness delay).
        unready = !pod.ready && pod.startMs + delay > (pod.readyTransitionMs ?? 0);
      }
    }
    if (unready) g.unready.add(pod.name);
    else g.ready++;
  }
  return g;
}

interface Ratio {
  ratio: number;
  utilization?: number;
  averageValue: number;
}

function usageRatio(values: ReadonlyMap<string, number>, requests: ReadonlyMap<string, number> | undefined, target: ResourceTarget): Ratio | string {
  if (requests && target.utilization !== undefined) {
    let used = 0;
    let requested = 0;
    let n = 0;
    for (const [name, v] of values) {
      const r = requests.get(name);
      if (r === undefined) continue;
      used += v;
      requested += r;
      n++;
    }
    if (requested === 0) return 'no metrics returned matched known pods';
    const utilization = Math.trunc((used * 100) / requested);
    return { ratio: utilization / target.utilization, utilization, averageValue: n ? used / n : 0 };
  }
  const total = [...values.values()].reduce((a, b) => a + b, 0);
  const average = values.size ? total / values.size : 0;
  return { ratio: average / (target.averageValue ?? 1), averageValue: average };
}

/** The replica count one resource metric asks for (upstream's GetResourceReplicas / GetRawResourceReplicas). */
export function resourceReplicas(
  currentReplicas: number,
  pods: readonly PodFacts[],
  usage: ReadonlyMap<string, PodUsage>,
  target: ResourceTarget,
  nowMs: number,
  opts: CalculatorOptions = {},
): ReplicaResult {
  const tolerance = opts.tolerance ?? DEFAULT_TOLERANCE;
  const resource = target.resource;
  if (pods.length === 0) return { ok: false, error: 'no pods returned by selector while calculating replica count' };
  const g = groupPods(pods, usage, resource, nowMs, opts);
  const values = new Map<string, number>();
  const selected = new Set(pods.map((p) => p.name));
  for (const [name, m] of usage) if (selected.has(name) && !g.ignored.has(name) && !g.unready.has(name)) values.set(name, m.value);
  const byUtilization = target.utilization !== undefined;
  let requests: Map<string, number> | undefined;
  if (byUtilization) {
    requests = new Map();
    for (const pod of pods) {
      const r = pod.requests[resource];
      if (r === undefined) return { ok: false, error: `missing request for ${resource} in pod ${pod.name}` };
      requests.set(pod.name, r);
    }
  }
  if (values.size === 0) return { ok: false, error: 'did not receive metrics for targeted pods (pods might be unready)' };
  const first = usageRatio(values, requests, target);
  if (typeof first === 'string') return { ok: false, error: first };
  const result = (replicas: number): ReplicaResult => ({ ok: true, replicas, utilization: first.utilization, averageValue: first.averageValue, readyPods: g.ready });

  const scaleUpWithUnready = g.unready.size > 0 && first.ratio > 1;
  if (!scaleUpWithUnready && g.missing.size === 0) {
    if (Math.abs(1 - first.ratio) <= tolerance) return result(currentReplicas);
    return result(Math.ceil(first.ratio * g.ready));
  }
  // Fill in the pods without a (usable) metric, in the direction that damps the change.
  if (g.missing.size > 0) {
    for (const name of g.missing) {
      if (first.ratio < 1) {
        values.set(name, byUtilization ? ((requests!.get(name) ?? 0) * Math.max(100, target.utilization!)) / 100 : target.averageValue ?? 0);
      } else values.set(name, 0);
    }
  }
  if (scaleUpWithUnready) for (const name of g.unready) values.set(name, 0);
  const second = usageRatio(values, requests, target);
  if (typeof second === 'string') return { ok: false, error: second };
  if (Math.abs(1 - second.ratio) <= tolerance || (first.ratio < 1 && second.ratio > 1) || (first.ratio > 1 && second.ratio < 1)) return result(currentReplicas);
  const replicas = Math.ceil(second.ratio * values.size);
  if ((second.ratio < 1 && replicas > currentReplicas) || (second.ratio > 1 && replicas < currentReplicas)) return result(currentReplicas);
  return result(replicas);
}

// ------------------------------------------------------------ stabilization and rate limits

export interface Recommendation {
  timestampMs: number;
  replicas: number;
}

/** A past rescale in one direction: how many replicas it added (or removed), when. */
export interface ScaleEvent {
  timestampMs: number;
  change: number;
}

export interface Behavior {
  scaleUp: ScalingRules;
  scaleDown: ScalingRules;
}

export function defaultBehavior(): Behavior {
  return { scaleUp: defaultScaleUpRules(), scaleDown: defaultScaleDownRules() };
}

export interface Verdict {
  replicas: number;
  reason: string;
  message: string;
}

/**
 * upstream's stabilizeRecommendationWithBehaviors: within the scale-up window
 * the lowest recommendation (this one included) bounds a scale-up; within the
 * scale-down window the highest bounds a scale-down.
 */
export function stabilize(history: readonly Recommendation[], recommendation: number, currentReplicas: number, behavior: Behavior, nowMs: number): Verdict {
  let up = recommendation;
  let down = recommendation;
  const upFrom = nowMs - behavior.scaleUp.stabilizationWindowSeconds * 1000;
  const downFrom = nowMs - behavior.scaleDown.stabilizationWindowSeconds * 1000;
  for (const r of history) {
    if (r.timestampMs > upFrom) up = Math.min(up, r.replicas);
    if (r.timestampMs > downFrom) down = Math.max(down, r.replicas);
  }
  let replicas = currentReplicas;
  if (replicas < up) replicas = up;
  if (replicas > down) replicas = down;
  if (replicas === recommendation) return { replicas, reason: 'ReadyForNewScale', message: 'recommended size matches current size' };
  return replicas < recommendation
    ? { replicas, reason: 'ScaleUpStabilized', message: 'recent recommendations were lower than current one, applying the lowest recent recommendation' }
    : { replicas, reason: 'ScaleDownStabilized', message: 'recent recommendations were higher than current one, applying the highest recent recommendation' };
}

function changedWithin(events: readonly ScaleEvent[], periodSeconds: number, nowMs: number): number {
  const from = nowMs - periodSeconds * 1000;
  return events.filter((e) => e.timestampMs > from).reduce((sum, e) => sum + e.change, 0);
}

/** upstream's calculateScaleUpLimitWithScalingRules: the most replicas the policies allow now. */
export function scaleUpLimit(currentReplicas: number, events: readonly ScaleEvent[], rules: ScalingRules, nowMs: number): number {
  if (rules.selectPolicy === 'Disabled') return currentReplicas;
  const pick = rules.selectPolicy === 'Min' ? Math.min : Math.max;
  let result = rules.selectPolicy === 'Min' ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER;
  for (const p of rules.policies) {
    const start = currentReplicas - changedWithin(events, p.periodSeconds, nowMs);
    const proposed = p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100));
    result = pick(result, proposed);
  }
  return result;
}

/** upstream's calculateScaleDownLimitWithBehaviors: the fewest replicas the policies allow now. */
export function scaleDownLimit(currentReplicas: number, events: readonly ScaleEvent[], rules: ScalingRules, nowMs: number): number {
  if (rules.selectPolicy === 'Disabled') return currentReplicas;
  // Max picks the policy allowing the biggest change: the lowest floor.
  const pick = rules.selectPolicy === 'Min' ? Math.max : Math.min;
  let result = rules.selectPolicy === 'Min' ? Number.MIN_SAFE_INTEGER : Number.MAX_SAFE_INTEGER;
  for (const p of rules.policies) {
    const start = currentReplicas + changedWithin(events, p.periodSeconds, nowMs);
    const proposed = p.type === 'Pods' ? start - p.value : Math.trunc(start * (1 - p.value / 100));
    result = pick(result, proposed);
  }
  return result;
}

/** upstream's convertDesiredReplicasWithBehaviorRate: the policies' rate limits, then minReplicas/maxReplicas. */
export function limitRate(
  desired: number,
  currentReplicas: number,
  bounds: { min: number; max: number },
  behavior: Behavior,
  events: { up: readonly ScaleEvent[]; down: readonly ScaleEvent[] },
  nowMs: number,
): Verdict {
  if (desired > currentReplicas) {
    const limit = Math.max(scaleUpLimit(currentReplicas, events.up, behavior.scaleUp, nowMs), currentReplicas);
    const [allowed, reason, message] =
      bounds.max > limit
        ? [limit, 'ScaleUpLimit', 'the desired replica count is increasing faster than the maximum scale rate']
        : [bounds.max, 'TooManyReplicas', 'the desired replica count is more than the maximum replica count'];
    if (desired > allowed) return { replicas: allowed, reason, message };
  } else if (desired < currentReplicas) {
    const limit = Math.min(scaleDownLimit(currentReplicas, events.down, behavior.scaleDown, nowMs), currentReplicas);
    const [allowed, reason, message] =
      bounds.min < limit
        ? [limit, 'ScaleDownLimit', 'the desired replica count is decreasing faster than the maximum scale rate']
        : [bounds.min, 'TooFewReplicas', 'the desired replica count is less than the minimum replica count'];
    if (desired < allowed) return { replicas: allowed, reason, message };
  }
  return { replicas: desired, reason: 'DesiredWithinRange', message: 'the desired count is within the acceptable range' };
}

/** Drops what no window or period can see any more. */
export function prune<T extends { timestampMs: number }>(items: readonly T[], keepSeconds: number, nowMs: number): T[] {
  return items.filter((i) => i.timestampMs > nowMs - keepSeconds * 1000);
}

export function longestPeriodSeconds(rules: ScalingRules): number {
  return Math.max(0, ...rules.policies.map((p) => p.periodSeconds));
}
