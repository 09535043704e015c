// Authentication (static bearer tokens, the Kubernetes token-file format) and
// authorization (a fixed policy: admins do anything, nodes do what a kubelet needs).
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { KubeError } from '../core/errors.ts';
import { ADMIN_GROUP, LEASES, NODES_GROUP, NODE_LEASE_NAMESPACE, NODE_USER_PREFIX } from '../core/well-known.ts';
import type { KubeObject } from '../core/types.ts';

export interface Identity {
  user: string;
  uid: string;
  groups: string[];
}

/** token → identity. */
export type TokenSet = ReadonlyMap<string, Identity>;

/** Splits one CSV line, honouring double quotes ("a,b" and "" escapes). */
export function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else field += c;
  }
  fields.push(field);
  return fields.map((f) => f.trim());
}

/** Parses a static token file: `token,user,uid,"group1,group2"` per line; blank lines and # comments skipped. */
export function parseTokenFile(text: string): TokenSet {
  const tokens = new Map<string, Identity>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const [token, user, uid, groups] = splitCsvLine(line);
    if (!token || !user) throw new Error(`token file line ${index + 1}: need at least token,user`);
    tokens.set(token, {
      user,
      uid: uid ?? '',
      groups: groups ? groups.split(',').map((g) => g.trim()).filter(Boolean) : [],
    });
  });
  return tokens;
}

export function loadTokenFile(path: string): TokenSet {
  return parseTokenFile(readFileSync(path, 'utf8'));
}

