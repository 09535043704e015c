// metrics.k8s.io/v1beta1 as data: which Nodes and pods a request selects,
// which nodes must be scraped for it, what a kubelet's usage summary must look
// like to be believed, and the NodeMetrics / PodMetrics it gives once merged
// with the API's own objects. Pure; metrics-api-scraper.ts fetches the
// summaries, metrics-api.ts serves the result.
//
// Trust: a kubelet speaks only for itself. Its summary counts only if it names
// the node scraped, and a pod's figures count only from the summary of the
// node the pod is bound to, matched by uid (so a pod the API no longer has, or
// one recreated under the same name, never inherits figures).
import { KubeError } from '../core/errors.ts';
import { METRICS_API_VERSION, type ContainerMetrics, type NodeMetrics, type PodMetrics, type ResourceUsage } from '../core/metrics-resources.ts';
import { bytesQuantity, nanoCoresQuantity } from '../core/quantity-format.ts';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector, type FieldRequirement, type Requirement } from '../core/selectors.ts';
import { goDuration, kubeTime } from '../core/time.ts';
import type { KubeObject } from '../core/types.ts';
import type { ContainerUsage, NodeUsage, PodUsage, UsageSample, UsageSummary } from '../core/usage-summary.ts';

/** The field selectors the metrics kinds take (as metrics-server does). */
export const METRICS_FIELD_SELECTORS: readonly string[] = ['metadata.name', 'metadata.namespace'];

export interface MetricsSelection {
  labels: Requirement[];
  fields: FieldRequirement[];
}

/** labelSelector and fieldSelector of a request. Throws KubeError(BadRequest). */
export function parseMetricsSelection(query: URLSearchParams): MetricsSelection {
  return {
    labels: parseLabelSelector(query.get('labelSelector') ?? ''),
    fields: parseFieldSelector(query.get('fieldSelector') ?? '', METRICS_FIELD_SELECTORS),
  };
}

function fieldValue(obj: KubeObject, field: string): string {
  return field === 'metadata.name' ? obj.metadata.name ?? '' : obj.metadata.namespace ?? '';
}

/** Whether a Node or Pod (the metrics object takes its name, namespace and labels) is selected. */
export function selects(sel: MetricsSelection, obj: KubeObject): boolean {
  return matchesLabels(sel.labels, obj.metadata.labels) && matchesFields(sel.fields, obj, fieldValue);
}

/** A Node whose Ready condition is True: the only ones scraped (NotReady and Unknown are left out, as metrics-server leaves out failed scrapes). */
export function isNodeReady(node: KubeObject): boolean {
  const conditions = (node.status as { conditions?: { type?: string; status?: string }[] } | undefined)?.conditions ?? [];
  return conditions.some((c) => c.type === 'Ready' && c.status === 'True');
}

export function nodeNameOfPod(pod: KubeObject): string | undefined {
  return (pod.spec as { nodeName?: string } | undefined)?.nodeName || undefined;
}

/** The nodes to scrape for these pods: the ones they are bound to, sorted. */
export function nodesHosting(pods: readonly KubeObject[]): string[] {
  return [...new Set(pods.map(nodeNameOfPod).filter((n): n is string => n !== undefined))].sort();
}

// ------------------------------------------------------------ the kubelet's summary, checked

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkSample(v: unknown, where: string): UsageSample {
  if (!isRecord(v)) throw new Error(`${where}: not an object`);
  const { timestamp, windowSeconds, cpuNanoCores, memoryWorkingSetBytes } = v;
  if (typeof timestamp !== 'string' || Number.isNaN(Date.parse(timestamp))) throw new Error(`${where}: timestamp is not an RFC 3339 time`);
  for (const [name, n] of [['windowSeconds', windowSeconds], ['cpuNanoCores', cpuNanoCores], ['memoryWorkingSetBytes', memoryWorkingSetBytes]] as const) {
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new Error(`${where}: ${name} is not a non-negative number`);
  }
  return { timestamp, windowSeconds: windowSeconds as number, cpuNanoCores: cpuNanoCores as number, memoryWorkingSetBytes: memoryWorkingSetBytes as number };
}

function checkName(v: unknown, what: string, where: string): string {
  if (typeof v !== 'string' || v === '') throw new Error(`${where}: ${what} is missing`);
  return v;
}

