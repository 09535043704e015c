// NetworkPolicy (networking.k8s.io/v1) as a typed semantic model, and the
// cluster view it is evaluated against. Pure. `compilePolicy` turns an API
// object (already validated, see validation.ts) into the model with every
// default applied, so that evaluate.ts and ruleset.ts never look at raw JSON
// and never re-derive a default:
// - policyTypes: as given, else Ingress, plus Egress when egress rules exist;
// - a rule without `from`/`to` (or with an empty list) admits every peer;
//   without `ports` (or empty) every port and protocol;
// - a peer's missing namespaceSelector is the policy's own namespace, an
//   empty one every namespace; a missing podSelector with a namespaceSelector
//   is every pod of those namespaces;
// - a port's protocol defaults to TCP.
import { parseCidr, type Cidr } from '../core/cidr.ts';
import { labelSelectorRequirements, matchesLabels, type Requirement } from '../core/selectors.ts';
import type { KubeObject, LabelSelector } from '../core/types.ts';
import type { SlimNamespace, SlimPod } from '../client/slim-objects.ts';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];
export type Direction = 'ingress' | 'egress';

/** The annotation that puts a policy in audit mode: computed and reported, never enforced. */
export const POLICY_MODE_ANNOTATION = 'meshlet.io/policy-mode';
export const POLICY_MODE_AUDIT = 'audit';

/** A port clause: all ports of a protocol, a number, a range, or a named port resolved per destination pod. */
export type PortMatch =
  | { protocol: Protocol; kind: 'any' }
  | { protocol: Protocol; kind: 'range'; from: number; to: number }
  | { protocol: Protocol; kind: 'named'; name: string };

/** IP block: a CIDR minus exceptions. */
export interface IpBlock {
  cidr: Cidr;
  except: Cidr[];
  /** As written, for explanations. */
  text: string;
}

/**
 * A peer. `namespaces`: 'own' (the policy's namespace) or requirements over
 * namespace labels ([] = every namespace); `pods`: requirements over pod
 * labels ([] = every pod).
 */
export type Peer = { kind: 'pods'; namespaces: 'own' | Requirement[]; pods: Requirement[] } | { kind: 'ipBlock'; block: IpBlock };

export interface PolicyRule {
  /** undefined = every peer (inside and outside the cluster). */
  peers?: Peer[];
  /** undefined = every port and protocol. */
  ports?: PortMatch[];
}

export interface Policy {
  namespace: string;
  name: string;
  /** Requirements over the labels of pods in `namespace` ([] = all of them). */
  podSelector: Requirement[];
  /** Present iff the policy isolates that direction; [] isolates and allows nothing. */
  ingress?: PolicyRule[];
  egress?: PolicyRule[];
  audit: boolean;
}

export interface NamedPort {
  name: string;
  port: number;
  protocol: Protocol;
}

export interface PodView {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  ips: string[];
  node?: string;
  ports: NamedPort[];
  hostNetwork?: boolean;
  /** Being deleted (its node holds its address closed: the address may soon be another pod's). */
  terminating?: boolean;
}

export interface NamespaceView {
  name: string;
  labels: Record<string, string>;
}

/** Everything the semantics depend on. */
export interface ClusterView {
  namespaces: NamespaceView[];
  pods: PodView[];
  policies: Policy[];
  /** Node name → its addresses (a pod's own node always reaches it). */
  nodes?: Record<string, string[]>;
}

export function policyId(p: { namespace: string; name: string }): string {
  return `${p.namespace}/${p.name}`;
}

export function podId(p: { namespace: string; name: string }): string {
  return `${p.namespace}/${p.name}`;
}

function requirements(sel: unknown): Requirement[] {
  return labelSelectorRequirements((sel ?? undefined) as LabelSelector | undefined);
}

