// The proxy's desired nftables table for one IP family, from the Service
// ports of service-ports.ts, as a base (hooks, maps, masquerade, reject) and
// one fragment per Service port (its chains, sets and map elements), so that
// the adapter diffs only the ports that changed. Pure. kube-proxy's
// nftables design (KEP-3866):
//
//   nat-prerouting / nat-output (dstnat)  → services
//   services: cluster DNS :53 returns (node-local DNS answers it), then
//             daddr . l4proto . dport vmap @service-ips → goto svc-<hash>-…
//             (externalIPs and LoadBalancer ingress → goto ext-<hash>-…), then
//             fib daddr type local: l4proto . dport vmap @service-nodeports → goto ext-…
//   ext-…:    eTP Cluster: mark for masquerade, goto svc-…; eTP Local: pods
//             goto svc-…, others (session affinity, then) a random one of
//             this node's endpoints (no mark)
//   svc-…:    off-cluster sources marked for masquerade; session affinity
//             (saddr in an endpoint's timed set → goto that endpoint); then
//             a random endpoint: numgen random mod (N-i) 0 goto ep-<hash>-…
//             per endpoint i, the last unconditional (randomChoice: no
//             anonymous set per Service; a numgen vmap above 16 endpoints)
//   ep-…:     hairpin (saddr = the endpoint) marked; affinity set updated;
//             dnat to ip:port
//   filter-prerouting-pre-dnat / filter-output-pre-dnat (-110, before DNAT)
//             daddr . l4proto . dport vmap @firewall-ips → goto fw-<hash>-…:
//             saddr outside loadBalancerSourceRanges dropped (LB ingress only)
//   nat-postrouting (srcnat) → masquerading: marked packets masqueraded
//   filter-prerouting / filter-output (just after DNAT, new connections only)
//             → reject-check: @no-endpoint-services and @no-endpoint-nodeports
//             (reject, or drop for internalTrafficPolicy Local / eTP Local
//             without a local endpoint), then
//             anything still addressed into the Service CIDR (an
//             unallocated ClusterIP or port) rejected, never routed out.
//
// Reject is done from filter chains, not from the nat ones. The prerouting
// one must see the packet before the routing decision: a node without a
// route into the Service CIDR (or with a default route out) would otherwise
// answer "network unreachable" or send it away. Reject in prerouting needs
// kernel 5.9; kube-proxy's nftables mode needs 5.13 anyway.
import type { DesiredChain, DesiredMap, DesiredSet, DesiredTable, TableId } from '../nft/model.ts';
import { flatten, type FragmentElement, type TableFragment } from '../nft/fragments.ts';
import type { Verdict } from '../nft/values.ts';
import { goTo, jump, match, matchAny, notMatchAny, randomChoice, rule, vmap, type Field, type Rule, type Statement } from '../nft/rule.ts';
import type { KeyType } from '../nft/values.ts';
import { affinitySetName, endpointChainName, externalChainName, firewallChainName, serviceChainName } from './names.ts';
import type { Endpoint, IpFamily, ServicePort } from './service-ports.ts';

export const PROXY_OWNER = 'proxy';
export const PROXY_TABLE_NAME = 'meshlet-proxy';
/** The packet mark bit meaning "masquerade this connection" (kube-proxy's 0x4000). */
export const MASQUERADE_MARK = 0x4000;
/** Filter chains run just after DNAT (dstnat = -100), so they see translated packets in output too. */
const FILTER_PRIORITY = -90;
/** The firewall (loadBalancerSourceRanges) sees the original destination: just before DNAT. */
const FIREWALL_PRIORITY = -110;

export const SERVICES_CHAIN = 'services';
export const SERVICE_IPS_MAP = 'service-ips';
export const NO_ENDPOINTS_MAP = 'no-endpoint-services';
export const NODEPORTS_MAP = 'service-nodeports';
export const NO_ENDPOINT_NODEPORTS_MAP = 'no-endpoint-nodeports';
/** LoadBalancer ingress address . proto . port → goto fw-… (loadBalancerSourceRanges), checked before DNAT. */
export const FIREWALL_MAP = 'firewall-ips';
const MARK_CHAIN = 'mark-for-masquerade';
const MASQ_CHAIN = 'masquerading';
const CHECK_CHAIN = 'reject-check';
const REJECT_CHAIN = 'reject-chain';

