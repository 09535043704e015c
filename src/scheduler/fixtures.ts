// Builders for Node and Pod objects, shared by the scheduler's tests and benchmark.

import type { OwnerReference } from '../core/types.ts';
import type { Container, Node, NodeAffinity, Pod, Taint, Toleration } from './api-types.ts';
import { DEFAULT_NAMESPACE, HOSTNAME_LABEL } from '../core/well-known.ts';

export interface NodeFixture {
  cpu?: string;
  memory?: string;
  pods?: string | number;
  labels?: Record<string, string>;
  taints?: Taint[];
  unschedulable?: boolean;
  ready?: boolean;
}

export function makeNode(name: string, f: NodeFixture = {}): Node {
  const node: Node = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { [HOSTNAME_LABEL]: name, ...f.labels } },
    spec: {},
    status: {
      conditions: [{ type: 'Ready', status: f.ready === false ? 'False' : 'True' }],
      allocatable: { cpu: f.cpu ?? '4', memory: f.memory ?? '8Gi', pods: String(f.pods ?? 110) },
    },
  };
  if (f.taints) node.spec!.taints = f.taints;
  if (f.unschedulable) node.spec!.unschedulable = true;
  return node;
}

export interface PodFixture {
  namespace?: string;
  uid?: string;
  cpu?: string;
  memory?: string;
  nodeName?: string;
  nodeSelector?: Record<string, string>;
  affinity?: NodeAffinity;
  tolerations?: Toleration[];
  hostPorts?: { port: number; protocol?: string; hostIP?: string }[];
  owner?: string;
  initContainers?: Container[];
  phase?: string;
}

export function makePod(name: string, f: PodFixture = {}): Pod {
  const requests: Record<string, string> = {};
  if (f.cpu !== undefined) requests.cpu = f.cpu;
  if (f.memory !== undefined) requests.memory = f.memory;
  const container: Container = { name: 'app', image: 'registry.k8s.io/pause:3.9' };
  if (f.cpu !== undefined || f.memory !== undefined) container.resources = { requests };
  if (f.hostPorts) {
    container.ports = f.hostPorts.map((p) => ({ containerPort: p.port, hostPort: p.port, protocol: p.protocol, hostIP: p.hostIP }));
  }
  const ownerReferences: OwnerReference[] | undefined = f.owner
    ? [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: f.owner, uid: `uid-${f.owner}`, controller: true }]
    : undefined;
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: f.namespace ?? DEFAULT_NAMESPACE, uid: f.uid ?? `uid-${f.namespace ?? DEFAULT_NAMESPACE}-${name}` },
    spec: { containers: [container], schedulerName: 'default-scheduler' },
    status: { phase: f.phase ?? 'Pending' },
  };
  if (ownerReferences) pod.metadata.ownerReferences = ownerReferences;
  if (f.nodeName) pod.spec!.nodeName = f.nodeName;
  if (f.nodeSelector) pod.spec!.nodeSelector = f.nodeSelector;
  if (f.affinity) pod.spec!.affinity = { nodeAffinity: f.affinity };
  if (f.tolerations) pod.spec!.tolerations = f.tolerations;
  if (f.initContainers) pod.spec!.initContainers = f.initContainers;
  return pod;
}
