// `meshlet agent`: the node agent — Node registration and heartbeat, health
// and metrics, and (unless --no-pod-network) pod networking: the node subnet
// the server's node-IPAM controller wrote into this Node, the VXLAN overlay,
// pod IPs from that subnet, the Kubelet running the pods bound to this node,
// and the kubelet endpoint that serves container logs to the API server.
// The agent talks only to the API server, with its node token: it holds no
// store (Redis) address or credentials.
import { mkdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { isIP } from 'node:net';
import { Registry } from 'prom-client';
import { registerProcessMetrics } from '../core/process-metrics.ts';
import { createClient } from '../client/http-client.ts';
import { InformerFactory } from '../client/informer-factory.ts';
import { SLIM_TRANSFORMS, stripMetadata } from '../client/slim-objects.ts';
import { firstIPv4, hostFacts } from '../agent/host-facts.ts';
import { startHeartbeat } from '../agent/heartbeat.ts';
import { startHealthServer } from '../agent/health-server.ts';
import { startKubeletServer, type KubeletListen, type KubeletServer } from '../agent/kubelet-server.ts';
import { NodeNetwork } from '../agent/node-network.ts';
import { clusterDnsFromApi } from '../agent/cluster-dns.ts';
import { startNodeDns } from '../agent/dns-node.ts';
import { PodIps } from '../agent/pod-ips.ts';
import { DEFAULT_CLUSTER_CIDR } from '../core/cidr.ts';
import { Kubelet } from '../kubelet/kubelet.ts';
import { DEFAULT_NETNS_PREFIX, isValidNetnsPrefix } from '../kubelet/names.ts';
import { PodCgroups } from '../kubelet/cgroups.ts';
import { checkCgroupParent, defaultCgroupParent } from '../kubelet/cgroup-plan.ts';
import { DEFAULT_USAGE_INTERVAL_MS } from '../kubelet/usage.ts';
import type { Logger } from 'pino';
import { UsageError, booleanOption, parseHealthListen, integerOption, listOption, numberOption, parseHostPort, requiredString, stringOption, type RunCommand } from './args.ts';
import { parseCidr } from '../core/cidr.ts';
import { proxyConfig, startProxy } from './agent-proxy.ts';
import { policyConfig, startPolicy, type RunningPolicy } from './agent-policy.ts';
import { denialsHandler } from '../policy/denials.ts';
import { createLogger, exitOnSignals } from './runtime.ts';

/** --dns-upstream IP[:PORT], checked here so a typo is the agent's usage error, not a DNS process that will not start. */
function dnsUpstreamArg(text: string): string {
  const bare = text.replace(/^\[(.*)\]$/, '$1');
  if (isIP(bare)) return text;
  const hp = parseHostPort(text);
  if (!isIP(hp.host)) throw new UsageError(`--dns-upstream "${text}": IP or IP:PORT`);
  return text;
}

export const DEFAULT_AGENT_DATA_DIR = '/var/lib/meshlet/agent';

// parseHealthListen lives in args.ts (so `meshlet dns` need not load the agent); re-exported for old importers.
export { parseHealthListen };

/** The kubelet endpoint URL published on the Node for a listener. */
export function kubeletEndpointUrl(listen: KubeletListen): string {
  if ('socketPath' in listen) return `unix://${resolve(listen.socketPath)}`;
  return `http://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`;
}

export interface PodNetworkConfig {
  clusterCidr: string;
  vni: number;
  underlayDev?: string;
  /** Unset: read from the kube-dns Service (clusterDnsFromApi). */
  clusterDns?: string;
  netnsPrefix: string;
  kubeletListen: KubeletListen;
}

/** The agent's pod-network settings; undefined with --no-pod-network. */
export function podNetworkConfig(cmd: RunCommand, dataDir: string, nodeIP: string): PodNetworkConfig | undefined {
  if (booleanOption(cmd.options, 'no-pod-network')) return undefined;
  const clusterCidr = stringOption(cmd.options, 'cluster-cidr') ?? DEFAULT_CLUSTER_CIDR;
  try {
    parseCidr(clusterCidr);
  } catch (err) {
    throw new UsageError(`--cluster-cidr: ${(err as Error).message}`);
  }
  const netnsPrefix = stringOption(cmd.options, 'netns-prefix') ?? DEFAULT_NETNS_PREFIX;
  if (!isValidNetnsPrefix(netnsPrefix)) throw new UsageError(`--netns-prefix "${netnsPrefix}": lower-case letters, digits and '-', ending in '-'`);
  const listenText = stringOption(cmd.options, 'kubelet-listen');
  let kubeletListen: KubeletListen;
  if (!listenText) kubeletListen = { socketPath: join(dataDir, 'kubelet.sock') };
  else if (listenText.startsWith('unix://') || listenText.includes('/')) {
    const p = listenText.replace(/^unix:\/\//, '');
    kubeletListen = { socketPath: isAbsolute(p) ? p : resolve(p) };
  } else {
    const hp = parseHostPort(listenText);
    kubeletListen = { host: listenText.startsWith(':') ? nodeIP : hp.host, port: hp.port };
  }
  return {
    clusterCidr,
    vni: integerOption(cmd.options, 'vni', 1, 0xffffff, 1),
    ...(stringOption(cmd.options, 'underlay-dev') ? { underlayDev: stringOption(cmd.options, 'underlay-dev') } : {}),
    clusterDns: stringOption(cmd.options, 'cluster-dns'),
    netnsPrefix,
    kubeletListen,
  };
}

/**
 * The pod cgroups (src/kubelet/cgroups.ts) unless --no-cgroups. A host where they
 * cannot be made (no cgroup hierarchy, v2 without cpu/memory delegated) runs pods
 * without them and says why: no limits, no OOMKilled, no usage figures.
 */
async function openPodCgroups(cmd: RunCommand, nodeName: string, dataDir: string, logger: Logger): Promise<PodCgroups | undefined> {
  if (booleanOption(cmd.options, 'no-cgroups')) return undefined;
  const parentText = stringOption(cmd.options, 'cgroup-parent');
  let parent: string;
  try {
    parent = parentText !== undefined ? checkCgroupParent(parentText) : defaultCgroupParent(nodeName);
  } catch (err) {
    throw new UsageError(`--cgroup-parent: ${(err as Error).message}`);
  }
  try {
    return await PodCgroups.open({ parent, logger, recordDir: dataDir });
  } catch (err) {
    logger.error({ err }, 'pod cgroups unavailable: pods run without limits or usage figures');
    return undefined;
  }
}

export async function runAgent(cmd: RunCommand): Promise<number | undefined> {
  const nodeName = requiredString(cmd.options, 'node-name');
  const server = requiredString(cmd.options, 'server');
  const tokenFile = stringOption(cmd.options, 'token-file');
  let token = stringOption(cmd.options, 'token');
  if (tokenFile && token) throw new UsageError('give --token-file or --token, not both');
  if (tokenFile) token = readFileSync(tokenFile, 'utf8').trim();
  if (!token) throw new UsageError('--token-file or --token is required');
  const nodeIP = stringOption(cmd.options, 'node-ip') ?? firstIPv4();
  if (!nodeIP) throw new UsageError('no IPv4 address found: give --node-ip');
  const dataDir = resolve(stringOption(cmd.options, 'data-dir') ?? DEFAULT_AGENT_DATA_DIR);
  mkdirSync(dataDir, { recursive: true });
  const healthListen = parseHealthListen(stringOption(cmd.options, 'health-listen') ?? join(dataDir, 'health.sock'));
  const net = podNetworkConfig(cmd, dataDir, nodeIP);

  const logger = createLogger('agent').child({ node: nodeName });
  const metrics = new Registry();
  registerProcessMetrics(metrics);
  const caFile = stringOption(cmd.options, 'ca-file');
  const caCert = caFile ? readFileSync(caFile, 'utf8') : undefined;
  const client = createClient({ server, token, caCert, userAgent: `meshlet-agent/${nodeName}` });

  // Stopped in reverse order. Pods are never stopped with the agent: a new agent adopts them.
  const cleanups: { what: string; fn: () => Promise<void> | void }[] = [];
  const onStop = (what: string, fn: () => Promise<void> | void): void => {
    cleanups.push({ what, fn });
  };
  const stop = async (): Promise<void> => {
    for (const { what, fn } of cleanups.reverse()) {
      const t = Date.now();
      try {
        await fn();
      } catch (err) {
        logger.warn({ err, step: what }, 'error while stopping');
      }
      logger.debug({ step: what, ms: Date.now() - t }, 'stopped');
    }
  };
  onStop('API client', () => client.close());
  // The agent's one informer cache (src/client/informer-factory.ts): one watch per kind and selector for
  // every part; slim copies except where a part asks for whole objects (the kubelet's own pods).
  const informers = new InformerFactory({ client, logger, registry: metrics, transforms: SLIM_TRANSFORMS, defaultTransform: stripMetadata });
  informers.start();
  onStop('informers', () => informers.stop());

  try {
    let heartbeat: ReturnType<typeof startHeartbeat> | undefined;
    const health = await startHealthServer(
      healthListen,
      () => {
        if (heartbeat?.healthy()) return { ok: true, message: 'ok' };
        const last = heartbeat?.lastSuccess();
        return { ok: false, message: last ? `last heartbeat at ${last.toISOString()}` : 'no heartbeat yet' };
      },
      metrics,
    );
    onStop('health server', () => health.close());
    heartbeat = startHeartbeat({ client, facts: hostFacts(nodeName, nodeIP, health.port), logger, metrics });
    onStop('heartbeat', () => heartbeat?.stop());

    if (!net) {
      logger.warn('--no-pod-network: pod networking and the kubelet are off (Node registration and heartbeat only)');
    } else {
      // The overlay reads the process's one Nodes cache (slim: pod CIDRs, annotations, addresses, readiness).
      const nodes = informers.informer('nodes');
      onStop('Nodes informer', () => nodes.stop());
      const endpoint = kubeletEndpointUrl(net.kubeletListen);
      const network = new NodeNetwork({
        client, nodes, nodeName, nodeIp: nodeIP, vni: net.vni, logger, kubeletEndpoint: endpoint, metrics,
        clusterCidrs: [net.clusterCidr],
        ...(net.underlayDev ? { underlayDev: net.underlayDev } : {}),
        onSubnetChange: (from, to) => {
          // Pods hold addresses of the old subnet: start over (the service manager restarts the agent).
          logger.error({ from, to }, 'the node subnet changed under a running agent; exiting so that it starts again with the new one');
          void stop().finally(() => process.exit(1));
        },
      });
      onStop('node network', () => network.stop());
      await network.start();
      logger.info({ subnets: network.subnets, vtepMac: network.vtepMac, mtu: network.mtu, underlay: network.underlayDev }, 'pod network ready');
      // The cluster DNS address: --cluster-dns, else the kube-dns Service's ClusterIP.
      const dnsIp = net.clusterDns ?? (await clusterDnsFromApi(client, logger));
      // The service proxy (src/proxy): its own nftables tables, fed from the shared informer cache.
      const proxyCfg = proxyConfig(cmd, net.clusterCidr, dnsIp);
      if (proxyCfg) onStop('service proxy', await startProxy({ ...proxyCfg, informers, nodeName, logger, registry: metrics }));
      // LoadBalancer addresses the server chose this node for: answered (ARP) on the underlay (src/agent/lb-announcer.ts).
      if (!booleanOption(cmd.options, 'no-lb-announcer') && !network.underlayDev) {
        logger.warn({ nodeIp: nodeIP }, 'no underlay interface holds the node IP: LoadBalancer addresses are not announced from this node');
      } else if (!booleanOption(cmd.options, 'no-lb-announcer')) {
        const { startLbAnnouncer } = await import('../agent/lb-announcer.ts');
        onStop('LoadBalancer announcer', await startLbAnnouncer({ informers, nodeName, dev: network.underlayDev, logger, registry: metrics }));
      }
      // NetworkPolicy (src/policy): table `inet meshlet-policy`, programmed before the kubelet starts pods.
      const policyCfg = policyConfig(cmd);
      let policy: RunningPolicy | undefined;
      if (policyCfg) {
        policy = await startPolicy({ ...policyCfg, informers, nodeName, localSubnets: network.subnets, logger, registry: metrics });
        onStop('network policy', () => policy?.stop());
      }

      const podIps = await PodIps.open({ dataDir, nodeName, subnets: network.subnets, holdsSubnet: () => network.holdsSubnet(), logger });
      onStop('pod IP table', () => podIps.idle());

      // Cluster DNS for this node's pods (src/agent/dns-node.ts): the detached `meshlet dns`, started or
      // adopted, on the DNS address made local here, fed from this factory. It outlives the agent.
      if (!booleanOption(cmd.options, 'no-node-dns')) {
        const upstreams = listOption(cmd.options, 'dns-upstream').flatMap((u) => ['--upstream', dnsUpstreamArg(u)]);
        const dns = await startNodeDns({
          agentDataDir: dataDir, informers, logger, metrics,
          config: { dnsIp, clusterCidrs: [net.clusterCidr], nodeIp: nodeIP, extraArgs: upstreams },
        });
        onStop('DNS feed', () => dns.stop());
        logger.info({ dnsIp, pid: dns.process.pid, adopted: dns.process.adopted }, 'cluster DNS ready');
      }

      const cgroups = await openPodCgroups(cmd, nodeName, dataDir, logger);
      const kubelet = new Kubelet({
        nodeName, nodeIp: nodeIP, dataDir, netnsPrefix: net.netnsPrefix, mtu: network.mtu, dnsIp,
        ipam: podIps.kubeletIpam(), client, informers, logger,
        ...(cgroups ? { cgroups, metrics, usageIntervalMs: numberOption(cmd.options, 'usage-interval', 0.1, 3600, DEFAULT_USAGE_INTERVAL_MS / 1000) * 1000 } : {}),
      });
      let kubeletServer: KubeletServer | undefined;
      kubeletServer = await startKubeletServer({
        listen: net.kubeletListen,
        token,
        logger,
        readLogs: (ns, pod, container, opts) => kubelet.readLogs(ns, pod, container, opts),
        streaming: { containerProcess: (ns, pod, c) => kubelet.containerProcess(ns, pod, c), podSandbox: (ns, pod) => kubelet.podSandbox(ns, pod) },
        ...(policy ? { policyDenials: denialsHandler(policy.denials) } : {}),
        ...(kubelet.usage ? { usage: () => kubelet.usageSummary() } : {}),
        metrics,
      });
      onStop('kubelet endpoint', () => kubeletServer?.close());
      await kubelet.start();
      onStop('kubelet', () => kubelet.stop());
      logger.info({ kubeletEndpoint: endpoint, netnsPrefix: net.netnsPrefix }, 'kubelet started');
    }
    logger.info({ server, nodeIP, health: healthListen }, 'agent started');
  } catch (err) {
    await stop();
    throw err;
  }
  exitOnSignals(logger, stop);
  return undefined;
}