export interface ProxyTableConfig {
  family: IpFamily;
  /** The Service CIDR(s) of this family: traffic into them that no Service port takes is rejected. */
  serviceCidrs: readonly string[];
  /** Pod CIDR(s) of this family: Service traffic from elsewhere (the node itself) is masqueraded. */
  clusterCidrs: readonly string[];
  /** The cluster DNS address, if of this family: its port 53 bypasses the proxy. */
  clusterDns?: string;
}

export function proxyTableId(family: IpFamily): TableId {
  return { family: family === 4 ? 'ip' : 'ip6', name: PROXY_TABLE_NAME };
}

interface FamilyFields {
  saddr: Field;
  daddr: Field;
  addr: KeyType;
  icmpReject: 'icmp port-unreachable' | 'icmpv6 port-unreachable';
}

const FIELDS: Record<IpFamily, FamilyFields> = {
  4: { saddr: 'ip saddr', daddr: 'ip daddr', addr: 'ipv4_addr', icmpReject: 'icmp port-unreachable' },
  6: { saddr: 'ip6 saddr', daddr: 'ip6 daddr', addr: 'ipv6_addr', icmpReject: 'icmpv6 port-unreachable' },
};

const mark: Statement = { setMark: MASQUERADE_MARK, op: 'or' };

function isDnsBypass(p: ServicePort, cfg: ProxyTableConfig): boolean {
  return p.clusterIP === cfg.clusterDns && p.port === 53 && (p.protocol === 'udp' || p.protocol === 'tcp');
}

// The fragment of each ServicePort object: the same desired objects for what
// did not change, so the adapter's render caches hit and an unchanged port's
// fragment is the same object (the adapter skips it without looking inside).
const fragments = new WeakMap<ServicePort, { cfgKey: string; fragment: TableFragment }>();

const configKey = (cfg: ProxyTableConfig): string => `${cfg.family}|${cfg.serviceCidrs.join(',')}|${cfg.clusterCidrs.join(',')}|${cfg.clusterDns ?? ''}`;

/** The identity of a Service port in the fragment map (one per port and family). */
export function portKey(p: ServicePort): string {
  return `${p.namespace}/${p.name}/${p.portName}/${p.protocol}/${p.family}`;
}

/** The fragment of one Service port: its chains and sets, and its elements in the dispatch maps. */
export function portFragment(p: ServicePort, cfg: ProxyTableConfig): TableFragment {
  const key = configKey(cfg);
  const hit = fragments.get(p);
  if (hit && hit.cfgKey === key) return hit.fragment;
  const fragment = buildFragment(p, cfg, FIELDS[cfg.family]);
  fragments.set(p, { cfgKey: key, fragment });
  return fragment;
}

