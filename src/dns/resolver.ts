// The resolver: one query message in, one response message out. The hot path
// parses the question, finds a prebuilt answer (zone answers are built on first
// use and dropped when the feed changes their name; upstream answers are cached
// as bytes) and patches it for the client. Everything else (first lookups,
// forwarding, ExternalName targets, the autopath search) is the slow path.
import { AnswerCache, DEFAULT_CACHE_POLICY, errorReply, finish, prebuild, prebuildUpstream, udpLimit, type Prebuilt, type UpstreamCachePolicy } from './answers.ts';
import type { RecursionAcl } from './acl.ts';
import type { FeedMessage } from './feed.ts';
import { walkMessage } from './message.ts';
import type { DnsMetrics } from './metrics.ts';
import type { Forwarder } from './upstream.ts';
import type { RR } from './writer.ts';
import { CLASS_ANY, CLASS_IN, inZone, keyToName, labelsBefore, nameKey, parseQuery, RCODE, TYPE, type Query } from './wire.ts';
import type { ClusterZone } from './zone.ts';

export type Transport = 'udp' | 'tcp';

export interface ResolverOptions {
  zone: ClusterZone;
  forwarder: Forwarder;
  acl: RecursionAcl;
  /** Server-side search path for known pods (CoreDNS autopath). */
  autopath: boolean;
  /** Search domains after the cluster's three, as the pods' resolv.conf has them (autopath). */
  extraSearch?: readonly string[];
  zoneCacheSize?: number;
  upstreamCacheSize?: number;
  policy?: UpstreamCachePolicy;
  metrics?: DnsMetrics;
  now?: () => number;
}

/** Records of one name, structured (for composing CNAME chains and autopath answers). */
interface Resolved {
  rcode: number;
  answers: RR[];
  authority: RR[];
  /** Seconds the result may be reused. */
  ttl: number;
}

const MAX_CHAIN = 8;
/**
 * Prebuilt zone answers kept (name × type), least recently used evicted: ~0.4 KiB each, so 20,000 are ~8 MiB
 * whatever the zone's size; a name not in it is answered from the zone's records and built again (µs).
 */
export const DEFAULT_ZONE_CACHE_SIZE = 20_000;

export class Resolver {
  readonly zone: ClusterZone;
  readonly zoneCache: AnswerCache;
  readonly upstreamCache: AnswerCache;
  readonly autopathCache: AnswerCache;
  private readonly forwarder: Forwarder;
  private readonly acl: RecursionAcl;
  private readonly metrics?: DnsMetrics;
  private readonly policy: UpstreamCachePolicy;
  private readonly extraSearch: readonly string[];
  private readonly now: () => number;
  autopath: boolean;

  constructor(o: ResolverOptions) {
    this.zone = o.zone;
    this.forwarder = o.forwarder;
    this.acl = o.acl;
    this.autopath = o.autopath;
    this.extraSearch = (o.extraSearch ?? []).map((d) => d.replace(/\.$/, '').toLowerCase()).filter((d) => d);
    this.zoneCache = new AnswerCache(o.zoneCacheSize ?? DEFAULT_ZONE_CACHE_SIZE);
    this.upstreamCache = new AnswerCache(o.upstreamCacheSize ?? 10_000);
    this.autopathCache = new AnswerCache(o.upstreamCacheSize ?? 10_000);
    this.policy = o.policy ?? DEFAULT_CACHE_POLICY;
    this.metrics = o.metrics;
    this.now = o.now ?? Date.now;
  }

  /** Applies a feed message and drops exactly the prebuilt answers it may have changed. */
  applyFeed(m: FeedMessage): void {
    this.zone.apply(m, Math.floor(this.now() / 1000));
    this.invalidate();
  }

  /** applyFeed in steps, yielding to the event loop between them, so queries keep being answered. */
  async applyFeedGradually(m: FeedMessage, everyFewSteps?: () => void): Promise<void> {
    let n = 0;
    for (const _ of this.zone.applySteps(m, Math.floor(this.now() / 1000))) {
      // (the caller's garbage collection: keeps a large snapshot's peak, and so the resident size after it, low)
      if (everyFewSteps && ++n % 8 === 0) everyFewSteps();
      await new Promise((r) => setImmediate(r));
    }
    this.invalidate();
  }

