// The verdict for one connection attempt, with the reasons: the answer of
// `meshlet netpol explain`, and the oracle the ruleset is built to agree with.
// Pure. A connection is allowed when the source side allows it as egress and
// the destination side as ingress; a side whose pod no enforced policy
// isolates in that direction allows everything. Audit-mode policies are left
// out of the verdict and evaluated a second time with everything, so the
// answer also says whether they would deny it.
import { parseIp } from '../core/cidr.ts';
import { blockContains, peerMatchesPod, policyId, podId, resolvePort, selects, type ClusterView, type Direction, type NamespaceView, type Peer, type PodView, type Policy, type PolicyRule, type Protocol } from './model.ts';

/** One end of a connection: a pod (by namespace/name), or an address (outside, a node, or a pod by IP). */
export type Endpoint = { pod: string } | { ip: string };

export interface RuleRef {
  policy: string;
  /** Index of the rule in the policy's ingress or egress list. */
  rule: number;
  audit: boolean;
}

export interface SideVerdict {
  direction: Direction;
  /** The pod on this side (undefined: not a pod, nothing to isolate). */
  pod?: string;
  allowed: boolean;
  /** Enforced policies isolating this side in this direction. */
  isolatedBy: string[];
  /** Audit-mode policies that would isolate it. */
  auditIsolatedBy: string[];
  /** Every rule that admits the connection (enforced and audit). */
  allowedBy: RuleRef[];
  /** Would it be allowed if audit policies were enforced too? */
  allowedWithAudit: boolean;
  /** Allowed because the peer is this pod's own node. */
  ownNode?: boolean;
  reason: string;
}

export interface Verdict {
  allowed: boolean;
  /** The verdict with audit-mode policies enforced too (false while `allowed`: an audit would-be denial). */
  allowedWithAudit: boolean;
  egress: SideVerdict;
  ingress: SideVerdict;
  summary: string;
}

interface Resolved {
  pod?: PodView;
  ip?: string;
}

function resolve(cluster: ClusterView, e: Endpoint): Resolved {
  if ('pod' in e) {
    const pod = cluster.pods.find((p) => podId(p) === e.pod);
    if (!pod) throw new Error(`no pod ${e.pod}`);
    return { pod, ip: pod.ips[0] };
  }
  const pod = cluster.pods.find((p) => !p.hostNetwork && p.ips.includes(e.ip));
  return pod ? { pod, ip: e.ip } : { ip: e.ip };
}

function peerMatches(policy: Policy, peer: Peer, other: Resolved, namespaces: ReadonlyMap<string, NamespaceView>): boolean {
  if (peer.kind === 'ipBlock') {
    if (!other.ip) return false;
    const a = parseIp(other.ip);
    return blockContains(peer.block, a.value, a.family);
  }
  return !!other.pod && !other.pod.hostNetwork && peerMatchesPod(policy, peer, other.pod, namespaces);
}

function portMatches(rule: PolicyRule, port: number, protocol: Protocol, dest: PodView | undefined): boolean {
  if (!rule.ports) return true;
  return rule.ports.some((m) => {
    if (m.protocol !== protocol) return false;
    const r = resolvePort(m, dest);
    return r === 'any' || (r !== undefined && port >= r.from && port <= r.to);
  });
}

function list(names: string[]): string {
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

function side(cluster: ClusterView, direction: Direction, self: Resolved, other: Resolved, port: number, protocol: Protocol, namespaces: ReadonlyMap<string, NamespaceView>): SideVerdict {
  const base = { direction, isolatedBy: [] as string[], auditIsolatedBy: [] as string[], allowedBy: [] as RuleRef[] };
  const pod = self.pod;
  if (!pod || pod.hostNetwork) {
    return { ...base, allowed: true, allowedWithAudit: true, reason: `${direction}: ${self.ip ?? '?'} is not a pod policies can select` };
  }
  const id = podId(pod);
  // The pod's own node always reaches it.
  if (direction === 'ingress' && other.ip && !other.pod && pod.node && (cluster.nodes?.[pod.node] ?? []).includes(other.ip)) {
    return { ...base, pod: id, allowed: true, allowedWithAudit: true, ownNode: true, reason: `ingress: ${other.ip} is ${id}'s own node, always allowed` };
  }
  const dest = direction === 'ingress' ? pod : other.pod;
  for (const policy of cluster.policies) {
    const rules = direction === 'ingress' ? policy.ingress : policy.egress;
    if (!rules || !selects(policy, pod)) continue;
    (policy.audit ? base.auditIsolatedBy : base.isolatedBy).push(policyId(policy));
    rules.forEach((rule, i) => {
      const peerOk = !rule.peers || rule.peers.some((p) => peerMatches(policy, p, other, namespaces));
      if (peerOk && portMatches(rule, port, protocol, dest)) base.allowedBy.push({ policy: policyId(policy), rule: i, audit: policy.audit });
    });
  }
  const enforcedAllow = base.allowedBy.filter((r) => !r.audit);
  const allowed = base.isolatedBy.length === 0 || enforcedAllow.length > 0;
  const anyIsolation = base.isolatedBy.length + base.auditIsolatedBy.length > 0;
  const allowedWithAudit = !anyIsolation || base.allowedBy.length > 0;
  let reason: string;
  const what = `${direction} ${port}/${protocol}`;
  if (base.isolatedBy.length === 0) reason = `${what}: ${id} is not isolated for ${direction}`;
  else if (allowed) reason = `${what}: allowed by ${enforcedAllow.map((r) => `${r.policy} ${direction}[${r.rule}]`).join(', ')}`;
  else reason = `${what}: denied by default: ${id} isolated by ${list(base.isolatedBy)} and no rule matches`;
  if (allowed && !allowedWithAudit) reason += `; audit: would be denied (isolated by ${list(base.auditIsolatedBy)} and no rule matches)`;
  return { ...base, pod: id, allowed, allowedWithAudit, reason };
}

/** Is a connection from `from` to `to` on port/protocol allowed, and why. */
export function evaluate(cluster: ClusterView, from: Endpoint, to: Endpoint, port: number, protocol: Protocol): Verdict {
  const namespaces = new Map(cluster.namespaces.map((n) => [n.name, n]));
  const src = resolve(cluster, from);
  const dst = resolve(cluster, to);
  const egress = side(cluster, 'egress', src, dst, port, protocol, namespaces);
  const ingress = side(cluster, 'ingress', dst, src, port, protocol, namespaces);
  const allowed = egress.allowed && ingress.allowed;
  const allowedWithAudit = egress.allowedWithAudit && ingress.allowedWithAudit;
  const name = (r: Resolved): string => (r.pod ? podId(r.pod) : (r.ip ?? '?'));
  const head = `${name(src)} -> ${name(dst)} ${port}/${protocol}: ${allowed ? 'allowed' : 'denied'}`;
  const summary = [head, `  ${egress.reason}`, `  ${ingress.reason}`].join('\n');
  return { allowed, allowedWithAudit, egress, ingress, summary };
}