function asRecord(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export class PolicyCompileError extends Error {
  override name = 'PolicyCompileError';
}

function compilePeer(raw: unknown): Peer {
  const p = asRecord(raw);
  if (p.ipBlock !== undefined && p.ipBlock !== null) {
    const b = asRecord(p.ipBlock);
    const cidr = parseCidr(String(b.cidr), { allowHostBits: true });
    const except = asArray(b.except).map((e) => parseCidr(String(e), { allowHostBits: true }));
    const text = except.length ? `${String(b.cidr)} except ${asArray(b.except).join(', ')}` : String(b.cidr);
    return { kind: 'ipBlock', block: { cidr, except, text } };
  }
  const hasNs = p.namespaceSelector !== undefined && p.namespaceSelector !== null;
  return { kind: 'pods', namespaces: hasNs ? requirements(p.namespaceSelector) : 'own', pods: requirements(p.podSelector) };
}

function compilePort(raw: unknown): PortMatch {
  const p = asRecord(raw);
  const protocol = (p.protocol ?? 'TCP') as Protocol;
  if (!PROTOCOLS.includes(protocol)) throw new PolicyCompileError(`unsupported protocol ${JSON.stringify(p.protocol)}`);
  if (p.port === undefined || p.port === null) return { protocol, kind: 'any' };
  if (typeof p.port === 'string' && !/^\d+$/.test(p.port)) return { protocol, kind: 'named', name: p.port };
  const from = Number(p.port);
  const to = typeof p.endPort === 'number' ? p.endPort : from;
  return { protocol, kind: 'range', from, to };
}

function compileRule(raw: unknown, peersKey: 'from' | 'to'): PolicyRule {
  const r = asRecord(raw);
  const peers = asArray(r[peersKey]);
  const ports = asArray(r.ports);
  return { ...(peers.length ? { peers: peers.map(compilePeer) } : {}), ...(ports.length ? { ports: ports.map(compilePort) } : {}) };
}

/** The model of one NetworkPolicy object (validate it first: this throws on what validation rejects). */
export function compilePolicy(obj: KubeObject): Policy {
  const spec = asRecord(obj.spec);
  const ingressRules = asArray(spec.ingress);
  const egressRules = asArray(spec.egress);
  const given = asArray(spec.policyTypes) as string[];
  const types = given.length ? given : egressRules.length ? ['Ingress', 'Egress'] : ['Ingress'];
  const policy: Policy = {
    namespace: obj.metadata?.namespace ?? 'default',
    name: obj.metadata?.name ?? '',
    podSelector: requirements(spec.podSelector),
    audit: obj.metadata?.annotations?.[POLICY_MODE_ANNOTATION] === POLICY_MODE_AUDIT,
  };
  if (types.includes('Ingress')) policy.ingress = ingressRules.map((r) => compileRule(r, 'from'));
  if (types.includes('Egress')) policy.egress = egressRules.map((r) => compileRule(r, 'to'));
  return policy;
}

/** A pod as the policy semantics see it (from the informer's slim Pod). */
export function podView(pod: SlimPod): PodView {
  const ips = pod.status?.podIPs?.length ? pod.status.podIPs.map((p) => p.ip) : pod.status?.podIP ? [pod.status.podIP] : [];
  const ports: NamedPort[] = [];
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name) ports.push({ name: p.name, port: p.containerPort, protocol: (p.protocol ?? 'TCP') as Protocol });
  }
  return {
    namespace: pod.metadata.namespace ?? 'default',
    name: pod.metadata.name ?? '',
    labels: { ...(pod.metadata.labels ?? {}) },
    ips,
    ...(pod.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
    ports,
    ...(pod.spec?.hostNetwork ? { hostNetwork: true } : {}),
    ...(pod.metadata.deletionTimestamp ? { terminating: true } : {}),
  };
}

/** Enforced (or audit-mode) policies isolating the pod in a direction, as `ns/name`. */
export function isolatingPolicies(policies: readonly Policy[], pod: PodView, direction: Direction, audit: boolean): string[] {
  return policies.filter((p) => p.audit === audit && (direction === 'ingress' ? p.ingress : p.egress) && selects(p, pod)).map(policyId);
}

export function namespaceView(ns: SlimNamespace): NamespaceView {
  return { name: ns.metadata.name ?? '', labels: { ...(ns.metadata.labels ?? {}) } };
}

// ------------------------------------------------------------ selection (shared by evaluate and ruleset)

/** Does the policy select this pod (its own namespace, its podSelector)? */
export function selects(policy: Policy, pod: PodView): boolean {
  return pod.namespace === policy.namespace && !pod.hostNetwork && matchesLabels(policy.podSelector, pod.labels);
}

/** Does a pod-kind peer of `policy` match this pod? */
export function peerMatchesPod(policy: Policy, peer: Extract<Peer, { kind: 'pods' }>, pod: PodView, namespaces: ReadonlyMap<string, NamespaceView>): boolean {
  if (peer.namespaces === 'own') {
    if (pod.namespace !== policy.namespace) return false;
  } else {
    const ns = namespaces.get(pod.namespace);
    if (!matchesLabels(peer.namespaces, ns?.labels ?? {})) return false;
  }
  return matchesLabels(peer.pods, pod.labels);
}

/** Is the address inside the block and outside its exceptions? */
export function blockContains(block: IpBlock, ip: bigint, family: 4 | 6): boolean {
  const inside = (c: Cidr): boolean => c.family === family && ip >> BigInt((family === 4 ? 32 : 128) - c.prefix) === c.network >> BigInt((family === 4 ? 32 : 128) - c.prefix);
  return inside(block.cidr) && !block.except.some(inside);
}

/** The port numbers a clause means against one destination pod (named ports resolve per pod, name and protocol). */
export function resolvePort(m: PortMatch, dest: PodView | undefined): { from: number; to: number } | 'any' | undefined {
  if (m.kind === 'any') return 'any';
  if (m.kind === 'range') return { from: m.from, to: m.to };
  const named = dest?.ports.find((p) => p.name === m.name && p.protocol === m.protocol);
  return named ? { from: named.port, to: named.port } : undefined;
}