  private invalidate(): void {
    const keys = this.zone.takeChanged();
    for (const k of keys) this.zoneCache.deleteName(k);
    if (keys.has(this.zone.podZoneKey)) this.zoneCache.deleteWhere((k) => inZone(k, this.zone.podZoneKey));
    // Autopath answers depend on other names and on which namespace an IP is in: any change drops them all.
    if (keys.size > 0) this.autopathCache.clear();
  }

  /**
   * Answers one query. Returns the response at once when it is prebuilt, a promise otherwise, and
   * undefined for packets that get no answer (too short, responses, garbage).
   */
  handle(msg: Buffer, src: string, transport: Transport): Buffer | Promise<Buffer | undefined> | undefined {
    const r = parseQuery(msg);
    if (!r.ok) {
      if (r.rcode < 0) {
        this.metrics?.dropped('malformed');
        return undefined;
      }
      this.metrics?.answered(0, r.rcode);
      return errorReply(msg, r.id, r.flags, r.rcode, r.questionEnd, false);
    }
    const q = r.query;
    const limit = transport === 'udp' ? udpLimit(q) : 65535;
    if (q.ednsVersion > 0) return this.error(msg, q, RCODE.BADVERS);
    if (q.qclass !== CLASS_IN && q.qclass !== CLASS_ANY) return this.error(msg, q, RCODE.REFUSED);
    if (q.qtype === TYPE.AXFR || q.qtype === TYPE.IXFR || q.qtype === TYPE.OPT) return this.error(msg, q, q.qtype === TYPE.OPT ? RCODE.FORMERR : RCODE.REFUSED);
    const now = this.now();
    const z = this.zoneCache.get(q.key, q.qtype, now);
    if (z) {
      this.metrics?.cache('zone', true);
      if (z.autopathNs !== undefined && this.autopath && this.zone.podNamespace(src) === z.autopathNs) {
        const ap = this.autopathCache.get(q.key, q.qtype, now);
        if (ap) {
          this.metrics?.cache('autopath', true);
          this.metrics?.answered(q.qtype, ap.rcode);
          return finish(ap.buf, msg, q, limit);
        }
        return this.viaAutopath(msg, q, z, limit);
      }
      this.metrics?.answered(q.qtype, z.rcode);
      return finish(z.buf, msg, q, limit);
    }
    const u = this.upstreamCache.get(q.key, q.qtype, now);
    if (u) {
      if (!this.acl.allows(src)) return this.error(msg, q, RCODE.REFUSED);
      this.metrics?.cache('upstream', true);
      this.metrics?.answered(q.qtype, u.rcode);
      return finish(u.buf, msg, q, limit);
    }
    return this.slow(msg, q, src, limit);
  }

  private error(msg: Buffer, q: Query, rcode: number): Buffer {
    this.metrics?.answered(q.qtype, rcode);
    return errorReply(msg, q.id, q.flags, rcode, q.questionEnd, q.ednsSize > 0);
  }

  private async slow(msg: Buffer, q: Query, src: string, limit: number): Promise<Buffer | undefined> {
    if (this.zone.authoritative(q.key)) {
      this.metrics?.cache('zone', false);
      const pre = await this.zoneAnswer(q.key, q.qtype, 0);
      if (pre.autopathNs !== undefined && this.autopath && this.zone.podNamespace(src) === pre.autopathNs) return this.viaAutopath(msg, q, pre, limit);
      this.metrics?.answered(q.qtype, pre.rcode);
      return finish(pre.buf, msg, q, limit);
    }
    if (!this.acl.allows(src)) return this.error(msg, q, RCODE.REFUSED);
    this.metrics?.cache('upstream', false);
    const pre = await this.forward(q.key, q.qtype);
    if (!pre) return this.error(msg, q, RCODE.SERVFAIL);
    this.metrics?.answered(q.qtype, pre.rcode);
    return finish(pre.buf, msg, q, limit);
  }

