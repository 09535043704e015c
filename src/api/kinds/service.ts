// Services: validation, defaults, the printer, field selectors, what an
// update keeps of the allocated values (ClusterIP, node ports), and the write
// hooks that allocate and free them (ClusterIP: cluster-ip.ts; node ports and
// the health-check node port: node-ports.ts).
import { deepEqual } from '../../core/deep-equal.ts';
import { isDns1123Label, isDns1123Subdomain } from '../../core/names.ts';
import type { KubeObject, StatusCause } from '../../core/types.ts';
import {
  DNS1035_LABEL_MSG,
  DNS1123_LABEL_MSG,
  DNS1123_SUBDOMAIN_MSG,
  asList,
  asObj,
  cause,
  checkEnum,
  checkIp,
  checkLabels,
  checkPortNumber,
  checkPortOrName,
  checkProtocol,
  child,
  isDns1035Label,
  setDefault,
} from './checks.ts';
import { NONE, ageCell, col, list, mapSelectorText, num, printer, record, text } from './printer.ts';
import { CONDITIONS, byKey, pathSelectors, type HookContext, type KindStrategy, type PreparedWrite, type WriteHooks } from './strategy.ts';
import { nodePortsToCarry } from '../node-ports.ts';

const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];

function validateService(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  const spec = asObj(obj.spec);
  if (!spec) return [cause.required('spec')];
  out.push(...checkEnum('spec.type', spec.type, SERVICE_TYPES));
  out.push(...checkEnum('spec.sessionAffinity', spec.sessionAffinity, ['None', 'ClientIP']));
  out.push(...checkEnum('spec.externalTrafficPolicy', spec.externalTrafficPolicy, ['Cluster', 'Local']));
  const type = spec.type ?? 'ClusterIP';
  const nodePortsAllowed = type === 'NodePort' || type === 'LoadBalancer';
  const headless = spec.clusterIP === 'None';
  const ports = asList(spec.ports);
  if (ports.length === 0 && type !== 'ExternalName' && !headless) out.push(cause.required('spec.ports'));
  const names = new Set<string>();
  const keys = new Set<string>();
  const nodePortKeys = new Set<string>();
  ports.forEach((p, i) => {
    const port = asObj(p) ?? {};
    const f = `spec.ports[${i}]`;
    if (ports.length > 1 && !port.name) out.push(cause.required(`${f}.name`));
    if (port.name !== undefined && port.name !== '') {
      const n = port.name;
      if (typeof n !== 'string' || !isDns1123Label(n)) out.push(cause.invalid(`${f}.name`, n, DNS1123_LABEL_MSG));
      else if (names.has(n)) out.push(cause.duplicate(`${f}.name`, n));
      else names.add(n);
    }
    out.push(...checkPortNumber(`${f}.port`, port.port));
    out.push(...checkProtocol(`${f}.protocol`, port.protocol));
    if (port.targetPort !== undefined && port.targetPort !== 0) out.push(...checkPortOrName(`${f}.targetPort`, port.targetPort));
    // The node port range is the allocator's (--service-node-port-range): only the shape is checked here.
    if (port.nodePort !== undefined && port.nodePort !== 0) {
      const np = port.nodePort;
      if (!nodePortsAllowed) out.push(cause.forbidden(`${f}.nodePort`, `may not be used when \`type\` is '${String(type)}'`));
      else {
        out.push(...checkPortNumber(`${f}.nodePort`, np));
        const npKey = `${String(np)}/${String(port.protocol ?? 'TCP')}`;
        if (nodePortKeys.has(npKey)) out.push(cause.duplicate(`${f}.nodePort`, np));
        nodePortKeys.add(npKey);
      }
    }
    const key = `${String(port.port)}/${String(port.protocol ?? 'TCP')}`;
    if (keys.has(key)) out.push(cause.duplicate(f, { port: port.port, protocol: port.protocol ?? 'TCP' }));
    keys.add(key);
  });
  const hc = spec.healthCheckNodePort;
  if (hc !== undefined && hc !== 0) {
    if (!nodePortsAllowed || spec.externalTrafficPolicy !== 'Local') {
      out.push(cause.invalid('spec.healthCheckNodePort', hc, 'may only be set when `type` is \'LoadBalancer\' or \'NodePort\' and `externalTrafficPolicy` is \'Local\''));
    } else out.push(...checkPortNumber('spec.healthCheckNodePort', hc));
  }
  if (spec.allocateLoadBalancerNodePorts !== undefined && type !== 'LoadBalancer') {
    out.push(cause.forbidden('spec.allocateLoadBalancerNodePorts', 'may only be used when `type` is \'LoadBalancer\''));
  }
  if (spec.clusterIP !== undefined && spec.clusterIP !== '' && spec.clusterIP !== 'None') {
    out.push(...checkIp('spec.clusterIP', spec.clusterIP));
  }
  const ips = asList(spec.clusterIPs);
  ips.forEach((ip, i) => {
    if (ip !== 'None') out.push(...checkIp(`spec.clusterIPs[${i}]`, ip));
  });
  if (ips.length > 0 && spec.clusterIP !== undefined && spec.clusterIP !== '' && ips[0] !== spec.clusterIP) {
    out.push(cause.invalid('spec.clusterIPs', ips, 'element [0] must match clusterIP'));
  }
  if (type === 'ExternalName') {
    if (spec.clusterIP !== undefined && spec.clusterIP !== '') out.push(cause.forbidden('spec.clusterIP', 'may not be set for ExternalName services'));
    const en = spec.externalName;
    if (!en) out.push(cause.required('spec.externalName'));
    else if (typeof en !== 'string' || !isDns1123Subdomain(en.replace(/\.$/, ''))) out.push(cause.invalid('spec.externalName', en, DNS1123_SUBDOMAIN_MSG));
  }
  const selector = asObj(spec.selector);
  if (selector) out.push(...checkLabels('spec.selector', selector));
  asList(spec.externalIPs).forEach((ip, i) => out.push(...checkIp(`spec.externalIPs[${i}]`, ip)));
  if (old) {
    const was = asObj(old.spec)?.clusterIP;
    if (typeof was === 'string' && was !== '' && spec.clusterIP !== undefined && spec.clusterIP !== '' && spec.clusterIP !== was) {
      out.push(cause.invalid('spec.clusterIP', spec.clusterIP, 'field is immutable'));
    }
  }
  return out;
}

