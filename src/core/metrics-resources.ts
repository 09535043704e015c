// metrics.k8s.io/v1beta1, the resource metrics API (upstream's
// kubernetes/metrics pkg/apis/metrics/v1beta1, served by metrics-server there):
// NodeMetrics and PodMetrics. They are computed on request from the kubelets'
// usage summaries (src/core/usage-summary.ts), never stored, and read-only
// (get, list). So they are kept out of RESOURCES (src/core/resources.ts), whose
// kinds are stored and have every verb (the garbage collector and the namespace
// controller walk it); discovery, routing and the client read this table too.
import { groupResource, type ResourceInfo } from './resources.ts';

export const METRICS_GROUP = 'metrics.k8s.io';
export const METRICS_VERSION = 'v1beta1';
export const METRICS_API_VERSION = `${METRICS_GROUP}/${METRICS_VERSION}`;
export const METRICS_VERBS: readonly string[] = ['get', 'list'];

function metricsInfo(resource: string, kind: string, namespaced: boolean): ResourceInfo {
  return {
    group: METRICS_GROUP,
    version: METRICS_VERSION,
    resource,
    singular: '',
    kind,
    listKind: `${kind}List`,
    namespaced,
    shortNames: [],
    subresources: [],
    categories: [],
    verbs: METRICS_VERBS,
  };
}

export const NODE_METRICS_INFO = metricsInfo('nodes', 'NodeMetrics', false);
export const POD_METRICS_INFO = metricsInfo('pods', 'PodMetrics', true);
export const METRICS_RESOURCES: readonly ResourceInfo[] = [NODE_METRICS_INFO, POD_METRICS_INFO];

const byGroupResource = new Map(METRICS_RESOURCES.map((info) => [groupResource(info), info]));

/** "nodes.metrics.k8s.io", "pods.metrics.k8s.io" → their info. */
export function metricsResourceByGroupResource(gr: string): ResourceInfo | undefined {
  return byGroupResource.get(gr);
}

export function metricsResourceFor(group: string, version: string, resource: string): ResourceInfo | undefined {
  if (group !== METRICS_GROUP || version !== METRICS_VERSION) return undefined;
  return byGroupResource.get(`${resource}.${group}`);
}

/** CPU and memory as quantities ("329087452n", "2748180Ki"). */
export interface ResourceUsage {
  cpu: string;
  memory: string;
}

export interface MetricsMeta {
  name: string;
  namespace?: string;
  creationTimestamp: string;
  labels?: Record<string, string>;
}

export interface NodeMetrics {
  kind?: 'NodeMetrics';
  apiVersion?: typeof METRICS_API_VERSION;
  metadata: MetricsMeta;
  /** When the figures were read (metav1.Time). */
  timestamp: string;
  /** The window the CPU rate covers (metav1.Duration, "10.062s"). */
  window: string;
  usage: ResourceUsage;
}

export interface ContainerMetrics {
  name: string;
  usage: ResourceUsage;
}

export interface PodMetrics {
  kind?: 'PodMetrics';
  apiVersion?: typeof METRICS_API_VERSION;
  metadata: MetricsMeta;
  timestamp: string;
  window: string;
  containers: ContainerMetrics[];
}
