// The cluster zone as data: what the feed delivered (Services, EndpointSlices,
// Pods, Namespaces) compiled into records indexed by name key (lowercased wire
// form) and reverse name, updated incrementally per Service. Each change records
// the names it touched, so the server drops only those prebuilt answers.
// Pure: no I/O, no clock (the SOA serial is given).
import { isIPv4 } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { FeedEndpointSlice, FeedMessage, FeedNamespace, FeedPod, FeedService } from './feed.ts';
import { addressType, type RR } from './writer.ts';
import { inZone, keyLabels, keyToName, nameKey, parentKey, TYPE } from './wire.ts';

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

/**
 * A record as the zone holds it: no owner name text, no RR object. The owner's key is the same string the
 * index is keyed by (shared, not copied); a target (PTR, CNAME, SRV) is its key, for an endpoint or a
 * Service the very string its own records are keyed by. RRs for the writer are made from it on lookup.
 */
class ZRec {
  constructor(
    readonly key: string,
    readonly type: number,
    /** A: the IPv4 address as an int32 (a small integer, no heap object); AAAA: its text; PTR/CNAME/SRV: the target's key. */
    readonly value: number | string,
    /** SRV: the port; 0 otherwise. */
    readonly port: number,
  ) {}
}

/** A name's records: one (most names) or several. */
type Held = ZRec | ZRec[];
const heldList = (h: Held): readonly ZRec[] => (Array.isArray(h) ? h : [h]);

