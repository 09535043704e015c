// What every cluster starts with: the default namespaces, the
// kube-system/kube-dns Service at the cluster DNS address and the
// default/kubernetes Service at the range's first address. Idempotent:
// existing objects are left alone (the kubernetes Endpoints and EndpointSlice,
// which name the API server, are brought up to date).
import { randomUUID } from 'node:crypto';
import { isKubeError } from '../core/errors.ts';
import { resourceFor, type ResourceInfo } from '../core/resources.ts';
import type { KubeObject } from '../core/types.ts';
import { deepEqual } from '../core/deep-equal.ts';
import {
  DEFAULT_NAMESPACE, ENDPOINTSLICES, ENDPOINTSLICE_SKIP_MIRROR_LABEL, K8S_APP_LABEL, KUBE_DNS_SERVICE, KUBE_SYSTEM, KUBERNETES_SERVICE,
  KUBERNETES_SERVICE_PORT_NAME, METADATA_NAME_LABEL, SERVICE_NAME_LABEL, SYSTEM_NAMESPACES,
} from '../core/well-known.ts';
import { firstServiceAddress } from '../core/service-cidr.ts';
import { isIPv4 } from 'node:net';
import type { Store } from '../store/types.ts';
import type { ClusterIpAllocator } from './cluster-ip.ts';
import { applyDefaults } from './validation.ts';
import { prepareForCreate } from './object-rules.ts';

function infoOf(group: string, resource: string): ResourceInfo {
  const info = resourceFor(group, 'v1', resource);
  if (!info) throw new Error(`${resource} missing from RESOURCES`);
  return info;
}

/** `obj` as the API server would store it on create: server metadata set, defaults applied. Pure but for the uid. */
function asCreated(info: ResourceInfo, obj: KubeObject, now: Date): KubeObject {
  return applyDefaults(info, prepareForCreate(info, obj, { namespace: obj.metadata.namespace, now, uid: randomUUID() }));
}

/**
 * Creates the Service `build()` makes, its ClusterIP allocated, unless `namespace/name` exists; true when
 * it was created here. Throws (a 422 KubeError) when another Service already holds the address.
 */
async function ensureService(
  store: Store, clusterIps: ClusterIpAllocator, namespace: string, name: string, build: () => KubeObject,
): Promise<boolean> {
  if (await store.get('services', namespace, name)) return false;
  const svc = await clusterIps.allocate(build());
  try {
    await store.create('services', svc);
    return true;
  } catch (err) {
    await clusterIps.releaseUnlessStored(store, svc);
    if (isKubeError(err, 'AlreadyExists')) return false;
    throw err;
  }
}

/** The Namespace object a bootstrap creates (defaults applied, label set). */
export function defaultNamespace(name: string, now: Date): KubeObject {
  const base: KubeObject = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { [METADATA_NAME_LABEL]: name } },
    spec: { finalizers: ['kubernetes'] },
  };
  const obj = asCreated(infoOf('', 'namespaces'), base, now);
  obj.status = { phase: 'Active' };
  return obj;
}

/** Creates the default namespaces that are missing; returns the names created. */
export async function ensureDefaultNamespaces(store: Store, now: () => Date = () => new Date()): Promise<string[]> {
  const created: string[] = [];
  for (const name of SYSTEM_NAMESPACES) {
    if (await store.get('namespaces', '', name)) continue;
    try {
      await store.create('namespaces', defaultNamespace(name, now()));
      created.push(name);
    } catch (err) {
      if (!isKubeError(err, 'AlreadyExists')) throw err;
    }
  }
  return created;
}

/**
 * The kube-system/kube-dns Service at `dnsAddress` (defaults applied), shaped
 * as upstream's DNS add-on: label and selector k8s-app=kube-dns, ports 53/UDP
 * "dns", 53/TCP "dns-tcp" and 9153/TCP "metrics". Pure but for the uid.
 */
export function kubeDnsService(dnsAddress: string, now: Date): KubeObject {
  const base: KubeObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: KUBE_DNS_SERVICE, namespace: KUBE_SYSTEM, labels: { [K8S_APP_LABEL]: KUBE_DNS_SERVICE } },
    spec: {
      selector: { [K8S_APP_LABEL]: KUBE_DNS_SERVICE },
      clusterIP: dnsAddress,
      clusterIPs: [dnsAddress],
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
        { name: 'metrics', port: 9153, protocol: 'TCP', targetPort: 9153 },
      ],
    },
  };
  return asCreated(infoOf('', 'services'), base, now);
}

/**
 * Creates kube-system/kube-dns with the cluster DNS address unless it exists;
 * true when it was created here. Throws (a 422 KubeError) when another
 * Service already holds the address.
 */
