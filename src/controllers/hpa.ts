// The horizontal pod autoscaler controller: every sync period (and on every
// change of an HPA) each HPA is synced: its target's scale is read, the pods its
// selector picks and their metrics (hpa-metrics.ts) go through planSync
// (hpa-plan.ts), and the plan is carried out: the target's `scale` subresource
// updated, the status written, the events recorded. The controller keeps each
// HPA's recommendations and scale events in memory, as upstream does.
import type { Registry } from 'prom-client';
import { Counter } from 'prom-client';
import { objectKey, splitKey } from '../client/informer.ts';
import { deepEqual } from '../core/deep-equal.ts';
import { resourceForKind, groupResource } from '../core/resources.ts';
import { formatLabelSelector, matchesLabels, parseLabelSelector } from '../core/selectors.ts';
import { kubeTime } from '../core/time.ts';
import type { KubeObject, LabelSelector } from '../core/types.ts';
import { HORIZONTALPODAUTOSCALERS } from '../core/well-known.ts';
import { applyActions, type Action } from './actions.ts';
import type { CalculatorOptions } from './hpa-algorithm.ts';
import { resourceMetricsApi, usageByResource, type PodMetricsSource } from './hpa-metrics.ts';
import { emptyMemory, planSync, podFacts, type HpaMemory, type SyncInput } from './hpa-plan.ts';
import { mergeCondition, type Condition } from './objects.ts';
import { newController, type Controller, type ControllerDeps } from './runtime.ts';

/** upstream's --horizontal-pod-autoscaler-sync-period */
export const DEFAULT_HPA_SYNC_PERIOD_MS = 15_000;
const COMPONENT = 'horizontal-pod-autoscaler';
const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export interface HpaControllerOptions {
  syncPeriodMs?: number;
  /** Where pod metrics come from; default: metrics.k8s.io through the API client. */
  metrics?: PodMetricsSource;
  calculator?: CalculatorOptions;
  now?: () => number;
}

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : {});

/** The served kind with a scale subresource a scaleTargetRef names, or why there is none. */
export function scaleTargetResource(ref: Rec): { gr: string } | { error: string } {
  const apiVersion = typeof ref.apiVersion === 'string' ? ref.apiVersion : 'apps/v1';
  const kind = String(ref.kind ?? '');
  const info = resourceForKind(apiVersion, kind);
  if (!info) return { error: `no matches for kind "${kind}" in group version "${apiVersion}"` };
  if (!info.subresources.includes('scale')) return { error: `${info.resource} do not have a scale subresource` };
  return { gr: groupResource(info) };
}

function metricsCounter(registry: Registry | undefined): Counter<'result'> | undefined {
  if (!registry) return undefined;
  const name = 'meshlet_hpa_syncs_total';
  const existing = registry.getSingleMetric(name) as Counter<'result'> | undefined;
  return existing ?? new Counter({ name, help: 'HorizontalPodAutoscaler syncs by result (rescaled, unchanged, failed).', labelNames: ['result'], registers: [registry] });
}

