// What a kubelet measures of its pods and its node, and how the API server asks
// for it: the contract between the kubelet's usage sampler (src/kubelet) and the
// API server's metrics.k8s.io/v1beta1 (src/api), as metrics-server's scrape of
// the kubelet's resource metrics is upstream. The kubelet serves it as JSON at
// KUBELET_USAGE_PATH on its endpoint (src/agent/kubelet-server.ts), behind the
// same node-token authentication as logs.
//
// CPU is a rate over the sampler's last window (nanocores: 1e9 = one core),
// memory the working set (usage minus inactive file pages, as cAdvisor and the
// kubelet report it), both read from the pod's cgroups.

/** GET <kubelet endpoint><KUBELET_USAGE_PATH> → UsageSummary. */
export const KUBELET_USAGE_PATH = '/stats/usage';

export interface UsageSample {
  /** When the figures were read (RFC 3339). */
  timestamp: string;
  /** The length of the window the CPU rate covers, in seconds. */
  windowSeconds: number;
  /** CPU use over the window, in nanocores. */
  cpuNanoCores: number;
  /** Memory working set, in bytes. */
  memoryWorkingSetBytes: number;
}

export interface ContainerUsage extends UsageSample {
  name: string;
}

export interface PodUsage extends UsageSample {
  namespace: string;
  name: string;
  uid: string;
  containers: ContainerUsage[];
}

export interface NodeUsage extends UsageSample {
  nodeName: string;
}

export interface UsageSummary {
  node: NodeUsage;
  pods: PodUsage[];
}
