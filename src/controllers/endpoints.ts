// Endpoints and EndpointSlice controller: for each Service with a selector,
// the pods behind it, written only when what we compute differs.
import { ipFamily } from '../core/cidr.ts';
import type { KubeObject } from '../core/types.ts';
import { keyOf, splitKey } from '../client/informer.ts';
import { applyActions, throwFirstError, type Action } from './actions.ts';
import { deepEqual } from '../core/deep-equal.ts';
import { isBeingDeleted, isPodReady, isPodTerminal, ownerRefTo, stableHash } from './objects.ts';
import { enqueueMapped, enqueueSelf, newController, type Controller, type ControllerDeps } from './runtime.ts';
import { labelSelectorRequirements, matchesLabels } from '../core/selectors.ts';
import {
  ENDPOINTSLICES,
  ENDPOINTSLICE_CONTROLLER as MANAGED_BY,
  ENDPOINTSLICE_MANAGED_BY_LABEL as MANAGED_BY_LABEL,
  ENDPOINTS_CONTROLLER as ENDPOINTS_MANAGED_BY,
  ENDPOINTS_MANAGED_BY_LABEL,
  SERVICE_NAME_LABEL,
} from '../core/well-known.ts';


interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: string;
  appProtocol?: string;
}

interface ServiceSpec {
  selector?: Record<string, string>;
  ports?: ServicePort[];
  clusterIP?: string;
  ipFamilies?: string[];
  publishNotReadyAddresses?: boolean;
}

interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
}

interface PodSpec {
  nodeName?: string;
  hostname?: string;
  subdomain?: string;
  containers?: { ports?: ContainerPort[] }[];
}

interface PodStatus {
  podIP?: string;
  podIPs?: { ip: string }[];
}

export interface EndpointPort {
  name?: string;
  port: number;
  protocol: string;
  appProtocol?: string;
}

export interface EndpointsSnapshot {
  service: KubeObject | undefined;
  /** Service namespace and name (the service may be gone). */
  namespace: string;
  name: string;
  /** Pods of the namespace. */
  pods: readonly KubeObject[];
  endpoints: KubeObject | undefined;
  /** Slices labelled with this service's name. */
  slices: readonly KubeObject[];
}

/** The ports of a pod that a service's ports resolve to (named targetPorts per pod). Pure. */
export function resolvePorts(ports: readonly ServicePort[], pod: KubeObject): EndpointPort[] | undefined {
  const out: EndpointPort[] = [];
  const containers = (pod.spec as PodSpec | undefined)?.containers ?? [];
  for (const sp of ports) {
    const protocol = sp.protocol ?? 'TCP';
    const target = sp.targetPort ?? sp.port;
    let port: number | undefined;
    if (typeof target === 'number') port = target;
    else if (/^\d+$/.test(target)) port = Number(target);
    else {
      for (const c of containers) {
        const found = c.ports?.find((p) => p.name === target && (p.protocol ?? 'TCP') === protocol);
        if (found) {
          port = found.containerPort;
          break;
        }
      }
    }
    if (port === undefined) continue; // this pod does not serve that port
    const ep: EndpointPort = { port, protocol };
    if (sp.name !== undefined) ep.name = sp.name;
    if (sp.appProtocol) ep.appProtocol = sp.appProtocol;
    out.push(ep);
  }
  return out;
}

function podIPs(pod: KubeObject): string[] {
  const s = (pod.status ?? {}) as PodStatus;
  const ips = s.podIPs?.map((p) => p.ip).filter(Boolean) ?? [];
  if (ips.length === 0 && s.podIP) ips.push(s.podIP);
  return ips;
}

function familyOf(ip: string): 'IPv4' | 'IPv6' {
  return ipFamily(ip) === 6 ? 'IPv6' : 'IPv4';
}

interface PodEndpoint {
  pod: KubeObject;
  ip: string;
  family: 'IPv4' | 'IPv6';
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  ports: EndpointPort[];
  hostname?: string;
}

const byIp = (a: { ip: string }, b: { ip: string }): number => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0);

function targetRef(pod: KubeObject): Record<string, string> {
  return { kind: 'Pod', namespace: pod.metadata.namespace ?? '', name: pod.metadata.name ?? '', uid: pod.metadata.uid ?? '' };
}

