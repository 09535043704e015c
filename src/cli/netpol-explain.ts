// `meshlet netpol explain --from NS/POD (--to NS/POD | --to-ip IP) --port PORT[/PROTO]`:
// is that connection allowed, and why. The live cluster is read through the
// API (kubeconfig as the other commands) and judged by the same pure model
// that generates the agents' rules (src/policy/evaluate.ts).
import { createClient } from '../client/http-client.ts';
import { loadKubeconfig } from '../client/kubeconfig.ts';
import type { ApiClient } from '../client/types.ts';
import type { SlimNamespace, SlimPod } from '../client/slim-objects.ts';
import { NETWORKPOLICIES } from '../core/well-known.ts';
import { evaluate, type Endpoint } from '../policy/evaluate.ts';
import { formatExplanation, parseIpArg, parsePodArg, parsePortArg } from '../policy/explain.ts';
import { compilePolicy, namespaceView, podView, type ClusterView } from '../policy/model.ts';
import { UsageError, booleanOption, stringOption, type RunCommand } from './args.ts';
import { kubeconfigPath } from './objects.ts';

/** The cluster view the agents compute, from the API. */
export async function clusterViewFromApi(client: ApiClient): Promise<ClusterView> {
  const [namespaces, pods, policies, nodes] = await Promise.all([client.list('namespaces'), client.list('pods'), client.list(NETWORKPOLICIES), client.list('nodes')]);
  const nodeAddrs: Record<string, string[]> = {};
  for (const n of nodes.items) {
    const addrs = ((n.status as { addresses?: { type: string; address: string }[] } | undefined)?.addresses ?? []).map((a) => a.address);
    nodeAddrs[n.metadata.name ?? ''] = addrs;
  }
  return {
    namespaces: namespaces.items.map((n) => namespaceView(n as SlimNamespace)),
    pods: pods.items.map((p) => podView(p as SlimPod)),
    policies: policies.items.map((p) => compilePolicy(p)),
    nodes: nodeAddrs,
  };
}

function endpoint(cmd: RunCommand, side: 'from' | 'to'): { endpoint: Endpoint; name: string } {
  const pod = stringOption(cmd.options, side);
  const ip = stringOption(cmd.options, `${side}-ip`);
  if (pod && ip) throw new UsageError(`give --${side} or --${side}-ip, not both`);
  try {
    if (pod) {
      const p = parsePodArg(`--${side}`, pod);
      return { endpoint: { pod: `${p.namespace}/${p.name}` }, name: pod };
    }
    if (ip) return { endpoint: { ip: parseIpArg(`--${side}-ip`, ip) }, name: ip };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  throw new UsageError(`--${side} NAMESPACE/POD or --${side}-ip IP is required`);
}

export async function runNetpolExplain(cmd: RunCommand): Promise<number> {
  const from = endpoint(cmd, 'from');
  const to = endpoint(cmd, 'to');
  let port: ReturnType<typeof parsePortArg>;
  try {
    port = parsePortArg(stringOption(cmd.options, 'port') ?? '');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const client = createClient({ ...loadKubeconfig(kubeconfigPath(cmd.options)), userAgent: 'meshlet-cli' });
  try {
    const cluster = await clusterViewFromApi(client);
    for (const e of [from.endpoint, to.endpoint]) {
      if ('pod' in e && !cluster.pods.some((p) => `${p.namespace}/${p.name}` === e.pod)) throw new Error(`pod ${e.pod} not found`);
    }
    const verdict = evaluate(cluster, from.endpoint, to.endpoint, port.port, port.protocol);
    if (booleanOption(cmd.options, 'json')) process.stdout.write(`${JSON.stringify({ from: from.name, to: to.name, ...port, ...verdict }, null, 2)}\n`);
    else process.stdout.write(formatExplanation(verdict, { from: from.name, to: to.name }, port.port, port.protocol));
    return 0;
  } finally {
    client.close();
  }
}
