// The nftables desired state of NetworkPolicy on one node: a pure function of
// the policies, pods and namespaces (ClusterView) for the table
// `inet meshlet-policy`, in the src/nft model, applied by the adapter.
//
// Per-packet cost does not depend on the number of policies or pods: a fixed
// set of 13 rules and at most three set lookups per direction. Everything that
// varies is set elements:
//   forward (filter hook forward, policy accept)
//     ct state established,related accept       replies of allowed connections
//     ip saddr @held drop; ip daddr @held drop   new local pods, until their state is programmed
//     ip saddr @egress-isolated jump egress
//     ip daddr @ingress-isolated jump ingress
//     ip6 saddr @egress-isolated6 drop; ip6 daddr @ingress-isolated6 drop   IPv6 of isolated pods: closed
//   egress:  ip saddr . ip daddr @egress-any return
//            ip saddr . ip daddr . meta l4proto . th dport @egress-ports return
//            counter; drop
//   ingress: ip daddr . ip saddr @ingress-any accept
//            ip daddr . ip saddr . meta l4proto . th dport @ingress-ports accept
//            counter; drop
// The *-any sets hold (pod, peer addresses) for rules without ports (every
// protocol, ICMP too); the *-ports sets (pod, peer addresses, protocol, port
// range) for the rest, with named ports resolved per destination pod. Peer
// address ranges come from pod selectors (pod IPs) and ipBlocks (the CIDR
// minus its excepts). The elements of one pod are made disjoint (interval
// sets with concatenations reject overlaps), so several policies admitting
// overlapping peers, or an except re-admitted by another policy, become one
// union.
//
// The node itself never passes the forward hook for its own pods (it reaches
// them through output), so it always reaches them. Audit-mode policies are not
// in these sets (evaluate.ts computes their effect). Rules admit IPv4 only so
// far; the IPv6 addresses of isolated pods are closed (fail closed, never open).
import { bigIntToIp, cidrSize, parseIp, type Cidr } from '../core/cidr.ts';
import { accept, counter, drop, inSet, jump, matchAny, ret, rule } from '../nft/rule.ts';
import type { DesiredSet, DesiredTable, SetElement, TableId } from '../nft/model.ts';
import type { Value } from '../nft/values.ts';
import { peerMatchesPod, resolvePort, selects, type ClusterView, type Direction, type NamespaceView, type PodView, type Policy, type PolicyRule, type Protocol } from './model.ts';

export const POLICY_TABLE: TableId = { family: 'inet', name: 'meshlet-policy' };
export const POLICY_TABLE_OWNER = 'policy';