function csvField(value: string): string {
  return /[",\s]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** Writes a token file (mode 0600) with a fresh random token per identity; returns user → token. */
export function generateTokenFile(
  path: string,
  identities: { user: string; uid: string; groups: string[] }[],
): Map<string, string> {
  const byUser = new Map<string, string>();
  const lines: string[] = [];
  for (const id of identities) {
    const token = randomBytes(32).toString('hex');
    byUser.set(id.user, token);
    lines.push([token, csvField(id.user), csvField(id.uid), csvField(id.groups.join(','))].join(','));
  }
  writeFileSync(path, lines.join('\n') + '\n', { mode: 0o600 });
  chmodSync(path, 0o600);
  return byUser;
}

/** The identity behind an Authorization header, or a 401 KubeError. */
export function authenticate(tokens: TokenSet, authorization: string | undefined): Identity {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  const identity = match ? tokens.get(match[1]) : undefined;
  if (!identity) throw new KubeError('Unauthorized', 'Unauthorized');
  return identity;
}

export interface ResourceAttributes {
  verb: string;
  /** group-resource, e.g. "pods", "deployments.apps" */
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

const READ_VERBS = new Set(['get', 'list', 'watch']);
const WRITE_VERBS = new Set(['create', 'update', 'patch']);
/**
 * What a node identity may write, as "resource[/subresource]": its Node, its heartbeat
 * Lease, the status of its pods, and Events. Nothing else — no Services, EndpointSlices,
 * NetworkPolicies or coordination Leases outside kube-node-lease (the controllers' and
 * the scheduler's leader elections live in kube-system).
 */
const NODE_WRITABLE = new Set([
  'nodes',
  'nodes/status',
  'pods/status',
  LEASES,
  'events',
]);

/**
 * API groups a node identity may not even read: metrics.k8s.io (a kubelet has
 * no use for other nodes' figures, and each read makes the server ask every
 * kubelet with those kubelets' own tokens; upstream's system:node role has no
 * metrics.k8s.io either).
 */
const NODE_UNREADABLE_GROUPS: ReadonlySet<string> = new Set(['metrics.k8s.io']);

function groupOf(groupResource: string): string {
  const dot = groupResource.indexOf('.');
  return dot < 0 ? '' : groupResource.slice(dot + 1);
}

/** The node a `system:node:<name>` identity speaks for. */
export function nodeNameOf(identity: Identity): string | undefined {
  return identity.user.startsWith(NODE_USER_PREFIX) ? identity.user.slice(NODE_USER_PREFIX.length) : undefined;
}

/**
 * Objects that belong to one node, as Kubernetes' NodeRestriction sees them: a node may
 * change its own Node and its own heartbeat Lease, not another node's (a node that could
 * rewrite another's kubelet endpoint would be handed that node's token by the log proxy).
 */
function ownedByOneNode(attrs: ResourceAttributes): boolean {
  if (attrs.resource === 'nodes') return true;
  return attrs.resource === 'leases.coordination.k8s.io' && attrs.namespace === NODE_LEASE_NAMESPACE;
}

function podCidrsOf(obj: KubeObject | undefined): string {
  const spec = (obj?.spec ?? {}) as { podCIDR?: unknown; podCIDRs?: unknown };
  return JSON.stringify([spec.podCIDR ?? null, spec.podCIDRs ?? null]);
}

/**
 * NodeRestriction on what a node writes, decided on the object itself once the server
 * has it (the body of a create, the result of an update or patch). Pure; returns the
 * 403 to answer, or undefined. A node may
 * - create only its own Node and its own heartbeat Lease (authorization cannot see
 *   a create's name: it is in the body);
 * - never set or change its Node's spec.podCIDR(s): the node-IPAM controller leases
 *   subnets and writes them there, and a node that could write them could claim
 *   another node's subnet and draw its pod traffic.
 */
export function nodeAdmission(identity: Identity, attrs: ResourceAttributes, old: KubeObject | undefined, next: KubeObject): KubeError | undefined {
  if (identity.groups.includes(ADMIN_GROUP)) return undefined;
  const node = nodeNameOf(identity);
  if (node === undefined) return undefined;
  const name = next.metadata.name ?? '';
  if (attrs.verb === 'create' && ownedByOneNode(attrs) && name !== node) {
    return forbidden(identity, attrs, name, `a node may create only its own ${attrs.resource === 'nodes' ? 'Node' : 'heartbeat Lease'}`);
  }
  if (attrs.resource === 'nodes' && podCidrsOf(old) !== podCidrsOf(next)) {
    return forbidden(identity, attrs, name, 'a node may not set or change its spec.podCIDR or spec.podCIDRs (the node-IPAM controller assigns them)');
  }
  return undefined;
}

function forbidden(identity: Identity, attrs: ResourceAttributes, name: string, why: string): KubeError {
  const kind = attrs.resource.split('.')[0];
  return new KubeError('Forbidden', `${kind} "${name}" is forbidden: User "${identity.user}" cannot ${attrs.verb} it: ${why}`, { name, kind });
}

/** The fixed authorization policy. */
export function isAllowed(identity: Identity, attrs: ResourceAttributes): boolean {
  if (identity.groups.includes(ADMIN_GROUP)) return true;
  if (!identity.groups.includes(NODES_GROUP)) return false;
  if (READ_VERBS.has(attrs.verb)) return !NODE_UNREADABLE_GROUPS.has(groupOf(attrs.resource));
  const target = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
  if (WRITE_VERBS.has(attrs.verb)) {
    if (!NODE_WRITABLE.has(target)) return false;
    if (attrs.resource === 'leases.coordination.k8s.io' && attrs.namespace !== NODE_LEASE_NAMESPACE) return false;
    // Updates and patches name their object; a create's name is in its body (nodeAdmission checks it).
    if (ownedByOneNode(attrs) && attrs.name !== undefined) return attrs.name === nodeNameOf(identity);
    return true;
  }
  if (attrs.verb === 'delete') return target === 'pods';
  return false;
}

/**
 * Pod writes a node identity may make only on pods bound to it (status updates, and the
 * delete that finishes a graceful deletion), as NodeRestriction has it. The caller looks
 * the pod up; undefined: no check needed.
 */
export function nodePodCheck(identity: Identity, attrs: ResourceAttributes): string | undefined {
  if (identity.groups.includes(ADMIN_GROUP) || attrs.resource !== 'pods' || attrs.name === undefined) return undefined;
  const node = nodeNameOf(identity);
  if (node === undefined) return undefined;
  const write = attrs.verb === 'delete' || (WRITE_VERBS.has(attrs.verb) && attrs.subresource === 'status');
  return write ? node : undefined;
}

/** The 403 for a node writing a pod bound elsewhere. */
export function forbiddenPodOfOtherNode(identity: Identity, attrs: ResourceAttributes): KubeError {
  return new KubeError(
    'Forbidden',
    `pods "${attrs.name ?? ''}" is forbidden: User "${identity.user}" cannot ${attrs.verb} pods bound to another node`,
    { name: attrs.name, kind: 'pods' },
  );
}

/** Throws the 403 Status Kubernetes answers with. */
export function authorize(identity: Identity, attrs: ResourceAttributes): void {
  if (isAllowed(identity, attrs)) return;
  const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
  const [plural, ...groupParts] = resource.split('/')[0].split('.');
  const group = groupParts.join('.');
  const scope = attrs.namespace ? ` in the namespace "${attrs.namespace}"` : ' at the cluster scope';
  const what = attrs.subresource ? `${plural}/${attrs.subresource}` : plural;
  const name = attrs.name ? `${what} "${attrs.name}"` : what;
  throw new KubeError(
    'Forbidden',
    `${name}${group ? `.${group}` : ''} is forbidden: User "${identity.user}" cannot ${attrs.verb} resource "${what}" in API group "${group}"${scope}`,
    { name: attrs.name, group, kind: plural },
  );
}

/** Non-resource URLs (discovery, health) any authenticated user may read; /metrics is for admins. */
export function authorizeNonResource(identity: Identity, path: string): void {
  if (path === '/metrics' && !identity.groups.includes(ADMIN_GROUP)) {
    throw new KubeError('Forbidden', `forbidden: User "${identity.user}" cannot get path "${path}"`);
  }
}
