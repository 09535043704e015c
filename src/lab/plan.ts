// The lab as data: names, namespaces, addresses, paths and the `ip` batches
// that build it, all computed from (name, node count, state dir). Pure.
import { join } from 'node:path';
import { isDns1123Label } from '../core/names.ts';
import { ADMIN_GROUP, NODES_GROUP, NODE_USER_PREFIX } from '../core/well-known.ts';

export const DEFAULT_LAB_NAME = 'meshlet';
export const DEFAULT_LAB_ROOT = '/var/lib/meshlet/labs';
export const MAX_NODES = 16;
export const UNDERLAY_PREFIX = '172.31.0';
export const UNDERLAY_PREFIX_LEN = 24;
export const BRIDGE = 'br0';
export const NODE_IFACE = 'eth0';
/**
 * The API server's address on the underlay (on br0 in the underlay namespace): the server binds
 * it there (--netns-listen) and advertises it as default/kubernetes' endpoint, so pods reach
 * the API server through the Service (their node routes it out on the underlay, masqueraded).
 */
export const API_UNDERLAY_IP = `${UNDERLAY_PREFIX}.2`;
export const API_UNDERLAY_PORT = 6443;
/** The lab's LoadBalancer pool (--lb-pool): the top of the underlay subnet, .241–.254, reachable on-link from the underlay. */
export const LAB_LB_POOL = `${UNDERLAY_PREFIX}.240/28`;

/** A lab name is a DNS-1123 label of at most 12 characters; returns the problem, or undefined when valid. */
export function labNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'the lab name must not be empty';
  if (name.length > 12) return `the lab name "${name}" is longer than 12 characters`;
  if (!isDns1123Label(name)) {
    return `the lab name "${name}" must be lower-case letters, digits and '-', starting and ending with a letter or digit`;
  }
  return undefined;
}

export function nodeCountProblem(n: number): string | undefined {
  return Number.isInteger(n) && n >= 1 && n <= MAX_NODES ? undefined : `--nodes must be from 1 to ${MAX_NODES}`;
}

/** Every network namespace of a lab starts with exactly this (pods' will be `ml-<name>-p-…`). */
export function labNamespacePrefix(name: string): string {
  return `ml-${name}-`;
}

/** The lab's namespaces among `ip netns list` names: exact prefix match. */
export function labNamespacesIn(name: string, netnsNames: readonly string[]): string[] {
  const prefix = labNamespacePrefix(name);
  return netnsNames.filter((ns) => ns.startsWith(prefix));
}

export interface NodePlan {
  index: number;
  nodeName: string;
  netns: string;
  ip: string;
  /** The veth end in the underlay namespace, enslaved to the bridge. */
  underlayPort: string;
  dataDir: string;
  tokenFile: string;
  logFile: string;
  healthSocket: string;
  /** The agent's kubelet endpoint (container logs), published on the Node. */
  kubeletSocket: string;
}

export interface LabPlan {
  name: string;
  stateDir: string;
  underlayNetns: string;
  nodes: NodePlan[];
  /** Every namespace, underlay first. */
  namespaces: string[];
  stateFile: string;
  tokenFile: string;
  kubeconfig: string;
  apiSocket: string;
  addressFile: string;
  serverLog: string;
  serverDataDir: string;
  clusterName: string;
}

export function labStateDir(root: string, name: string): string {
  return join(root, name);
}

export function planLab(name: string, nodeCount: number, stateDir: string): LabPlan {
  const problem = labNameProblem(name) ?? nodeCountProblem(nodeCount);
  if (problem) throw new Error(problem);
  const prefix = labNamespacePrefix(name);
  const nodes: NodePlan[] = [];
  for (let i = 1; i <= nodeCount; i++) {
    const nodeName = `node-${i}`;
    const dataDir = join(stateDir, nodeName);
    nodes.push({
      index: i,
      nodeName,
      netns: `${prefix}n${i}`,
      ip: `${UNDERLAY_PREFIX}.${10 + i}`,
      underlayPort: `n${i}`,
      dataDir,
      tokenFile: join(dataDir, 'token'),
      logFile: join(stateDir, `${nodeName}.log`),
      healthSocket: join(dataDir, 'health.sock'),
      kubeletSocket: join(dataDir, 'kubelet.sock'),
    });
  }
  const underlayNetns = `${prefix}ul`;
  return {
    name,
    stateDir,
    underlayNetns,
    nodes,
    namespaces: [underlayNetns, ...nodes.map((n) => n.netns)],
    stateFile: join(stateDir, 'state.json'),
    tokenFile: join(stateDir, 'tokens.csv'),
    kubeconfig: join(stateDir, 'kubeconfig'),
    apiSocket: join(stateDir, 'api.sock'),
    addressFile: join(stateDir, 'api-address.json'),
    serverLog: join(stateDir, 'server.log'),
    serverDataDir: join(stateDir, 'server'),
    clusterName: `meshlet-${name}`,
  };
}