export async function ensureKubeDns(store: Store, clusterIps: ClusterIpAllocator, now: () => Date = () => new Date()): Promise<boolean> {
  return ensureService(store, clusterIps, KUBE_SYSTEM, KUBE_DNS_SERVICE, () => kubeDnsService(clusterIps.dnsAddress, now()));
}

/**
 * default/kubernetes, as kube-apiserver keeps it: ClusterIP the range's first
 * address, port 443 "https" to `targetPort`, no selector (its endpoints are the
 * API servers, written by the server itself). Pure but for the uid.
 */
export function kubernetesService(clusterIp: string, targetPort: number, now: Date): KubeObject {
  const base: KubeObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: KUBERNETES_SERVICE, namespace: DEFAULT_NAMESPACE, labels: { component: 'apiserver', provider: 'kubernetes' } },
    spec: {
      type: 'ClusterIP',
      clusterIP: clusterIp,
      clusterIPs: [clusterIp],
      ports: [{ name: KUBERNETES_SERVICE_PORT_NAME, port: 443, protocol: 'TCP', targetPort }],
      sessionAffinity: 'None',
    },
  };
  return asCreated(infoOf('', 'services'), base, now);
}

/**
 * Creates default/kubernetes at the Service CIDR's first address unless it
 * exists; true when it was created here. Throws (a 422 KubeError) when another
 * Service holds the address.
 */
export async function ensureKubernetesService(
  store: Store, clusterIps: ClusterIpAllocator, targetPort: number, now: () => Date = () => new Date(),
): Promise<boolean> {
  return ensureService(store, clusterIps, DEFAULT_NAMESPACE, KUBERNETES_SERVICE, () => kubernetesService(firstServiceAddress(clusterIps.cidr), targetPort, now()));
}

/** Where clients reach this API server: the address and port published in default/kubernetes' endpoints. */
export interface AdvertisedAddress {
  ip: string;
  port: number;
}

/** The Endpoints and EndpointSlice bodies (without metadata beyond names and labels) naming the API server. Pure. */
export function kubernetesEndpointBodies(advertised: AdvertisedAddress): { endpoints: KubeObject; slice: KubeObject } {
  const port = { name: KUBERNETES_SERVICE_PORT_NAME, port: advertised.port, protocol: 'TCP' };
  const endpoints: KubeObject = {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: KUBERNETES_SERVICE, namespace: DEFAULT_NAMESPACE, labels: { [ENDPOINTSLICE_SKIP_MIRROR_LABEL]: 'true' } },
    subsets: [{ addresses: [{ ip: advertised.ip }], ports: [port] }],
  };
  const slice: KubeObject = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: KUBERNETES_SERVICE, namespace: DEFAULT_NAMESPACE, labels: { [SERVICE_NAME_LABEL]: KUBERNETES_SERVICE } },
    addressType: isIPv4(advertised.ip) ? 'IPv4' : 'IPv6',
    endpoints: [{ addresses: [advertised.ip], conditions: { ready: true, serving: true, terminating: false } }],
    ports: [port],
  };
  return { endpoints, slice };
}

async function upsert(store: Store, gr: string, info: ResourceInfo, want: KubeObject, now: Date): Promise<boolean> {
  const have = await store.get(gr, want.metadata.namespace ?? '', want.metadata.name ?? '');
  const { apiVersion: _a, kind: _k, metadata: _m, ...body } = want;
  if (!have) {
    try {
      await store.create(gr, asCreated(info, want, now));
      return true;
    } catch (err) {
      if (isKubeError(err, 'AlreadyExists')) return upsert(store, gr, info, want, now);
      throw err;
    }
  }
  const { apiVersion: _ha, kind: _hk, metadata: _hm, ...haveBody } = have;
  const labels = { ...(have.metadata.labels ?? {}), ...(want.metadata.labels ?? {}) };
  if (deepEqual(haveBody, body) && deepEqual(have.metadata.labels ?? {}, labels)) return false;
  await store.update(gr, { ...have, ...body, metadata: { ...have.metadata, labels } });
  return true;
}

/**
 * Points default/kubernetes' Endpoints and EndpointSlice at this API server
 * (created, or updated when they name another address or port); returns what
 * was written. The server that starts last wins: meshlet keeps no lease per
 * API server (kube-apiserver's lease reconciler), see DECISIONS.
 */
export async function ensureKubernetesEndpoints(store: Store, advertised: AdvertisedAddress, now: () => Date = () => new Date()): Promise<string[]> {
  const { endpoints, slice } = kubernetesEndpointBodies(advertised);
  const written: string[] = [];
  if (await upsert(store, 'endpoints', infoOf('', 'endpoints'), endpoints, now())) written.push('endpoints');
  if (await upsert(store, ENDPOINTSLICES, infoOf('discovery.k8s.io', 'endpointslices'), slice, now())) written.push('endpointslice');
  return written;
}
