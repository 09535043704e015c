// From slim Services and EndpointSlices to the proxy's view: one entry per
// Service port and IP family, with its frontend addresses and the endpoints
// this node should balance over. Pure. What is left out is decided here
// (headless and ExternalName Services, ports without endpoints' port, bad
// addresses), so the ruleset builder only renders.
import type { SlimEndpointSlice, SlimService } from '../client/slim-objects.ts';
import { ipFamily } from '../core/cidr.ts';
import type { Protocol, ServicePortName } from './names.ts';

export type { Family as IpFamily } from '../core/cidr.ts';
import type { Family as IpFamily } from '../core/cidr.ts';

export interface Endpoint {
  ip: string;
  port: number;
  nodeName?: string;
}

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
}

export interface ProxyInput {
  services: readonly SlimService[];
  /** EndpointSlices by "<namespace>/<service>". */
  slicesByService: ReadonlyMap<string, readonly SlimEndpointSlice[]>;
  nodeName: string;
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
    if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) continue;
    for (const e of s.endpoints) {
      const ip = e.addresses[0];
      if (!ip || ipFamily(ip) !== family) continue;
      const ep: Endpoint = { ip, port, ...(e.nodeName ? { nodeName: e.nodeName } : {}) };
      const key = `${ip}|${port}`;
      const c = e.conditions ?? {};
      if (c.ready !== false) ready.set(key, ep);
      else if (c.serving === true && c.terminating === true) terminating.set(key, ep);
    }
  }
  const chosen = ready.size ? ready : terminating;
  return [...chosen.values()].sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.port - b.port));
}

/** The proxied ports of one Service, every family (none for headless and ExternalName Services). */
export function servicePortsOf(svc: SlimService, slices: readonly SlimEndpointSlice[], nodeName: string): ServicePort[] {
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
  for (const clusterIP of ips) {
    const family = ipFamily(clusterIP);
    if (!family) continue;
    for (const p of spec.ports ?? []) {
      const protocol = protocolOf(p.protocol);
      if (!protocol || !Number.isInteger(p.port) || p.port < 1 || p.port > 65535) continue;
      const portName = p.name ?? '';
      const all = endpointsFor(slices, family, portName, protocol);
      const endpoints = local ? all.filter((e) => e.nodeName === nodeName) : all;
      out.push({
        namespace, name, protocol, portName, family, clusterIP, port: p.port, endpoints,
        noLocalEndpoints: local && all.length > 0 && endpoints.length === 0,
        ...(affinity !== undefined ? { affinitySeconds: affinity } : {}),
      });
    }
  }
  return out;
}

/**
 * Results per Service kept between syncs: a Service whose object and
 * EndpointSlice objects are the same (by identity: the informer replaces an
 * object when it changes) keeps its ServicePort objects, so the ruleset's
 * fragments and the adapter's render caches are reused.
 */
export class ServicePortMemo {
  private entries = new Map<string, { svc: SlimService; slices: readonly SlimEndpointSlice[]; nodeName: string; ports: ServicePort[] }>();

  ports(key: string, svc: SlimService, slices: readonly SlimEndpointSlice[], nodeName: string, seen: Set<string>): ServicePort[] {
    seen.add(key);
    const e = this.entries.get(key);
    if (e && e.svc === svc && e.nodeName === nodeName && e.slices.length === slices.length && e.slices.every((s, i) => s === slices[i])) return e.ports;
    const ports = servicePortsOf(svc, slices, nodeName);
    this.entries.set(key, { svc, slices, nodeName, ports });
    return ports;
  }

  /** Forget Services not seen in the last pass. */
  prune(seen: ReadonlySet<string>): void {
    for (const k of this.entries.keys()) if (!seen.has(k)) this.entries.delete(k);
  }
}

const portKey = (s: ServicePort): string => `${s.namespace}/${s.name}/${s.portName}/${s.protocol}/${s.family}`;

/** Every proxied Service port of every family, sorted by identity (stable output for stable input). */
export function servicePorts(input: ProxyInput, memo?: ServicePortMemo): ServicePort[] {
  const out: ServicePort[] = [];
  const seen = new Set<string>();
  for (const svc of input.services) {
    const key = `${svc.metadata.namespace ?? 'default'}/${svc.metadata.name}`;
    const slices = input.slicesByService.get(key) ?? [];
    for (const p of memo ? memo.ports(key, svc, slices, input.nodeName, seen) : servicePortsOf(svc, slices, input.nodeName)) out.push(p);
  }
  memo?.prune(seen);
  const keys = new Map(out.map((p) => [p, portKey(p)]));
  return out.sort((a, b) => (keys.get(a)! < keys.get(b)! ? -1 : keys.get(a)! > keys.get(b)! ? 1 : 0));
}