  /** Forwards upstream; caches what may be cached. Undefined: SERVFAIL. */
  private async forward(key: string, qtype: number): Promise<Prebuilt | undefined> {
    const cached = this.upstreamCache.get(key, qtype, this.now());
    if (cached) return cached;
    const resp = await this.forwarder.query(key, qtype, CLASS_IN);
    if (!resp) return undefined;
    const now = this.now();
    const r = prebuildUpstream(resp, now, this.policy);
    if (!r) return undefined;
    if (r.pre) {
      this.upstreamCache.set(key, qtype, r.pre);
      return r.pre;
    }
    if (r.relay) return { buf: r.relay, rcode: r.rcode, expiresAt: now };
    return undefined;
  }

  /** The prebuilt answer for a name we are authoritative for (built and cached on first use). */
  private async zoneAnswer(key: string, qtype: number, depth: number): Promise<Prebuilt> {
    const cached = this.zoneCache.get(key, qtype, this.now());
    if (cached) return cached;
    const a = this.zone.lookup(key, qtype);
    const soa = [this.zone.soa()];
    let pre: Prebuilt;
    switch (a.kind) {
      case 'records':
        pre = { buf: prebuild(key, qtype, CLASS_IN, RCODE.NOERROR, true, a.answers, [], a.additional), rcode: RCODE.NOERROR, expiresAt: Infinity };
        break;
      case 'nodata':
        pre = { buf: prebuild(key, qtype, CLASS_IN, RCODE.NOERROR, true, [], soa, []), rcode: RCODE.NOERROR, expiresAt: Infinity };
        break;
      case 'nxdomain': {
        pre = { buf: prebuild(key, qtype, CLASS_IN, RCODE.NXDOMAIN, true, [], soa, []), rcode: RCODE.NXDOMAIN, expiresAt: Infinity };
        const ns = this.autopathNamespace(key);
        if (ns !== undefined) pre.autopathNs = ns;
        break;
      }
      case 'cname': {
        if ((qtype === TYPE.A || qtype === TYPE.AAAA) && depth < MAX_CHAIN) {
          const t = await this.resolveStructured(nameKey(a.target), qtype, depth + 1);
          if (t && t.rcode !== RCODE.SERVFAIL) {
            const buf = prebuild(key, qtype, CLASS_IN, t.rcode, true, [a.cname, ...t.answers], t.authority, []);
            // Depends on the target's records: reuse for at most the zone TTL (and the target's TTL).
            pre = { buf, rcode: t.rcode, expiresAt: this.now() + Math.min(this.zone.ttl, t.ttl) * 1000 };
            break;
          }
          // The target could not be resolved now: the CNAME alone, not kept.
          return { buf: prebuild(key, qtype, CLASS_IN, RCODE.NOERROR, true, [a.cname], [], []), rcode: RCODE.NOERROR, expiresAt: 0 };
        }
        pre = { buf: prebuild(key, qtype, CLASS_IN, RCODE.NOERROR, true, [a.cname], [], []), rcode: RCODE.NOERROR, expiresAt: Infinity };
        break;
      }
    }
    this.zoneCache.set(key, qtype, pre);
    return pre;
  }

  /** For an NXDOMAIN name <base…>.<ns>.svc.<zone>: ns, the namespace whose pods search it first. */
  private autopathNamespace(key: string): string | undefined {
    if (!inZone(key, this.zone.svcZoneKey)) return undefined;
    const labels = labelsBefore(key, this.zone.svcZoneKey);
    return labels.length >= 2 ? labels[labels.length - 1] : undefined;
  }

