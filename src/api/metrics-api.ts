// metrics.k8s.io/v1beta1 served by the API server itself (where upstream has
// metrics-server behind the aggregation layer): GET and LIST of NodeMetrics
// (`nodes`) and PodMetrics (`pods`, per namespace or across all), with
// labelSelector and fieldSelector (metadata.name, metadata.namespace). The
// Nodes and pods come from the store, the figures from the kubelets
// (metrics-api-scraper.ts), the merge from metrics-api-model.ts. Nothing is
// stored. Replies are JSON (kubectl top and the HPA controller read JSON;
// see docs/DECISIONS.md on protobuf and OpenAPI for these kinds).
import { KubeError } from '../core/errors.ts';
import { METRICS_API_VERSION, type NodeMetrics, type PodMetrics } from '../core/metrics-resources.ts';
import type { ResourceInfo } from '../core/resources.ts';
import type { KubeObject } from '../core/types.ts';
import type { Store } from '../store/types.ts';
import { metricsNotFound, nodeMetricsOf, nodeNameOfPod, nodesHosting, parseMetricsSelection, podMetricsOf, selects } from './metrics-api-model.ts';
import type { UsageScraper } from './metrics-api-scraper.ts';

export interface MetricsRoute {
  type: 'resourceMetrics';
  info: ResourceInfo;
  gr: string;
  namespace?: string;
  name?: string;
  verb: 'get' | 'list';
}

export interface MetricsDeps {
  store: Store;
  scraper: UsageScraper;
  now?: () => Date;
}

type MetricsItem = NodeMetrics | PodMetrics;

function list(info: ResourceInfo, items: MetricsItem[]): Record<string, unknown> {
  // As in every list, items go without kind and apiVersion.
  return { kind: info.listKind, apiVersion: METRICS_API_VERSION, metadata: {}, items: items.map(({ kind: _k, apiVersion: _a, ...rest }) => rest) };
}

/** The reply body of a metrics.k8s.io request. Throws KubeError (NotFound, BadRequest). */
export async function serveMetrics(deps: MetricsDeps, r: MetricsRoute, query: URLSearchParams): Promise<unknown> {
  const now = (deps.now ?? (() => new Date()))();
  const sel = parseMetricsSelection(query);
  if (r.info.resource === 'nodes') {
    const nodes = r.name !== undefined ? [await deps.store.get('nodes', '', r.name)].filter((n): n is KubeObject => n !== undefined) : (await deps.store.list('nodes')).items;
    const chosen = nodes.filter((n) => selects(sel, n));
    const summaries = await deps.scraper.summaries(chosen);
    const items = chosen
      .filter((n) => summaries.has(n.metadata.name ?? ''))
      .map((n) => nodeMetricsOf(n, summaries.get(n.metadata.name ?? '')!.node, now))
      .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
    if (r.name === undefined) return list(r.info, items);
    if (items.length === 0) throw metricsNotFound('nodes', r.name);
    return items[0];
  }
  if (r.info.resource !== 'pods') throw new KubeError('NotFound', 'the server could not find the requested resource');
  let pods: KubeObject[];
  if (r.name !== undefined) {
    const pod = await deps.store.get('pods', r.namespace ?? '', r.name);
    pods = pod ? [pod] : [];
  } else pods = (await deps.store.list('pods', r.namespace)).items;
  const chosen = pods.filter((p) => selects(sel, p) && nodeNameOfPod(p) !== undefined);
  const wanted = new Set(nodesHosting(chosen));
  const nodes =
    wanted.size === 1
      ? [await deps.store.get('nodes', '', [...wanted][0])].filter((n): n is KubeObject => n !== undefined)
      : wanted.size === 0
        ? []
        : (await deps.store.list('nodes')).items.filter((n) => wanted.has(n.metadata.name ?? ''));
  const items = podMetricsOf(chosen, await deps.scraper.summaries(nodes), now);
  if (r.name === undefined) return list(r.info, items);
  if (items.length === 0) throw metricsNotFound('pods', r.name, r.namespace);
  return items[0];
}
