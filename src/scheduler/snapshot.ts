// The scheduler's view of the cluster: every node with what is already
// requested on it. Kept up to date incrementally — a node or pod event, or
// an assumed placement, touches only the one node concerned.

import type { Node, Pod, ResourceList, Taint } from './api-types.ts';
import { intValue, milliValue } from '../core/quantity.ts';
import { hashString } from './hash.ts';
import { podInfoOf, podKey, type HostPort, type PodInfo, type Requests } from './pod-info.ts';

export interface Allocatable {
  /** Infinity when the node does not report the resource. */
  milliCpu: number;
  memory: number;
  pods: number;
}

export interface NodeInfo {
  name: string;
  labels: Record<string, string>;
  taints: Taint[];
  /** Has PreferNoSchedule taints (scoring looks only then). */
  hasPreferNoSchedule: boolean;
  unschedulable: boolean;
  ready: boolean;
  allocatable: Allocatable;
  /** Sum of the requests of the pods bound (or assumed) here. */
  requested: Requests & { pods: number };
  /** Same with kube-scheduler's per-container defaults; for scoring. */
  nonZeroRequested: Requests;
  hostPorts: HostPort[];
  /** Stable small integer per node name, the index into OwnerCounts. */
  slot: number;
  hash: number;
}

/** Pods of one controller owner per node slot. */
export interface OwnerCounts {
  perSlot: number[];
  total: number;
}

/** A pod counted on a node. */
export interface PlacedPod {
  key: string;
  node: string;
  requests: Requests;
  nonZero: Requests;
  hostPorts: HostPort[];
  ownerUid?: string;
  /** Placed by this scheduler, not yet seen bound through the API. */
  assumed: boolean;
}

/** A resource the node does not report is unlimited; one it reports unreadably is zero. */
function allocatableAmount(list: ResourceList | undefined, name: string, parse: (q: string) => number): number {
  const v = list?.[name];
  if (v === undefined) return Infinity;
  try {
    return parse(String(v));
  } catch {
    return 0;
  }
}

/** The node's static part (everything but what pods request). */
export function nodeInfoOf(node: Node, slot = 0): NodeInfo {
  const alloc = node.status?.allocatable ?? node.status?.capacity;
  const taints = node.spec?.taints ?? [];
  const name = node.metadata.name ?? '';
  return {
    name,
    labels: node.metadata.labels ?? {},
    taints,
    hasPreferNoSchedule: taints.some((t) => t.effect === 'PreferNoSchedule'),
    unschedulable: node.spec?.unschedulable === true,
    ready: node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    allocatable: {
      milliCpu: allocatableAmount(alloc, 'cpu', milliValue),
      memory: allocatableAmount(alloc, 'memory', intValue),
      pods: allocatableAmount(alloc, 'pods', intValue),
    },
    requested: { milliCpu: 0, memory: 0, pods: 0 },
    nonZeroRequested: { milliCpu: 0, memory: 0 },
    hostPorts: [],
    slot,
    hash: hashString(name),
  };
}

/** Pods that hold resources on their node: bound and not finished. */
export function holdsResources(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return !!pod.spec?.nodeName && phase !== 'Succeeded' && phase !== 'Failed';
}

function placedPodOf(info: PodInfo, node: string, assumed: boolean): PlacedPod {
  return {
    key: info.key,
    node,
    requests: info.requests,
    nonZero: info.nonZero,
    hostPorts: info.hostPorts,
    ownerUid: info.ownerUid,
    assumed,
  };
}

function account(node: NodeInfo, pod: PlacedPod, sign: 1 | -1): void {
  node.requested.milliCpu += sign * pod.requests.milliCpu;
  node.requested.memory += sign * pod.requests.memory;
  node.requested.pods += sign;
  node.nonZeroRequested.milliCpu += sign * pod.nonZero.milliCpu;
  node.nonZeroRequested.memory += sign * pod.nonZero.memory;
  if (sign === 1) {
    for (const p of pod.hostPorts) node.hostPorts.push(p);
  } else if (pod.hostPorts.length > 0) {
    node.hostPorts = node.hostPorts.filter((p) => !pod.hostPorts.includes(p));
  }
}

export class Snapshot {
  /** In insertion order; the order filters and scores walk. */
  readonly nodes: NodeInfo[] = [];
  /** Where the next decision starts walking the nodes (kube-scheduler's nextStartNodeIndex). */
  nextStartNodeIndex = 0;
  private readonly indexByName = new Map<string, number>();
  /** Slots are never reused, so owner counts of pods on a vanished node stay with its name. */
  private readonly slotByName = new Map<string, number>();
  private readonly owners = new Map<string, OwnerCounts>();
  private readonly pods = new Map<string, PlacedPod>();
  private readonly podsByNode = new Map<string, Set<string>>();