export interface RulesetInput {
  cluster: ClusterView;
  /** Program isolation for this node's pods only (undefined: every pod; for tests and explain). */
  node?: string;
  /** IPv4 addresses of pods this node has set up; those not yet in `cluster` are held (dropped). */
  localPodIps?: readonly string[];
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
        for (const p of ctx.cluster.pods) if (!p.hostNetwork && peerMatchesPod(policy, peer, p, ctx.namespaces)) pods.push(p);
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

/** The desired `inet meshlet-policy` table for the node. */
export function policyRuleset(input: RulesetInput): DesiredTable {
  const { cluster } = input;
  const ctx: Ctx = { cluster, namespaces: new Map(cluster.namespaces.map((n) => [n.name, n])), addrs: new Map(), peers: new Map() };
  const enforced = cluster.policies.filter((p) => !p.audit);
  const known = new Set(cluster.pods.flatMap((p) => p.ips));
  const held = [...new Set(input.localPodIps ?? [])].filter((ip) => !known.has(ip) && v4(ip) !== undefined).sort();

  const isolated: Record<Direction, string[]> = { ingress: [], egress: [] };
  const isolated6: Record<Direction, string[]> = { ingress: [], egress: [] };
  const any: Record<Direction, SetElement[]> = { ingress: [], egress: [] };
  const ports: Record<Direction, SetElement[]> = { ingress: [], egress: [] };
  const local = cluster.pods.filter((p) => input.node === undefined || p.node === input.node);
  for (const pod of local) {
    const addrs = podAddrs(ctx, pod);
    const addrs6 = pod.hostNetwork ? [] : pod.ips.filter((ip) => parseIp(ip).family === 6);
    for (const direction of ['ingress', 'egress'] as const) {
      const policies = enforced.filter((p) => (direction === 'ingress' ? p.ingress : p.egress) && selects(p, pod));
      if (policies.length === 0) continue;
      isolated6[direction].push(...addrs6.map((ip) => bigIntToIp(parseIp(ip).value, 6)));
      if (addrs.length === 0) continue;
      const a = admits(ctx, direction, pod, policies);
      const anyRanges = union(a.any);
      for (const self of addrs) {
        const ip = bigIntToIp(self, 4);
        isolated[direction].push(ip);
        for (const r of anyRanges) any[direction].push({ key: [ip, addrValue(r)] });
        for (const proto of [...a.ports.keys()].sort()) {
          // Traffic the any-set admits needs no port element; cut it out so the boxes stay few.
          const boxes = disjointBoxes(a.ports.get(proto)!.flatMap((b) => subtract(b.addr, anyRanges).map((addr) => ({ addr, port: b.port }))));
          for (const b of boxes) ports[direction].push({ key: [ip, addrValue(b.addr), PROTO[proto], portValue(b.port)] });
        }
      }
    }
  }

  const addrSet = (name: string, ips: string[], type: 'ipv4_addr' | 'ipv6_addr' = 'ipv4_addr'): DesiredSet => ({ name, type: [type], elements: [...new Set(ips)].sort().map((ip) => ({ key: [ip] })) });
  const sets: DesiredSet[] = [
    addrSet(SETS.held, held),
    addrSet(SETS.ingressIsolated, isolated.ingress),
    addrSet(SETS.egressIsolated, isolated.egress),
    addrSet(SETS.ingressIsolated6, isolated6.ingress, 'ipv6_addr'),
    addrSet(SETS.egressIsolated6, isolated6.egress, 'ipv6_addr'),
    { name: SETS.ingressAny, type: ['ipv4_addr', 'ipv4_addr'], flags: ['interval'], elements: any.ingress },
    { name: SETS.ingressPorts, type: ['ipv4_addr', 'ipv4_addr', 'inet_proto', 'inet_service'], flags: ['interval'], elements: ports.ingress },
    { name: SETS.egressAny, type: ['ipv4_addr', 'ipv4_addr'], flags: ['interval'], elements: any.egress },
    { name: SETS.egressPorts, type: ['ipv4_addr', 'ipv4_addr', 'inet_proto', 'inet_service'], flags: ['interval'], elements: ports.egress },
  ];
  return {
    comment: 'meshlet NetworkPolicy',
    sets,
    chains: [
      {
        name: 'forward',
        base: { type: 'filter', hook: 'forward', priority: 'filter', policy: 'accept' },
        rules: [
          rule(matchAny('ct state', ['established', 'related']), accept),
          rule(inSet(SETS.held, 'ip saddr'), drop),
          rule(inSet(SETS.held, 'ip daddr'), drop),
          rule(inSet(SETS.egressIsolated, 'ip saddr'), jump('egress')),
          rule(inSet(SETS.ingressIsolated, 'ip daddr'), jump('ingress')),
          rule(inSet(SETS.egressIsolated6, 'ip6 saddr'), drop),
          rule(inSet(SETS.ingressIsolated6, 'ip6 daddr'), drop),
        ],
      },
      {
        name: 'egress',
        rules: [
          rule(inSet(SETS.egressAny, 'ip saddr', 'ip daddr'), ret),
          rule(inSet(SETS.egressPorts, 'ip saddr', 'ip daddr', 'meta l4proto', 'th dport'), ret),
          rule(counter, drop),
        ],
      },
      {
        name: 'ingress',
        rules: [
          rule(inSet(SETS.ingressAny, 'ip daddr', 'ip saddr'), accept),
          rule(inSet(SETS.ingressPorts, 'ip daddr', 'ip saddr', 'meta l4proto', 'th dport'), accept),
          rule(counter, drop),
        ],
      },
    ],
  };
}
