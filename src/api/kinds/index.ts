// The strategies of every served kind, keyed by group-resource and checked
// against RESOURCES (src/core/resources.ts): adding a kind there means adding
// its module here (and its protobuf and OpenAPI data; test/unit/api-kinds.test.ts
// fails otherwise).
import { groupResource, RESOURCES, type ResourceInfo } from '../../core/resources.ts';
import type { KubeObject } from '../../core/types.ts';
import { configMapStrategy } from './configmap.ts';
import { controllerRevisionStrategy } from './controllerrevision.ts';
import { daemonSetStrategy } from './daemonset.ts';
import { cronJobStrategy } from './cronjob.ts';
import { endpointSliceStrategy, endpointsStrategy } from './endpoints.ts';
import { eventStrategy } from './event.ts';
import { jobStrategy } from './job.ts';
import { leaseStrategy } from './lease.ts';
import { namespaceStrategy } from './namespace.ts';
import { networkPolicyStrategy } from './network-policy.ts';
import { nodeStrategy } from './node.ts';
import { podStrategy } from './pod.ts';
import { podDisruptionBudgetStrategy } from './poddisruptionbudget.ts';
import { horizontalPodAutoscalerStrategy } from './hpa.ts';
import { DEFAULT_PRINTER, type Printer } from './printer.ts';
import { serviceStrategy } from './service.ts';
import { statefulSetStrategy } from './statefulset.ts';
import { pathValue, type AdmissionSettings, type FieldGetter, type KindStrategy } from './strategy.ts';
import { DEFAULT_TOLERATION_SECONDS } from '../default-tolerations.ts';

/** The admission settings of a server started without flags (upstream's defaults). */
export const DEFAULT_ADMISSION: AdmissionSettings = Object.freeze({ defaultTolerations: DEFAULT_TOLERATION_SECONDS });
import { deploymentStrategy, replicaSetStrategy } from './workloads.ts';

export type { KindStrategy } from './strategy.ts';

const MODULES: readonly KindStrategy[] = [
  namespaceStrategy,
  nodeStrategy,
  podStrategy,
  serviceStrategy,
  endpointsStrategy,
  configMapStrategy,
  eventStrategy,
  endpointSliceStrategy,
  networkPolicyStrategy,
  deploymentStrategy,
  replicaSetStrategy,
  leaseStrategy,
  daemonSetStrategy,
  statefulSetStrategy,
  controllerRevisionStrategy,
  jobStrategy,
  cronJobStrategy,
  podDisruptionBudgetStrategy,
  horizontalPodAutoscalerStrategy,
];

const byGroupResource = new Map(MODULES.map((s) => [s.groupResource, s]));

/** Served group-resources without a strategy module, and modules for resources not served: both must be empty. */
export function strategyCoverage(): { missing: string[]; unserved: string[] } {
  const served = new Set(RESOURCES.map(groupResource));
  return {
    missing: [...served].filter((gr) => !byGroupResource.has(gr)),
    unserved: MODULES.map((s) => s.groupResource).filter((gr) => !served.has(gr)),
  };
}

/** Every strategy, in RESOURCES order. */
export function strategies(): KindStrategy[] {
  return RESOURCES.map(strategyFor);
}

export function strategyFor(info: Pick<ResourceInfo, 'group' | 'resource'>): KindStrategy {
  const s = byGroupResource.get(groupResource(info));
  if (!s) throw new Error(`no kind strategy for ${groupResource(info)}: add a module under src/api/kinds/`);
  return s;
}

export function printerFor(info: ResourceInfo): Printer {
  return strategyFor(info).printer ?? DEFAULT_PRINTER;
}

const COMMON_FIELDS: Readonly<Record<string, FieldGetter>> = {
  'metadata.name': pathValue('metadata.name'),
  'metadata.namespace': pathValue('metadata.namespace'),
};

function fieldGetters(info: ResourceInfo): Readonly<Record<string, FieldGetter>> {
  return { ...COMMON_FIELDS, ...(strategyFor(info).fieldSelectors ?? {}) };
}

/** The field selectors a resource supports, as its registry declares them. */
export function supportedFieldSelectors(info: ResourceInfo): string[] {
  return Object.keys(fieldGetters(info));
}

/** The value a field selector compares for an object of the resource; '' for an unsupported field. */
export function selectableFieldValue(info: ResourceInfo, obj: KubeObject, field: string): string {
  return fieldGetters(info)[field]?.(obj) ?? '';
}

/**
 * The kind's mutating admission steps applied in order (after defaults, before
 * validation); on create (no old object) also its create-only steps.
 */
export function admitObject(info: ResourceInfo, obj: KubeObject, old: KubeObject | undefined, settings: AdmissionSettings = DEFAULT_ADMISSION): KubeObject {
  const strategy = strategyFor(info);
  const admitted = (strategy.admission ?? []).reduce((o, hook) => hook(o, old), obj);
  if (old !== undefined) return admitted;
  return (strategy.createAdmission ?? []).reduce((o, hook) => hook(o, settings), admitted);
}
