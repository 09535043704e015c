// The nftables desired state of NetworkPolicy on one node: a pure function of
// the policies, pods and namespaces (ClusterView) for the table
// `inet meshlet-policy`, in the src/nft model, applied by the adapter.
//
// Per-packet cost does not depend on the number of policies or pods: a fixed
// set of 28 rules and at most one set lookup per rule. Everything that varies
// is set elements:
//   forward (hook forward, priority filter, after the proxy's DNAT in prerouting;
//            same-node pod traffic is bridged and reaches it through br_netfilter)
//     ct state established,related accept       replies of allowed connections
//     ip saddr @held drop; ip daddr @held drop   the node's pod-subnet addresses that are no programmed pod
//     ip saddr @egress-isolated jump egress
//     ip daddr @ingress-isolated jump ingress
//     ip saddr @audit-egress-isolated jump audit-egress     audit mode: log, never drop
//     ip daddr @audit-ingress-isolated jump audit-ingress
//     ip6 saddr @egress-isolated6 drop; ip6 daddr @ingress-isolated6 drop   IPv6 of isolated pods: closed
//   input (a local pod to the node itself, e.g. the node-local DNS): established, held, egress, audit-egress
//   egress:  ip saddr . ip daddr @egress-any return
//            ip saddr . ip daddr . meta l4proto . th dport @egress-ports return
//            limit rate … log prefix "mlp:deny:egress" group G; counter drop
//   ingress: the same with daddr first, prefix "mlp:deny:ingress"
//   audit-egress / audit-ingress: the same over the audit-* sets, log "mlp:audit:…", no drop
// The *-any sets hold (pod, peer addresses) for rules without ports (every
// protocol, ICMP too); the *-ports sets (pod, peer addresses, protocol, port
// range) for the rest, with named ports resolved per destination pod. Peer
// address ranges come from pod selectors (pod IPs) and ipBlocks (the CIDR
// minus its excepts). The elements of one pod are made disjoint (interval
// sets with concatenations reject overlaps), so several policies admitting
// overlapping peers, or an except re-admitted by another policy, become one
// union. The audit-* sets are those of the pods an audit-mode policy selects,
// computed under every policy (enforced and audit): what the enforced chains
// let through and these would not is a would-be denial.
//
// The node itself never passes the forward hook for its own pods (it reaches
// them through output), so it always reaches them. Rules admit IPv4 only so
// far; the IPv6 addresses of isolated pods are closed (fail closed, never open).
import { bigIntToIp, cidrSize, parseCidr, parseIp, type Cidr } from '../core/cidr.ts';
import { accept, counter, drop, inSet, jump, matchAny, ret, rule, type Rule, type Statement } from '../nft/rule.ts';
import type { DesiredChain, DesiredSet, DesiredTable, SetElement, TableId } from '../nft/model.ts';
import type { Value } from '../nft/values.ts';
import { peerMatchesPod, resolvePort, selects, type ClusterView, type Direction, type NamespaceView, type PodView, type Policy, type PolicyRule, type Protocol } from './model.ts';

export const POLICY_TABLE: TableId = { family: 'inet', name: 'meshlet-policy' };
export const POLICY_TABLE_OWNER = 'policy';

export interface RulesetInput {
  cluster: ClusterView;
  /** Program isolation for this node's pods only (undefined: every pod; for tests and explain). */
  node?: string;
  /**
   * The node's pod subnets: every address in them that is not a local pod of
   * `cluster` (not terminating) is held, i.e. dropped, so a new pod is closed
   * until the transaction that programs its state releases it.
   */
  localSubnets?: readonly string[];
  /** NFLOG group and rate of the denial records (default DEFAULT_DENIAL_LOG). */
  denials?: DenialLogConfig;
}

type Range = readonly [bigint, bigint];
interface Box {
  addr: Range;
  port: Range;
}

const ALL_V4: Range = [0n, 0xffffffffn];
const ALL_PORTS: Range = [0n, 65535n];
const PROTO: Record<Protocol, string> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' };

function v4(ip: string): bigint | undefined {
  const a = parseIp(ip);
  return a.family === 4 ? a.value : undefined;
}

function cidrRange(c: Cidr): Range {
  return [c.network, c.network + cidrSize(c) - 1n];
}