  static of(nodes: Node[], pods: Pod[] = []): Snapshot {
    const s = new Snapshot();
    for (const n of nodes) s.setNode(n);
    for (const p of pods) s.setPod(p);
    return s;
  }

  node(name: string): NodeInfo | undefined {
    const i = this.indexByName.get(name);
    return i === undefined ? undefined : this.nodes[i];
  }

  placed(key: string): PlacedPod | undefined {
    return this.pods.get(key);
  }

  get podCount(): number {
    return this.pods.size;
  }

  /** Adds or updates a node; the pods already counted on it stay counted. */
  setNode(node: Node): void {
    const name = node.metadata.name ?? '';
    const info = nodeInfoOf(node, this.slotOf(name));
    for (const key of this.podsByNode.get(info.name) ?? []) account(info, this.pods.get(key)!, 1);
    const i = this.indexByName.get(info.name);
    if (i === undefined) {
      this.indexByName.set(info.name, this.nodes.length);
      this.nodes.push(info);
    } else {
      this.nodes[i] = info;
    }
  }

  private slotOf(name: string): number {
    let slot = this.slotByName.get(name);
    if (slot === undefined) this.slotByName.set(name, (slot = this.slotByName.size));
    return slot;
  }

  /** Pods of this controller owner per node slot; undefined when it has none placed. */
  ownerCounts(ownerUid: string | undefined): OwnerCounts | undefined {
    return ownerUid === undefined ? undefined : this.owners.get(ownerUid);
  }

  /** Pods of this controller owner on the node. */
  ownerCountOn(ownerUid: string, nodeName: string): number {
    const slot = this.slotByName.get(nodeName);
    return slot === undefined ? 0 : (this.owners.get(ownerUid)?.perSlot[slot] ?? 0);
  }

  private countOwner(pod: PlacedPod, sign: 1 | -1): void {
    if (pod.ownerUid === undefined) return;
    let counts = this.owners.get(pod.ownerUid);
    if (!counts) this.owners.set(pod.ownerUid, (counts = { perSlot: [], total: 0 }));
    const slot = this.slotOf(pod.node);
    while (counts.perSlot.length <= slot) counts.perSlot.push(0);
    counts.perSlot[slot] += sign;
    counts.total += sign;
    if (counts.total === 0) this.owners.delete(pod.ownerUid);
  }

  removeNode(name: string): void {
    const i = this.indexByName.get(name);
    if (i === undefined) return;
    this.nodes.splice(i, 1);
    this.indexByName.delete(name);
    for (let j = i; j < this.nodes.length; j++) this.indexByName.set(this.nodes[j].name, j);
  }

  /**
   * Takes in a pod as the API shows it: counted on its node when bound and
   * running, dropped otherwise. Replaces an assumed placement of the same pod.
   */
  setPod(pod: Pod): void {
    const key = podKey(pod);
    if (!holdsResources(pod)) {
      // An unbound pod we assumed stays assumed until bound or forgotten.
      if (pod.spec?.nodeName || !this.pods.get(key)?.assumed) this.removePod(key);
      return;
    }
    const prev = this.pods.get(key);
    if (prev && !prev.assumed && prev.node === pod.spec!.nodeName) return; // requests of a bound pod do not change
    this.place(placedPodOf(podInfoOf(pod), pod.spec!.nodeName!, false));
  }

  removePod(key: string): void {
    const prev = this.pods.get(key);
    if (!prev) return;
    this.pods.delete(key);
    const onNode = this.podsByNode.get(prev.node);
    onNode?.delete(key);
    if (onNode?.size === 0) this.podsByNode.delete(prev.node);
    this.countOwner(prev, -1);
    const node = this.node(prev.node);
    if (node) account(node, prev, -1);
  }

  /** Counts a pod on the node chosen for it before the binding is confirmed. */
  assume(pod: PodInfo, nodeName: string): void {
    this.place(placedPodOf(pod, nodeName, true));
  }

  /** Undoes assume() (the binding failed). */
  forget(key: string): void {
    if (this.pods.get(key)?.assumed) this.removePod(key);
  }

  private place(pod: PlacedPod): void {
    this.removePod(pod.key);
    this.pods.set(pod.key, pod);
    let onNode = this.podsByNode.get(pod.node);
    if (!onNode) this.podsByNode.set(pod.node, (onNode = new Set()));
    onNode.add(pod.key);
    this.countOwner(pod, 1);
    const node = this.node(pod.node);
    if (node) account(node, pod, 1);
  }
}
