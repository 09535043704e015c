// The one table of every kind meshlet serves. Discovery, OpenAPI, routing,
// the store's keys and the CLI all read it from here.

export type Subresource = 'status' | 'scale' | 'binding' | 'log' | 'eviction';

export interface ResourceInfo {
  /** API group; '' for core. */
  group: string;
  version: string;
  /** Plural, lower case: the URL segment. */
  resource: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames: string[];
  subresources: Subresource[];
  categories: string[];
  /** The verbs served, when not all of RESOURCE_VERBS (the read-only metrics kinds, src/core/metrics-resources.ts). */
  verbs?: readonly string[];
}

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] as const;
export const RESOURCE_VERBS: readonly string[] = VERBS;

function r(
  group: string,
  version: string,
  resource: string,
  kind: string,
  namespaced: boolean,
  shortNames: string[] = [],
  subresources: Subresource[] = [],
  categories: string[] = [],
): ResourceInfo {
  return {
    group,
    version,
    resource,
    singular: kind.toLowerCase(),
    kind,
    listKind: `${kind}List`,
    namespaced,
    shortNames,
    subresources,
    categories,
  };
}

export const RESOURCES: readonly ResourceInfo[] = [
  r('', 'v1', 'namespaces', 'Namespace', false, ['ns'], ['status']),
  r('', 'v1', 'nodes', 'Node', false, ['no'], ['status']),
  r('', 'v1', 'pods', 'Pod', true, ['po'], ['status', 'binding', 'log', 'eviction'], ['all']),
  r('', 'v1', 'services', 'Service', true, ['svc'], ['status'], ['all']),
  r('', 'v1', 'endpoints', 'Endpoints', true, ['ep']),
  r('', 'v1', 'configmaps', 'ConfigMap', true, ['cm']),
  r('', 'v1', 'events', 'Event', true, ['ev']),
  r('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice', true),
  r('networking.k8s.io', 'v1', 'networkpolicies', 'NetworkPolicy', true, ['netpol']),
  r('apps', 'v1', 'deployments', 'Deployment', true, ['deploy'], ['status', 'scale'], ['all']),
  r('apps', 'v1', 'replicasets', 'ReplicaSet', true, ['rs'], ['status', 'scale'], ['all']),
  r('coordination.k8s.io', 'v1', 'leases', 'Lease', true),
  r('apps', 'v1', 'daemonsets', 'DaemonSet', true, ['ds'], ['status'], ['all']),
  r('apps', 'v1', 'statefulsets', 'StatefulSet', true, ['sts'], ['status', 'scale'], ['all']),
  r('apps', 'v1', 'controllerrevisions', 'ControllerRevision', true),
  r('batch', 'v1', 'jobs', 'Job', true, [], ['status'], ['all']),
  r('batch', 'v1', 'cronjobs', 'CronJob', true, ['cj'], ['status'], ['all']),
  r('policy', 'v1', 'poddisruptionbudgets', 'PodDisruptionBudget', true, ['pdb'], ['status']),
  r('autoscaling', 'v2', 'horizontalpodautoscalers', 'HorizontalPodAutoscaler', true, ['hpa'], ['status'], ['all']),
];

/** "pods", "deployments.apps": the group-resource string used as the store's key space. */
export function groupResource(info: Pick<ResourceInfo, 'group' | 'resource'>): string {
  return info.group ? `${info.resource}.${info.group}` : info.resource;
}

export function apiVersionOf(info: Pick<ResourceInfo, 'group' | 'version'>): string {
  return info.group ? `${info.group}/${info.version}` : info.version;
}

const byGroupResource = new Map(RESOURCES.map((info) => [groupResource(info), info]));

export function resourceByGroupResource(gr: string): ResourceInfo | undefined {
  return byGroupResource.get(gr);
}

export function resourceFor(group: string, version: string, resource: string): ResourceInfo | undefined {
  const info = byGroupResource.get(group ? `${resource}.${group}` : resource);
  return info && info.version === version ? info : undefined;
}

export function resourceForKind(apiVersion: string, kind: string): ResourceInfo | undefined {
  return RESOURCES.find((info) => apiVersionOf(info) === apiVersion && info.kind === kind);
}

/** Resolves what a user types (plural, singular, short name, kind, optionally ".group"). */
export function resourceByUserName(name: string): ResourceInfo | undefined {
  const lower = name.toLowerCase();
  return RESOURCES.find(
    (info) =>
      lower === info.resource ||
      lower === info.singular ||
      info.shortNames.includes(lower) ||
      lower === groupResource(info) ||
      lower === `${info.singular}.${info.group}`,
  );
}

/** The group-versions of these kinds (default: the stored ones), in discovery order. */
export function groupVersions(infos: readonly ResourceInfo[] = RESOURCES): { group: string; version: string }[] {
  const seen = new Map<string, { group: string; version: string }>();
  for (const info of infos) seen.set(apiVersionOf(info), { group: info.group, version: info.version });
  return [...seen.values()];
}
