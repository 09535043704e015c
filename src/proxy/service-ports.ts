// From slim Services and EndpointSlices to the proxy's view: one entry per
// Service port and IP family, with its frontend addresses and the endpoints
// this node should balance over. Pure. What is left out is decided here
// (headless and ExternalName Services, ports without endpoints' port, bad
// addresses), so the ruleset builder only renders.
import type { SlimEndpointSlice, SlimService } from '../client/slim-objects.ts';
import { formatCidr, ipFamily, parseCidr } from '../core/cidr.ts';
import type { Protocol, ServicePortName } from './names.ts';

export type { Family as IpFamily } from '../core/cidr.ts';
import type { Family as IpFamily } from '../core/cidr.ts';

export interface Endpoint {
  ip: string;
  port: number;
  nodeName?: string;
  /** Topology (PreferClose): the endpoint's zone and hints, dropped once endpoints are chosen. */
  zone?: string;
  forZones?: string[];
  forNodes?: string[];
}

/** An endpoint as the ruleset sees it (topology fields dropped: they do not change the rules). */
const bare = (e: Endpoint): Endpoint => ({ ip: e.ip, port: e.port, ...(e.nodeName ? { nodeName: e.nodeName } : {}) });

export interface ServicePort extends ServicePortName {
  family: IpFamily;
  /** The Service's ClusterIP of this family. */
  clusterIP: string;
  port: number;
  /** Endpoints to balance over (after readiness and traffic policy); empty: reject. */
  endpoints: Endpoint[];
  /** internalTrafficPolicy Local and no endpoint on this node: drop rather than reject. */
  noLocalEndpoints: boolean;
  /** sessionAffinity ClientIP: the timeout in seconds. */
  affinitySeconds?: number;
  /** spec.ports[].nodePort (NodePort and LoadBalancer Services). */
  nodePort?: number;
  /** externalIPs and status.loadBalancer.ingress[].ip of this family (handled alike). */
  externalIPs: string[];
  /** externalTrafficPolicy Local (NodePort, LoadBalancer, externalIPs): no SNAT, local endpoints only. */
  externalLocal: boolean;
  /** With externalLocal: the ready endpoints on this node (empty: external traffic dropped). */
  localEndpoints: Endpoint[];
  /** spec.healthCheckNodePort (eTP Local LoadBalancer Services). */
  healthCheckNodePort?: number;
  /**
   * loadBalancerSourceRanges of this family, for the LoadBalancer ingress
   * addresses of this family (only those: not externalIPs, not NodePorts,
   * as upstream): traffic to them from elsewhere is dropped. Absent when
   * either list is empty.
   */
  firewall?: { ips: string[]; ranges: string[] };
}

export interface ProxyInput {
  services: readonly SlimService[];
  /** EndpointSlices by "<namespace>/<service>". */
  slicesByService: ReadonlyMap<string, readonly SlimEndpointSlice[]>;
  nodeName: string;
  /** This node's topology.kubernetes.io/zone (trafficDistribution PreferClose). */
  nodeZone?: string;
}

/** kube-apiserver's default ClientIP affinity timeout (3 hours). */
export const DEFAULT_AFFINITY_SECONDS = 10800;
const MAX_AFFINITY_SECONDS = 86400;

function protocolOf(p: string | undefined): Protocol | undefined {
  const v = (p ?? 'TCP').toUpperCase();
  return v === 'TCP' ? 'tcp' : v === 'UDP' ? 'udp' : v === 'SCTP' ? 'sctp' : undefined;
}

function sliceFamily(s: SlimEndpointSlice): IpFamily | undefined {
  return s.addressType === 'IPv4' ? 4 : s.addressType === 'IPv6' ? 6 : undefined;
}

/** Ready endpoints; with none, serving terminating ones (kube-proxy's fallback), deduplicated by ip:port. */
function endpointsFor(slices: readonly SlimEndpointSlice[], family: IpFamily, portName: string, protocol: Protocol): Endpoint[] {
  const ready = new Map<string, Endpoint>();
  const terminating = new Map<string, Endpoint>();
  for (const s of slices) {
    if (sliceFamily(s) !== family) continue;
    const port = (s.ports ?? []).find((p) => (p.name ?? '') === portName && protocolOf(p.protocol) === protocol)?.port;
    if (!validPort(port)) continue;
    for (const e of s.endpoints) {
      const ip = e.addresses[0];
      if (!ip || ipFamily(ip) !== family) continue;
      const ep: Endpoint = {
        ip, port, ...(e.nodeName ? { nodeName: e.nodeName } : {}), ...(e.zone ? { zone: e.zone } : {}),
        ...(e.hints?.forZones ? { forZones: e.hints.forZones.map((z) => z.name) } : {}),
        ...(e.hints?.forNodes ? { forNodes: e.hints.forNodes.map((n) => n.name) } : {}),
      };
      const key = `${ip}|${port}`;
      const c = e.conditions ?? {};
      if (c.ready !== false) ready.set(key, ep);
      else if (c.serving === true && c.terminating === true) terminating.set(key, ep);
    }
  }
  const chosen = ready.size ? ready : terminating;
  return [...chosen.values()].sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.port - b.port));
}

/** Where this node is, for trafficDistribution PreferClose. */
export interface NodePlace {
  nodeName: string;
  zone?: string;
}

/**
 * trafficDistribution PreferClose: endpoints hinted for (or on) this node,
 * else those hinted for (or in) its zone, else all.
 */