function buildFragment(p: ServicePort, cfg: ProxyTableConfig, f: FamilyFields): TableFragment {
  if (p.family !== cfg.family || isDnsBypass(p, cfg)) return {};
  const chains: DesiredChain[] = [];
  const sets: DesiredSet[] = [];
  const elements: FragmentElement[] = [];
  const key = (addr: string): (string | number)[] => [addr, p.protocol, p.port];
  const epChains = new Map<string, string>();
  const affSets = new Set<string>();
  /** The affinity set of an endpoint (declared once, whichever path names it first). */
  const affinitySet = (e: Endpoint, seconds: number): string => {
    const name = affinitySetName(p, e.ip, e.port, seconds);
    if (!affSets.has(name)) {
      affSets.add(name);
      sets.push({ name, type: [f.addr], flags: ['dynamic', 'timeout'], timeout: seconds });
    }
    return name;
  };
  const epChain = (e: Endpoint): string => {
    const id = `${e.ip}|${e.port}`;
    let name = epChains.get(id);
    if (name === undefined) {
      name = endpointChainName(p, e.ip, e.port);
      epChains.set(id, name);
      const rules: Rule[] = [rule(match(f.saddr, e.ip), jump(MARK_CHAIN))];
      if (p.affinitySeconds !== undefined) rules.push(rule({ update: affinitySet(e, p.affinitySeconds), key: [f.saddr] }));
      rules.push(rule({ dnat: { family: p.family === 4 ? 'ip' : 'ip6', addr: e.ip, port: e.port, protocol: p.protocol } }));
      chains.push({ name, rules });
    }
    return name;
  };
  /** Session affinity, then a random endpoint: the rules that pick one of `eps`. */
  const pick = (eps: readonly Endpoint[]): Rule[] => {
    const rules: Rule[] = [];
    const targets = eps.map((e) => epChain(e));
    if (p.affinitySeconds !== undefined) eps.forEach((e, i) => rules.push(rule({ inSet: affinitySet(e, p.affinitySeconds!), key: [f.saddr] }, goTo(targets[i]))));
    rules.push(...randomChoice(targets.map((t) => ({ goto: t }))));
    return rules;
  };
  // The cluster path: service chain over `endpoints` (after internalTrafficPolicy and PreferClose).
  const svcChain = serviceChainName(p);
  if (p.endpoints.length) {
    const rules: Rule[] = [];
    if (cfg.clusterCidrs.length) rules.push(rule(notMatchAny(f.saddr, cfg.clusterCidrs), jump(MARK_CHAIN)));
    rules.push(...pick(p.endpoints));
    chains.unshift({ name: svcChain, rules });
    elements.push({ set: SERVICE_IPS_MAP, element: { key: key(p.clusterIP), value: { goto: svcChain } } });
  } else {
    elements.push({ set: NO_ENDPOINTS_MAP, element: { key: key(p.clusterIP), value: p.noLocalEndpoints ? 'drop' : { goto: REJECT_CHAIN } } });
  }
  // The external path (NodePort, externalIPs, LoadBalancer ingress): one chain for all of them.
  if (p.nodePort !== undefined || p.externalIPs.length) {
    const ext = externalChainName(p);
    let verdict: 'drop' | { goto: string } | undefined;
    if (!p.externalLocal) {
      if (p.endpoints.length) chains.push({ name: ext, rules: [rule(jump(MARK_CHAIN)), rule(goTo(svcChain))] });
      else verdict = { goto: REJECT_CHAIN };
    } else if (p.localEndpoints.length) {
      // eTP Local: no SNAT (the client's address is kept), this node's endpoints only;
      // pods of the cluster take the cluster path, as kube-proxy does.
      const rules: Rule[] = [];
      if (cfg.clusterCidrs.length && p.endpoints.length) rules.push(rule(matchAny(f.saddr, cfg.clusterCidrs), goTo(svcChain)));
      rules.push(...pick(p.localEndpoints));
      chains.push({ name: ext, rules });
    } else verdict = 'drop';
    const target: Verdict = verdict ?? { goto: ext };
    const live = verdict === undefined;
    for (const ip of p.externalIPs) elements.push({ set: live ? SERVICE_IPS_MAP : NO_ENDPOINTS_MAP, element: { key: key(ip), value: target } });
    if (p.nodePort !== undefined) elements.push({ set: live ? NODEPORTS_MAP : NO_ENDPOINT_NODEPORTS_MAP, element: { key: [p.protocol, p.nodePort], value: target } });
  }
  // loadBalancerSourceRanges: traffic to a LoadBalancer ingress address from outside the ranges is dropped before DNAT.
  if (p.firewall) {
    const fw = firewallChainName(p);
    chains.push({ name: fw, rules: [rule(notMatchAny(f.saddr, p.firewall.ranges), { verdict: 'drop' })] });
    for (const ip of p.firewall.ips) elements.push({ set: FIREWALL_MAP, element: { key: key(ip), value: { goto: fw } } });
  }
  return { chains, sets, elements };
}

/** The fragments of a set of Service ports (one per port of this family), keyed by portKey. */
export function proxyFragments(ports: readonly ServicePort[], cfg: ProxyTableConfig): Map<string, TableFragment> {
  const out = new Map<string, TableFragment>();
  for (const p of ports) if (p.family === cfg.family) out.set(portKey(p), portFragment(p, cfg));
  return out;
}

const bases = new Map<string, DesiredTable>();

/** The table without any Service: hooks, dispatch maps (elements from the fragments), masquerade, reject. Same object for the same config. */
export function proxyBase(cfg: ProxyTableConfig): DesiredTable {
  const k = configKey(cfg);
  let b = bases.get(k);
  if (!b) {
    b = buildBase(cfg);
    bases.set(k, b);
  }
  return b;
}

/** The whole desired table of one family. */
export function proxyTable(ports: readonly ServicePort[], cfg: ProxyTableConfig): DesiredTable {
  return flatten({ base: proxyBase(cfg), fragments: proxyFragments(ports, cfg) });
}

