// Discovery documents (/version, /api, /apis, /apis/<g>, /api/v1,
// /apis/<g>/<v>), all derived from RESOURCES. Aggregated discovery
// (apidiscovery.k8s.io/v2) is not served: kubectl falls back to these.

import { RESOURCES, RESOURCE_VERBS, apiVersionOf, groupVersions, type ResourceInfo, type Subresource } from '../core/resources.ts';
import type { Json, JsonObject } from '../core/types.ts';

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
  const versions = groupVersions()
    .filter((gv) => gv.group === group)
    .map((gv) => ({ groupVersion: apiVersionOf(gv), version: gv.version }));
  return { name: group, versions, preferredVersion: versions[0] };
}

function namedGroups(): string[] {
  return [...new Set(RESOURCES.map((r) => r.group).filter((g) => g !== ''))];
}

/** GET /apis: every named group in RESOURCES. */
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
};

function resourceEntries(info: ResourceInfo): JsonObject[] {
  const main: JsonObject = {
    name: info.resource,
    singularName: info.singular,
    namespaced: info.namespaced,
    kind: info.kind,
    verbs: [...RESOURCE_VERBS],
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
  const infos = RESOURCES.filter((r) => r.group === group && r.version === version);
  if (infos.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: apiVersionOf({ group, version }),
    resources: infos.flatMap(resourceEntries),
  };
}
