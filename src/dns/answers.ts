// Prebuilt answers and the bounded cache that holds them. A prebuilt answer is
// a whole response message (ID 0, lowercase question, no OPT); serving it is a
// copy, an ID and question-case patch, an OPT appended for EDNS0 clients, and a
// TC-only reply when it would not fit the client's UDP limit. Upstream answers
// are cached as their own bytes with TTL offsets, patched as they age.
import { FLAG, HEADER, OPT_RR_LENGTH, RCODE, UDP_EDNS_MAX, UDP_MIN, keyToName, type Query } from './wire.ts';
import { walkMessage, negativeTtl } from './message.ts';
import { encodeMessage, responseFlags, type RR } from './writer.ts';

export interface Prebuilt {
  buf: Buffer;
  rcode: number;
  /** Epoch ms after which it is stale (Infinity: zone answers, dropped on change instead). */
  expiresAt: number;
  /** Upstream answers: where the TTLs are, what they were, when stored. */
  ttlOffsets?: number[];
  ttls?: number[];
  storedAt?: number;
  patchedAge?: number;
  /** NXDOMAIN for <x>.<ns>.svc.<zone>: a pod of `ns` asking this gets the autopath treatment. */
  autopathNs?: string;
}

/** A bounded map of prebuilt answers by name key, then qtype; the least recently used names evicted first. */
export class AnswerCache {
  private readonly names = new Map<string, Map<number, Prebuilt>>();
  private entries = 0;
  hits = 0;
  misses = 0;
  evictions = 0;

  constructor(readonly maxEntries: number) {}

  get size(): number {
    return this.entries;
  }

  /** The live entry, with TTLs patched to its age; undefined (and dropped) when stale. */
  get(key: string, qtype: number, now: number): Prebuilt | undefined {
    const m = this.names.get(key);
    const e = m?.get(qtype);
    if (!m || !e) return undefined;
    // Most recently used last (a Map iterates in insertion order): eviction takes the first.
    this.names.delete(key);
    this.names.set(key, m);
    if (e.expiresAt !== Infinity) {
      if (now >= e.expiresAt) {
        this.delete(key, qtype);
        return undefined;
      }
      const age = Math.floor((now - (e.storedAt ?? now)) / 1000);
      if (age !== e.patchedAge && e.ttlOffsets && e.ttls) {
        for (let i = 0; i < e.ttlOffsets.length; i++) e.buf.writeUInt32BE(Math.max(0, e.ttls[i] - age), e.ttlOffsets[i]);
        e.patchedAge = age;
      }
    }
    return e;
  }

  set(key: string, qtype: number, e: Prebuilt): void {
    let m = this.names.get(key);
    if (!m) {
      while (this.entries >= this.maxEntries && this.names.size > 0) this.evictOldest();
      this.names.set(key, (m = new Map()));
    }
    if (!m.has(qtype)) this.entries++;
    m.set(qtype, e);
  }

  delete(key: string, qtype: number): void {
    const m = this.names.get(key);
    if (m?.delete(qtype)) {
      this.entries--;
      if (m.size === 0) this.names.delete(key);
    }
  }

  deleteName(key: string): void {
    const m = this.names.get(key);
    if (!m) return;
    this.entries -= m.size;
    this.names.delete(key);
  }

  /** Drops every entry whose name key satisfies pred. */
  deleteWhere(pred: (key: string) => boolean): void {
    for (const k of [...this.names.keys()]) if (pred(k)) this.deleteName(k);
  }

  clear(): void {
    this.names.clear();
    this.entries = 0;
  }

  private evictOldest(): void {
    const first = this.names.keys().next();
    if (first.done) return;
    this.deleteName(first.value);
    this.evictions++;
  }
}

/** The UDP payload limit for a query: 512 without EDNS0, else the client's size capped at ours. */
export function udpLimit(q: Query): number {
  return q.ednsSize > 0 ? Math.min(Math.max(q.ednsSize, UDP_MIN), UDP_EDNS_MAX) : UDP_MIN;
}

function writeOpt(out: Buffer, at: number, extRcode: number): void {
  out[at] = 0;
  out.writeUInt16BE(41, at + 1);
  out.writeUInt16BE(UDP_EDNS_MAX, at + 3);
  out[at + 5] = extRcode;
  out[at + 6] = 0;
  out.writeUInt32BE(0, at + 7); // DO/Z flags 0, rdlength 0
}

/**
 * The response to one query from a prebuilt answer: ID and the client's question bytes (its case) patched in,
 * RD/CD echoed, OPT appended for EDNS0 clients, TC with an empty answer when over `limit`.
 */
