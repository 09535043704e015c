// The proxy's desired nftables table for one IP family, from the Service
// ports of service-ports.ts. Pure. kube-proxy's nftables design (KEP-3866):
//
//   nat-prerouting / nat-output (dstnat)  → services
//   services: cluster DNS :53 returns (node-local DNS answers it), then
//             daddr . l4proto . dport vmap @service-ips → goto svc-<hash>-…
//   svc-…:    off-cluster sources marked for masquerade; session affinity
//             (saddr in an endpoint's timed set → goto that endpoint); then
//             numgen random mod N vmap { i : goto ep-<hash>-… }
//   ep-…:     hairpin (saddr = the endpoint) marked; affinity set updated;
//             dnat to ip:port
//   nat-postrouting (srcnat) → masquerading: marked packets masqueraded
//   filter-prerouting / filter-output (just after DNAT, new connections only)
//             → reject-check: @no-endpoint-services (reject, or drop for
//             internalTrafficPolicy Local without a local endpoint), then
//             anything still addressed into the Service CIDR (an
//             unallocated ClusterIP or port) rejected, never routed out.
//
// Reject is done from filter chains, not from the nat ones. The prerouting
// one must see the packet before the routing decision: a node without a
// route into the Service CIDR (or with a default route out) would otherwise
// answer "network unreachable" or send it away. Reject in prerouting needs
// kernel 5.9; kube-proxy's nftables mode needs 5.13 anyway.
import type { DesiredChain, DesiredMap, DesiredSet, DesiredTable, MapElement, TableId } from '../nft/model.ts';
import { goTo, jump, match, matchAny, notMatchAny, numgen, rule, vmap, type Field, type Rule, type Statement } from '../nft/rule.ts';
import type { KeyType } from '../nft/values.ts';
import { affinitySetName, endpointChainName, serviceChainName } from './names.ts';
import type { IpFamily, ServicePort } from './service-ports.ts';

export const PROXY_OWNER = 'proxy';
export const PROXY_TABLE_NAME = 'meshlet-proxy';
/** The packet mark bit meaning "masquerade this connection" (kube-proxy's 0x4000). */
export const MASQUERADE_MARK = 0x4000;
/** Filter chains run just after DNAT (dstnat = -100), so they see translated packets in output too. */
const FILTER_PRIORITY = -90;

export const SERVICES_CHAIN = 'services';
export const SERVICE_IPS_MAP = 'service-ips';
export const NO_ENDPOINTS_MAP = 'no-endpoint-services';
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

interface Fragment {
  cfgKey: string;
  chains: DesiredChain[];
  sets: DesiredSet[];
}

// The fragment of each ServicePort object (kept across syncs by ServicePortMemo): the same desired
// objects for what did not change, so the adapter's render caches hit.
const fragments = new WeakMap<ServicePort, Fragment>();

function fragment(p: ServicePort, cfg: ProxyTableConfig, f: FamilyFields): Fragment {
  const cfgKey = cfg.clusterCidrs.join(',');
  let fr = fragments.get(p);
  if (!fr || fr.cfgKey !== cfgKey) {
    const sets: DesiredSet[] = [];
    fr = { cfgKey, chains: servicePortChains(p, cfg, f, sets), sets };
    fragments.set(p, fr);
  }
  return fr;
}

/** The chains of one Service port with endpoints: its service chain and one chain per endpoint. */
function servicePortChains(p: ServicePort, cfg: ProxyTableConfig, f: FamilyFields, sets: DesiredSet[]): DesiredChain[] {
  const svcChain = serviceChainName(p);
  const out: DesiredChain[] = [];
  const svcRules: Rule[] = [];
  if (cfg.clusterCidrs.length) svcRules.push(rule(notMatchAny(f.saddr, cfg.clusterCidrs), jump(MARK_CHAIN)));
  const targets: string[] = [];
  for (const e of p.endpoints) {
    const epChain = endpointChainName(p, e.ip, e.port);
    targets.push(epChain);
    const epRules: Rule[] = [rule(match(f.saddr, e.ip), jump(MARK_CHAIN))];
    if (p.affinitySeconds !== undefined) {
      const set = affinitySetName(p, e.ip, e.port, p.affinitySeconds);
      sets.push({ name: set, type: [f.addr], flags: ['dynamic', 'timeout'], timeout: p.affinitySeconds });
      svcRules.push(rule({ inSet: set, key: [f.saddr] }, goTo(epChain)));
      epRules.push(rule({ update: set, key: [f.saddr] }));
    }
    epRules.push(rule({ dnat: { family: p.family === 4 ? 'ip' : 'ip6', addr: e.ip, port: e.port, protocol: p.protocol } }));
    out.push({ name: epChain, rules: epRules });
  }
  svcRules.push(rule(numgen(targets.map((t) => ({ goto: t })))));
  out.unshift({ name: svcChain, rules: svcRules });
  return out;
}

