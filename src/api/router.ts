// Request path + method → what the request is about. Pure.
import { KubeError } from '../core/errors.ts';
import { resourceFor, groupResource, type ResourceInfo } from '../core/resources.ts';
import { METRICS_GROUP, metricsResourceFor } from '../core/metrics-resources.ts';
import type { MetricsRoute } from './metrics-api.ts';
import { queryFlag } from './query-params.ts';
import { HPA_V1_API_VERSION, v1AliasFor } from './hpa-v1.ts';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export interface ResourceRoute {
  type: 'resource';
  info: ResourceInfo;
  /** group-resource, the store's key space. */
  gr: string;
  /** The namespace of the request; undefined for cluster-scoped kinds and cluster-wide lists. */
  namespace?: string;
  name?: string;
  subresource?: string;
  verb: Verb;
  /** Addressed in another version than the stored one (autoscaling/v1 HPAs, src/api/hpa-v1.ts). */
  servedAs?: string;
}

export type DiscoveryRoute =
  | { type: 'version' }
  | { type: 'apiVersions' }
  | { type: 'apiGroupList' }
  | { type: 'apiGroup'; group: string }
  | { type: 'apiResourceList'; group: string; version: string }
  | { type: 'openapiV2' }
  | { type: 'openapiV3Root' }
  | { type: 'openapiV3Document'; group: string; version: string }
  | { type: 'health'; check: 'healthz' | 'readyz' | 'livez' }
  | { type: 'metrics' };

export type Route = ResourceRoute | MetricsRoute | DiscoveryRoute;

/** The streaming subresources (an HTTP upgrade proxied to the pod's kubelet; see stream-proxy.ts). */
export const STREAM_SUBRESOURCES: ReadonlySet<string> = new Set(['exec', 'attach', 'portforward']);

/** Subresources served beyond ResourceInfo.subresources. */
const EXTRA_SUBRESOURCES: Record<string, string[]> = { namespaces: ['finalize'], pods: [...STREAM_SUBRESOURCES] };

function notFoundPath(): KubeError {
  return new KubeError('NotFound', 'the server could not find the requested resource');
}

function methodNotAllowed(method: string): KubeError {
  return new KubeError('MethodNotAllowed', `the server does not allow this method on the requested resource (${method})`);
}

function splitPath(pathname: string): string[] {
  try {
    return pathname.split('/').filter(Boolean).map((s) => decodeURIComponent(s));
  } catch {
    throw new KubeError('BadRequest', `malformed path ${pathname}`);
  }
}

/** Resolves a request; throws KubeError NotFound (unknown path) or MethodNotAllowed. */
export function route(method: string, pathname: string, query: URLSearchParams): Route {
  const segs = splitPath(pathname);
  const m = method.toUpperCase();
  const readOnly = (r: DiscoveryRoute): Route => {
    if (m !== 'GET' && m !== 'HEAD') throw methodNotAllowed(m);
    return r;
  };
  const path = '/' + segs.join('/');
  switch (path) {
    case '/version':
      return readOnly({ type: 'version' });
    case '/api':
      return readOnly({ type: 'apiVersions' });
    case '/apis':
      return readOnly({ type: 'apiGroupList' });
    case '/healthz':
    case '/readyz':
    case '/livez':
      return readOnly({ type: 'health', check: path.slice(1) as 'healthz' | 'readyz' | 'livez' });
    case '/metrics':
      return readOnly({ type: 'metrics' });
    case '/openapi/v2':
      return readOnly({ type: 'openapiV2' });
    case '/openapi/v3':
      return readOnly({ type: 'openapiV3Root' });
  }
  if (segs[0] === 'openapi' && segs[1] === 'v3') {
    if (segs[2] === 'api' && segs.length === 4) return readOnly({ type: 'openapiV3Document', group: '', version: segs[3] });
    if (segs[2] === 'apis' && segs.length === 5) return readOnly({ type: 'openapiV3Document', group: segs[3], version: segs[4] });
    throw notFoundPath();
  }
  let group: string;
  let version: string;
  let rest: string[];
  if (segs[0] === 'api' && segs.length >= 2) {
    group = '';
    version = segs[1];
    rest = segs.slice(2);
  } else if (segs[0] === 'apis' && segs.length >= 2) {
    group = segs[1];
    if (segs.length === 2) return readOnly({ type: 'apiGroup', group });
    version = segs[2];
    rest = segs.slice(3);
  } else throw notFoundPath();
  if (rest.length === 0) return readOnly({ type: 'apiResourceList', group, version });
  if (group === METRICS_GROUP) return metricsRoute(m, version, rest, query);
  return resourceRoute(m, group, version, rest, query);
}