/** `ip -batch` lines creating the namespaces. */
export function namespaceBatch(namespaces: readonly string[]): string[] {
  return namespaces.map((ns) => `netns add ${ns}`);
}

/**
 * `ip -n <underlay> -batch` lines: the bridge, then per node a veth whose
 * node end is created straight inside the node's namespace as eth0.
 */
export function underlayBatch(plan: LabPlan): string[] {
  const lines = ['link set lo up', `link add ${BRIDGE} type bridge`, `link set ${BRIDGE} up`, `addr add ${API_UNDERLAY_IP}/${UNDERLAY_PREFIX_LEN} dev ${BRIDGE}`];
  for (const node of plan.nodes) {
    lines.push(
      `link add ${node.underlayPort} type veth peer name ${NODE_IFACE} netns ${node.netns}`,
      `link set ${node.underlayPort} master ${BRIDGE}`,
      `link set ${node.underlayPort} up`,
    );
  }
  return lines;
}

/** `ip -n <node netns> -batch` lines: loopback, the underlay address, eth0 up. */
export function nodeBatch(node: NodePlan): string[] {
  return [
    'link set lo up',
    `addr add ${node.ip}/${UNDERLAY_PREFIX_LEN} dev ${NODE_IFACE}`,
    `link set ${NODE_IFACE} up`,
  ];
}

export function labIdentities(plan: LabPlan): { user: string; uid: string; groups: string[] }[] {
  return [
    { user: 'admin', uid: 'admin', groups: [ADMIN_GROUP] },
    ...plan.nodes.map((n) => ({ user: `${NODE_USER_PREFIX}${n.nodeName}`, uid: `node-${n.nodeName}`, groups: [NODES_GROUP] })),
  ];
}

/**
 * Pod-network settings of a lab (recorded in state.json, so a restarted agent gets the same): the
 * server's node-IPAM controller cuts clusterCidr into nodeSubnetSize subnets leased for
 * subnetLeaseTtl; the agents get clusterCidr (masquerade) and vni.
 */
export interface LabNetworkOptions {
  clusterCidr?: string;
  nodeSubnetSize?: number;
  /** Seconds; short in tests that let a node's lease expire. */
  subnetLeaseTtl?: number;
  vni?: number;
  /** Upstream resolvers (IP or IP:PORT) for every node's cluster DNS (agent --dns-upstream); default: the host's resolv.conf. */
  dnsUpstreams?: string[];
}

/** The lab's redis (started by `lab up` in the state dir): the store and the subnet pool, for the server only. */
export function labRedisUrl(plan: LabPlan): string {
  return `redis+unix://${join(plan.stateDir, 'redis.sock')}`;
}

/**
 * The program that runs an agent in its node's network namespace. Not
 * `ip netns exec`: that also gives the agent a private (slave) mount
 * namespace, so the pod namespaces its kubelet creates (bind mounts under
 * /run/netns) would be invisible to the host and to a restarted agent.
 * `nsenter --net` switches the network namespace only.
 */
export const AGENT_LAUNCHER = 'nsenter';

/** The argv (after AGENT_LAUNCHER) that runs a node's agent inside its namespace, with pod networking on. No store address: agents reach only the API. */
export function agentCommand(plan: LabPlan, node: NodePlan, nodeBinary: string, meshletBin: string, net: LabNetworkOptions = {}): string[] {
  return [
    `--net=/run/netns/${node.netns}`, '--',
    nodeBinary, meshletBin, 'agent',
    '--node-name', node.nodeName,
    '--server', `unix://${plan.apiSocket}`,
    '--token-file', node.tokenFile,
    '--node-ip', node.ip,
    '--data-dir', node.dataDir,
    '--health-listen', node.healthSocket,
    '--netns-prefix', labNamespacePrefix(plan.name),
    '--underlay-dev', NODE_IFACE,
    '--kubelet-listen', node.kubeletSocket,
    // Lab nodes share the host's cgroups: each node's pod cgroups under a name holding the lab's (labs may run side by side).
    '--cgroup-parent', labCgroupParent(plan.name, node.nodeName),
    '--usage-interval', String(LAB_USAGE_INTERVAL_SECONDS),
    ...(net.clusterCidr ? ['--cluster-cidr', net.clusterCidr] : []),
    ...(net.vni !== undefined ? ['--vni', String(net.vni)] : []),
    ...(net.dnsUpstreams ?? []).flatMap((u) => ['--dns-upstream', u]),
  ];
}

