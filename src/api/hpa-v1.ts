// autoscaling/v1 HorizontalPodAutoscalers as a view of the stored autoscaling/v2
// ones: `kubectl autoscale` (v1.32) POSTs a v1 object (targetCPUUtilizationPercentage)
// through its typed client whatever discovery says. The API server converts the
// request body to v2 and the reply back to v1, as upstream's conversion does for
// the fields v1 has; v2-only fields (other metrics, behavior) are not shown in
// v1. Only create, get, list, update and delete are served in v1; discovery lists
// v2 only, so kubectl's get/describe/patch/watch use v2. Pure.
import { KubeError } from '../core/errors.ts';
import { resourceFor, type ResourceInfo } from '../core/resources.ts';
import type { KubeObject } from '../core/types.ts';

export const HPA_V1_API_VERSION = 'autoscaling/v1';
const RESOURCE = 'horizontalpodautoscalers';

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : {});

/** The stored (v2) kind a v1 path addresses; undefined for any other path. */
export function v1AliasFor(group: string, version: string, resource: string): ResourceInfo | undefined {
  if (group !== 'autoscaling' || version !== 'v1' || resource !== RESOURCE) return undefined;
  return resourceFor('autoscaling', 'v2', RESOURCE);
}

/** The verbs served in v1. */
export const HPA_V1_VERBS: ReadonlySet<string> = new Set(['get', 'list', 'create', 'update', 'delete']);

export function refuseV1Verb(verb: string): KubeError {
  return new KubeError('MethodNotAllowed', `autoscaling/v1 horizontalpodautoscalers serves ${[...HPA_V1_VERBS].join(', ')} only; use autoscaling/v2 to ${verb}`);
}

function isCpuUtilization(metric: unknown): boolean {
  const m = rec(metric);
  const res = rec(m.resource);
  return m.type === 'Resource' && res.name === 'cpu' && rec(res.target).type === 'Utilization';
}

/** A v1 HPA body as the v2 object to store. */
export function hpaV1ToV2(obj: KubeObject): KubeObject {
  if (obj.apiVersion !== HPA_V1_API_VERSION) return obj;
  const spec = rec(obj.spec);
  const { targetCPUUtilizationPercentage: target, ...rest } = spec;
  const v2Spec: Rec = { ...rest };
  if (target !== undefined && target !== null) {
    v2Spec.metrics = [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: target } } }];
  }
  const status = rec(obj.status);
  const { currentCPUUtilizationPercentage: current, ...statusRest } = status;
  const v2Status: Rec = { ...statusRest };
  if (typeof current === 'number') {
    v2Status.currentMetrics = [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: current } } }];
  }
  return { ...obj, apiVersion: 'autoscaling/v2', spec: v2Spec, ...(obj.status !== undefined ? { status: v2Status } : {}) };
}

/** A stored v2 HPA as v1 shows it. */
export function hpaV2ToV1(obj: KubeObject): KubeObject {
  const spec = rec(obj.spec);
  const status = rec(obj.status);
  const metrics = Array.isArray(spec.metrics) ? spec.metrics : [];
  const cpuIndex = metrics.findIndex(isCpuUtilization);
  const v1Spec: Rec = { scaleTargetRef: spec.scaleTargetRef, minReplicas: spec.minReplicas, maxReplicas: spec.maxReplicas };
  if (cpuIndex >= 0) v1Spec.targetCPUUtilizationPercentage = rec(rec(rec(metrics[cpuIndex]).resource).target).averageUtilization;
  const v1Status: Rec = {};
  for (const k of ['observedGeneration', 'lastScaleTime', 'currentReplicas', 'desiredReplicas']) if (status[k] !== undefined) v1Status[k] = status[k];
  v1Status.currentReplicas ??= 0;
  v1Status.desiredReplicas ??= 0;
  const currents = Array.isArray(status.currentMetrics) ? status.currentMetrics : [];
  const cpu = currents.map(rec).find((m) => m.type === 'Resource' && rec(m.resource).name === 'cpu');
  const util = rec(rec(cpu?.resource).current).averageUtilization;
  if (typeof util === 'number') v1Status.currentCPUUtilizationPercentage = util;
  return { apiVersion: HPA_V1_API_VERSION, kind: obj.kind, metadata: obj.metadata, spec: v1Spec, status: v1Status };
}

/** A reply body in v1: HPAs and HPA lists converted, anything else (a Status, a Table) as it is. */
export function replyAsV1(body: unknown): unknown {
  const b = rec(body);
  if (b.kind === 'HorizontalPodAutoscaler') return hpaV2ToV1(b as unknown as KubeObject);
  if (b.kind === 'HorizontalPodAutoscalerList') {
    return { ...b, apiVersion: HPA_V1_API_VERSION, items: (Array.isArray(b.items) ? b.items : []).map((i) => hpaV2ToV1(i as KubeObject)) };
  }
  return body;
}
