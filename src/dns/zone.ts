// The cluster zone as data: what the feed delivered (Services, EndpointSlices,
// Pods, Namespaces) compiled into records indexed by name key (lowercased wire
// form) and reverse name, updated incrementally per Service. Each change records
// the names it touched, so the server drops only those prebuilt answers.
// Pure: no I/O, no clock (the SOA serial is given).
import { isIPv4 } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { FeedEndpointSlice, FeedMessage, FeedNamespace, FeedPod, FeedService } from './feed.ts';
import { addressType, type RR } from './writer.ts';
import { inZone, keyLabels, nameKey, parentKey, TYPE } from './wire.ts';

export type PodMode = 'disabled' | 'insecure' | 'verified';
export const POD_MODES: readonly PodMode[] = ['disabled', 'insecure', 'verified'];

export interface ZoneConfig {
  /** The cluster domain, e.g. cluster.local (trailing dot optional). */
  zone: string;
  /** TTL of every record we serve, and the SOA minimum. */
  ttl: number;
  podMode: PodMode;
  /** Addresses the DNS is reached at: the A/AAAA of ns.dns.<zone>, the apex NS target (optional). */
  dnsAddresses?: readonly string[];
}

export const DNS_SCHEMA_VERSION = '1.1.0';

/** What a name holds, for one query type. */
export type ZoneAnswer =
  | { kind: 'records'; answers: RR[]; additional: RR[] }
  | { kind: 'nodata' }
  | { kind: 'nxdomain' }
  /** The name is an alias (ExternalName): answer the CNAME and, for A/AAAA, chase the target. */
  | { kind: 'cname'; cname: RR; target: string };

/** A record we hold, with the key of its owner name. */
interface Owned extends RR {
  key: string;
}

/** One wire label as it starts a key: its length byte and its (lowercase) text. */
const lbl = (label: string): string => String.fromCharCode(label.length) + label;
const IN_ADDR_KEY = nameKey('in-addr.arpa.');
const IP6_ARPA_KEY = nameKey('ip6.arpa.');

/** The key of reverseName(ip), built directly. */
export function reverseKey(ip: string): string {
  if (isIPv4(ip)) {
    const o = ip.split('.');
    return lbl(o[3]) + lbl(o[2]) + lbl(o[1]) + lbl(o[0]) + IN_ADDR_KEY;
  }
  const nibbles = ipaddr.parse(ip).toByteArray().flatMap((b) => [(b >> 4).toString(16), (b & 15).toString(16)]);
  let k = '';
  for (let i = nibbles.length - 1; i >= 0; i--) k += lbl(nibbles[i]);
  return k + IP6_ARPA_KEY;
}

const svcKeyOf = (ns: string, name: string): string => `${ns}/${name}`;

/** d.c.b.a.in-addr.arpa. / nibbles.ip6.arpa. */
export function reverseName(ip: string): string {
  if (isIPv4(ip)) {
    const o = ip.split('.');
    return `${o[3]}.${o[2]}.${o[1]}.${o[0]}.in-addr.arpa.`;
  }
  const addr = ipaddr.parse(ip);
  if (addr.kind() === 'ipv4') return `${addr.toByteArray().reverse().join('.')}.in-addr.arpa.`;
  const nibbles = addr.toByteArray().flatMap((b) => [(b >> 4).toString(16), (b & 15).toString(16)]);
  return `${nibbles.reverse().join('.')}.ip6.arpa.`;
}

/** The hostname CoreDNS gives an endpoint without one: its IP with dots (or colons) as dashes. */
export function dashedIP(ip: string): string {
  return isIPv4(ip) ? ip.replace(/\./g, '-') : ipaddr.parse(ip).toString().replace(/:/g, '-');
}