/** The whole desired table of one family. */
export function proxyTable(ports: readonly ServicePort[], cfg: ProxyTableConfig): DesiredTable {
  const f = FIELDS[cfg.family];
  const key: readonly Field[] = [f.daddr, 'meta l4proto', 'th dport'];
  const keyTypes: KeyType[] = [f.addr, 'inet_proto', 'inet_service'];
  const serviceIps: MapElement[] = [];
  const noEndpoints: MapElement[] = [];
  const sets: DesiredSet[] = [];
  const portChains: DesiredChain[] = [];
  for (const p of ports) {
    if (p.family !== cfg.family || isDnsBypass(p, cfg)) continue;
    const k = [p.clusterIP, p.protocol, p.port];
    if (p.endpoints.length) {
      const fr = fragment(p, cfg, f);
      for (const c of fr.chains) portChains.push(c);
      for (const s of fr.sets) sets.push(s);
      serviceIps.push({ key: k, value: { goto: fr.chains[0].name } });
    } else {
      noEndpoints.push({ key: k, value: p.noLocalEndpoints ? 'drop' : { goto: REJECT_CHAIN } });
    }
  }
  const dns = cfg.clusterDns;
  const dnsBypass: Rule[] = dns ? [rule(match(f.daddr, dns), matchAny('meta l4proto', ['udp', 'tcp']), match('th dport', 53), { verdict: 'return' })] : [];
  const newOnly: Statement = match('ct state', 'new');
  const filterBase = (hook: 'prerouting' | 'output'): DesiredChain => ({
    name: `filter-${hook}`,
    base: { type: 'filter', hook, priority: FILTER_PRIORITY, policy: 'accept' },
    rules: [rule(newOnly, jump(CHECK_CHAIN))],
  });
  const chains: DesiredChain[] = [
    { name: 'nat-prerouting', base: { type: 'nat', hook: 'prerouting', priority: 'dstnat', policy: 'accept' }, rules: [rule(jump(SERVICES_CHAIN))] },
    // nft 1.0.6 takes the name dstnat in prerouting only: the output hook gets its value, -100.
    { name: 'nat-output', base: { type: 'nat', hook: 'output', priority: -100, policy: 'accept' }, rules: [rule(jump(SERVICES_CHAIN))] },
    { name: 'nat-postrouting', base: { type: 'nat', hook: 'postrouting', priority: 'srcnat', policy: 'accept' }, rules: [rule(jump(MASQ_CHAIN))] },
    filterBase('prerouting'),
    filterBase('output'),
    { name: SERVICES_CHAIN, rules: [...dnsBypass, rule(vmap(SERVICE_IPS_MAP, ...key))] },
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
        ...dnsBypass,
        ...(cfg.serviceCidrs.length ? [rule(matchAny(f.daddr, cfg.serviceCidrs), goTo(REJECT_CHAIN))] : []),
      ],
    },
    { name: REJECT_CHAIN, rules: [rule(match('meta l4proto', 'tcp'), { reject: 'tcp reset' }), rule({ reject: f.icmpReject })] },
    ...portChains,
  ];
  const maps: DesiredMap[] = [
    { name: SERVICE_IPS_MAP, type: keyTypes, value: 'verdict', elements: serviceIps },
    { name: NO_ENDPOINTS_MAP, type: keyTypes, value: 'verdict', elements: noEndpoints },
  ];
  return { chains, sets, maps, comment: 'meshlet service proxy' };
}