export function finish(pre: Buffer, query: Buffer, q: Query, limit: number): Buffer {
  const edns = q.ednsSize > 0;
  const full = pre.length + (edns ? OPT_RR_LENGTH : 0);
  const echo = q.flags & (FLAG.RD | FLAG.CD);
  if (full <= limit) {
    const out = Buffer.allocUnsafe(full);
    pre.copy(out, 0);
    out.writeUInt16BE(q.id, 0);
    out.writeUInt16BE(pre.readUInt16BE(2) | echo, 2);
    query.copy(out, HEADER, HEADER, q.questionEnd);
    if (edns) {
      writeOpt(out, pre.length, 0);
      out.writeUInt16BE(pre.readUInt16BE(10) + 1, 10);
    }
    return out;
  }
  // Truncated: header and question only, TC set; the client retries over TCP.
  const qlen = q.questionEnd - HEADER;
  const out = Buffer.allocUnsafe(HEADER + qlen + (edns ? OPT_RR_LENGTH : 0));
  out.writeUInt16BE(q.id, 0);
  out.writeUInt16BE(pre.readUInt16BE(2) | echo | FLAG.TC, 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt32BE(0, 6);
  out.writeUInt16BE(edns ? 1 : 0, 10);
  query.copy(out, HEADER, HEADER, q.questionEnd);
  if (edns) writeOpt(out, HEADER + qlen, 0);
  return out;
}

/**
 * An error reply (FORMERR, NOTIMP, REFUSED, SERVFAIL, BADVERS): the query's ID, RD/CD and opcode, its question
 * when one was parsed (questionEnd > 0), and an OPT when the client sent one.
 */
export function errorReply(query: Buffer, id: number, flags: number, rcode: number, questionEnd: number, edns: boolean): Buffer {
  const qlen = questionEnd > HEADER ? questionEnd - HEADER : 0;
  const out = Buffer.alloc(HEADER + qlen + (edns ? OPT_RR_LENGTH : 0));
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE(FLAG.QR | FLAG.RA | (flags & (FLAG.RD | FLAG.CD | 0x7800)) | (rcode & 0xf), 2);
  out.writeUInt16BE(qlen ? 1 : 0, 4);
  out.writeUInt16BE(edns ? 1 : 0, 10);
  if (qlen) query.copy(out, HEADER, HEADER, questionEnd);
  if (edns) writeOpt(out, HEADER + qlen, rcode >> 4);
  return out;
}

/** A whole response to be prebuilt (question in lowercase, ID 0, no OPT). */
export function prebuild(key: string, qtype: number, qclass: number, rcode: number, authoritative: boolean, answers: readonly RR[], authority: readonly RR[], additional: readonly RR[]): Buffer {
  return encodeMessage({
    id: 0,
    flags: responseFlags(authoritative),
    rcode,
    question: { name: keyToName(key), qtype, qclass },
    answers, authority, additional,
  });
}

export interface UpstreamCachePolicy {
  /** Cap on positive TTLs (s). */
  maxTtl: number;
  /** Cap on negative TTLs (s). */
  maxNegativeTtl: number;
  /** TTL for a negative answer that carries no SOA (s); 0: do not cache it. */
  noSoaNegativeTtl: number;
}

export const DEFAULT_CACHE_POLICY: UpstreamCachePolicy = { maxTtl: 3600, maxNegativeTtl: 1800, noSoaNegativeTtl: 5 };

/**
 * Turns an upstream response into a prebuilt answer: ID 0, our flags (QR RA, the upstream's rcode and AD),
 * its OPT removed (ours is appended per client), the TTL offsets noted. The expiry is the smallest TTL
 * (positive) or the SOA's negative TTL. Undefined when it must not be cached (SERVFAIL, REFUSED, TTL 0, a
 * malformed message, an OPT not at the end), with `relay` set when it may still be passed on once.
 */
export function prebuildUpstream(resp: Buffer, now: number, policy: UpstreamCachePolicy): { pre?: Prebuilt; relay?: Buffer; rcode: number } | undefined {
  const m = walkMessage(resp);
  if (!m) return undefined;
  let body = resp;
  let arcount = resp.readUInt16BE(10);
  if (m.opt) {
    if (m.opt.end !== resp.length) return { rcode: m.rcode };
    body = resp.subarray(0, m.opt.start);
    arcount--;
  }
  const buf = Buffer.from(body);
  buf.writeUInt16BE(0, 0);
  buf.writeUInt16BE(FLAG.QR | FLAG.RA | (m.flags & FLAG.AD) | m.rcode, 2);
  buf.writeUInt16BE(arcount, 10);
  const rcode = m.rcode;
  if (rcode !== RCODE.NOERROR && rcode !== RCODE.NXDOMAIN) return { relay: buf, rcode };
  const all = [...m.answers, ...m.authority, ...m.additional];
  let ttl: number;
  if (rcode === RCODE.NXDOMAIN || m.answers.length === 0) {
    ttl = Math.min(negativeTtl(m) ?? policy.noSoaNegativeTtl, policy.maxNegativeTtl);
  } else {
    ttl = Math.min(policy.maxTtl, ...all.map((a) => a.rr.ttl));
  }
  if (!(ttl > 0)) return { relay: buf, rcode };
  return {
    pre: {
      buf, rcode, expiresAt: now + ttl * 1000, storedAt: now, patchedAge: 0,
      ttlOffsets: all.map((a) => a.ttlOffset), ttls: all.map((a) => a.rr.ttl),
    },
    rcode,
  };
}