/** a.b.c.d as an int32. */
function v4Int(ip: string): number {
  const o = ip.split('.');
  return ((Number(o[0]) << 24) | (Number(o[1]) << 16) | (Number(o[2]) << 8) | Number(o[3])) | 0;
}
const v4Text = (v: number): string => `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;

/**
 * The same text as one flat string. A key built by `+` is a rope (ConsString) of its parts; held as a map key
 * it is flattened but the rope object stays too. Keys held for long are copied flat once: ~60 bytes a name less.
 */
const flat = (s: string): string => (s.length < 13 ? s : Buffer.from(s, 'latin1').toString('latin1'));

/** One wire label as it starts a key: its length byte and its (lowercase) text. */
const lbl = (label: string): string => String.fromCharCode(label.length) + label;
const IN_ADDR_KEY = nameKey('in-addr.arpa.');
const IP6_ARPA_KEY = nameKey('ip6.arpa.');

/** The key of reverseName(ip), built directly. */
export function reverseKey(ip: string): string {
  if (isIPv4(ip)) {
    const o = ip.split('.');
    return flat(lbl(o[3]) + lbl(o[2]) + lbl(o[1]) + lbl(o[0]) + IN_ADDR_KEY);
  }
  const nibbles = ipaddr.parse(ip).toByteArray().flatMap((b) => [(b >> 4).toString(16), (b & 15).toString(16)]);
  let k = '';
  for (let i = nibbles.length - 1; i >= 0; i--) k += lbl(nibbles[i]);
  return flat(k + IP6_ARPA_KEY);
}

const svcKeyOf = (ns: string, name: string): string => flat(`${ns}/${name}`);

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
  /** IP → the pod with it (or the pods: host-network ones share the node's). */
  private readonly podsByIP = new Map<string, FeedPod | FeedPod[]>();
  private readonly namespaces = new Set<string>();
  private readonly nsUse = new Map<string, number>();

  // Compiled.
  /** Name key → the records of that name (all types; one, or a short list). */
  private readonly records = new Map<string, Held>();
  private readonly ents = new Map<string, number>();
  private readonly owned = new Map<string, ZRec[]>();
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
    const nsNew = new Set(namespaces.map((x) => x.name));
    for (const x of [...this.namespaces]) if (!nsNew.has(x)) this.deleteNamespace(x);
    for (const x of namespaces) this.upsertNamespace(x);
    const kinds = [
      replaceKeyed(this.pods, pods, (p) => this.deletePod(p.namespace, p.name), (p) => this.upsertPod(p)),
      replaceKeyed(this.slices, slices, (x) => this.deleteSlice(x.namespace, x.name), (x) => this.upsertSlice(x)),
      replaceKeyed(this.services, services, (x) => this.deleteService(x.namespace, x.name), (x) => this.upsertService(x)),
    ];
    let n = 0;
    for (const kind of kinds) for (const _ of kind) if (++n % step === 0) yield;
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
    const held = this.podsByIP.get(ip);
    if (!held) return undefined;
    for (const p of Array.isArray(held) ? held : [held]) if (!p.hostNetwork) return p.namespace;
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
    const held = this.records.get(key);
    if (held !== undefined) return this.answerHeld(heldList(held), qtype);
    const node = fixed;
    if (node) {
      const cname = node.find((r) => r.data.type === TYPE.CNAME);
      if (cname && qtype !== TYPE.CNAME) return { kind: 'cname', cname, target: (cname.data as { target: string }).target };
      if (qtype === TYPE.ANY) return { kind: 'nodata' };
      const rrs = node.filter((r) => r.data.type === qtype);
      if (rrs.length === 0) return { kind: 'nodata' };
      return { kind: 'records', answers: rrs, additional: qtype === TYPE.NS ? this.additionalFor(rrs.map((r) => nameKey((r.data as { target: string }).target))) : [] };
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
    if (this.podMode === 'verified' && !this.podsWithIP(ip).some((p) => p.namespace === ns && !p.hostNetwork)) return { kind: 'nxdomain' };
    const t = addressType(ip);
    if (qtype !== t) return { kind: 'nodata' };
    const name = `${label}.${ns}.pod.${this.zone}`;
    return { kind: 'records', answers: [{ name, ttl: this.ttl, data: { type: t, ip } }], additional: [] };
  }

  /** What a held name answers for qtype: its records made into RRs (only now: names and texts are derived). */
  private answerHeld(list: readonly ZRec[], qtype: number): ZoneAnswer {
    const cname = list.find((r) => r.type === TYPE.CNAME);
    if (cname && qtype !== TYPE.CNAME) return { kind: 'cname', cname: this.toRR(cname), target: keyToName(cname.value as string) };
    if (qtype === TYPE.ANY) return { kind: 'nodata' };
    const recs = list.filter((r) => r.type === qtype);
    if (recs.length === 0) return { kind: 'nodata' };
    const rrs = recs.map((r) => this.toRR(r));
    return { kind: 'records', answers: qtype === TYPE.SRV ? withSrvWeights(rrs) : rrs, additional: qtype === TYPE.SRV ? this.additionalFor(recs.map((r) => r.value as string)) : [] };
  }

  private toRR(r: ZRec): RR {
    const name = keyToName(r.key);
    const ttl = this.ttl;
    switch (r.type) {
      case TYPE.A: return { name, ttl, data: { type: TYPE.A, ip: v4Text(r.value as number) } };
      case TYPE.AAAA: return { name, ttl, data: { type: TYPE.AAAA, ip: r.value as string } };
      case TYPE.SRV: return { name, ttl, data: { type: TYPE.SRV, priority: 0, weight: 100, port: r.port, target: keyToName(r.value as string) } };
      default: return { name, ttl, data: { type: r.type === TYPE.CNAME ? TYPE.CNAME : TYPE.PTR, target: keyToName(r.value as string) } };
    }
  }

  /** The A/AAAA records of the targets (keys), each target once. */
  private additionalFor(targets: readonly string[]): RR[] {
    const out: RR[] = [];
    const seen = new Set<string>();
    for (const t of targets) {
      if (seen.has(t)) continue;
      seen.add(t);
      const held = this.records.get(t);
      if (held !== undefined) {
        for (const r of heldList(held)) if (r.type === TYPE.A || r.type === TYPE.AAAA) out.push(this.toRR(r));
        continue;
      }
      for (const r of this.fixed.get(t) ?? []) if (r.data.type === TYPE.A || r.data.type === TYPE.AAAA) out.push(r);
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
      const held = this.podsByIP.get(ip);
      if (held === undefined) this.podsByIP.set(ip, p);
      else if (Array.isArray(held)) held.push(p);
      else this.podsByIP.set(ip, [held, p]);
    }
  }

  private unstorePod(k: string, p: FeedPod): void {
    this.pods.delete(k);
    this.useNs(p.namespace, -1);
    for (const ip of p.ips) {
      const list = this.podsWithIP(ip).filter((x) => x !== p);
      if (list.length > 1) this.podsByIP.set(ip, list);
      else if (list.length === 1) this.podsByIP.set(ip, list[0]);
      else this.podsByIP.delete(ip);
    }
  }

  private podsWithIP(ip: string): readonly FeedPod[] {
    const held = this.podsByIP.get(ip);
    return held === undefined ? [] : Array.isArray(held) ? held : [held];
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

  private serviceRecords(sk: string, svc: FeedService): ZRec[] {
    const baseKey = flat(lbl(svc.name) + lbl(svc.namespace) + this.svcZoneKey);
    const out: ZRec[] = [];
    const add = (key: string, type: number, value: number | string, port = 0): void => {
      out.push(new ZRec(key, type, value, port));
    };
    const addIP = (key: string, t: typeof TYPE.A | typeof TYPE.AAAA, ip: string): void => add(key, t, t === TYPE.A ? v4Int(ip) : ipaddr.parse(ip).toString());
    if (svc.type === 'ExternalName') {
      const target = (svc.externalName ?? '').replace(/\.$/, '');
      // CoreDNS serves no record for an ExternalName that is an IP address.
      if (target && !ipaddr.isValid(target)) {
        try {
          add(baseKey, TYPE.CNAME, nameKey(`${target.toLowerCase()}.`));
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
    const eps: { ip: string; host: string; key: string; t: typeof TYPE.A | typeof TYPE.AAAA }[] = [];
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
          eps.push({ ip, host: h, key: flat(lbl(h) + baseKey), t });
        }
      }
    }
    if (!headless) {
      for (const ip of clusterIPs) {
        const t = addressType(ip);
        if (!t) continue;
        addIP(baseKey, t, ip);
        add(reverseKey(ip), TYPE.PTR, baseKey);
      }
      for (const p of ports) {
        const port = p.name!.toLowerCase();
        const proto = p.protocol.toLowerCase();
        add(flat(lbl(`_${port}`) + lbl(`_${proto}`) + baseKey), TYPE.SRV, baseKey, p.port);
      }
    } else {
      const baseIPs = new Set<string>();
      for (const e of eps) {
        if (baseIPs.has(e.ip)) continue;
        baseIPs.add(e.ip);
        addIP(baseKey, e.t, e.ip);
      }
      // Ports as the slices carry them (the target ports), named as the Service's.
      const srvPorts = slicePorts.length ? slicePorts : ports.map((p) => ({ name: p.name!, port: p.port, protocol: p.protocol }));
      for (const p of srvPorts) {
        const port = p.name.toLowerCase();
        const proto = p.protocol.toLowerCase();
        const key = flat(lbl(`_${port}`) + lbl(`_${proto}`) + baseKey);
        // A target that cannot be a name (label over 63 bytes) has no records either: no SRV for it.
        for (const e of eps) if (e.host.length <= 63 && e.key.length <= 255) add(key, TYPE.SRV, e.key, p.port);
      }
    }
    // Endpoint names (for ClusterIP Services too, as CoreDNS answers them) and their PTRs.
    const ptrDone = new Set<string>();
    for (const e of eps) {
      if (e.host.length > 63 || e.key.length > 255) continue;
      addIP(e.key, e.t, e.ip);
      const id = `${e.ip}/${e.host}`;
      if (!ptrDone.has(id)) {
        ptrDone.add(id);
        add(reverseKey(e.ip), TYPE.PTR, e.key);
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

  private addRR(o: ZRec): void {
    const held = this.records.get(o.key);
    if (held === undefined) {
      this.records.set(o.key, o);
      this.entDelta(o.key, 1);
    } else if (Array.isArray(held)) held.push(o);
    else this.records.set(o.key, [held, o]);
    this.changed.add(o.key);
  }

  private removeRR(o: ZRec): void {
    const held = this.records.get(o.key);
    if (held === undefined) return;
    if (held === o || (Array.isArray(held) && held.length === 1 && held[0] === o)) {
      this.records.delete(o.key);
      this.entDelta(o.key, -1);
    } else if (Array.isArray(held)) {
      const i = held.indexOf(o);
      if (i >= 0) held.splice(i, 1);
      if (held.length === 1) this.records.set(o.key, held[0]);
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

/**
 * Brings `have` (keyed by namespace/name) to the snapshot `want`: what it lacks is removed, what is new or
 * changed is upserted, what is unchanged is left alone. Yields after each wanted object.
 */
function* replaceKeyed<T extends { namespace: string; name: string }>(
  have: Map<string, T>, want: readonly T[], remove: (x: T) => void, upsert: (x: T) => void,
): Generator<void> {
  const wanted = new Map(want.map((x) => [svcKeyOf(x.namespace, x.name), x]));
  for (const [k, x] of [...have]) if (!wanted.has(k)) remove(x);
  for (const [k, x] of wanted) {
    const old = have.get(k);
    if (!old || !sameJson(old, x)) upsert(x);
    yield;
  }
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