// ------------------------------------------------------------ update rules

/**
 * An update that leaves spec.clusterIP(s) out keeps the allocated address, as
 * Kubernetes does; one that makes the Service ExternalName drops the address it
 * had (upstream's dropTypeDependentFields), so that it is released.
 */
function carryOverClusterIp(was: Record<string, unknown>, spec: Record<string, unknown>): void {
  if (spec.type === 'ExternalName') {
    if (spec.clusterIP === undefined || spec.clusterIP === was.clusterIP) delete spec.clusterIP;
    if (spec.clusterIPs === undefined || deepEqual(spec.clusterIPs, was.clusterIPs)) delete spec.clusterIPs;
    return;
  }
  if ((spec.clusterIP === undefined || spec.clusterIP === '') && was.clusterIP !== undefined) spec.clusterIP = structuredClone(was.clusterIP);
  if (spec.clusterIPs === undefined && was.clusterIPs !== undefined) spec.clusterIPs = structuredClone(was.clusterIPs);
}

function prepareServiceUpdate(old: KubeObject, next: KubeObject): void {
  const was = asObj(old.spec);
  const spec = asObj(next.spec);
  if (!was || !spec) return;
  carryOverClusterIp(was, spec);
  next.spec = nodePortsToCarry(old, next).spec;
}

// ------------------------------------------------------------ write hooks

async function both(a: PreparedWrite, makeB: (obj: KubeObject) => Promise<PreparedWrite>): Promise<PreparedWrite> {
  let b: PreparedWrite;
  try {
    b = await makeB(a.object);
  } catch (err) {
    await a.undo();
    throw err;
  }
  return {
    object: b.object,
    commit: async () => {
      await a.commit();
      await b.commit();
    },
    undo: async () => {
      await b.undo();
      await a.undo();
    },
  };
}