/** a-b-c-d (or the dashed IPv6 form) back to an address, or undefined. */
export function podLabelIP(label: string): string | undefined {
  const dashes = (label.match(/-/g) ?? []).length;
  const text = dashes === 3 && !label.includes('--') ? label.replace(/-/g, '.') : label.replace(/-/g, ':');
  if (!ipaddr.isValid(text)) return undefined;
  const parsed = ipaddr.parse(text);
  // ipaddr accepts shorthand IPv4 ("1.2.3"): require the four-part form.
  if (parsed.kind() === 'ipv4' && !ipaddr.IPv4.isValidFourPartDecimal(text)) return undefined;
  return parsed.toString();
}

export class ClusterZone {
  readonly zone: string;
  readonly zoneKey: string;
  readonly svcZoneKey: string;
  readonly podZoneKey: string;
  readonly ttl: number;
  readonly podMode: PodMode;
  serial = 1;

  // What the feed delivered.
  private readonly services = new Map<string, FeedService>();
  private readonly slices = new Map<string, FeedEndpointSlice>();
  private readonly slicesBySvc = new Map<string, Set<string>>();
  private readonly pods = new Map<string, FeedPod>();
  private readonly podsByIP = new Map<string, FeedPod[]>();
  private readonly namespaces = new Set<string>();
  private readonly nsUse = new Map<string, number>();

  // Compiled.
  /** Name key → the records of that name (all types; short lists). */
  private readonly records = new Map<string, RR[]>();
  private readonly ents = new Map<string, number>();
  private readonly owned = new Map<string, Owned[]>();
  /** Pod key → services whose records used that pod's hostname. */
  private readonly podUsers = new Map<string, Set<string>>();
  /** Service key → pod keys it looked up (the inverse of podUsers). */
  private readonly svcPods = new Map<string, Set<string>>();
  /** Services to recompile at the end of the current feed message. */
  private readonly dirty = new Set<string>();
  private readonly fixed: Map<string, RR[]>;
  private readonly fixedNodata: Set<string>;

  /** Name keys whose answers changed since the last takeChanged(). */
  private changed = new Set<string>();

  constructor(readonly config: ZoneConfig) {
    this.zone = `${config.zone.toLowerCase().replace(/\.$/, '')}.`;
    this.zoneKey = nameKey(this.zone);
    this.svcZoneKey = nameKey(`svc.${this.zone}`);
    this.podZoneKey = nameKey(`pod.${this.zone}`);
    this.ttl = config.ttl;
    this.podMode = config.podMode;
    const ttl = config.ttl;
    const ns = `ns.dns.${this.zone}`;
    this.fixed = new Map();
    const put = (name: string, rr: RR): void => {
      const k = nameKey(name);
      this.fixed.set(k, [...(this.fixed.get(k) ?? []), rr]);
    };
    put(this.zone, { name: this.zone, ttl, data: { type: TYPE.NS, target: ns } });
    put(`dns-version.${this.zone}`, { name: `dns-version.${this.zone}`, ttl, data: { type: TYPE.TXT, texts: [DNS_SCHEMA_VERSION] } });
    for (const ip of config.dnsAddresses ?? []) {
      const t = addressType(ip);
      if (t) put(ns, { name: ns, ttl, data: { type: t, ip } });
    }
    this.fixedNodata = new Set([this.zoneKey, this.svcZoneKey, this.podZoneKey, nameKey(`dns.${this.zone}`), nameKey(ns)]);
  }

  /** The zone's SOA (in answers at the apex and in the authority section of negative answers). */
  soa(): RR {
    return {
      name: this.zone,
      ttl: this.ttl,
      data: {
        type: TYPE.SOA, mname: `ns.dns.${this.zone}`, rname: `hostmaster.${this.zone}`,
        serial: this.serial >>> 0, refresh: 7200, retry: 1800, expire: 86400, minimum: this.ttl,
      },
    };
  }

  // ---- feed ----

  /** Applies one feed message. `serial` becomes the SOA serial (callers pass epoch seconds). */
  apply(m: FeedMessage, serial: number): void {
    for (const _ of this.applySteps(m, serial)) {
      // all at once
    }
  }

