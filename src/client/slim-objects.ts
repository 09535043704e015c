// Slim cached copies: only the fields the agent's parts read (the kubelet's
// Service environment, node networking, cluster DNS, the service proxy,
// NetworkPolicy), as CoreDNS's object.ToService / ToEndpoints do. An informer
// given one of these transforms stores and hands out the slim shape; parts
// that need a whole object (the kubelet's own pods) ask for transform 'none'.
//
// Dropped everywhere: managedFields, the kubectl last-applied annotation,
// ownerReferences, timestamps, and every spec/status field not listed below.
// Node conditions keep only type and status, so the heartbeat's status repost
// (new lastHeartbeatTime, nothing else) leaves the slim Node unchanged and the
// informer delivers it to no handler.
import type { KubeObject, ObjectMeta } from '../core/types.ts';
import { ENDPOINTSLICES, LAST_APPLIED_ANNOTATION } from '../core/well-known.ts';

export type ObjectTransform = (obj: KubeObject) => KubeObject;

type Plain = Record<string, unknown>;

function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A copy of the listed fields of obj that are present (undefined and absent both drop). */
function pick<K extends string>(obj: unknown, keys: readonly K[]): Partial<Record<K, unknown>> {
  const out: Partial<Record<K, unknown>> = {};
  if (!isPlain(obj)) return out;
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

function pickEach<K extends string>(list: unknown, keys: readonly K[]): Partial<Record<K, unknown>>[] | undefined {
  return Array.isArray(list) ? list.map((item) => pick(item, keys)) : undefined;
}

/** Sets out[key] = value unless value is undefined (so slim copies compare equal to themselves after a round trip). */
function put(out: Plain, key: string, value: unknown): void {
  if (value !== undefined) out[key] = value;
}

function annotationsWithoutLastApplied(a: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!a) return undefined;
  if (!(LAST_APPLIED_ANNOTATION in a)) return a;
  const { [LAST_APPLIED_ANNOTATION]: _dropped, ...rest } = a;
  return Object.keys(rest).length ? rest : undefined;
}

/** The metadata every slim shape keeps. */
export interface SlimMeta extends ObjectMeta {
  name: string;
}

function slimMeta(m: ObjectMeta, keep: { annotations?: boolean; deletionTimestamp?: boolean } = {}): SlimMeta {
  const out: SlimMeta = { name: m.name ?? '' };
  if (m.namespace !== undefined) out.namespace = m.namespace;
  if (m.uid !== undefined) out.uid = m.uid;
  if (m.resourceVersion !== undefined) out.resourceVersion = m.resourceVersion;
  if (m.labels !== undefined) out.labels = m.labels;
  const annotations = keep.annotations ? annotationsWithoutLastApplied(m.annotations) : undefined;
  if (annotations) out.annotations = annotations;
  if (keep.deletionTimestamp && m.deletionTimestamp !== undefined) out.deletionTimestamp = m.deletionTimestamp;
  return out;
}

function shell(obj: KubeObject, metadata: SlimMeta): Plain {
  return { apiVersion: obj.apiVersion, kind: obj.kind, metadata };
}

/** Any kind: the whole object without managedFields and the last-applied annotation (client-go's TransformStripManagedFields, and a bit more). */
export const stripMetadata: ObjectTransform = (obj) => {
  const m = obj.metadata;
  if (m.managedFields === undefined && !(m.annotations && LAST_APPLIED_ANNOTATION in m.annotations)) return obj;
  const { managedFields: _mf, ...meta } = m;
  const annotations = annotationsWithoutLastApplied(meta.annotations);
  if (annotations) meta.annotations = annotations;
  else delete meta.annotations;
  return { ...obj, metadata: meta };
};

/** Only managedFields go (the server's controllers read annotations as they are). */
export const stripManagedFields: ObjectTransform = (obj) => {
  if (obj.metadata.managedFields === undefined) return obj;
  const { managedFields: _mf, ...meta } = obj.metadata;
  return { ...obj, metadata: meta };
};

// ---- Pod: the kubelet's Service environment needs none; DNS pod records, policy peers and named ports do.

export interface SlimContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
}

export interface SlimPod extends KubeObject {
  metadata: SlimMeta;
  spec: {
    nodeName?: string;
    hostname?: string;
    subdomain?: string;
    hostNetwork?: boolean;
    containers: { name: string; ports?: SlimContainerPort[] }[];
  };
  status: { phase?: string; podIP?: string; podIPs?: { ip: string }[] };
}

export const slimPod: ObjectTransform = (obj): SlimPod => {
  const spec = isPlain(obj.spec) ? obj.spec : {};
  const status = isPlain(obj.status) ? obj.status : {};
  const containers = (Array.isArray(spec.containers) ? spec.containers : []).map((c: unknown) => {
    const out: Plain = { name: isPlain(c) ? c.name : '' };
    put(out, 'ports', isPlain(c) ? pickEach(c.ports, ['name', 'containerPort', 'protocol'] as const) : undefined);
    return out;
  });
  return {
    ...shell(obj, slimMeta(obj.metadata, { deletionTimestamp: true })),
    spec: { ...pick(spec, ['nodeName', 'hostname', 'subdomain', 'hostNetwork'] as const), containers },
    status: { ...pick(status, ['phase', 'podIP'] as const), ...(Array.isArray(status.podIPs) ? { podIPs: pickEach(status.podIPs, ['ip'] as const) } : {}) },
  } as SlimPod;
};

// ---- Service: DNS (A/AAAA/SRV/CNAME, headless), the proxy (every traffic policy), env variables.

export interface SlimServicePort {
  name?: string;
  protocol?: string;
  port: number;
  targetPort?: number | string;
  nodePort?: number;
  appProtocol?: string;
}

