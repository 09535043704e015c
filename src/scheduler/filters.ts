// Filters: can this pod run on this node at all? Each is pure and answers
// with kube-scheduler's own reason strings, which end up in the
// "0/3 nodes are available: ..." message.

import type { Taint } from './api-types.ts';
import type { PodInfo } from './pod-info.ts';
import type { NodeInfo } from './snapshot.ts';
import { matchAnyTerm, matchNodeSelector, toleratedBy } from './node-selector.ts';
import { NOT_READY_TAINT as NOT_READY, UNSCHEDULABLE_TAINT as UNSCHEDULABLE } from '../core/well-known.ts';

export type FilterResult = { ok: true } | { ok: false; reason: string; /** further reasons from the same filter */ more?: string[] };

export type Filter = (pod: PodInfo, node: NodeInfo) => FilterResult;

export const OK: FilterResult = Object.freeze({ ok: true });

function fail(reason: string): FilterResult {
  return Object.freeze({ ok: false, reason });
}

export const REASON_UNSCHEDULABLE = 'node(s) were unschedulable';
export const REASON_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector";
export const REASON_HOST_PORTS = "node(s) didn't have free ports for the requested pod ports";
export const REASON_TOO_MANY_PODS = 'Too many pods';
export const REASON_INSUFFICIENT_CPU = 'Insufficient cpu';
export const REASON_INSUFFICIENT_MEMORY = 'Insufficient memory';

export function untoleratedTaintReason(taint: Taint): string {
  return `node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}`;
}

// The node lifecycle controller expresses these two states as taints; a pod
// may tolerate them (DaemonSet pods do).
const NOT_READY_TAINT: Taint = { key: NOT_READY, effect: 'NoSchedule' };
const UNSCHEDULABLE_TAINT: Taint = { key: UNSCHEDULABLE, effect: 'NoSchedule' };

const FAIL_NOT_READY = fail(untoleratedTaintReason(NOT_READY_TAINT));
const FAIL_UNSCHEDULABLE = fail(REASON_UNSCHEDULABLE);
const FAIL_NODE_AFFINITY = fail(REASON_NODE_AFFINITY);
const FAIL_HOST_PORTS = fail(REASON_HOST_PORTS);

/** The node's Ready condition is True, unless the pod tolerates not-ready. */
export function filterNodeReady(pod: PodInfo, node: NodeInfo): FilterResult {
  if (node.ready || toleratedBy(pod.tolerations, NOT_READY_TAINT)) return OK;
  return FAIL_NOT_READY;
}

/** spec.unschedulable (cordoned) nodes take no new pods, unless tolerated. */
export function filterNodeUnschedulable(pod: PodInfo, node: NodeInfo): FilterResult {
  if (!node.unschedulable || toleratedBy(pod.tolerations, UNSCHEDULABLE_TAINT)) return OK;
  return FAIL_UNSCHEDULABLE;
}

/** spec.nodeSelector and required node affinity must both match. */
export function filterNodeAffinity(pod: PodInfo, node: NodeInfo): FilterResult {
  if (pod.nodeSelector && !matchNodeSelector(pod.nodeSelector, node.labels)) return FAIL_NODE_AFFINITY;
  if (pod.requiredTerms && !matchAnyTerm(pod.requiredTerms, node.name, node.labels)) return FAIL_NODE_AFFINITY;
  return OK;
}

/** Every NoSchedule and NoExecute taint must be tolerated; PreferNoSchedule only scores. */
export function filterTaints(pod: PodInfo, node: NodeInfo): FilterResult {
  for (const taint of node.taints) {
    if (taint.effect === 'PreferNoSchedule') continue;
    if (!toleratedBy(pod.tolerations, taint)) return fail(untoleratedTaintReason(taint));
  }
  return OK;
}

/** Same protocol and port, and host IPs that overlap (equal, or either is 0.0.0.0). */
export function hostPortsConflict(a: { protocol: string; hostIP: string; port: number }, b: { protocol: string; hostIP: string; port: number }): boolean {
  if (a.port !== b.port || a.protocol !== b.protocol) return false;
  return a.hostIP === b.hostIP || a.hostIP === '0.0.0.0' || b.hostIP === '0.0.0.0';
}

export function filterHostPorts(pod: PodInfo, node: NodeInfo): FilterResult {
  if (pod.hostPorts.length === 0 || node.hostPorts.length === 0) return OK;
  for (const want of pod.hostPorts) {
    for (const used of node.hostPorts) if (hostPortsConflict(want, used)) return FAIL_HOST_PORTS;
  }
  return OK;
}

/** cpu and memory (when requested) and the pod count must fit in allocatable minus requested. */
export function filterResources(pod: PodInfo, node: NodeInfo): FilterResult {
  const { allocatable: a, requested: r } = node;
  const pods = r.pods + 1 > a.pods;
  const cpu = pod.requests.milliCpu > 0 && pod.requests.milliCpu > a.milliCpu - r.milliCpu;
  const memory = pod.requests.memory > 0 && pod.requests.memory > a.memory - r.memory;
  if (!pods && !cpu && !memory) return OK;
  const reasons: string[] = [];
  if (pods) reasons.push(REASON_TOO_MANY_PODS);
  if (cpu) reasons.push(REASON_INSUFFICIENT_CPU);
  if (memory) reasons.push(REASON_INSUFFICIENT_MEMORY);
  return { ok: false, reason: reasons[0], more: reasons.length > 1 ? reasons.slice(1) : undefined };
}

/** In kube-scheduler's order; the first that fails gives the node's reasons. */
export const FILTERS: readonly Filter[] = [
  filterNodeReady,
  filterNodeUnschedulable,
  filterTaints,
  filterNodeAffinity,
  filterHostPorts,
  filterResources,
];