/** Sorted, merged, disjoint ranges. */
function union(ranges: readonly Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: [bigint, bigint][] = [];
  for (const [lo, hi] of sorted) {
    const last = out.at(-1);
    if (last && lo <= last[1] + 1n) last[1] = hi > last[1] ? hi : last[1];
    else out.push([lo, hi]);
  }
  return out;
}

/** `base` minus `holes`. */
function subtract(base: Range, holes: readonly Range[]): Range[] {
  let out: Range[] = [base];
  for (const [hlo, hhi] of holes) {
    out = out.flatMap(([lo, hi]) => {
      if (hhi < lo || hlo > hi) return [[lo, hi] as Range];
      const parts: Range[] = [];
      if (hlo > lo) parts.push([lo, hlo - 1n]);
      if (hhi < hi) parts.push([hhi + 1n, hi]);
      return parts;
    });
  }
  return out;
}

/** Disjoint boxes covering the union of `boxes`: the port axis cut at every edge, addresses merged per cut. */
function disjointBoxes(boxes: readonly Box[]): Box[] {
  const cuts = [...new Set(boxes.flatMap((b) => [b.port[0], b.port[1] + 1n]))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: Box[] = [];
  let prev: { port: [bigint, bigint]; addrs: Range[]; key: string } | undefined;
  const flush = (): void => {
    if (prev) for (const addr of prev.addrs) out.push({ addr, port: prev.port });
  };
  for (let i = 0; i + 1 < cuts.length; i++) {
    const seg: Range = [cuts[i], cuts[i + 1] - 1n];
    const addrs = union(boxes.filter((b) => b.port[0] <= seg[0] && b.port[1] >= seg[1]).map((b) => b.addr));
    const key = addrs.map((r) => `${r[0]}-${r[1]}`).join(',');
    if (prev && key === prev.key && prev.port[1] + 1n === seg[0]) prev.port[1] = seg[1];
    else {
      flush();
      prev = addrs.length ? { port: [seg[0], seg[1]], addrs, key } : undefined;
    }
  }
  flush();
  return out;
}

function addrValue(r: Range): Value {
  return r[0] === r[1] ? bigIntToIp(r[0], 4) : [bigIntToIp(r[0], 4), bigIntToIp(r[1], 4)];
}

function portValue(r: Range): Value {
  return r[0] === r[1] ? Number(r[0]) : [Number(r[0]), Number(r[1])];
}

/** What one pod admits in one direction: address ranges for any traffic, and boxes per protocol. */
interface Admits {
  any: Range[];
  ports: Map<Protocol, Box[]>;
}

/** Per-call memo: pod addresses, and each rule's peers (the same for every pod a policy selects). */
interface Ctx {
  cluster: ClusterView;
  namespaces: ReadonlyMap<string, NamespaceView>;
  addrs: Map<PodView, bigint[]>;
  peers: Map<PolicyRule, { blocks: Range[]; pods: PodView[]; podRanges: Range[] }>;
  /** Pods a pod-kind peer matches, by the peer's meaning (many policies name the same peers). */
  peerPods: Map<string, PodView[]>;
}

function podAddrs(ctx: Ctx, p: PodView): bigint[] {
  let a = ctx.addrs.get(p);
  if (!a) {
    a = p.hostNetwork ? [] : p.ips.map(v4).filter((x): x is bigint => x !== undefined);
    ctx.addrs.set(p, a);
  }
  return a;
}

function rulePeers(ctx: Ctx, policy: Policy, r: PolicyRule): { blocks: Range[]; pods: PodView[]; podRanges: Range[] } {
  const have = ctx.peers.get(r);
  if (have) return have;
  const blocks: Range[] = [];
  const pods: PodView[] = [];
  if (!r.peers) blocks.push(ALL_V4);
  else {
    for (const peer of r.peers) {
      if (peer.kind === 'ipBlock') {
        if (peer.block.cidr.family === 4) blocks.push(...subtract(cidrRange(peer.block.cidr), peer.block.except.filter((e) => e.family === 4).map(cidrRange)));
      } else {
        const key = `${peer.namespaces === 'own' ? `own:${policy.namespace}` : JSON.stringify(peer.namespaces)}|${JSON.stringify(peer.pods)}`;
        let matched = ctx.peerPods.get(key);
        if (!matched) {
          matched = ctx.cluster.pods.filter((p) => !p.hostNetwork && peerMatchesPod(policy, peer, p, ctx.namespaces));
          ctx.peerPods.set(key, matched);
        }
        pods.push(...matched);
      }
    }
  }
  const podRanges = pods.flatMap((p) => podAddrs(ctx, p).map((a) => [a, a] as Range));
  const out = { blocks, pods, podRanges };
  ctx.peers.set(r, out);
  return out;
}

function admits(ctx: Ctx, direction: Direction, self: PodView, policies: readonly Policy[]): Admits {
  const out: Admits = { any: [], ports: new Map() };
  const addBox = (proto: Protocol, box: Box): void => {
    const list = out.ports.get(proto) ?? [];
    list.push(box);
    out.ports.set(proto, list);
  };
  for (const policy of policies) {
    for (const r of (direction === 'ingress' ? policy.ingress : policy.egress) ?? []) {
      const { blocks, pods, podRanges } = rulePeers(ctx, policy, r);
      if (!r.ports) {
        out.any.push(...blocks, ...podRanges);
        continue;
      }
      for (const m of r.ports) {
        if (m.kind !== 'named' || direction === 'ingress') {
          // Numbers, ranges, all ports; or a name resolved against this (destination) pod.
          const res = resolvePort(m, self);
          if (res === undefined) continue;
          const port: Range = res === 'any' ? ALL_PORTS : [BigInt(res.from), BigInt(res.to)];
          for (const addr of blocks) addBox(m.protocol, { addr, port });
          for (const addr of podRanges) addBox(m.protocol, { addr, port });
          continue;
        }
        // Egress named port: resolve against each destination pod (peer pods, or every pod inside the blocks).
        const inBlocks = (p: PodView): boolean => podAddrs(ctx, p).some((a) => blocks.some(([lo, hi]) => a >= lo && a <= hi));
        const dests = r.peers ? [...pods, ...ctx.cluster.pods.filter(inBlocks)] : ctx.cluster.pods;
        for (const d of dests) {
          const res = resolvePort(m, d);
          if (res === undefined || res === 'any') continue;
          for (const a of podAddrs(ctx, d)) addBox(m.protocol, { addr: [a, a], port: [BigInt(res.from), BigInt(res.to)] });
        }
      }
    }
  }
  return out;
}

const SETS = {
  held: 'held',
  ingressIsolated: 'ingress-isolated',
  egressIsolated: 'egress-isolated',
  ingressIsolated6: 'ingress-isolated6',
  egressIsolated6: 'egress-isolated6',
  ingressAny: 'ingress-any',
  ingressPorts: 'ingress-ports',
  egressAny: 'egress-any',
  egressPorts: 'egress-ports',
} as const;

/** The audit twin of a set or chain name. */
const audit = (name: string): string => `audit-${name}`;

/** Denial records: NFLOG group and the packet rate per logging rule. */
export interface DenialLogConfig {
  group: number;
  /** Packets per second each logging rule sends to userspace at most (after the burst). */
  ratePerSecond: number;
  burst: number;
}

export const DEFAULT_DENIAL_LOG: DenialLogConfig = { group: 4711, ratePerSecond: 50, burst: 100 };

/** The log prefix of a denial (mode deny: dropped; audit: would be, not dropped); parsed back by parseDenialPrefix. */
export function denialPrefix(mode: 'deny' | 'audit', direction: Direction): string {
  return `mlp:${mode}:${direction}`;
}

export function parseDenialPrefix(prefix: string): { mode: 'deny' | 'audit'; direction: Direction } | undefined {
  const m = /^mlp:(deny|audit):(ingress|egress)$/.exec(prefix.replace(/\0+$/, '').trim());
  return m ? { mode: m[1] as 'deny' | 'audit', direction: m[2] as Direction } : undefined;
}

interface DirectionSets {
  isolated: string[];
  isolated6: string[];
  any: SetElement[];
  ports: SetElement[];
}

/** One pod's admission in one direction, as disjoint ranges (shared by every pod the same policies select). */
interface Admission {
  any: Range[];
  ports: [Protocol, Box[]][];
}

const hasNamed = (policies: readonly Policy[], d: Direction): boolean => policies.some((p) => (d === 'ingress' ? p.ingress : p.egress)?.some((r) => r.ports?.some((m) => m.kind === 'named')));

/** The isolation and admission elements of `pods` in one direction, under the policies `policiesOf` gives per pod. */
function directionSets(ctx: Ctx, pods: readonly PodView[], direction: Direction, policiesOf: (pod: PodView) => Policy[]): DirectionSets {
  const out: DirectionSets = { isolated: [], isolated6: [], any: [], ports: [] };
  // Pods selected by the same policies admit the same peers (replicas of one workload): computed once. Named
  // ingress ports resolve against the pod itself, so then its ports are part of the key.
  const memo = new Map<string, Admission>();
  for (const pod of pods) {
    const policies = policiesOf(pod);
    if (policies.length === 0) continue;
    const addrs = podAddrs(ctx, pod);
    const addrs6 = pod.hostNetwork ? [] : pod.ips.filter((ip) => parseIp(ip).family === 6);
    out.isolated6.push(...addrs6.map((ip) => bigIntToIp(parseIp(ip).value, 6)));
    if (addrs.length === 0) continue;
    const key = policies.map((p) => `${p.namespace}/${p.name}`).join(',') + (direction === 'ingress' && hasNamed(policies, direction) ? `|${JSON.stringify(pod.ports)}` : '');
    let adm = memo.get(key);
    if (!adm) {
      const a = admits(ctx, direction, pod, policies);
      const anyRanges = union(a.any);
      // Traffic the any-set admits needs no port element; cut it out so the boxes stay few.
      const ports = [...a.ports.keys()].sort().map((proto) => [proto, disjointBoxes(a.ports.get(proto)!.flatMap((b) => subtract(b.addr, anyRanges).map((addr) => ({ addr, port: b.port }))))] as [Protocol, Box[]]);
      adm = { any: anyRanges, ports };
      memo.set(key, adm);
    }
    for (const self of addrs) {
      const ip = bigIntToIp(self, 4);
      out.isolated.push(ip);
      for (const r of adm.any) out.any.push({ key: [ip, addrValue(r)] });
      for (const [proto, boxes] of adm.ports) for (const b of boxes) out.ports.push({ key: [ip, addrValue(b.addr), PROTO[proto], portValue(b.port)] });
    }
  }
  return out;
}

const rulesOf = (p: Policy, d: Direction): PolicyRule[] | undefined => (d === 'ingress' ? p.ingress : p.egress);

/** The desired `inet meshlet-policy` table for the node. */
export function policyRuleset(input: RulesetInput): DesiredTable {
  const { cluster } = input;
  const log = input.denials ?? DEFAULT_DENIAL_LOG;
  const ctx: Ctx = { cluster, namespaces: new Map(cluster.namespaces.map((n) => [n.name, n])), addrs: new Map(), peers: new Map(), peerPods: new Map() };
  // A policy selects pods of its own namespace only: look them up by namespace, not all per pod.
  const byNs = new Map<string, Policy[]>();
  for (const p of cluster.policies) byNs.set(p.namespace, [...(byNs.get(p.namespace) ?? []), p]);
  const selecting = (pod: PodView, d: Direction): Policy[] => (byNs.get(pod.namespace) ?? []).filter((p) => rulesOf(p, d) && selects(p, pod));
  const local = cluster.pods.filter((p) => input.node === undefined || p.node === input.node);

  // Held: every address of the node's pod subnets that is not a programmed (known, not terminating) local pod.
  const ready = local.filter((p) => !p.terminating).flatMap((p) => podAddrs(ctx, p)).map((a) => [a, a] as Range);
  const held = (input.localSubnets ?? [])
    .map((c) => parseCidr(c, { allowHostBits: true }))
    .filter((c) => c.family === 4)
    .flatMap((c) => subtract(cidrRange(c), union(ready)));

  const sets: DesiredSet[] = [{ name: SETS.held, type: ['ipv4_addr'], flags: ['interval'], elements: union(held).map((r) => ({ key: [addrValue(r)] })) }];
  const addrSet = (name: string, ips: string[], type: 'ipv4_addr' | 'ipv6_addr' = 'ipv4_addr'): DesiredSet => ({ name, type: [type], elements: [...new Set(ips)].sort().map((ip) => ({ key: [ip] })) });
  for (const [prefix, policiesOf] of [
    ['', (pod: PodView, d: Direction) => selecting(pod, d).filter((p) => !p.audit)],
    // Audit: pods an audit-mode policy selects, under every policy (audit and enforced): would it be allowed?
    ['audit-', (pod: PodView, d: Direction) => {
      const all = selecting(pod, d);
      return all.some((p) => p.audit) ? all : [];
    }],
  ] as const) {
    const name = (n: string): string => `${prefix}${n}`;
    const ing = directionSets(ctx, local, 'ingress', (pod) => policiesOf(pod, 'ingress'));
    const eg = directionSets(ctx, local, 'egress', (pod) => policiesOf(pod, 'egress'));
    sets.push(addrSet(name(SETS.ingressIsolated), ing.isolated), addrSet(name(SETS.egressIsolated), eg.isolated));
    if (!prefix) sets.push(addrSet(SETS.ingressIsolated6, ing.isolated6, 'ipv6_addr'), addrSet(SETS.egressIsolated6, eg.isolated6, 'ipv6_addr'));
    sets.push(
      { name: name(SETS.ingressAny), type: ['ipv4_addr', 'ipv4_addr'], flags: ['interval'], elements: ing.any },
      { name: name(SETS.ingressPorts), type: ['ipv4_addr', 'ipv4_addr', 'inet_proto', 'inet_service'], flags: ['interval'], elements: ing.ports },
      { name: name(SETS.egressAny), type: ['ipv4_addr', 'ipv4_addr'], flags: ['interval'], elements: eg.any },
      { name: name(SETS.egressPorts), type: ['ipv4_addr', 'ipv4_addr', 'inet_proto', 'inet_service'], flags: ['interval'], elements: eg.ports },
    );
  }

  const limit: Statement = { limit: { rate: log.ratePerSecond, per: 'second', burst: log.burst } };
  const logged = (mode: 'deny' | 'audit', d: Direction): Rule => rule(limit, { log: { prefix: denialPrefix(mode, d), group: log.group } });
  // A check chain: admitted traffic returns; the rest is logged (rate-limited) and dropped, or, for audit, only logged.
  const check = (d: Direction, mode: 'deny' | 'audit'): DesiredChain => {
    const name = (n: string): string => (mode === 'audit' ? audit(n) : n);
    const [self, peer] = d === 'ingress' ? (['ip daddr', 'ip saddr'] as const) : (['ip saddr', 'ip daddr'] as const);
    return {
      name: name(d),
      rules: [
        rule(inSet(name(d === 'ingress' ? SETS.ingressAny : SETS.egressAny), self, peer), ret),
        rule(inSet(name(d === 'ingress' ? SETS.ingressPorts : SETS.egressPorts), self, peer, 'meta l4proto', 'th dport'), ret),
        logged(mode, d),
        ...(mode === 'deny' ? [rule(counter, drop)] : []),
      ],
    };
  };
  return {
    comment: 'meshlet NetworkPolicy',
    sets,
    chains: [
      {
        // Pod to pod, same node (bridged, through br_netfilter) and across nodes, after the proxy's DNAT.
        name: 'forward',
        base: { type: 'filter', hook: 'forward', priority: 'filter', policy: 'accept' },
        rules: [
          rule(matchAny('ct state', ['established', 'related']), accept),
          rule(inSet(SETS.held, 'ip saddr'), drop),
          rule(inSet(SETS.held, 'ip daddr'), drop),
          rule(inSet(SETS.egressIsolated, 'ip saddr'), jump('egress')),
          rule(inSet(SETS.ingressIsolated, 'ip daddr'), jump('ingress')),
          rule(inSet(audit(SETS.egressIsolated), 'ip saddr'), jump(audit('egress'))),
          rule(inSet(audit(SETS.ingressIsolated), 'ip daddr'), jump(audit('ingress'))),
          rule(inSet(SETS.egressIsolated6, 'ip6 saddr'), drop),
          rule(inSet(SETS.ingressIsolated6, 'ip6 daddr'), drop),
        ],
      },
      {
        // A local pod to the node itself (its addresses, the node-local DNS): egress only.
        name: 'input',
        base: { type: 'filter', hook: 'input', priority: 'filter', policy: 'accept' },
        rules: [
          rule(matchAny('ct state', ['established', 'related']), accept),
          rule(inSet(SETS.held, 'ip saddr'), drop),
          rule(inSet(SETS.egressIsolated, 'ip saddr'), jump('egress')),
          rule(inSet(audit(SETS.egressIsolated), 'ip saddr'), jump(audit('egress'))),
          rule(inSet(SETS.egressIsolated6, 'ip6 saddr'), drop),
        ],
      },
      check('egress', 'deny'),
      check('ingress', 'deny'),
      check('egress', 'audit'),
      check('ingress', 'audit'),
    ],
  };
}