export interface SlimService extends KubeObject {
  metadata: SlimMeta;
  spec: {
    type?: string;
    clusterIP?: string;
    clusterIPs?: string[];
    ipFamilies?: string[];
    ipFamilyPolicy?: string;
    ports?: SlimServicePort[];
    selector?: Record<string, string>;
    externalName?: string;
    externalIPs?: string[];
    sessionAffinity?: string;
    sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
    externalTrafficPolicy?: string;
    internalTrafficPolicy?: string;
    healthCheckNodePort?: number;
    loadBalancerIP?: string;
    loadBalancerSourceRanges?: string[];
    loadBalancerClass?: string;
    publishNotReadyAddresses?: boolean;
    trafficDistribution?: string;
  };
  status?: { loadBalancer?: { ingress?: { ip?: string; hostname?: string; ipMode?: string }[] } };
}

const SERVICE_SPEC_FIELDS = [
  'type', 'clusterIP', 'clusterIPs', 'ipFamilies', 'ipFamilyPolicy', 'selector', 'externalName', 'externalIPs',
  'sessionAffinity', 'sessionAffinityConfig', 'externalTrafficPolicy', 'internalTrafficPolicy', 'healthCheckNodePort',
  'loadBalancerIP', 'loadBalancerSourceRanges', 'loadBalancerClass', 'publishNotReadyAddresses', 'trafficDistribution',
] as const;

export const slimService: ObjectTransform = (obj): SlimService => {
  const spec = isPlain(obj.spec) ? obj.spec : {};
  const out: Plain = { ...pick(spec, SERVICE_SPEC_FIELDS) };
  put(out, 'ports', pickEach(spec.ports, ['name', 'protocol', 'port', 'targetPort', 'nodePort', 'appProtocol'] as const));
  const ingress = isPlain(obj.status) && isPlain(obj.status.loadBalancer) ? obj.status.loadBalancer.ingress : undefined;
  const svc: Plain = { ...shell(obj, slimMeta(obj.metadata, { annotations: true })), spec: out };
  if (Array.isArray(ingress) && ingress.length) svc.status = { loadBalancer: { ingress: pickEach(ingress, ['ip', 'hostname', 'ipMode'] as const) } };
  return svc as SlimService;
};

// ---- EndpointSlice: DNS (addresses, hostnames, readiness), the proxy (conditions, node, zone, hints).

export interface SlimEndpoint {
  addresses: string[];
  conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
  hostname?: string;
  nodeName?: string;
  zone?: string;
  hints?: { forZones?: { name: string }[]; forNodes?: { name: string }[] };
  targetRef?: { kind?: string; namespace?: string; name?: string };
}

export interface SlimEndpointSlice extends KubeObject {
  metadata: SlimMeta;
  addressType: string;
  endpoints: SlimEndpoint[];
  ports?: { name?: string; port?: number; protocol?: string; appProtocol?: string }[];
}

export const slimEndpointSlice: ObjectTransform = (obj): SlimEndpointSlice => {
  const endpoints = (Array.isArray(obj.endpoints) ? obj.endpoints : []).map((e: unknown) => {
    const out: Plain = pick(e, ['addresses', 'conditions', 'hostname', 'nodeName', 'zone', 'hints'] as const);
    if (isPlain(e) && isPlain(e.targetRef)) out.targetRef = pick(e.targetRef, ['kind', 'namespace', 'name'] as const);
    if (!Array.isArray(out.addresses)) out.addresses = [];
    return out;
  });
  const slice: Plain = { ...shell(obj, slimMeta(obj.metadata)), addressType: obj.addressType ?? 'IPv4', endpoints };
  put(slice, 'ports', pickEach(obj.ports, ['name', 'port', 'protocol', 'appProtocol'] as const));
  return slice as SlimEndpointSlice;
};

// ---- Namespace: policy's namespaceSelector (labels), DNS (existence).

export interface SlimNamespace extends KubeObject {
  metadata: SlimMeta;
  status?: { phase?: string };
}

export const slimNamespace: ObjectTransform = (obj): SlimNamespace => {
  const ns: Plain = shell(obj, slimMeta(obj.metadata));
  const phase = isPlain(obj.status) ? obj.status.phase : undefined;
  if (phase !== undefined) ns.status = { phase };
  return ns as SlimNamespace;
};

// ---- Node: the overlay (VTEP annotations, pod CIDRs), the proxy (addresses, labels, readiness), policy (node IPs).

export interface SlimNode extends KubeObject {
  metadata: SlimMeta;
  spec: { podCIDR?: string; podCIDRs?: string[]; unschedulable?: boolean; taints?: { key: string; value?: string; effect: string }[]; providerID?: string };
  status: { addresses?: { type: string; address: string }[]; conditions?: { type: string; status: string }[] };
}

export const slimNode: ObjectTransform = (obj): SlimNode => {
  const spec = isPlain(obj.spec) ? obj.spec : {};
  const status = isPlain(obj.status) ? obj.status : {};
  const st: Plain = {};
  put(st, 'addresses', pickEach(status.addresses, ['type', 'address'] as const));
  put(st, 'conditions', pickEach(status.conditions, ['type', 'status'] as const));
  return {
    ...shell(obj, slimMeta(obj.metadata, { annotations: true })),
    spec: pick(spec, ['podCIDR', 'podCIDRs', 'unschedulable', 'taints', 'providerID'] as const),
    status: st,
  } as SlimNode;
};

/** The agent's transforms by group-resource; other kinds get stripMetadata. */
export const SLIM_TRANSFORMS: Readonly<Record<string, ObjectTransform>> = {
  pods: slimPod,
  services: slimService,
  [ENDPOINTSLICES]: slimEndpointSlice,
  namespaces: slimNamespace,
  nodes: slimNode,
};
