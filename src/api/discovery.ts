// Discovery documents (/version, /api, /apis, /apis/<g>, /api/v1,
// /apis/<g>/<v>), all derived from RESOURCES (and METRICS_RESOURCES); and aggregated discovery
// (apidiscovery.k8s.io/v2 APIGroupDiscoveryList from /api and /apis, when the
// Accept header asks for it), which saves clients one request per group-version.
// The read-only metrics.k8s.io kinds (src/core/metrics-resources.ts) are listed
// with their own verbs (get, list).

import { METRICS_RESOURCES } from '../core/metrics-resources.ts';
import { RESOURCES, RESOURCE_VERBS, apiVersionOf, groupVersions, type ResourceInfo, type Subresource } from '../core/resources.ts';
import type { Json, JsonObject } from '../core/types.ts';

/** Every kind discovery lists: the stored ones, then the metrics. */
const DISCOVERED: readonly ResourceInfo[] = [...RESOURCES, ...METRICS_RESOURCES];


function verbsOf(info: ResourceInfo): string[] {
  return [...(info.verbs ?? RESOURCE_VERBS)];
}

/** The Kubernetes version meshlet's API mimics. */
export const KUBE_MAJOR = '1';
export const KUBE_MINOR = '32';
export const GIT_VERSION = 'v1.32.0-meshlet';

const ARCH: Readonly<Record<string, string>> = { x64: 'amd64', arm64: 'arm64', ia32: '386', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };

/** GET /version */
export function versionInfo(): Json {
  return {
    major: KUBE_MAJOR,
    minor: KUBE_MINOR,
    gitVersion: GIT_VERSION,
    gitCommit: '',
    gitTreeState: 'clean',
    buildDate: '',
    goVersion: '',
    compiler: 'meshlet',
    platform: `${process.platform}/${ARCH[process.arch] ?? process.arch}`,
  };
}

/** GET /api */
export function apiVersions(serverAddress: string): Json {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function groupEntry(group: string): JsonObject {
  const versions = groupVersions(DISCOVERED)
    .filter((gv) => gv.group === group)
    .map((gv) => ({ groupVersion: apiVersionOf(gv), version: gv.version }));
  return { name: group, versions, preferredVersion: versions[0] };
}

function namedGroups(): string[] {
  return [...new Set(DISCOVERED.map((r) => r.group).filter((g) => g !== ''))];
}

/** GET /apis: every named group served. */
export function apiGroupList(): Json {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: namedGroups().map(groupEntry) };
}

/** GET /apis/<group>; undefined for groups meshlet does not serve. */
export function apiGroup(group: string): Json | undefined {
  if (!namedGroups().includes(group)) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(group) };
}

/** How each subresource appears in an APIResourceList. */
const SUBRESOURCES: Readonly<Record<Subresource, (info: ResourceInfo) => JsonObject>> = {
  status: (info) => ({ kind: info.kind, verbs: ['get', 'patch', 'update'] }),
  scale: () => ({ group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] }),
  binding: () => ({ kind: 'Binding', verbs: ['create'] }),
  log: () => ({ kind: 'Pod', verbs: ['get'] }),
  eviction: () => ({ group: 'policy', version: 'v1', kind: 'Eviction', verbs: ['create'] }),
};

function resourceEntries(info: ResourceInfo): JsonObject[] {
  const main: JsonObject = {
    name: info.resource,
    singularName: info.singular,
    namespaced: info.namespaced,
    kind: info.kind,
    verbs: verbsOf(info),
  };
  if (info.shortNames.length > 0) main.shortNames = [...info.shortNames];
  if (info.categories.length > 0) main.categories = [...info.categories];
  const subs = info.subresources.map((sub) => ({
    name: `${info.resource}/${sub}`,
    singularName: '',
    namespaced: info.namespaced,
    ...SUBRESOURCES[sub](info),
  }));
  return [main, ...subs];
}

/** GET /api/v1 or /apis/<group>/<version>; undefined when meshlet serves nothing there. */
export function apiResourceList(group: string, version: string): Json | undefined {
  const infos = DISCOVERED.filter((r) => r.group === group && r.version === version);
  if (infos.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: apiVersionOf({ group, version }),
    resources: infos.flatMap(resourceEntries),
  };
}

// ------------------------------------------------------------ aggregated discovery (apidiscovery.k8s.io/v2)

/** The exact Content-Type client-go requires to read an aggregated discovery reply. */
export const AGGREGATED_DISCOVERY_CONTENT_TYPE = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

/** Whether the Accept header offers application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList. */
export function wantsAggregatedDiscovery(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const [type, ...params] = part.split(';').map((p) => p.trim());
    const values = new Map(params.map((p) => p.split('=').map((x) => x.trim()) as [string, string]));
    return type.toLowerCase() === 'application/json' && values.get('g') === 'apidiscovery.k8s.io' && values.get('v') === 'v2' && values.get('as') === 'APIGroupDiscoveryList';
  });
}

const SUBRESOURCE_KINDS: Readonly<Record<Subresource, (info: ResourceInfo) => { group: string; version: string; kind: string }>> = {
  status: (info) => ({ group: info.group, version: info.version, kind: info.kind }),
  scale: () => ({ group: 'autoscaling', version: 'v1', kind: 'Scale' }),
  binding: (info) => ({ group: info.group, version: info.version, kind: 'Binding' }),
  log: (info) => ({ group: info.group, version: info.version, kind: 'Pod' }),
  eviction: () => ({ group: 'policy', version: 'v1', kind: 'Eviction' }),
};

function discoveryResource(info: ResourceInfo): JsonObject {
  const entry: JsonObject = {
    resource: info.resource,
    responseKind: { group: info.group, version: info.version, kind: info.kind },
    scope: info.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: info.singular,
    verbs: verbsOf(info),
  };
  if (info.shortNames.length > 0) entry.shortNames = [...info.shortNames];
  if (info.categories.length > 0) entry.categories = [...info.categories];
  if (info.subresources.length > 0) {
    entry.subresources = info.subresources.map((sub) => ({
      subresource: sub,
      responseKind: SUBRESOURCE_KINDS[sub](info),
      verbs: SUBRESOURCES[sub](info).verbs as Json,
    }));
  }
  return entry;
}

function discoveryGroup(group: string): JsonObject {
  const versions = groupVersions(DISCOVERED)
    .filter((gv) => gv.group === group)
    .map((gv) => ({
      version: gv.version,
      resources: DISCOVERED.filter((r) => r.group === group && r.version === gv.version).map(discoveryResource),
      freshness: 'Current',
    }));
  return { metadata: { name: group, creationTimestamp: null }, versions };
}

/** GET /api (core: true) or /apis (the named groups) as an APIGroupDiscoveryList. */
export function aggregatedDiscovery(core: boolean): Json {
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: 'apidiscovery.k8s.io/v2',
    metadata: {},
    items: core ? [discoveryGroup('')] : namedGroups().map(discoveryGroup),
  };
}