/** A lab node's cgroup name (under the agent's own cgroup): the lab's name in it, as labs may run side by side. */
export function labCgroupParent(lab: string, nodeName: string): string {
  return `meshlet-${lab}-${nodeName}`;
}

/** The lab agents' usage sampling period: shorter than the kubelet's 10 s, so `kubectl top` and an HPA see a change soon. */
export const LAB_USAGE_INTERVAL_SECONDS = 2;

/**
 * How long a lab's pods tolerate a lost node (not-ready or unreachable) before
 * they are evicted and replaced: short, so node loss heals in about a minute
 * and a half (40 s grace + this), not six minutes (the server's default is 300 s).
 */
export const LAB_TOLERATION_SECONDS = 30;

/** The lab's HPA sync period: short, so an autoscaler follows the load within seconds (the server's default is 15 s). */
export const LAB_HPA_SYNC_PERIOD = '3s';

/**
 * How fast a lab notices a lost node (the server's --node-monitor-grace-period and
 * --default-*-toleration-seconds): tests that lose a node on purpose shorten both;
 * left out, the server's 40 s grace and LAB_TOLERATION_SECONDS.
 */
export interface LabNodeLossOptions {
  nodeGraceSeconds?: number;
  tolerationSeconds?: number;
}

export function labTolerationSeconds(nodeLoss: LabNodeLossOptions = {}): number {
  return nodeLoss.tolerationSeconds ?? LAB_TOLERATION_SECONDS;
}

export function serverCommand(plan: LabPlan, meshletBin: string, net: LabNetworkOptions = {}, nodeLoss: LabNodeLossOptions = {}): string[] {
  const toleration = String(labTolerationSeconds(nodeLoss));
  return [
    meshletBin, 'server',
    '--redis', labRedisUrl(plan),
    '--data-dir', plan.serverDataDir,
    '--listen', '127.0.0.1:0',
    '--socket', plan.apiSocket,
    '--token-file', plan.tokenFile,
    '--address-file', plan.addressFile,
    '--default-not-ready-toleration-seconds', toleration,
    '--default-unreachable-toleration-seconds', toleration,
    ...(nodeLoss.nodeGraceSeconds !== undefined ? ['--node-monitor-grace-period', String(nodeLoss.nodeGraceSeconds)] : []),
    '--netns-listen', `${plan.underlayNetns}=${API_UNDERLAY_IP}:${API_UNDERLAY_PORT}`,
    '--advertise-address', `${API_UNDERLAY_IP}:${API_UNDERLAY_PORT}`,
    '--lb-pool', LAB_LB_POOL,
    '--horizontal-pod-autoscaler-sync-period', LAB_HPA_SYNC_PERIOD,
    ...(net.clusterCidr ? ['--cluster-cidr', net.clusterCidr] : []),
    ...(net.nodeSubnetSize !== undefined ? ['--node-subnet-size', String(net.nodeSubnetSize)] : []),
    ...(net.subnetLeaseTtl !== undefined ? ['--subnet-lease-ttl', String(net.subnetLeaseTtl)] : []),
  ];
}

/**
 * The lab's kubeconfig (YAML-compatible JSON object): https on loopback, because
 * kubectl sends no token over plain http; the server's self-signed certificate is its own CA.
 */
export function labKubeconfig(plan: LabPlan, port: number, token: string, caPem: string): Record<string, unknown> {
  const user = `${plan.clusterName}-admin`;
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: plan.clusterName,
        cluster: { server: `https://127.0.0.1:${port}`, 'certificate-authority-data': Buffer.from(caPem).toString('base64') },
      },
    ],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: plan.clusterName, context: { cluster: plan.clusterName, user } }],
    'current-context': plan.clusterName,
  };
}

/** What `lab exec` targets: a node by name, or a pod by namespace/name. */
export type ExecTarget = { kind: 'node'; node: string } | { kind: 'pod'; namespace: string; pod: string };

export function parseExecTarget(text: string): ExecTarget | undefined {
  const parts = text.split('/');
  if (parts.length === 2 && (parts[0] === 'node' || parts[0] === 'nodes' || parts[0] === 'no') && parts[1]) {
    return { kind: 'node', node: parts[1] };
  }
  if (parts.length === 3 && (parts[0] === 'pod' || parts[0] === 'pods' || parts[0] === 'po') && parts[1] && parts[2]) {
    return { kind: 'pod', namespace: parts[1], pod: parts[2] };
  }
  if (parts.length === 2 && parts[0] && parts[1]) return { kind: 'pod', namespace: parts[0], pod: parts[1] };
  return undefined;
}