function resourceRoute(method: string, group: string, version: string, segments: string[], query: URLSearchParams): ResourceRoute {
  let rest = segments;
  let watchPath = false;
  if (rest[0] === 'watch') {
    watchPath = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  let resource: string;
  let name: string | undefined;
  let subresource: string | undefined;
  // /namespaces/<ns>/<resource>[/<name>[/<sub>]] is the namespaced form, except
  // /namespaces/<name> and /namespaces/<name>/{status,finalize} (the Namespace itself).
  const namespaceSub = rest.length === 3 && rest[0] === 'namespaces' && ['status', 'finalize'].includes(rest[2]);
  if (rest[0] === 'namespaces' && rest.length >= 3 && !namespaceSub) {
    namespace = rest[1];
    [resource, name, subresource] = rest.slice(2);
    if (rest.length > 5) throw notFoundPath();
  } else {
    [resource, name, subresource] = rest;
    if (rest.length > 3) throw notFoundPath();
  }
  const alias = resourceFor(group, version, resource) ? undefined : v1AliasFor(group, version, resource);
  const info = resourceFor(group, version, resource) ?? alias;
  if (!info) throw notFoundPath();
  if (!info.namespaced && namespace !== undefined) throw notFoundPath();
  // A namespaced kind addressed by name needs its namespace.
  if (info.namespaced && namespace === undefined && name !== undefined) throw notFoundPath();
  if (subresource !== undefined) {
    const allowed = [...info.subresources, ...(EXTRA_SUBRESOURCES[info.resource] ?? [])];
    if (!allowed.includes(subresource)) throw notFoundPath();
  }
  // exec, attach and port-forward are "create" whatever the method (a WebSocket upgrade is a GET), as upstream authorizes them.
  const streaming = subresource !== undefined && STREAM_SUBRESOURCES.has(subresource) && (method === 'GET' || method === 'POST');
  const verb = streaming ? 'create' : verbFor(method, name !== undefined, subresource, watchPath || queryFlag(query, 'watch'));
  return { type: 'resource', info, gr: groupResource(info), namespace, name, subresource, verb, ...(alias ? { servedAs: HPA_V1_API_VERSION } : {}) };
}

/** metrics.k8s.io: nodes[/<name>], pods, namespaces/<ns>/pods[/<name>]; GET only, no watch. */
function metricsRoute(method: string, version: string, segments: string[], query: URLSearchParams): MetricsRoute {
  let namespace: string | undefined;
  let rest = segments;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const info = metricsResourceFor(METRICS_GROUP, version, rest[0] ?? '');
  if (!info || rest.length > 2 || (namespace !== undefined && !info.namespaced)) throw notFoundPath();
  const name = rest[1];
  if (info.namespaced && namespace === undefined && name !== undefined) throw notFoundPath();
  if ((method !== 'GET' && method !== 'HEAD') || queryFlag(query, 'watch')) throw methodNotAllowed(queryFlag(query, 'watch') ? 'WATCH' : method);
  return { type: 'resourceMetrics', info, gr: groupResource(info), namespace, name, verb: name === undefined ? 'list' : 'get' };
}

function verbFor(method: string, named: boolean, subresource: string | undefined, watch: boolean): Verb {
  switch (method) {
    case 'GET':
    case 'HEAD':
      if (named) return watch && !subresource ? 'watch' : 'get';
      return watch ? 'watch' : 'list';
    case 'POST':
      // POST on an item is only meaningful for subresources like pods/binding.
      if (named && !subresource) throw methodNotAllowed(method);
      return 'create';
    case 'PUT':
      if (!named) throw methodNotAllowed(method);
      return 'update';
    case 'PATCH':
      if (!named) throw methodNotAllowed(method);
      return 'patch';
    case 'DELETE':
      if (subresource) throw methodNotAllowed(method);
      return named ? 'delete' : 'deletecollection';
    default:
      throw methodNotAllowed(method);
  }
}
