// What every cluster starts with: the default namespaces and the
// kube-system/kube-dns Service at the cluster DNS address. Idempotent:
// existing objects are left alone.
import { randomUUID } from 'node:crypto';
import { isKubeError } from '../core/errors.ts';
import { resourceFor, type ResourceInfo } from '../core/resources.ts';
import type { KubeObject } from '../core/types.ts';
import { K8S_APP_LABEL, KUBE_DNS_SERVICE, KUBE_SYSTEM, METADATA_NAME_LABEL, SYSTEM_NAMESPACES } from '../core/well-known.ts';
import type { Store } from '../store/types.ts';
import type { ClusterIpAllocator } from './cluster-ip.ts';
import { applyDefaults } from './validation.ts';
import { prepareForCreate } from './object-rules.ts';

function coreInfo(resource: string): ResourceInfo {
  const info = resourceFor('', 'v1', resource);
  if (!info) throw new Error(`${resource} missing from RESOURCES`);
  return info;
}

/** The Namespace object a bootstrap creates (defaults applied, label set). */
export function defaultNamespace(name: string, now: Date): KubeObject {
  const info = coreInfo('namespaces');
  const base: KubeObject = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { [METADATA_NAME_LABEL]: name } },
    spec: { finalizers: ['kubernetes'] },
  };
  const obj = applyDefaults(info, prepareForCreate(info, base, { now, uid: randomUUID() }));
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
  const info = coreInfo('services');
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
  return applyDefaults(info, prepareForCreate(info, base, { namespace: KUBE_SYSTEM, now, uid: randomUUID() }));
}

/**
 * Creates kube-system/kube-dns with the cluster DNS address unless it exists;
 * true when it was created here. Throws (a 422 KubeError) when another
 * Service already holds the address.
 */
export async function ensureKubeDns(store: Store, clusterIps: ClusterIpAllocator, now: () => Date = () => new Date()): Promise<boolean> {
  if (await store.get('services', KUBE_SYSTEM, KUBE_DNS_SERVICE)) return false;
  const svc = await clusterIps.allocate(kubeDnsService(clusterIps.dnsAddress, now()));
  try {
    await store.create('services', svc);
    return true;
  } catch (err) {
    await clusterIps.releaseUnlessStored(store, svc);
    if (isKubeError(err, 'AlreadyExists')) return false;
    throw err;
  }
}