export function hpaController(deps: ControllerDeps, opts: HpaControllerOptions = {}): Controller {
  const now = opts.now ?? Date.now;
  const period = opts.syncPeriodMs ?? DEFAULT_HPA_SYNC_PERIOD_MS;
  const source = opts.metrics ?? resourceMetricsApi(deps.client);
  const hpaInf = deps.informers.informer(HORIZONTALPODAUTOSCALERS);
  const podInf = deps.informers.informer('pods');
  const log = deps.logger.child({ controller: 'horizontal-pod-autoscaler' });
  const memories = new Map<string, HpaMemory>();
  const syncs = metricsCounter(deps.registry);

  const readScale = async (hpa: KubeObject): Promise<{ target?: KubeObject; gr?: string; scale: SyncInput['scale'] }> => {
    const ref = rec(rec(hpa.spec).scaleTargetRef);
    const resolved = scaleTargetResource(ref);
    if ('error' in resolved) return { scale: resolved };
    try {
      const target = await deps.client.get(resolved.gr, hpa.metadata.namespace ?? '', String(ref.name ?? ''));
      if (!target) return { scale: { error: `${resolved.gr} "${String(ref.name)}" not found` } };
      const spec = rec(target.spec);
      const selector = spec.selector as LabelSelector | undefined;
      return {
        target,
        gr: resolved.gr,
        scale: {
          replicas: typeof spec.replicas === 'number' ? spec.replicas : 1,
          statusReplicas: typeof rec(target.status).replicas === 'number' ? (rec(target.status).replicas as number) : 0,
          ...(selector ? { selector: formatLabelSelector(selector) } : {}),
        },
      };
    } catch (err) {
      return { scale: { error: errorMessage(err) } };
    }
  };

  const sync = async (key: string): Promise<void> => {
    const { namespace, name } = splitKey(key);
    const hpa = hpaInf.getByName(namespace, name);
    if (!hpa) {
      memories.delete(key);
      return;
    }
    controller.queue.addAfter(key, period);
    const memory = memories.get(key) ?? emptyMemory();
    const { target, gr, scale } = await readScale(hpa);
    let pods: KubeObject[] = [];
    let usage: SyncInput['usage'] = { error: 'no selector' };
    if (!('error' in scale) && scale.selector !== undefined) {
      const reqs = parseLabelSelector(scale.selector);
      pods = podInf.list(namespace).filter((p) => matchesLabels(reqs, p.metadata.labels));
      try {
        usage = usageByResource(await source.podMetrics(namespace, scale.selector));
      } catch (err) {
        usage = { error: `unable to fetch metrics from resource metrics API: ${errorMessage(err)}` };
      }
    }
    const nowMs = now();
    const plan = planSync({ hpa, scale, pods: pods.map(podFacts), usage, memory, nowMs, options: opts.calculator });
    let status = plan.status;
    let events = plan.events;
    let kept = plan.memory;
    let result = 'unchanged';
    if (plan.rescaleTo !== undefined && target && gr) {
      try {
        await deps.client.update(gr, {
          apiVersion: 'autoscaling/v1',
          kind: 'Scale',
          metadata: { name: target.metadata.name, namespace, resourceVersion: target.metadata.resourceVersion },
          spec: { replicas: plan.rescaleTo },
        }, 'scale');
        result = 'rescaled';
      } catch (err) {
        const message = errorMessage(err);
        const conditions = ((status.conditions ?? []) as Condition[]).map((c) =>
          c.type === 'AbleToScale' ? { type: 'AbleToScale', status: 'False' as const, reason: 'FailedUpdateScale', message: `the HPA controller was unable to update the target scale: ${message}` } : c);
        status = { ...status, conditions, lastScaleTime: rec(hpa.status).lastScaleTime, desiredReplicas: rec(hpa.status).desiredReplicas ?? 0 };
        if (status.lastScaleTime === undefined) delete status.lastScaleTime;
        events = [{ type: 'Warning', reason: 'FailedRescale', message: `New size: ${plan.rescaleTo}; error: ${message}` }];
        kept = { ...plan.memory, scaleUpEvents: memory.scaleUpEvents, scaleDownEvents: memory.scaleDownEvents };
        result = 'failed';
      }
    }
    memories.set(key, kept);
    // Conditions keep their lastTransitionTime while their status holds.
    const at = kubeTime(nowMs);
    let conditions = rec(hpa.status).conditions as Condition[] | undefined;
    for (const c of (status.conditions ?? []) as Condition[]) conditions = mergeCondition(conditions, c, at);
    status = { ...status, conditions: conditions ?? [] };
    const actions: Action[] = events.map((e) => ({ op: 'event', regarding: hpa, ...e }));
    if (!deepEqual(hpa.status, status)) actions.unshift({ op: 'update', gr: HORIZONTALPODAUTOSCALERS, subresource: 'status', object: { ...hpa, status } });
    const results = await applyActions(deps.client, actions, { logger: log, component: COMPONENT });
    const failed = results.find((r) => r.error !== undefined);
    syncs?.inc({ result: failed ? 'failed' : result });
    if (result === 'rescaled') log.info({ hpa: key, replicas: plan.rescaleTo }, 'rescaled');
    if (failed) throw failed.error;
  };

  const controller = newController('horizontal-pod-autoscaler', deps, sync);
  // New and deleted HPAs and spec changes sync now; the controller's own status writes wait for the period.
  hpaInf.addHandlers({
    onAdd: (o) => controller.queue.add(objectKey(o)),
    onUpdate: (old, o) => {
      if (old.metadata.generation !== o.metadata.generation) controller.queue.add(objectKey(o));
    },
    onDelete: (o) => controller.queue.add(objectKey(o)),
  });
  return controller;
}