function buildBase(cfg: ProxyTableConfig): DesiredTable {
  const f = FIELDS[cfg.family];
  const key: readonly Field[] = [f.daddr, 'meta l4proto', 'th dport'];
  const keyTypes: KeyType[] = [f.addr, 'inet_proto', 'inet_service'];
  const npKey: readonly Field[] = ['meta l4proto', 'th dport'];
  const npTypes: KeyType[] = ['inet_proto', 'inet_service'];
  // NodePorts on the node's own addresses; not on loopback (DNAT from 127/8 to a pod cannot route).
  const local: Statement[] = [match('fib daddr type', 'local'), { match: f.daddr, op: '!=', value: cfg.family === 4 ? '127.0.0.0/8' : '::1' }];
  const dns = cfg.clusterDns;
  const dnsBypass: Rule[] = dns ? [rule(match(f.daddr, dns), matchAny('meta l4proto', ['udp', 'tcp']), match('th dport', 53), { verdict: 'return' })] : [];
  const newOnly: Statement = match('ct state', 'new');
  const filterBase = (hook: 'prerouting' | 'output'): DesiredChain => ({
    name: `filter-${hook}`,
    base: { type: 'filter', hook, priority: FILTER_PRIORITY, policy: 'accept' },
    rules: [rule(newOnly, jump(CHECK_CHAIN))],
  });
  const firewallBase = (hook: 'prerouting' | 'output'): DesiredChain => ({
    name: `filter-${hook}-pre-dnat`,
    base: { type: 'filter', hook, priority: FIREWALL_PRIORITY, policy: 'accept' },
    rules: [rule(vmap(FIREWALL_MAP, ...key))],
  });
  const chains: DesiredChain[] = [
    firewallBase('prerouting'),
    firewallBase('output'),
    { name: 'nat-prerouting', base: { type: 'nat', hook: 'prerouting', priority: 'dstnat', policy: 'accept' }, rules: [rule(jump(SERVICES_CHAIN))] },
    // nft 1.0.6 takes the name dstnat in prerouting only: the output hook gets its value, -100.
    { name: 'nat-output', base: { type: 'nat', hook: 'output', priority: -100, policy: 'accept' }, rules: [rule(jump(SERVICES_CHAIN))] },
    { name: 'nat-postrouting', base: { type: 'nat', hook: 'postrouting', priority: 'srcnat', policy: 'accept' }, rules: [rule(jump(MASQ_CHAIN))] },
    filterBase('prerouting'),
    filterBase('output'),
    { name: SERVICES_CHAIN, rules: [...dnsBypass, rule(vmap(SERVICE_IPS_MAP, ...key)), rule(...local, vmap(NODEPORTS_MAP, ...npKey))] },
    { name: MARK_CHAIN, rules: [rule(mark)] },
    {
      name: MASQ_CHAIN,
      rules: [
        rule({ matchMasked: 'meta mark', mask: MASQUERADE_MARK, value: 0 }, { verdict: 'return' }),
        rule({ setMark: MASQUERADE_MARK, op: 'xor' }),
        rule({ masquerade: { fullyRandom: true } }),
      ],
    },
    {
      name: CHECK_CHAIN,
      rules: [
        rule(vmap(NO_ENDPOINTS_MAP, ...key)),
        rule(...local, vmap(NO_ENDPOINT_NODEPORTS_MAP, ...npKey)),
        ...dnsBypass,
        ...(cfg.serviceCidrs.length ? [rule(matchAny(f.daddr, cfg.serviceCidrs), goTo(REJECT_CHAIN))] : []),
      ],
    },
    { name: REJECT_CHAIN, rules: [rule(match('meta l4proto', 'tcp'), { reject: 'tcp reset' }), rule({ reject: f.icmpReject })] },
  ];
  const maps: DesiredMap[] = [
    { name: SERVICE_IPS_MAP, type: keyTypes, value: 'verdict', elements: [] },
    { name: NO_ENDPOINTS_MAP, type: keyTypes, value: 'verdict', elements: [] },
    { name: NODEPORTS_MAP, type: npTypes, value: 'verdict', elements: [] },
    { name: NO_ENDPOINT_NODEPORTS_MAP, type: npTypes, value: 'verdict', elements: [] },
    { name: FIREWALL_MAP, type: keyTypes, value: 'verdict', elements: [] },
  ];
  return { chains, sets: [], maps, comment: 'meshlet service proxy' };
}
