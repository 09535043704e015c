// The agent's Node and heartbeat Lease as data, and the decisions about when
// to write them. Pure: the host facts come in, objects and decisions go out.
import type { KubeObject } from '../core/types.ts';
import { kubeMicroTime, kubeTime } from '../core/time.ts';
import { ARCH_LABEL, BETA_ARCH_LABEL, BETA_OS_LABEL, HOSTNAME_LABEL, NODE_LEASE_NAMESPACE, OS_LABEL } from '../core/well-known.ts';

export const LEASE_DURATION_SECONDS = 40;
export const LEASE_RENEW_INTERVAL_MS = 10_000;
/** Post the Node's status at least this often even when nothing changed. */
export const NODE_STATUS_INTERVAL_MS = 40_000;
export const MAX_PODS = 110;
export const AGENT_VERSION = 'v1.32.0-meshlet';

export interface NodeFacts {
  nodeName: string;
  nodeIP: string;
  hostname: string;
  cpus: number;
  memoryBytes: number;
  kernelVersion: string;
  osImage: string;
  /** process.arch: x64, arm64, ... */
  arch: string;
  bootID: string;
  machineID: string;
  /** TCP port of the agent's health listener, 0 when it is a unix socket. */
  healthPort: number;
}

export interface NodeCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastHeartbeatTime: string;
  lastTransitionTime: string;
}


/** Node architecture as Kubernetes spells it. */
export function kubeArch(nodeArch: string): string {
  const map: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return map[nodeArch] ?? nodeArch;
}

export function nodeLabels(facts: NodeFacts): Record<string, string> {
  return {
    [HOSTNAME_LABEL]: facts.nodeName,
    [OS_LABEL]: 'linux',
    [ARCH_LABEL]: kubeArch(facts.arch),
    [BETA_OS_LABEL]: 'linux',
    [BETA_ARCH_LABEL]: kubeArch(facts.arch),
  };
}

/** The Node as first created (status is written separately through /status). */
export function buildNode(facts: NodeFacts): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: facts.nodeName, labels: nodeLabels(facts) },
    spec: {},
  };
}

function conditionsOf(node: KubeObject | undefined): NodeCondition[] {
  const status = node?.status as { conditions?: NodeCondition[] } | undefined;
  return Array.isArray(status?.conditions) ? status.conditions : [];
}

export function readyCondition(node: KubeObject | undefined): NodeCondition | undefined {
  return conditionsOf(node).find((c) => c.type === 'Ready');
}

function condition(
  type: string,
  status: NodeCondition['status'],
  reason: string,
  message: string,
  now: Date,
  previous: NodeCondition | undefined,
): NodeCondition {
  return {
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: kubeTime(now),
    lastTransitionTime: previous && previous.status === status ? previous.lastTransitionTime : kubeTime(now),
  };
}

/** The Node's status as this agent sees it now; transition times carry over from the stored Node. */
export function buildNodeStatus(facts: NodeFacts, now: Date, existing: KubeObject | undefined): Record<string, unknown> {
  const prev = new Map(conditionsOf(existing).map((c) => [c.type, c]));
  const conditions = [
    condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'meshlet agent has sufficient memory available', now, prev.get('MemoryPressure')),
    condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'meshlet agent has no disk pressure', now, prev.get('DiskPressure')),
    condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'meshlet agent has sufficient PID available', now, prev.get('PIDPressure')),
    condition('Ready', 'True', 'KubeletReady', 'meshlet agent is posting ready status', now, prev.get('Ready')),
  ];
  const resources = {
    cpu: String(facts.cpus),
    memory: `${Math.floor(facts.memoryBytes / 1024)}Ki`,
    pods: String(MAX_PODS),
    'ephemeral-storage': '0',
  };
  return {
    conditions,
    addresses: [
      { type: 'InternalIP', address: facts.nodeIP },
      { type: 'Hostname', address: facts.hostname },
    ],
    capacity: resources,
    allocatable: resources,
    daemonEndpoints: { kubeletEndpoint: { Port: facts.healthPort } },
    nodeInfo: {
      machineID: facts.machineID,
      systemUUID: facts.machineID,
      bootID: facts.bootID,
      kernelVersion: facts.kernelVersion,
      osImage: facts.osImage,
      containerRuntimeVersion: 'meshlet://0.1.0',
      kubeletVersion: AGENT_VERSION,
      kubeProxyVersion: AGENT_VERSION,
      operatingSystem: 'linux',
      architecture: kubeArch(facts.arch),
    },
  };
}

export type NodeAction = 'create' | 'update-status' | 'none';

/**
 * What the agent does on a tick, given the Node as stored (undefined: absent):
 * create it when missing; post status when Ready is not True (someone — the node
 * lifecycle controller — marked it), when our facts changed, or when the last
 * heartbeat is older than the status interval.
 */
export function nodeAction(existing: KubeObject | undefined, facts: NodeFacts, now: Date): NodeAction {
  if (!existing) return 'create';
  const ready = readyCondition(existing);
  if (!ready || ready.status !== 'True') return 'update-status';
  const beat = Date.parse(ready.lastHeartbeatTime);
  if (!Number.isFinite(beat) || now.getTime() - beat >= NODE_STATUS_INTERVAL_MS) return 'update-status';
  const status = existing.status as { addresses?: { type: string; address: string }[] } | undefined;
  const ip = status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
  if (ip !== facts.nodeIP) return 'update-status';
  return 'none';
}

/** The heartbeat Lease kube-node-lease/<node>, held by the node, renewed every 10 s. */
export function buildNodeLease(nodeName: string, now: Date, nodeUid?: string): KubeObject {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: nodeName,
      namespace: NODE_LEASE_NAMESPACE,
      ...(nodeUid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: nodeUid }] } : {}),
    },
    spec: {
      holderIdentity: nodeName,
      leaseDurationSeconds: LEASE_DURATION_SECONDS,
      renewTime: kubeMicroTime(now),
    },
  };
}

/** The merge patch that renews the Lease. */
export function leaseRenewal(nodeName: string, now: Date): Record<string, unknown> {
  return { spec: { holderIdentity: nodeName, leaseDurationSeconds: LEASE_DURATION_SECONDS, renewTime: kubeMicroTime(now) } };
}