/** Endpoints.subsets for a set of pod endpoints, grouped by identical port lists. Pure. */
export function endpointSubsets(eps: readonly PodEndpoint[]): unknown[] {
  const groups = new Map<string, { ports: EndpointPort[]; ready: PodEndpoint[]; notReady: PodEndpoint[] }>();
  for (const ep of eps) {
    if (ep.terminating) continue;
    const key = JSON.stringify(ep.ports);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { ports: ep.ports, ready: [], notReady: [] }));
    (ep.ready ? g.ready : g.notReady).push(ep);
  }
  const address = (ep: PodEndpoint): Record<string, unknown> => {
    const a: Record<string, unknown> = { ip: ep.ip, targetRef: targetRef(ep.pod) };
    const node = (ep.pod.spec as PodSpec | undefined)?.nodeName;
    if (node) a.nodeName = node;
    if (ep.hostname) a.hostname = ep.hostname;
    return a;
  };
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, g]) => {
      const subset: Record<string, unknown> = {};
      if (g.ready.length) subset.addresses = [...g.ready].sort(byIp).map(address);
      if (g.notReady.length) subset.notReadyAddresses = [...g.notReady].sort(byIp).map(address);
      if (g.ports.length) subset.ports = g.ports;
      return subset;
    });
}

/** The desired EndpointSlices, keyed by name. Pure. */
export function desiredSlices(service: KubeObject, eps: readonly PodEndpoint[]): KubeObject[] {
  const spec = service.spec as ServiceSpec;
  const name = service.metadata.name ?? '';
  const groups = new Map<string, { family: string; ports: EndpointPort[]; eps: PodEndpoint[] }>();
  for (const ep of eps) {
    const key = `${ep.family}|${JSON.stringify(ep.ports)}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { family: ep.family, ports: ep.ports, eps: [] }));
    g.eps.push(ep);
  }
  if (groups.size === 0) {
    // A placeholder so consumers see the service has no endpoints.
    const family = spec.ipFamilies?.[0] ?? 'IPv4';
    groups.set(`${family}|[]`, { family, ports: [], eps: [] });
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, g]) => ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `${name}-${stableHash(key)}`.slice(0, 253),
        namespace: service.metadata.namespace,
        labels: { [SERVICE_NAME_LABEL]: name, [MANAGED_BY_LABEL]: MANAGED_BY },
        ownerReferences: [{ ...ownerRefTo(service), apiVersion: 'v1', kind: 'Service' }],
      },
      addressType: g.family,
      endpoints: [...g.eps].sort(byIp).map((ep) => {
        const e: Record<string, unknown> = {
          addresses: [ep.ip],
          conditions: { ready: ep.ready, serving: ep.serving, terminating: ep.terminating },
          targetRef: targetRef(ep.pod),
        };
        const node = (ep.pod.spec as PodSpec | undefined)?.nodeName;
        if (node) e.nodeName = node;
        if (ep.hostname) e.hostname = ep.hostname;
        return e;
      }),
      ports: g.ports,
    }));
}

/** The endpoints of the pods a service selects. Pure. */
export function podEndpoints(service: KubeObject, pods: readonly KubeObject[]): PodEndpoint[] {
  const spec = service.spec as ServiceSpec;
  const reqs = labelSelectorRequirements({ matchLabels: spec.selector ?? {} });
  const families = spec.ipFamilies;
  const out: PodEndpoint[] = [];
  for (const pod of pods) {
    if (pod.metadata.namespace !== service.metadata.namespace) continue;
    if (!matchesLabels(reqs, pod.metadata.labels) || isPodTerminal(pod)) continue;
    const ports = resolvePorts(spec.ports ?? [], pod);
    if (!ports || (ports.length === 0 && (spec.ports ?? []).length > 0)) continue;
    const podSpec = (pod.spec ?? {}) as PodSpec;
    const terminating = isBeingDeleted(pod);
    const serving = isPodReady(pod) || Boolean(spec.publishNotReadyAddresses);
    const hostname = podSpec.hostname && podSpec.subdomain === service.metadata.name ? podSpec.hostname : undefined;
    for (const ip of podIPs(pod)) {
      const family = familyOf(ip);
      if (families && families.length > 0 && !families.includes(family)) continue;
      const ep: PodEndpoint = { pod, ip, family, ready: serving && !terminating, serving, terminating, ports };
      if (hostname) ep.hostname = hostname;
      out.push(ep);
    }
  }
  return out;
}

/** What to write for one service's Endpoints and EndpointSlices. Pure. */
export function reconcileEndpoints(s: EndpointsSnapshot): Action[] {
  const actions: Action[] = [];
  const svc = s.service;
  const selector = (svc?.spec as ServiceSpec | undefined)?.selector;
  const managedSlices = s.slices.filter((sl) => sl.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY);
  if (!svc || isBeingDeleted(svc) || !selector || Object.keys(selector).length === 0) {
    // Gone, or endpoints managed by hand: remove what we wrote.
    if (!svc && s.endpoints?.metadata.labels?.[ENDPOINTS_MANAGED_BY_LABEL] === ENDPOINTS_MANAGED_BY) actions.push({ op: 'delete', gr: 'endpoints', namespace: s.namespace, name: s.name });
    if (!svc || !selector || Object.keys(selector).length === 0) {
      for (const sl of managedSlices) actions.push({ op: 'delete', gr: ENDPOINTSLICES, namespace: s.namespace, name: sl.metadata.name ?? '' });
    }
    return actions;
  }
  const eps = podEndpoints(svc, s.pods);
  const subsets = endpointSubsets(eps.filter((e) => !e.terminating));
  const labels = { ...(svc.metadata.labels ?? {}), [ENDPOINTS_MANAGED_BY_LABEL]: ENDPOINTS_MANAGED_BY };
  if (!s.endpoints) {
    actions.push({
      op: 'create',
      gr: 'endpoints',
      object: { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: s.name, namespace: s.namespace, labels }, subsets },
    });
  } else if (!deepEqual((s.endpoints.subsets as unknown[] | undefined) ?? [], subsets) || !deepEqual(s.endpoints.metadata.labels ?? {}, labels)) {
    actions.push({ op: 'update', gr: 'endpoints', object: { ...s.endpoints, metadata: { ...s.endpoints.metadata, labels }, subsets } });
  }

  const desired = desiredSlices(svc, eps);
  const existing = new Map(managedSlices.map((sl) => [sl.metadata.name ?? '', sl]));
  for (const want of desired) {
    const have = existing.get(want.metadata.name ?? '');
    existing.delete(want.metadata.name ?? '');
    if (!have) {
      actions.push({ op: 'create', gr: ENDPOINTSLICES, object: want });
      continue;
    }
    const same =
      have.addressType === want.addressType &&
      deepEqual(have.endpoints ?? [], want.endpoints) &&
      deepEqual(have.ports ?? [], want.ports) &&
      deepEqual(have.metadata.labels ?? {}, want.metadata.labels) &&
      deepEqual(have.metadata.ownerReferences ?? [], want.metadata.ownerReferences);
    if (!same) {
      actions.push({
        op: 'update',
        gr: ENDPOINTSLICES,
        object: { ...have, metadata: { ...have.metadata, labels: want.metadata.labels, ownerReferences: want.metadata.ownerReferences }, addressType: want.addressType, endpoints: want.endpoints, ports: want.ports },
      });
    }
  }
  for (const [name] of existing) actions.push({ op: 'delete', gr: ENDPOINTSLICES, namespace: s.namespace, name });
  return actions;
}

export function endpointsController(deps: ControllerDeps): Controller {
  const svcInf = deps.informers.informer('services');
  const podInf = deps.informers.informer('pods');
  const epInf = deps.informers.informer('endpoints');
  const sliceInf = deps.informers.informer(ENDPOINTSLICES);
  const log = deps.logger.child({ controller: 'endpoints' });

  const sync = async (key: string): Promise<void> => {
    const { namespace, name } = splitKey(key);
    const actions = reconcileEndpoints({
      service: svcInf.getByName(namespace, name),
      namespace,
      name,
      pods: podInf.list(namespace),
      endpoints: epInf.getByName(namespace, name),
      slices: sliceInf.list(namespace).filter((sl) => sl.metadata.labels?.[SERVICE_NAME_LABEL] === name),
    });
    throwFirstError(await applyActions(deps.client, actions, { logger: log, component: 'endpointslice-controller' }));
  };

  const controller = newController('endpoints', deps, sync);
  enqueueSelf(svcInf, controller.queue);
  // A pod concerns every service of its namespace whose selector matches it (before or after the change).
  enqueueMapped(podInf, controller.queue, (pod) => {
    const ns = pod.metadata.namespace ?? '';
    return svcInf
      .list(ns)
      .filter((svc) => {
        const sel = (svc.spec as ServiceSpec | undefined)?.selector;
        return sel && Object.keys(sel).length > 0 && matchesLabels(labelSelectorRequirements({ matchLabels: sel }), pod.metadata.labels);
      })
      .map((svc) => keyOf(ns, svc.metadata.name ?? ''));
  });
  // Someone else changing what we own: put it back.
  enqueueMapped(epInf, controller.queue, (ep) => [keyOf(ep.metadata.namespace, ep.metadata.name ?? '')]);
  enqueueMapped(sliceInf, controller.queue, (sl) => {
    const svc = sl.metadata.labels?.[SERVICE_NAME_LABEL];
    return svc ? [keyOf(sl.metadata.namespace, svc)] : [];
  });
  return controller;
}
