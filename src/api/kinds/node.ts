// Nodes: validation (pod CIDRs, taints, addresses), the printer, field
// selectors, and a create that keeps the status the kubelet registers with.
import { isQualifiedName } from '../../core/names.ts';
import type { KubeObject, StatusCause } from '../../core/types.ts';
import { NODE_ROLE_LABEL_PREFIX, ROLE_LABEL } from '../../core/well-known.ts';
import { QUALIFIED_NAME_MSG, asList, asObj, cause, checkCidr, checkEnum, checkIp, str } from './checks.ts';
import { NONE, ageCell, col, list, printer, record, text } from './printer.ts';
import { CONDITIONS, SET, byKey, pathValue, type KindStrategy } from './strategy.ts';

function validateNode(obj: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  const spec = asObj(obj.spec) ?? {};
  if (spec.podCIDR !== undefined && spec.podCIDR !== '') out.push(...checkCidr('spec.podCIDR', spec.podCIDR));
  const cidrs = asList(spec.podCIDRs);
  cidrs.forEach((c, i) => out.push(...checkCidr(`spec.podCIDRs[${i}]`, c)));
  if (cidrs.length > 0 && spec.podCIDR && cidrs[0] !== spec.podCIDR) {
    out.push(cause.invalid('spec.podCIDRs', cidrs, 'element [0] must match spec.podCIDR'));
  }
  if (cidrs.length > 2) out.push(cause.invalid('spec.podCIDRs', cidrs, 'may specify no more than one CIDR for each IP family'));
  asList(spec.taints).forEach((t, i) => {
    const taint = asObj(t) ?? {};
    if (!str(taint.key)) out.push(cause.required(`spec.taints[${i}].key`));
    else if (!isQualifiedName(taint.key as string)) out.push(cause.invalid(`spec.taints[${i}].key`, taint.key, QUALIFIED_NAME_MSG));
    if (taint.effect === undefined) out.push(cause.required(`spec.taints[${i}].effect`));
    else out.push(...checkEnum(`spec.taints[${i}].effect`, taint.effect, ['NoSchedule', 'PreferNoSchedule', 'NoExecute']));
  });
  asList(asObj(obj.status)?.addresses).forEach((a, i) => {
    const addr = asObj(a) ?? {};
    if (addr.type === 'InternalIP' || addr.type === 'ExternalIP') out.push(...checkIp(`status.addresses[${i}].address`, addr.address));
  });
  return out;
}

function nodeStatusText(node: KubeObject): string {
  const ready = list(record(node.status).conditions)
    .map(record)
    .find((c) => c.type === 'Ready');
  const parts = [ready?.status === 'True' ? 'Ready' : ready ? 'NotReady' : 'Unknown'];
  if (record(node.spec).unschedulable === true) parts.push('SchedulingDisabled');
  return parts.join(',');
}

function nodeRoles(node: KubeObject): string {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(node.metadata.labels ?? {})) {
    if (k.startsWith(NODE_ROLE_LABEL_PREFIX) && k.length > NODE_ROLE_LABEL_PREFIX.length) roles.add(k.slice(NODE_ROLE_LABEL_PREFIX.length));
    else if (k === ROLE_LABEL && v) roles.add(v);
  }
  return roles.size > 0 ? [...roles].sort().join(',') : NONE;
}

function nodeAddress(node: KubeObject, type: string): string {
  const a = list(record(node.status).addresses)
    .map(record)
    .find((x) => x.type === type);
  return a ? text(a.address) : NONE;
}

function nodeInfo(node: KubeObject, field: string): string {
  return text(record(record(node.status).nodeInfo)[field]) || '<unknown>';
}

export const nodeStrategy: KindStrategy = {
  groupResource: 'nodes',
  topLevelFields: ['spec', 'status'],
  validate: validateNode,
  listStrategies: { 'spec.podCIDRs': SET, 'status.addresses': byKey('type'), ...CONDITIONS },
  printer: printer([
    [col('Status', 'The status of the node'), (o) => nodeStatusText(o)],
    [col('Roles', 'The roles of the node'), (o) => nodeRoles(o)],
    ageCell,
    [col('Version', 'Kubelet Version reported by the node.'), (o) => text(record(record(o.status).nodeInfo).kubeletVersion)],
    [col('Internal-IP', 'List of addresses reachable to the node.', { priority: 1 }), (o) => nodeAddress(o, 'InternalIP')],
    [col('External-IP', 'List of addresses reachable to the node.', { priority: 1 }), (o) => nodeAddress(o, 'ExternalIP')],
    [col('OS-Image', 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).', { priority: 1 }), (o) => nodeInfo(o, 'osImage')],
    [col('Kernel-Version', "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", { priority: 1 }), (o) => nodeInfo(o, 'kernelVersion')],
    [col('Container-Runtime', 'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).', { priority: 1 }), (o) => nodeInfo(o, 'containerRuntimeVersion')],
  ]),
  // Unset booleans read as false, as Kubernetes' field label conversion does.
  fieldSelectors: { 'spec.unschedulable': pathValue('spec.unschedulable', 'false') },
  createKeepsStatus: true,
};
