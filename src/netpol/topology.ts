// The upstream e2e topology as Kubernetes objects for a lab: namespaces x, y,
// z labelled ns=<name>; pods a, b, c labelled pod=<name>, spread over the
// nodes, each running `meshlet netpol serve` on 80 and 81 (TCP, UDP, SCTP
// where the kernel has it) with the named ports serve-<port>-<proto>; and,
// for ClusterIP probes, a Service s-<pod> per pod with a hand-written
// EndpointSlice (no selector, so label changes never move its endpoint). Pure.
import type { KubeObject } from '../core/types.ts';
import { SERVED_PORTS, SERVED_PROTOCOLS, TOPOLOGY_NAMESPACES, TOPOLOGY_PODS, topologyNodeIndex } from '../policy/cases.ts';

export const NETPOL_GR = 'networkpolicies.networking.k8s.io';
export const ENDPOINTSLICE_GR = 'endpointslices.discovery.k8s.io';
/** Who manages the runner's EndpointSlices (the endpoints controller leaves slices of selector-less Services alone). */
export const RUNNER_MANAGER = 'meshlet-netpol-run';

export interface TopologyPod {
  namespace: string;
  name: string;
  /** "x/a" */
  id: string;
  node: string;
}

export function topologyPods(nodes: number): TopologyPod[] {
  return TOPOLOGY_NAMESPACES.flatMap((ns) =>
    TOPOLOGY_PODS.map((name) => ({ namespace: ns, name, id: `${ns}/${name}`, node: `node-${topologyNodeIndex(ns, name, nodes) + 1}` })),
  );
}

export function namespaceLabels(ns: string): Record<string, string> {
  return { ns };
}

export function podLabels(pod: string): Record<string, string> {
  return { pod };
}

export function namespaceObject(ns: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: namespaceLabels(ns) } };
}

/** `command` runs the server: e.g. [node, bin/meshlet.js, 'netpol', 'serve']; the ports, protocols and reply are added here. */
export function podObject(p: TopologyPod, command: readonly string[]): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: p.name, namespace: p.namespace, labels: podLabels(p.name) },
    spec: {
      nodeName: p.node,
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'serve',
          image: 'meshlet',
          command: [...command, '--port', SERVED_PORTS.join(','), '--protocol', 'tcp,udp,sctp', '--reply', p.id],
          ports: SERVED_PORTS.flatMap((port) => SERVED_PROTOCOLS.map((protocol) => ({ name: servedPortName(port, protocol), containerPort: port, protocol }))),
        },
      ],
    },
  };
}

export function servedPortName(port: number, protocol: string): string {
  return `serve-${port}-${protocol.toLowerCase()}`;
}

export function serviceName(pod: string): string {
  return `s-${pod}`;
}

const servicePorts = (): { name: string; port: number; protocol: string }[] =>
  SERVED_PORTS.flatMap((port) => SERVED_PROTOCOLS.map((protocol) => ({ name: `${protocol.toLowerCase()}-${port}`, port, protocol })));

export function serviceObject(p: TopologyPod): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: serviceName(p.name), namespace: p.namespace },
    spec: { type: 'ClusterIP', ports: servicePorts().map((sp) => ({ ...sp, targetPort: sp.port })) },
  };
}

export function endpointSliceObject(p: TopologyPod, podIp: string): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${serviceName(p.name)}-pod`,
      namespace: p.namespace,
      labels: { 'kubernetes.io/service-name': serviceName(p.name), 'endpointslice.kubernetes.io/managed-by': RUNNER_MANAGER },
    },
    addressType: 'IPv4',
    endpoints: [{ addresses: [podIp], conditions: { ready: true, serving: true, terminating: false }, nodeName: p.node }],
    ports: servicePorts(),
  } as KubeObject;
}

/** A case's NetworkPolicy as the API takes it (apiVersion, kind; namespace default as kubectl's). */
export function policyObject(obj: KubeObject): KubeObject {
  return { ...obj, apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace: 'default', ...obj.metadata } };
}