  /**
   * The same as apply, in steps of about `step` objects, so a caller can keep answering queries between them
   * (a large snapshot). Queries in between see a mix of old and new data, never a name half-compiled.
   */
  *applySteps(m: FeedMessage, serial: number, step = 2000): Generator<void> {
    this.serial = serial;
    if (m.type === 'snapshot') yield* this.replaceSteps(m.services, m.endpointSlices, m.pods, m.namespaces, step);
    else this.applyOne(m);
    let n = 0;
    for (const sk of this.dirty) {
      this.compile(sk);
      this.dirty.delete(sk);
      if (++n % step === 0) yield;
    }
  }

  private applyOne(m: FeedMessage): void {
    switch (m.type) {
      case 'snapshot':
        this.replaceAll(m.services, m.endpointSlices, m.pods, m.namespaces);
        return;
      case 'upsert':
        switch (m.kind) {
          case 'Service': return this.upsertService(m.object);
          case 'EndpointSlice': return this.upsertSlice(m.object);
          case 'Pod': return this.upsertPod(m.object);
          case 'Namespace': return this.upsertNamespace(m.object);
        }
        return;
      case 'delete':
        switch (m.kind) {
          case 'Service': return this.deleteService(m.namespace ?? '', m.name);
          case 'EndpointSlice': return this.deleteSlice(m.namespace ?? '', m.name);
          case 'Pod': return this.deletePod(m.namespace ?? '', m.name);
          case 'Namespace': return this.deleteNamespace(m.name);
        }
    }
  }

  /**
   * A snapshot: everything not in it goes, everything in it is upserted, and what is unchanged is left
   * alone, so a feeder's reconnect with the same data recompiles (and invalidates) nothing.
   */
  replaceAll(services: FeedService[], slices: FeedEndpointSlice[], pods: FeedPod[], namespaces: FeedNamespace[]): void {
    for (const _ of this.replaceSteps(services, slices, pods, namespaces, Infinity)) {
      // all at once
    }
  }

  private *replaceSteps(services: FeedService[], slices: FeedEndpointSlice[], pods: FeedPod[], namespaces: FeedNamespace[], step: number): Generator<void> {
    const same = sameJson;
    let n = 0;
    const nsNew = new Set(namespaces.map((x) => x.name));
    for (const x of [...this.namespaces]) if (!nsNew.has(x)) this.deleteNamespace(x);
    for (const x of namespaces) this.upsertNamespace(x);
    const podsNew = new Map(pods.map((p) => [svcKeyOf(p.namespace, p.name), p]));
    for (const [k, p] of [...this.pods]) if (!podsNew.has(k)) this.deletePod(p.namespace, p.name);
    for (const [k, p] of podsNew) {
      const old = this.pods.get(k);
      if (!old || !same(old, p)) this.upsertPod(p);
      if (++n % step === 0) yield;
    }
    const slicesNew = new Map(slices.map((x) => [svcKeyOf(x.namespace, x.name), x]));
    for (const [k, x] of [...this.slices]) if (!slicesNew.has(k)) this.deleteSlice(x.namespace, x.name);
    for (const [k, x] of slicesNew) {
      const old = this.slices.get(k);
      if (!old || !same(old, x)) this.upsertSlice(x);
      if (++n % step === 0) yield;
    }
    const svcNew = new Map(services.map((x) => [svcKeyOf(x.namespace, x.name), x]));
    for (const [k, x] of [...this.services]) if (!svcNew.has(k)) this.deleteService(x.namespace, x.name);
    for (const [k, x] of svcNew) {
      const old = this.services.get(k);
      if (!old || !same(old, x)) this.upsertService(x);
      if (++n % step === 0) yield;
    }
  }

  upsertService(s: FeedService): void {
    const k = svcKeyOf(s.namespace, s.name);
    if (!this.services.has(k)) this.useNs(s.namespace, 1);
    this.services.set(k, s);
    this.markDirty(k);
  }

