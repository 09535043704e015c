// Where the autoscaler reads pods' resource use: metrics.k8s.io/v1beta1
// PodMetrics, as upstream's controller reads the resource metrics API. Behind a
// small interface so the controller can be driven with figures given as data.
import { parseGoDuration } from '../api/protobuf/duration.ts';
import { intValue, milliValue } from '../core/quantity.ts';
import type { ApiClient } from '../client/types.ts';
import type { KubeObject } from '../core/types.ts';
import { POD_METRICS } from '../core/well-known.ts';
import type { PodUsage, ResourceName } from './hpa-algorithm.ts';


export interface PodMetricsSample {
  name: string;
  timestampMs: number;
  windowMs: number;
  /** CPU in millicores, memory in bytes, summed over the pod's containers. */
  cpuMilli: number;
  memoryBytes: number;
}

export interface PodMetricsSource {
  /** The metrics of the pods in `namespace` matching `selector` (a label selector string). */
  podMetrics(namespace: string, selector: string): Promise<PodMetricsSample[]>;
}

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : {});

/** One PodMetrics object as a sample. Pure. */
export function sampleOf(pm: KubeObject): PodMetricsSample {
  let cpuMilli = 0;
  let memoryBytes = 0;
  for (const c of Array.isArray(pm.containers) ? pm.containers : []) {
    const usage = rec(rec(c).usage);
    if (usage.cpu !== undefined) cpuMilli += milliValue(String(usage.cpu));
    if (usage.memory !== undefined) memoryBytes += intValue(String(usage.memory));
  }
  const ts = typeof pm.timestamp === 'string' ? Date.parse(pm.timestamp) : NaN;
  const window = typeof pm.window === 'string' ? parseGoDuration(pm.window) / 1e6 : 0;
  return { name: pm.metadata.name ?? '', timestampMs: Number.isNaN(ts) ? 0 : ts, windowMs: window, cpuMilli, memoryBytes };
}

/** The resource metrics API through the API client. */
export function resourceMetricsApi(client: ApiClient): PodMetricsSource {
  return {
    async podMetrics(namespace, selector) {
      const { items } = await client.list(POD_METRICS, { namespace, labelSelector: selector });
      return items.map(sampleOf);
    },
  };
}

/** Samples by resource and pod name, as the calculator reads them. Pure. */
export function usageByResource(samples: readonly PodMetricsSample[]): Map<ResourceName, Map<string, PodUsage>> {
  const cpu = new Map<string, PodUsage>();
  const memory = new Map<string, PodUsage>();
  for (const s of samples) {
    cpu.set(s.name, { timestampMs: s.timestampMs, windowMs: s.windowMs, value: s.cpuMilli });
    memory.set(s.name, { timestampMs: s.timestampMs, windowMs: s.windowMs, value: s.memoryBytes });
  }
  return new Map([
    ['cpu', cpu],
    ['memory', memory],
  ]);
}
