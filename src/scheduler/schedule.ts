// One scheduling decision: filter nodes (all of them, or as kube-scheduler
// does, until enough feasible ones are found), score the feasible ones, pick
// the best; or explain why none fits. O(nodes) per pod, no allocation per
// node on the success path.

import type { PodInfo } from './pod-info.ts';
import type { NodeInfo, Snapshot } from './snapshot.ts';
import {
  filterHostPorts,
  filterNodeAffinity,
  filterNodeReady,
  filterNodeUnschedulable,
  filterResources,
  filterTaints,
  type FilterResult,
} from './filters.ts';
import {
  WEIGHTS,
  intolerablePreferNoSchedule,
  normaliseAffinity,
  normaliseSpread,
  normaliseTaints,
  preferredAffinityWeight,
  scoreBalancedAllocation,
  scoreLeastAllocated,
  spreadCount,
} from './scores.ts';
import { mixHashes } from './hash.ts';

export type ScheduleResult = { node: string } | { node: undefined; reasons: Map<string, number> };

/** The filters in order (same as FILTERS), called directly so the hot loop stays monomorphic. */
export function runFilters(pod: PodInfo, node: NodeInfo): FilterResult {
  let r = filterNodeReady(pod, node);
  if (!r.ok) return r;
  r = filterNodeUnschedulable(pod, node);
  if (!r.ok) return r;
  r = filterTaints(pod, node);
  if (!r.ok) return r;
  r = filterNodeAffinity(pod, node);
  if (!r.ok) return r;
  r = filterHostPorts(pod, node);
  if (!r.ok) return r;
  return filterResources(pod, node);
}

// Scratch buffers reused across calls (schedule() is synchronous).
let feasible = new Int32Array(1024);
let spreadRaw = new Int32Array(1024);
let affinityRaw = new Float64Array(1024);
let taintRaw = new Int32Array(1024);

function ensureCapacity(n: number): void {
  if (feasible.length >= n) return;
  const size = Math.max(n, feasible.length * 2);
  feasible = new Int32Array(size);
  spreadRaw = new Int32Array(size);
  affinityRaw = new Float64Array(size);
  taintRaw = new Int32Array(size);
}

function countReason(reasons: Map<string, number>, reason: string): void {
  reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
}

/** Why each node fails the pod, counted per reason (the first failing filter's reasons per node). */
export function filterReasons(pod: PodInfo, nodes: readonly NodeInfo[]): Map<string, number> {
  const reasons = new Map<string, number>();
  for (const node of nodes) {
    const r = runFilters(pod, node);
    if (r.ok) continue;
    countReason(reasons, r.reason);
    if (r.more) for (const m of r.more) countReason(reasons, m);
  }
  return reasons;
}

export interface ScheduleOptions {
  /**
   * kube-scheduler's percentageOfNodesToScore: stop filtering once this share
   * of the nodes (at least 100) is found feasible, and score only those; the
   * next pod starts where this one stopped. 0 or absent: kube's adaptive
   * default (50% minus 1% per 125 nodes, at least 5%). 100: every node.
   */
  percentageOfNodesToScore?: number;
}

const MIN_FEASIBLE_NODES_TO_FIND = 100;
const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5;

/** kube-scheduler's numFeasibleNodesToFind. */
export function numFeasibleNodesToFind(numAllNodes: number, percentageOfNodesToScore = 0): number {
  if (numAllNodes < MIN_FEASIBLE_NODES_TO_FIND || percentageOfNodesToScore >= 100) return numAllNodes;
  let percentage = percentageOfNodesToScore;
  if (percentage <= 0) {
    percentage = Math.max(50 - Math.trunc(numAllNodes / 125), MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND);
  }
  const numNodes = Math.trunc((numAllNodes * percentage) / 100);
  return numNodes < MIN_FEASIBLE_NODES_TO_FIND ? MIN_FEASIBLE_NODES_TO_FIND : numNodes;
}

/**
 * Picks the node for a pod. Among nodes with the same best score the winner
 * is the one with the highest hash of (pod uid, node name): deterministic,
 * yet different pods prefer different nodes.
 */
export function schedule(
  pod: PodInfo,
  snapshot: Pick<Snapshot, 'nodes' | 'ownerCounts' | 'nextStartNodeIndex'>,
  opts: ScheduleOptions = {},
): ScheduleResult {
  const nodes = snapshot.nodes;
  const n = nodes.length;
  ensureCapacity(n);
  const limit = numFeasibleNodesToFind(n, opts.percentageOfNodesToScore);
  const start = n === 0 ? 0 : snapshot.nextStartNodeIndex % n;
  const siblings = snapshot.ownerCounts(pod.ownerUid);
  let count = 0;
  let maxSpread = 0;
  let maxAffinity = 0;
  let maxTaints = 0;
  const hasOwner = siblings !== undefined;
  const hasPreferred = pod.preferredTerms.length > 0;

  let processed = 0;
  for (; processed < n && count < limit; processed++) {
    let i = start + processed;
    if (i >= n) i -= n;
    const node = nodes[i];
    if (!runFilters(pod, node).ok) continue;
    feasible[count] = i;
    if (hasOwner) {
      const s = spreadCount(siblings, node);
      spreadRaw[count] = s;
      if (s > maxSpread) maxSpread = s;
    }
    if (hasPreferred) {
      const a = preferredAffinityWeight(pod, node);
      affinityRaw[count] = a;
      if (a > maxAffinity) maxAffinity = a;
    }
    const t = intolerablePreferNoSchedule(pod, node);
    taintRaw[count] = t;
    if (t > maxTaints) maxTaints = t;
    count++;
  }

  snapshot.nextStartNodeIndex = n === 0 ? 0 : (start + processed) % n;
  if (count === 0) return { node: undefined, reasons: filterReasons(pod, nodes) };

  let best = -1;
  let bestScore = -Infinity;
  let bestTie = -1;
  for (let k = 0; k < count; k++) {
    const node = nodes[feasible[k]];
    let score =
      WEIGHTS.leastAllocated * scoreLeastAllocated(pod, node) +
      WEIGHTS.balancedAllocation * scoreBalancedAllocation(pod, node) +
      WEIGHTS.taintToleration * normaliseTaints(taintRaw[k], maxTaints);
    if (hasOwner) score += WEIGHTS.spread * normaliseSpread(spreadRaw[k], maxSpread);
    if (hasPreferred) score += WEIGHTS.nodeAffinity * normaliseAffinity(affinityRaw[k], maxAffinity);
    if (score < bestScore) continue;
    const tie = mixHashes(pod.hash, node.hash);
    if (score > bestScore || tie > bestTie) {
      best = k;
      bestScore = score;
      bestTie = tie;
    }
  }
  return { node: nodes[feasible[best]].name };
}

/** Schedules and assumes: the snapshot counts the pod on its node before the next decision. */
export function scheduleAndAssume(pod: PodInfo, snapshot: Snapshot, opts?: ScheduleOptions): ScheduleResult {
  const result = schedule(pod, snapshot, opts);
  if (result.node !== undefined) snapshot.assume(pod, result.node);
  return result;
}

/**
 * kube-scheduler's FitError message:
 * "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 Insufficient cpu."
 * Entries are "<count> <reason>", sorted as strings.
 */
export function unschedulableMessage(nodeCount: number, reasons: Map<string, number>): string {
  if (nodeCount === 0) return 'no nodes available to schedule pods';
  const parts = [...reasons].map(([reason, n]) => `${n} ${reason}`).sort();
  const head = `0/${nodeCount} nodes are available:`;
  return parts.length > 0 ? `${head} ${parts.join(', ')}.` : head;
}
