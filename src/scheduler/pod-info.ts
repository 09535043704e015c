// What the scheduler needs to know about one pod, computed once per pod:
// its resource requests (as kube-scheduler sums them), host ports, owner,
// and the placement constraints it carries.

import type { Container, Pod, ResourceList, Toleration } from './api-types.ts';
import { intValue, milliValue } from '../core/quantity.ts';
import { hashString } from './hash.ts';
import { compileTerm, type CompiledTerm } from './node-selector.ts';
import { objectKey } from '../client/informer.ts';

export interface Requests {
  milliCpu: number;
  memory: number;
}

export interface HostPort {
  protocol: string;
  hostIP: string;
  port: number;
}

export interface PodInfo {
  /** namespace/name */
  key: string;
  uid: string;
  /** Hash of the uid (or key), for deterministic tie-breaking. */
  hash: number;
  requests: Requests;
  /** Requests with kube-scheduler's defaults (100m, 200Mi) for containers that set none; used for scoring. */
  nonZero: Requests;
  hostPorts: HostPort[];
  /** uid of the controller owner (ReplicaSet, ...), for spreading. */
  ownerUid?: string;
  nodeSelector?: Record<string, string>;
  /** undefined when the pod has no required node affinity. */
  requiredTerms?: CompiledTerm[];
  preferredTerms: { weight: number; term: CompiledTerm }[];
  tolerations: Toleration[];
}

export const DEFAULT_MILLI_CPU_REQUEST = 100;
export const DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024;

/** namespace/name, the informer's key. */
export const podKey: (pod: Pod) => string = objectKey;

function amount(list: ResourceList | undefined, name: string, parse: (q: string) => number): number | undefined {
  const v = list?.[name];
  if (v === undefined) return undefined;
  return parse(String(v));
}

/** requests[r], falling back to limits[r] as API defaulting does. */
function containerRequest(c: Container, name: string, parse: (q: string) => number): number | undefined {
  return amount(c.resources?.requests, name, parse) ?? amount(c.resources?.limits, name, parse);
}

function containerRequests(c: Container, nonZero: boolean): Requests {
  const cpu = containerRequest(c, 'cpu', milliValue);
  const mem = containerRequest(c, 'memory', intValue);
  return {
    milliCpu: cpu ?? (nonZero ? DEFAULT_MILLI_CPU_REQUEST : 0),
    memory: mem ?? (nonZero ? DEFAULT_MEMORY_REQUEST : 0),
  };
}

/**
 * The pod's effective requests: app containers and sidecars summed, each
 * ordinary init container on top of the sidecars started before it, the max
 * of the two, plus spec.overhead (kube's resourcehelper.PodRequests).
 */
export function podRequests(pod: Pod, nonZero = false): Requests {
  const spec = pod.spec ?? {};
  const sum: Requests = { milliCpu: 0, memory: 0 };
  for (const c of spec.containers ?? []) {
    const r = containerRequests(c, nonZero);
    sum.milliCpu += r.milliCpu;
    sum.memory += r.memory;
  }
  const sidecars: Requests = { milliCpu: 0, memory: 0 };
  const initMax: Requests = { milliCpu: 0, memory: 0 };
  for (const c of spec.initContainers ?? []) {
    const r = containerRequests(c, nonZero);
    if (c.restartPolicy === 'Always') {
      sidecars.milliCpu += r.milliCpu;
      sidecars.memory += r.memory;
      initMax.milliCpu = Math.max(initMax.milliCpu, sidecars.milliCpu);
      initMax.memory = Math.max(initMax.memory, sidecars.memory);
    } else {
      initMax.milliCpu = Math.max(initMax.milliCpu, sidecars.milliCpu + r.milliCpu);
      initMax.memory = Math.max(initMax.memory, sidecars.memory + r.memory);
    }
  }
  const total: Requests = {
    milliCpu: Math.max(sum.milliCpu + sidecars.milliCpu, initMax.milliCpu),
    memory: Math.max(sum.memory + sidecars.memory, initMax.memory),
  };
  if (!nonZero && spec.overhead) {
    total.milliCpu += amount(spec.overhead, 'cpu', milliValue) ?? 0;
    total.memory += amount(spec.overhead, 'memory', intValue) ?? 0;
  }
  return total;
}

export function podHostPorts(pod: Pod): HostPort[] {
  const ports: HostPort[] = [];
  const spec = pod.spec ?? {};
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    for (const p of c.ports ?? []) {
      if (!p.hostPort || p.hostPort <= 0) continue;
      ports.push({ protocol: p.protocol || 'TCP', hostIP: p.hostIP || '0.0.0.0', port: p.hostPort });
    }
  }
  return ports;
}

export function controllerOwnerUid(pod: Pod): string | undefined {
  return pod.metadata.ownerReferences?.find((o) => o.controller)?.uid;
}

export function podInfoOf(pod: Pod): PodInfo {
  const key = podKey(pod);
  const uid = pod.metadata.uid ?? key;
  const nodeAffinity = pod.spec?.affinity?.nodeAffinity;
  const required = nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  return {
    key,
    uid,
    hash: hashString(uid),
    requests: podRequests(pod),
    nonZero: podRequests(pod, true),
    hostPorts: podHostPorts(pod),
    ownerUid: controllerOwnerUid(pod),
    nodeSelector: pod.spec?.nodeSelector && Object.keys(pod.spec.nodeSelector).length > 0 ? pod.spec.nodeSelector : undefined,
    requiredTerms: required ? (required.nodeSelectorTerms ?? []).map(compileTerm) : undefined,
    preferredTerms: (nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [])
      .filter((p) => p.weight !== 0)
      .map((p) => ({ weight: p.weight, term: compileTerm(p.preference) })),
    tolerations: pod.spec?.tolerations ?? [],
  };
}
