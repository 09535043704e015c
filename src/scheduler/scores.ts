// Scores: how good is a feasible node for this pod, 0–100 each, as
// kube-scheduler's default plugins compute them (integer scores). Some are
// computed from a raw per-node value normalised against the best or worst
// feasible node; those come in pairs (raw, normalise).

import type { PodInfo } from './pod-info.ts';
import type { NodeInfo, OwnerCounts } from './snapshot.ts';
import { matchCompiledTerm, toleratedBy } from './node-selector.ts';

export const MAX_SCORE = 100;

/** kube-scheduler's default plugin weights. */
export const WEIGHTS = {
  leastAllocated: 1,
  balancedAllocation: 1,
  spread: 2,
  nodeAffinity: 2,
  taintToleration: 3,
} as const;

function leastAllocatedOne(requested: number, capacity: number): number {
  if (capacity === Infinity) return MAX_SCORE;
  if (capacity <= 0 || requested > capacity) return 0;
  return Math.floor(((capacity - requested) * MAX_SCORE) / capacity);
}

/** NodeResourcesFit LeastAllocated: free share of cpu and memory after placing the pod, averaged. */
export function scoreLeastAllocated(pod: PodInfo, node: NodeInfo): number {
  const cpu = leastAllocatedOne(node.nonZeroRequested.milliCpu + pod.nonZero.milliCpu, node.allocatable.milliCpu);
  const mem = leastAllocatedOne(node.nonZeroRequested.memory + pod.nonZero.memory, node.allocatable.memory);
  return Math.floor((cpu + mem) / 2);
}

function fraction(requested: number, capacity: number): number {
  if (capacity === Infinity) return 0;
  if (capacity <= 0) return 1;
  return Math.min(1, requested / capacity);
}

/** NodeResourcesBalancedAllocation: cpu and memory used in the same proportion scores best. */
export function scoreBalancedAllocation(pod: PodInfo, node: NodeInfo): number {
  const cpu = fraction(node.nonZeroRequested.milliCpu + pod.nonZero.milliCpu, node.allocatable.milliCpu);
  const mem = fraction(node.nonZeroRequested.memory + pod.nonZero.memory, node.allocatable.memory);
  const std = Math.abs(cpu - mem) / 2;
  return Math.floor((1 - std) * MAX_SCORE);
}

/** Raw spread value: pods of the same controller owner already on the node (siblings from Snapshot.ownerCounts). */
export function spreadCount(siblings: OwnerCounts | undefined, node: NodeInfo): number {
  return siblings === undefined ? 0 : (siblings.perSlot[node.slot] ?? 0);
}

/** SelectorSpread: fewer siblings than the most crowded feasible node → higher. */
export function normaliseSpread(count: number, maxCount: number): number {
  if (maxCount <= 0) return MAX_SCORE;
  return Math.floor((MAX_SCORE * (maxCount - count)) / maxCount);
}

/** Raw node affinity value: sum of the weights of the preferred terms the node matches. */
export function preferredAffinityWeight(pod: PodInfo, node: NodeInfo): number {
  let sum = 0;
  for (const t of pod.preferredTerms) {
    if (matchCompiledTerm(t.term, node.name, node.labels)) sum += t.weight;
  }
  return sum;
}

export function normaliseAffinity(weight: number, maxWeight: number): number {
  if (maxWeight <= 0) return 0;
  return Math.floor((weight * MAX_SCORE) / maxWeight);
}

/** Raw taint value: PreferNoSchedule taints the pod does not tolerate. */
export function intolerablePreferNoSchedule(pod: PodInfo, node: NodeInfo): number {
  if (!node.hasPreferNoSchedule) return 0;
  let n = 0;
  for (const taint of node.taints) {
    if (taint.effect !== 'PreferNoSchedule') continue;
    if (!toleratedBy(pod.tolerations, taint)) n++;
  }
  return n;
}

/** TaintToleration: fewer untolerated PreferNoSchedule taints → higher. */
export function normaliseTaints(count: number, maxCount: number): number {
  if (maxCount <= 0) return MAX_SCORE;
  return MAX_SCORE - Math.floor((count * MAX_SCORE) / maxCount);
}