  deleteService(ns: string, name: string): void {
    const k = svcKeyOf(ns, name);
    if (!this.services.delete(k)) return;
    this.useNs(ns, -1);
    this.markDirty(k);
  }

  upsertSlice(s: FeedEndpointSlice): void {
    const k = svcKeyOf(s.namespace, s.name);
    const before = this.slices.get(k);
    this.storeSlice(s);
    if (before && before.service !== s.service) this.markDirty(svcKeyOf(before.namespace, before.service));
    this.markDirty(svcKeyOf(s.namespace, s.service));
  }

  deleteSlice(ns: string, name: string): void {
    const k = svcKeyOf(ns, name);
    const before = this.slices.get(k);
    if (!before) return;
    this.unstoreSlice(k, before);
    this.markDirty(svcKeyOf(ns, before.service));
  }

  upsertPod(p: FeedPod): void {
    const k = svcKeyOf(p.namespace, p.name);
    const before = this.pods.get(k);
    if (before) this.unstorePod(k, before);
    this.storePod(p);
    this.podChanged(k, before, p);
  }

  deletePod(ns: string, name: string): void {
    const k = svcKeyOf(ns, name);
    const before = this.pods.get(k);
    if (!before) return;
    this.unstorePod(k, before);
    this.podChanged(k, before, undefined);
  }

  upsertNamespace(n: FeedNamespace): void {
    if (this.namespaces.has(n.name)) return;
    this.namespaces.add(n.name);
    this.useNs(n.name, 1);
  }

  deleteNamespace(name: string): void {
    if (!this.namespaces.delete(name)) return;
    this.useNs(name, -1);
  }

  /** Name keys whose answers changed since the last call. */
  takeChanged(): Set<string> {
    const out = this.changed;
    this.changed = new Set();
    return out;
  }

  // ---- queries ----

  /** The namespace of the (non-host-network) pod with this IP, if exactly known. */
  podNamespace(ip: string): string | undefined {
    const list = this.podsByIP.get(ip);
    if (!list) return undefined;
    for (const p of list) if (!p.hostNetwork) return p.namespace;
    return undefined;
  }

  namespaceExists(ns: string): boolean {
    return (this.nsUse.get(ns) ?? 0) > 0;
  }

  counts(): { services: number; endpointSlices: number; pods: number; namespaces: number; names: number } {
    return { services: this.services.size, endpointSlices: this.slices.size, pods: this.pods.size, namespaces: this.namespaces.size, names: this.records.size };
  }

  /** Is this name (key) ours to answer: under the zone, or a reverse name we hold? */
  authoritative(key: string): boolean {
    return inZone(key, this.zoneKey) || this.records.has(key);
  }

  /** The answer for a name we are authoritative for (see authoritative()). */
  lookup(key: string, qtype: number): ZoneAnswer {
    const fixed = this.fixed.get(key);
    if (qtype === TYPE.SOA && key === this.zoneKey) return { kind: 'records', answers: [this.soa()], additional: [] };
    const node = this.records.get(key) ?? fixed;
    if (node) {
      const cname = node.find((r) => r.data.type === TYPE.CNAME);
      if (cname && qtype !== TYPE.CNAME) return { kind: 'cname', cname, target: (cname.data as { target: string }).target };
      if (qtype === TYPE.ANY) return { kind: 'nodata' };
      const rrs = node.filter((r) => r.data.type === qtype);
      if (rrs.length === 0) return { kind: 'nodata' };
      return { kind: 'records', answers: qtype === TYPE.SRV ? withSrvWeights(rrs) : rrs, additional: qtype === TYPE.SRV || qtype === TYPE.NS ? this.additionalFor(rrs) : [] };
    }
    if (this.fixedNodata.has(key) || this.ents.has(key)) return { kind: 'nodata' };
    if (inZone(key, this.podZoneKey)) return this.lookupPod(key, qtype);
    if (inZone(key, this.svcZoneKey)) {
      const labels = keyLabels(key.slice(0, key.length - this.svcZoneKey.length) + '\x00');
      if (labels.length === 1 && this.namespaceExists(labels[0])) return { kind: 'nodata' };
    }
    return { kind: 'nxdomain' };
  }