export function preferClose(all: readonly Endpoint[], place: NodePlace): Endpoint[] {
  const node = all.filter((e) => e.forNodes ? e.forNodes.includes(place.nodeName) : e.nodeName === place.nodeName);
  if (node.length) return node;
  if (place.zone !== undefined) {
    const zone = all.filter((e) => e.forZones ? e.forZones.includes(place.zone!) : e.zone === place.zone);
    if (zone.length) return zone;
  }
  return [...all];
}

const familyIps = (ips: readonly (string | undefined)[], family: IpFamily): string[] =>
  [...new Set(ips.filter((ip): ip is string => typeof ip === 'string' && ipFamily(ip) === family))].sort();

/** Source ranges of one family, canonical ("10.0.0.5/24" → 10.0.0.0/24, as Go's ParseCIDR reads it); unparsable ones left out (the API validates them). */
function familyRanges(ranges: readonly string[] | undefined, family: IpFamily): string[] {
  const out = new Set<string>();
  for (const r of ranges ?? []) {
    try {
      const c = parseCidr(String(r).trim(), { allowHostBits: true });
      if (c.family === family) out.add(formatCidr(c));
    } catch {
      // not a CIDR: skipped
    }
  }
  return [...out].sort();
}

const validPort = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;

/** The proxied ports of one Service, every family (none for headless and ExternalName Services). */
export function servicePortsOf(svc: SlimService, slices: readonly SlimEndpointSlice[], nodeName: string, nodeZone?: string): ServicePort[] {
  const out: ServicePort[] = [];
  const spec = svc.spec ?? {};
  if (spec.type === 'ExternalName') return out;
  const ips = (spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : []).filter((ip) => ip && ip !== 'None');
  if (!ips.length) return out; // headless: DNS only
  const namespace = svc.metadata.namespace ?? 'default';
  const name = svc.metadata.name;
  const affinity = spec.sessionAffinity === 'ClientIP'
    ? Math.min(MAX_AFFINITY_SECONDS, Math.max(1, Math.trunc(spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_SECONDS)))
    : undefined;
  const local = spec.internalTrafficPolicy === 'Local';
  const externalLocal = spec.externalTrafficPolicy === 'Local';
  const type = spec.type ?? 'ClusterIP';
  const withNodePorts = type === 'NodePort' || type === 'LoadBalancer';
  const lbIps = type === 'LoadBalancer' ? (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip) : [];
  const external = [...(spec.externalIPs ?? []), ...lbIps];
  const place: NodePlace = { nodeName, ...(nodeZone !== undefined ? { zone: nodeZone } : {}) };
  for (const clusterIP of ips) {
    const family = ipFamily(clusterIP);
    if (!family) continue;
    for (const p of spec.ports ?? []) {
      const protocol = protocolOf(p.protocol);
      if (!protocol || !validPort(p.port)) continue;
      const portName = p.name ?? '';
      const all = endpointsFor(slices, family, portName, protocol);
      const close = spec.trafficDistribution === 'PreferClose' && !local ? preferClose(all, place) : all;
      const endpoints = (local ? all.filter((e) => e.nodeName === nodeName) : close).map(bare);
      const externalIPs = familyIps(external, family);
      const nodePort = withNodePorts && validPort(p.nodePort) ? p.nodePort : undefined;
      const exposed = nodePort !== undefined || externalIPs.length > 0;
      const fwIps = familyIps(lbIps, family);
      const fwRanges = fwIps.length ? familyRanges(spec.loadBalancerSourceRanges, family) : [];
      out.push({
        namespace, name, protocol, portName, family, clusterIP, port: p.port, endpoints,
        noLocalEndpoints: local && all.length > 0 && endpoints.length === 0,
        ...(affinity !== undefined ? { affinitySeconds: affinity } : {}),
        ...(nodePort !== undefined ? { nodePort } : {}),
        externalIPs,
        externalLocal: externalLocal && exposed,
        localEndpoints: externalLocal && exposed ? all.filter((e) => e.nodeName === nodeName).map(bare) : [],
        ...(externalLocal && exposed && withNodePorts && validPort(spec.healthCheckNodePort) ? { healthCheckNodePort: spec.healthCheckNodePort } : {}),
        ...(fwIps.length && fwRanges.length ? { firewall: { ips: fwIps, ranges: fwRanges } } : {}),
      });
    }
  }
  return out;
}

const portKey = (s: ServicePort): string => `${s.namespace}/${s.name}/${s.portName}/${s.protocol}/${s.family}`;

/**
 * Every proxied Service port of every family, sorted by identity (stable
 * output for stable input). The proxier does not call this per sync: it
 * keeps each Service's ports and recomputes the dirty ones (servicePortsOf).
 */
export function servicePorts(input: ProxyInput): ServicePort[] {
  const out: ServicePort[] = [];
  for (const svc of input.services) {
    const key = `${svc.metadata.namespace ?? 'default'}/${svc.metadata.name}`;
    const slices = input.slicesByService.get(key) ?? [];
    for (const p of servicePortsOf(svc, slices, input.nodeName, input.nodeZone)) out.push(p);
  }
  const keys = new Map(out.map((p) => [p, portKey(p)]));
  return out.sort((a, b) => (keys.get(a)! < keys.get(b)! ? -1 : keys.get(a)! > keys.get(b)! ? 1 : 0));
}