  /** One name's records as data, from the zone or upstream (through the caches). */
  private async resolveStructured(key: string, qtype: number, depth: number): Promise<Resolved | undefined> {
    if (this.zone.authoritative(key)) {
      const a = this.zone.lookup(key, qtype);
      const ttl = this.zone.ttl;
      switch (a.kind) {
        case 'records': return { rcode: RCODE.NOERROR, answers: a.answers, authority: [], ttl };
        case 'nodata': return { rcode: RCODE.NOERROR, answers: [], authority: [this.zone.soa()], ttl };
        case 'nxdomain': return { rcode: RCODE.NXDOMAIN, answers: [], authority: [this.zone.soa()], ttl };
        case 'cname': {
          if (depth >= MAX_CHAIN || (qtype !== TYPE.A && qtype !== TYPE.AAAA)) return { rcode: RCODE.NOERROR, answers: [a.cname], authority: [], ttl };
          const t = await this.resolveStructured(nameKey(a.target), qtype, depth + 1);
          if (!t) return { rcode: RCODE.NOERROR, answers: [a.cname], authority: [], ttl };
          return { rcode: t.rcode, answers: [a.cname, ...t.answers], authority: t.authority, ttl: Math.min(ttl, t.ttl) };
        }
      }
    }
    const pre = await this.forward(key, qtype);
    if (!pre) return undefined;
    const m = walkMessage(pre.buf);
    if (!m) return undefined;
    const all = [...m.answers, ...m.authority];
    const ttl = all.length ? Math.min(...all.map((x) => x.rr.ttl)) : this.policy.noSoaNegativeTtl;
    return { rcode: m.rcode, answers: m.answers.map((x) => x.rr), authority: m.authority.map((x) => x.rr), ttl };
  }

  private async viaAutopath(msg: Buffer, q: Query, original: Prebuilt, limit: number): Promise<Buffer | undefined> {
    let pre = this.autopathCache.get(q.key, q.qtype, this.now());
    this.metrics?.cache('autopath', pre !== undefined);
    if (!pre) {
      pre = (await this.searchPath(q.key, q.qtype)) ?? { ...original, expiresAt: this.now() + this.zone.ttl * 1000 };
      this.autopathCache.set(q.key, q.qtype, pre);
    }
    this.metrics?.answered(q.qtype, pre.rcode);
    return finish(pre.buf, msg, q, limit);
  }

  /**
   * CoreDNS autopath: the query was <base>.<ns>.svc.<zone> and is NXDOMAIN; try base under the rest of the
   * pod's search list, then base itself. The first answer that is not NXDOMAIN (nor a failure) is returned
   * behind a CNAME from the original name; if all are NXDOMAIN, undefined (the original NXDOMAIN stands).
   */
  private async searchPath(key: string, qtype: number): Promise<Prebuilt | undefined> {
    const labels = labelsBefore(key, this.zone.svcZoneKey);
    const base = keyToName(nameKey(labels.slice(0, -1).map(escape).join('.'))).replace(/\.$/, '');
    const zone = this.zone.zone.replace(/\.$/, '');
    const search = [`svc.${zone}`, zone, ...this.extraSearch, ''];
    for (const s of search) {
      const name = s ? `${base}.${s}.` : `${base}.`;
      let tkey: string;
      try {
        tkey = nameKey(name);
      } catch {
        continue;
      }
      const r = await this.resolveStructured(tkey, qtype, 0);
      if (!r || r.rcode === RCODE.NXDOMAIN || r.rcode === RCODE.SERVFAIL || r.rcode === RCODE.REFUSED) continue;
      const cname: RR = { name: keyToName(key), ttl: this.zone.ttl, data: { type: TYPE.CNAME, target: keyToName(tkey) } };
      const buf = prebuild(key, qtype, CLASS_IN, r.rcode, false, [cname, ...r.answers], r.authority, []);
      this.metrics?.autopath.inc({ result: 'success' });
      return { buf, rcode: r.rcode, expiresAt: this.now() + Math.max(1, Math.min(this.zone.ttl, r.ttl)) * 1000 };
    }
    this.metrics?.autopath.inc({ result: 'nxdomain' });
    return undefined;
  }
}

/** A raw label as dotted-name text (escapes dots and backslashes, as keyToName does). */
function escape(label: string): string {
  return label.replace(/[\\.]/g, (c) => `\\${c}`);
}