  private lookupPod(key: string, qtype: number): ZoneAnswer {
    if (this.podMode === 'disabled') return { kind: 'nxdomain' };
    const labels = keyLabels(key.slice(0, key.length - this.podZoneKey.length) + '\x00');
    if (labels.length === 1) return this.namespaceExists(labels[0]) ? { kind: 'nodata' } : { kind: 'nxdomain' };
    if (labels.length !== 2) return { kind: 'nxdomain' };
    const [label, ns] = labels;
    const ip = podLabelIP(label);
    if (!ip || !this.namespaceExists(ns)) return { kind: 'nxdomain' };
    if (this.podMode === 'verified' && !(this.podsByIP.get(ip) ?? []).some((p) => p.namespace === ns && !p.hostNetwork)) return { kind: 'nxdomain' };
    const t = addressType(ip);
    if (qtype !== t) return { kind: 'nodata' };
    const name = `${label}.${ns}.pod.${this.zone}`;
    return { kind: 'records', answers: [{ name, ttl: this.ttl, data: { type: t, ip } }], additional: [] };
  }

  private additionalFor(rrs: RR[]): RR[] {
    const out: RR[] = [];
    const seen = new Set<string>();
    for (const rr of rrs) {
      const target = (rr.data as { target?: string }).target;
      if (!target || seen.has(target)) continue;
      seen.add(target);
      const node = this.records.get(nameKey(target)) ?? this.fixed.get(nameKey(target)) ?? [];
      for (const r of node) if (r.data.type === TYPE.A || r.data.type === TYPE.AAAA) out.push(r);
    }
    return out;
  }

  // ---- compilation ----

  private useNs(ns: string, d: number): void {
    const before = this.nsUse.get(ns) ?? 0;
    const after = before + d;
    if (after <= 0) this.nsUse.delete(ns);
    else this.nsUse.set(ns, after);
    if ((before > 0) !== (after > 0)) {
      this.changed.add(nameKey(`${ns}.svc.${this.zone}`));
      this.changed.add(nameKey(`${ns}.pod.${this.zone}`));
      // Pod names under the namespace change with it (insecure mode); the server drops pod answers wholesale.
      this.changed.add(this.podZoneKey);
    }
  }

  private storeSlice(s: FeedEndpointSlice): void {
    const k = svcKeyOf(s.namespace, s.name);
    const before = this.slices.get(k);
    if (before) this.unstoreSlice(k, before);
    this.slices.set(k, s);
    const sk = svcKeyOf(s.namespace, s.service);
    let set = this.slicesBySvc.get(sk);
    if (!set) this.slicesBySvc.set(sk, (set = new Set()));
    set.add(k);
  }

  private unstoreSlice(k: string, s: FeedEndpointSlice): void {
    this.slices.delete(k);
    const sk = svcKeyOf(s.namespace, s.service);
    const set = this.slicesBySvc.get(sk);
    set?.delete(k);
    if (set && set.size === 0) this.slicesBySvc.delete(sk);
  }

  private storePod(p: FeedPod): void {
    const k = svcKeyOf(p.namespace, p.name);
    this.pods.set(k, p);
    this.useNs(p.namespace, 1);
    for (const ip of p.ips) {
      const list = this.podsByIP.get(ip) ?? [];
      list.push(p);
      this.podsByIP.set(ip, list);
    }
  }

  private unstorePod(k: string, p: FeedPod): void {
    this.pods.delete(k);
    this.useNs(p.namespace, -1);
    for (const ip of p.ips) {
      const list = (this.podsByIP.get(ip) ?? []).filter((x) => x !== p);
      if (list.length) this.podsByIP.set(ip, list);
      else this.podsByIP.delete(ip);
    }
  }

