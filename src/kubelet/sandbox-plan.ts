// What a pod's network sandbox is, as data: the namespace and veth names, the
// `ip` commands that build it, and the files its containers see as
// /etc/resolv.conf and /etc/hosts. Pure; sandbox.ts carries it out.
import { ipFamily, isIp } from '../core/cidr.ts';
import type { KubeletPod } from './pod-spec.ts';
import { podHostname } from './pod-spec.ts';
import { checkIfName, checkNetnsName, hostVethName, podNetnsName, checkUid } from './names.ts';
import { DEFAULT_NAMESPACE } from '../core/well-known.ts';

export interface SandboxConfig {
  /** "ml-" by default, "ml-<lab>-" in the lab. */
  netnsPrefix: string;
  /** The node bridge holding the subnet's gateway address (mlbr0). */
  bridge: string;
  /** The overlay MTU, given to both veth ends. */
  mtu: number;
  /** The cluster DNS service IP written as the pods' nameserver. */
  dnsIp: string;
  clusterDomain: string;
  /**
   * The node's network namespace when the caller does not already run in it
   * (tests, a host-side supervisor): host-side commands then run as `ip -n <nodeNetns>`.
   * Undefined: the caller runs inside the node's namespace (the agent under `ip netns exec`).
   */
  nodeNetns?: string;
  /**
   * Where `ip netns exec` looks for per-namespace /etc files (/etc/netns): the
   * pod's resolv.conf and hosts are also written under <etcNetnsDir>/<netns>/,
   * so tools entering the pod's namespace see what the pod sees. Default /etc/netns.
   */
  etcNetnsDir?: string;
}

export interface PodNetwork {
  ip: string;
  prefixLength: number;
  gateway: string;
}

/** One `ip` command; netns set: run as `ip -n <netns> …`. */
export interface IpCommand {
  netns?: string;
  args: string[];
}

export interface SandboxPlan {
  netns: string;
  hostVeth: string;
  /** Pod-side interface name. */
  podIf: 'eth0';
  /** In order: create the namespace, the veth pair, wire the host side, configure the pod side. */
  commands: IpCommand[];
  hostname: string;
  resolvConf: string;
  hosts: string;
}

function checkAddress(ip: string, what: string): string {
  if (!isIp(ip)) throw new Error(`invalid ${what} ${JSON.stringify(ip)}`);
  return ip;
}

/** /etc/resolv.conf for a pod of `namespace` (dnsPolicy ClusterFirst). */
export function resolvConf(namespace: string, dnsIp: string, clusterDomain: string): string {
  const d = clusterDomain.replace(/\.$/, '');
  return [
    `search ${namespace}.svc.${d} svc.${d} ${d}`,
    `nameserver ${checkAddress(dnsIp, 'DNS address')}`,
    'options ndots:5',
    '',
  ].join('\n');
}

/** /etc/hosts as the kubelet writes it: localhost entries, then the pod IP with its (fully qualified, with a subdomain) hostname. */
export function hostsFile(pod: KubeletPod, podIp: string, clusterDomain: string): string {
  const hostname = podHostname(pod);
  const ns = pod.metadata.namespace ?? DEFAULT_NAMESPACE;
  const sub = pod.spec?.subdomain;
  const names = sub ? `${hostname}.${sub}.${ns}.svc.${clusterDomain.replace(/\.$/, '')}\t${hostname}` : hostname;
  return [
    '# Kubernetes-managed hosts file (meshlet).',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'fe00::0\tip6-mcastprefix',
    'fe00::1\tip6-allnodes',
    'fe00::2\tip6-allrouters',
    `${checkAddress(podIp, 'pod IP')}\t${names}`,
    '',
  ].join('\n');
}

export function sandboxNames(uid: string, netnsPrefix: string): { netns: string; hostVeth: string } {
  checkUid(uid);
  return { netns: podNetnsName(netnsPrefix, uid), hostVeth: hostVethName(uid) };
}

export function sandboxPlan(pod: KubeletPod, cfg: SandboxConfig, net: PodNetwork): SandboxPlan {
  const uid = pod.metadata.uid;
  if (!uid) throw new Error('pod has no uid');
  const { netns, hostVeth } = sandboxNames(uid, cfg.netnsPrefix);
  const bridge = checkIfName(cfg.bridge);
  const node = cfg.nodeNetns === undefined ? undefined : checkNetnsName(cfg.nodeNetns);
  const ip = checkAddress(net.ip, 'pod IP');
  const gw = checkAddress(net.gateway, 'gateway');
  const maxPrefix = ipFamily(ip) === 6 ? 128 : 32;
  if (!Number.isInteger(net.prefixLength) || net.prefixLength < 1 || net.prefixLength > maxPrefix) {
    throw new Error(`invalid prefix length ${net.prefixLength}`);
  }
  if (!Number.isInteger(cfg.mtu) || cfg.mtu < 576 || cfg.mtu > 65535) throw new Error(`invalid MTU ${cfg.mtu}`);
  const mtu = String(cfg.mtu);
  const commands: IpCommand[] = [
    { args: ['netns', 'add', netns] },
    { netns: node, args: ['link', 'add', hostVeth, 'mtu', mtu, 'type', 'veth', 'peer', 'name', 'eth0', 'mtu', mtu, 'netns', netns] },
    { netns: node, args: ['link', 'set', hostVeth, 'master', bridge] },
    // Hairpin: a pod reaching itself through a Service comes back out of its own bridge port (DNAT happens
    // in the bridge's netfilter path), which the bridge refuses without this (kubenet sets it too).
    { netns: node, args: ['link', 'set', 'dev', hostVeth, 'type', 'bridge_slave', 'hairpin', 'on'] },
    { netns: node, args: ['link', 'set', hostVeth, 'up'] },
    { netns, args: ['link', 'set', 'lo', 'up'] },
    { netns, args: ['addr', 'add', `${ip}/${net.prefixLength}`, 'dev', 'eth0'] },
    { netns, args: ['link', 'set', 'eth0', 'up'] },
    { netns, args: ['route', 'add', 'default', 'via', gw, 'dev', 'eth0'] },
  ];
  return {
    netns,
    hostVeth,
    podIf: 'eth0',
    commands,
    hostname: podHostname(pod),
    resolvConf: resolvConf(pod.metadata.namespace ?? DEFAULT_NAMESPACE, cfg.dnsIp, cfg.clusterDomain),
    hosts: hostsFile(pod, ip, cfg.clusterDomain),
  };
}

/** Consecutive commands in the same namespace, as `ip -batch` groups. */
export function batchByNetns(commands: IpCommand[]): IpCommand[][] {
  const groups: IpCommand[][] = [];
  for (const c of commands) {
    const last = groups[groups.length - 1];
    if (last && last[0].netns === c.netns) last.push(c);
    else groups.push([c]);
  }
  return groups;
}
