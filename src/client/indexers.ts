// The shared indexes informers keep (besides the namespace index every cache
// has): pods by node and by IP, Services by ClusterIP, EndpointSlices by the
// Service they belong to and by endpoint address. Each is a pure IndexFunc;
// a part that needs another adds it with informer.addIndexer(name, fn).
import type { KubeObject } from '../core/types.ts';
import { ENDPOINTSLICES, SERVICE_NAME_LABEL } from '../core/well-known.ts';
import type { IndexFunc } from './cache-store.ts';
import { keyOf } from './informer.ts';

export { NAMESPACE_INDEX, type IndexFunc } from './cache-store.ts';

/** Pods by spec.nodeName (unbound pods are in no bucket). */
export const NODE_INDEX = 'node';
/** Pods by every address in status.podIPs / status.podIP (host-network pods share their node's). */
export const POD_IP_INDEX = 'podIP';
/** Services by spec.clusterIPs / spec.clusterIP (not "None"). */
export const CLUSTER_IP_INDEX = 'clusterIP';
/** EndpointSlices by "<namespace>/<service>" from the kubernetes.io/service-name label. */
export const SERVICE_NAME_INDEX = 'serviceName';
/** EndpointSlices by every endpoint address (opt-in: PTR lookups of endpoint IPs). */
export const ENDPOINT_ADDRESS_INDEX = 'endpointAddress';

type Loose = Record<string, unknown>;
const field = (obj: unknown, name: string): unknown => (typeof obj === 'object' && obj !== null ? (obj as Loose)[name] : undefined);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x !== '') : []);

export const podsByNode: IndexFunc = (pod) => {
  const node = field(pod.spec, 'nodeName');
  return typeof node === 'string' && node ? [node] : [];
};

export const podsByIP: IndexFunc = (pod) => {
  const ips = new Set<string>();
  const one = field(pod.status, 'podIP');
  if (typeof one === 'string' && one) ips.add(one);
  const many = field(pod.status, 'podIPs');
  if (Array.isArray(many)) for (const p of many) {
    const ip = field(p, 'ip');
    if (typeof ip === 'string' && ip) ips.add(ip);
  }
  return [...ips];
};

export const servicesByClusterIP: IndexFunc = (svc) => {
  const ips = new Set(strings(field(svc.spec, 'clusterIPs')));
  const one = field(svc.spec, 'clusterIP');
  if (typeof one === 'string' && one) ips.add(one);
  ips.delete('None');
  return [...ips];
};

export const slicesByServiceName: IndexFunc = (slice: KubeObject) => {
  const svc = slice.metadata.labels?.[SERVICE_NAME_LABEL];
  return svc ? [keyOf(slice.metadata.namespace, svc)] : [];
};

export const slicesByEndpointAddress: IndexFunc = (slice) => {
  const out = new Set<string>();
  const endpoints = slice.endpoints;
  if (Array.isArray(endpoints)) for (const e of endpoints) for (const a of strings(field(e, 'addresses'))) out.add(a);
  return [...out];
};

/** The indexes every informer of a kind gets (cheap: one entry per object; ENDPOINT_ADDRESS_INDEX is opt-in). */
export const DEFAULT_INDEXERS: Readonly<Record<string, Readonly<Record<string, IndexFunc>>>> = {
  pods: { [NODE_INDEX]: podsByNode, [POD_IP_INDEX]: podsByIP },
  services: { [CLUSTER_IP_INDEX]: servicesByClusterIP },
  [ENDPOINTSLICES]: { [SERVICE_NAME_INDEX]: slicesByServiceName },
};