  private podChanged(k: string, before: FeedPod | undefined, after: FeedPod | undefined): void {
    for (const p of before ? (after ? [before, after] : [before]) : after ? [after] : []) {
      for (const ip of p.ips) this.changed.add(lbl(dashedIP(ip)) + lbl(p.namespace) + this.podZoneKey);
      if (p.subdomain) this.markDirty(svcKeyOf(p.namespace, p.subdomain));
    }
    for (const sk of this.podUsers.get(k) ?? []) this.markDirty(sk);
  }

  private markDirty(sk: string): void {
    this.dirty.add(sk);
  }

  /** Recompiles the Services the last changes touched. */
  /** Recomputes one Service's records (removing them if it is gone). */
  private compile(sk: string): void {
    const old = this.owned.get(sk) ?? [];
    for (const o of old) this.removeRR(o);
    for (const pk of this.svcPods.get(sk) ?? []) {
      const users = this.podUsers.get(pk);
      users?.delete(sk);
      if (users && users.size === 0) this.podUsers.delete(pk);
    }
    this.svcPods.delete(sk);
    const svc = this.services.get(sk);
    const next = svc ? this.serviceRecords(sk, svc) : [];
    for (const o of next) this.addRR(o);
    if (next.length) this.owned.set(sk, next);
    else this.owned.delete(sk);
  }

  private serviceRecords(sk: string, svc: FeedService): Owned[] {
    const ttl = this.ttl;
    const base = `${svc.name}.${svc.namespace}.svc.${this.zone}`;
    const baseKey = lbl(svc.name) + lbl(svc.namespace) + this.svcZoneKey;
    const out: Owned[] = [];
    const add = (key: string, name: string, data: RR['data']): void => {
      out.push({ key, name, ttl, data });
    };
    if (svc.type === 'ExternalName') {
      const target = (svc.externalName ?? '').replace(/\.$/, '');
      // CoreDNS serves no record for an ExternalName that is an IP address.
      if (target && !ipaddr.isValid(target)) {
        try {
          nameKey(target);
          add(baseKey, base, { type: TYPE.CNAME, target: `${target.toLowerCase()}.` });
        } catch {
          // not a valid DNS name: no record
        }
      }
      return out;
    }
    const clusterIPs = (svc.clusterIPs ?? []).filter((ip) => ip !== 'None');
    const headless = clusterIPs.length === 0;
    const ports = (svc.ports ?? []).filter((p) => p.name);
    // Endpoints: ready ones (or all, with publishNotReadyAddresses), with their hostnames.
    const eps: { ip: string; host: string; t: typeof TYPE.A | typeof TYPE.AAAA }[] = [];
    const seen = new Set<string>();
    const slicePorts: { name: string; port: number; protocol: string }[] = [];
    for (const slk of this.slicesBySvc.get(sk) ?? []) {
      const sl = this.slices.get(slk);
      if (!sl || sl.addressType === 'FQDN') continue;
      for (const p of sl.ports ?? []) if (p.name && !slicePorts.some((q) => q.name === p.name && q.protocol === p.protocol)) slicePorts.push({ name: p.name, port: p.port, protocol: p.protocol });
      for (const e of sl.endpoints) {
        if (e.ready === false && !svc.publishNotReadyAddresses) continue;
        let host = e.hostname;
        if (!host && e.podName) {
          const pk = svcKeyOf(svc.namespace, e.podName);
          const pod = this.pods.get(pk);
          if (pod?.hostname && pod.subdomain === svc.name) host = pod.hostname;
          // A pod's hostname and subdomain cannot change: only a pod not seen yet, or one that names this
          // Service, can change this Service's records later.
          if (!pod || host) this.dependOnPod(sk, pk);
        }
        for (const ip of e.addresses) {
          const t = addressType(ip);
          if (!t) continue;
          const h = (host ?? dashedIP(ip)).toLowerCase();
          const id = `${h}/${ip}`;
          if (seen.has(id)) continue;
          seen.add(id);
          eps.push({ ip, host: h, t });
        }
      }
    }
    if (!headless) {
      for (const ip of clusterIPs) {
        const t = addressType(ip);
        if (!t) continue;
        add(baseKey, base, { type: t, ip });
        add(reverseKey(ip), reverseName(ip), { type: TYPE.PTR, target: base });
      }
      for (const p of ports) {
        const port = p.name!.toLowerCase();
        const proto = p.protocol.toLowerCase();
        add(lbl(`_${port}`) + lbl(`_${proto}`) + baseKey, `_${port}._${proto}.${base}`, { type: TYPE.SRV, priority: 0, weight: 100, port: p.port, target: base });
      }
    } else {
      const baseIPs = new Set<string>();
      for (const e of eps) {
        if (baseIPs.has(e.ip)) continue;
        baseIPs.add(e.ip);
        add(baseKey, base, { type: e.t, ip: e.ip });
      }
      // Ports as the slices carry them (the target ports), named as the Service's.
      const srvPorts = slicePorts.length ? slicePorts : ports.map((p) => ({ name: p.name!, port: p.port, protocol: p.protocol }));
      for (const p of srvPorts) {
        const port = p.name.toLowerCase();
        const proto = p.protocol.toLowerCase();
        const key = lbl(`_${port}`) + lbl(`_${proto}`) + baseKey;
        const name = `_${port}._${proto}.${base}`;
        for (const e of eps) add(key, name, { type: TYPE.SRV, priority: 0, weight: 100, port: p.port, target: `${e.host}.${base}` });
      }
    }
    // Endpoint names (for ClusterIP Services too, as CoreDNS answers them) and their PTRs.
    const ptrDone = new Set<string>();
    for (const e of eps) {
      const key = lbl(e.host) + baseKey;
      if (e.host.length > 63 || key.length > 255) continue;
      const name = `${e.host}.${base}`;
      add(key, name, { type: e.t, ip: e.ip });
      const id = `${e.ip}/${e.host}`;
      if (!ptrDone.has(id)) {
        ptrDone.add(id);
        add(reverseKey(e.ip), reverseName(e.ip), { type: TYPE.PTR, target: name });
      }
    }
    return out;
  }