const serviceHooks: WriteHooks = {
  async beforeCreate(obj: KubeObject, ctx: HookContext) {
    const ips = await ctx.clusterIps.prepareCreate(ctx.store, obj);
    return both(ips, (withIp) => ctx.nodePorts.prepareCreate(ctx.store, withIp));
  },
  async beforeUpdate(old: KubeObject, next: KubeObject, ctx: HookContext) {
    const ips = await ctx.clusterIps.prepareUpdate(ctx.store, old, next);
    return both(ips, (withIp) => ctx.nodePorts.prepareUpdate(ctx.store, old, withIp));
  },
  async afterDelete(deleted: KubeObject, ctx: HookContext) {
    await ctx.clusterIps.release(deleted);
    await ctx.nodePorts.release(deleted);
  },
  async repair(ctx: HookContext) {
    return (await ctx.clusterIps.repair(ctx.store)) + (await ctx.nodePorts.repair(ctx.store));
  },
};

// ------------------------------------------------------------ printer

function serviceExternalIp(svc: KubeObject): string {
  const spec = record(svc.spec);
  const external = list(spec.externalIPs).map(text);
  const ingress = list(record(record(svc.status).loadBalancer).ingress)
    .map(record)
    .map((i) => text(i.ip) || text(i.hostname))
    .filter(Boolean);
  switch (text(spec.type) || 'ClusterIP') {
    case 'ExternalName':
      return text(spec.externalName);
    case 'LoadBalancer': {
      const all = [...ingress, ...external];
      return all.length > 0 ? all.join(',') : '<pending>';
    }
    default:
      return external.length > 0 ? external.join(',') : NONE;
  }
}

function servicePorts(svc: KubeObject): string {
  const ports = list(record(svc.spec).ports).map(record);
  if (ports.length === 0) return NONE;
  return ports
    .map((p) => {
      const proto = text(p.protocol) || 'TCP';
      return num(p.nodePort) > 0 ? `${num(p.port)}:${num(p.nodePort)}/${proto}` : `${num(p.port)}/${proto}`;
    })
    .join(',');
}

export const serviceStrategy: KindStrategy = {
  groupResource: 'services',
  nameRule: { test: isDns1035Label, message: DNS1035_LABEL_MSG },
  topLevelFields: ['spec', 'status'],
  validate: validateService,
  defaults(o) {
    const spec = child(o, 'spec');
    setDefault(spec, 'type', 'ClusterIP');
    setDefault(spec, 'sessionAffinity', 'None');
    if (spec.type !== 'ExternalName') setDefault(spec, 'internalTrafficPolicy', 'Cluster');
    if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') setDefault(spec, 'externalTrafficPolicy', 'Cluster');
    if (spec.type === 'LoadBalancer') setDefault(spec, 'allocateLoadBalancerNodePorts', true);
    for (const p of asList(spec.ports)) {
      const port = asObj(p);
      if (!port) continue;
      setDefault(port, 'protocol', 'TCP');
      if (port.targetPort === undefined || port.targetPort === 0 || port.targetPort === '') port.targetPort = port.port;
    }
  },
  listStrategies: { 'spec.ports': byKey('port'), ...CONDITIONS },
  printer: printer([
    [col('Type', 'type determines how the Service is exposed.'), (o) => text(record(o.spec).type) || 'ClusterIP'],
    [col('Cluster-IP', 'clusterIP is the IP address of the service.'), (o) => text(record(o.spec).clusterIP) || NONE],
    [col('External-IP', 'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.'), (o) => serviceExternalIp(o)],
    [col('Port(s)', 'The list of ports that are exposed by this service.'), (o) => servicePorts(o)],
    ageCell,
    [col('Selector', 'Route service traffic to pods with label keys and values matching this selector.', { priority: 1 }), (o) => mapSelectorText(record(o.spec).selector)],
  ]),
  fieldSelectors: pathSelectors(['spec.clusterIP', 'spec.type']),
  prepareUpdate: prepareServiceUpdate,
  writeHooks: serviceHooks,
};