/** A kubelet's answer at KUBELET_USAGE_PATH as a UsageSummary, if it is one and names nodeName. Throws an Error saying what is wrong. */
export function parseUsageSummary(raw: unknown, nodeName: string): UsageSummary {
  if (!isRecord(raw)) throw new Error('the usage summary is not an object');
  const nodeRaw = raw.node;
  const node: NodeUsage = { ...checkSample(nodeRaw, 'node'), nodeName: checkName(isRecord(nodeRaw) ? nodeRaw.nodeName : undefined, 'nodeName', 'node') };
  if (node.nodeName !== nodeName) throw new Error(`the usage summary is node "${node.nodeName}"'s, not "${nodeName}"'s`);
  if (!Array.isArray(raw.pods)) throw new Error('the usage summary has no pods list');
  const pods = raw.pods.map((p: unknown, i): PodUsage => {
    const where = `pods[${i}]`;
    const rec = isRecord(p) ? p : {};
    if (!Array.isArray(rec.containers)) throw new Error(`${where}: no containers list`);
    return {
      ...checkSample(p, where),
      namespace: checkName(rec.namespace, 'namespace', where),
      name: checkName(rec.name, 'name', where),
      uid: checkName(rec.uid, 'uid', where),
      containers: rec.containers.map((c: unknown, j): ContainerUsage => {
        const cw = `${where}.containers[${j}]`;
        return { ...checkSample(c, cw), name: checkName(isRecord(c) ? c.name : undefined, 'name', cw) };
      }),
    };
  });
  return { node, pods };
}

// ------------------------------------------------------------ metrics objects

function usageOf(s: UsageSample): ResourceUsage {
  return { cpu: nanoCoresQuantity(Math.round(s.cpuNanoCores)), memory: bytesQuantity(Math.round(s.memoryWorkingSetBytes)) };
}

function labelsOf(obj: KubeObject): Record<string, string> | undefined {
  const labels = obj.metadata.labels;
  return labels && Object.keys(labels).length > 0 ? { ...labels } : undefined;
}

/** The NodeMetrics of a Node from its own summary; `now` is the object's creationTimestamp (as metrics-server sets it). */
export function nodeMetricsOf(node: KubeObject, usage: NodeUsage, now: Date): NodeMetrics {
  const labels = labelsOf(node);
  return {
    kind: 'NodeMetrics',
    apiVersion: METRICS_API_VERSION,
    metadata: { name: node.metadata.name ?? '', creationTimestamp: kubeTime(now), ...(labels ? { labels } : {}) },
    timestamp: kubeTime(Date.parse(usage.timestamp)),
    window: goDuration(usage.windowSeconds),
    usage: usageOf(usage),
  };
}

function specContainerNames(pod: KubeObject): string[] {
  const spec = (pod.spec ?? {}) as { containers?: { name?: string }[]; initContainers?: { name?: string }[] };
  return [...(spec.containers ?? []), ...(spec.initContainers ?? [])].map((c) => c.name ?? '');
}

/**
 * The PodMetrics of the given (already selected) pods, from the summaries of
 * the nodes scraped (node name → summary). A pod is left out when its node was
 * not scraped or left out, when that node does not report its uid, or when no
 * container of its spec has figures. Containers follow the spec's order.
 * Sorted by namespace, then name.
 */
export function podMetricsOf(pods: readonly KubeObject[], summaries: ReadonlyMap<string, UsageSummary>, now: Date): PodMetrics[] {
  const byUid = new Map<string, { node: string; usage: PodUsage }>();
  for (const [node, summary] of summaries) for (const p of summary.pods) byUid.set(p.uid, { node, usage: p });
  const out: PodMetrics[] = [];
  for (const pod of pods) {
    const found = pod.metadata.uid ? byUid.get(pod.metadata.uid) : undefined;
    if (!found || found.node !== nodeNameOfPod(pod)) continue;
    const { usage } = found;
    if (usage.namespace !== pod.metadata.namespace || usage.name !== pod.metadata.name) continue;
    const reported = new Map(usage.containers.map((c) => [c.name, c]));
    const containers: ContainerMetrics[] = specContainerNames(pod)
      .filter((name) => reported.has(name))
      .map((name) => ({ name, usage: usageOf(reported.get(name)!) }));
    if (containers.length === 0) continue;
    const labels = labelsOf(pod);
    out.push({
      kind: 'PodMetrics',
      apiVersion: METRICS_API_VERSION,
      metadata: { name: pod.metadata.name ?? '', namespace: pod.metadata.namespace ?? '', creationTimestamp: kubeTime(now), ...(labels ? { labels } : {}) },
      timestamp: kubeTime(Date.parse(usage.timestamp)),
      window: goDuration(usage.windowSeconds),
      containers,
    });
  }
  const key = (m: PodMetrics): string => `${m.metadata.namespace}/${m.metadata.name}`;
  return out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** The 404 for one node's or pod's metrics, worded as metrics-server words it. */
export function metricsNotFound(resource: 'nodes' | 'pods', name: string, namespace?: string): KubeError {
  const kind = resource === 'nodes' ? 'nodemetrics' : 'podmetrics';
  const shown = namespace ? `${namespace}/${name}` : name;
  return new KubeError('NotFound', `${kind}.metrics.k8s.io "${shown}" not found`, { name, group: 'metrics.k8s.io', kind: resource });
}