  private dependOnPod(sk: string, pk: string): void {
    let users = this.podUsers.get(pk);
    if (!users) this.podUsers.set(pk, (users = new Set()));
    users.add(sk);
    let used = this.svcPods.get(sk);
    if (!used) this.svcPods.set(sk, (used = new Set()));
    used.add(pk);
  }

  private addRR(o: Owned): void {
    const list = this.records.get(o.key);
    if (list) list.push(o);
    else {
      this.records.set(o.key, [o]);
      this.entDelta(o.key, 1);
    }
    this.changed.add(o.key);
  }

  private removeRR(o: Owned): void {
    const list = this.records.get(o.key);
    if (!list) return;
    const i = list.indexOf(o);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) {
      this.records.delete(o.key);
      this.entDelta(o.key, -1);
    }
    this.changed.add(o.key);
  }

  /** Counts names below each ancestor inside the zone (empty non-terminals answer NODATA). */
  private entDelta(key: string, d: number): void {
    if (!inZone(key, this.zoneKey)) return;
    for (let p = parentKey(key); p !== undefined && p.length > this.zoneKey.length; p = parentKey(p)) {
      const n = (this.ents.get(p) ?? 0) + d;
      if (n <= 0) this.ents.delete(p);
      else this.ents.set(p, n);
      if (n === 0 || (d > 0 && n === 1)) this.changed.add(p);
    }
  }
}

/** SRV weights as CoreDNS gives them: 100 split evenly over the records of one name. */
function withSrvWeights(rrs: RR[]): RR[] {
  if (rrs.length <= 1) return rrs;
  const w = Math.floor(100 / rrs.length);
  return rrs.map((r) => (r.data.type === TYPE.SRV && 'weight' in r.data ? { ...r, data: { ...r.data, weight: w } } : r));
}

/** Deep equality of two JSON values (feed objects), without serialising them. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}
