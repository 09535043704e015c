// DNS wire-format facts and the hot-path query parser: only the header, the one
// question and the EDNS0 OPT record are read, by hand, so a query costs almost
// nothing before its prebuilt answer is found. Full decoding of other messages
// (upstream answers) is dns-packet's job (see upstream.ts).

export const TYPE = {
  A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, AXFR: 252, IXFR: 251, ANY: 255,
} as const;

export const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(TYPE).map(([k, v]) => [v, k]));
export function typeName(t: number): string {
  return TYPE_NAMES[t] ?? `TYPE${t}`;
}

export const CLASS_IN = 1;
export const CLASS_ANY = 255;

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const;
export const RCODE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(RCODE).map(([k, v]) => [v, k]));

export const FLAG = { QR: 0x8000, AA: 0x0400, TC: 0x0200, RD: 0x0100, RA: 0x0080, AD: 0x0020, CD: 0x0010 } as const;

/** The size of a DNS header. */
export const HEADER = 12;
/** Plain UDP limit without EDNS0 (RFC 1035). */
export const UDP_MIN = 512;
/** Our EDNS0 UDP payload size (DNS flag day 2020: no fragmentation). */
export const UDP_EDNS_MAX = 1232;
/** An OPT RR with no options: root name, type, class (= size), ttl (ext rcode/version/flags), rdlength. */
export const OPT_RR_LENGTH = 11;
/** Longest wire name (RFC 1035 §2.3.4). */
export const MAX_NAME = 255;

/** What the hot path needs from a query. */
export interface Query {
  id: number;
  flags: number;
  /** The question name's wire bytes, lowercased, as a latin1 string: the lookup key (unambiguous, label-exact). */
  key: string;
  qtype: number;
  qclass: number;
  /** Offset just past the question (start of the answer section). */
  questionEnd: number;
  /** Length of the question's wire name. */
  nameLength: number;
  /** EDNS0: the client's UDP payload size, or 0 without an OPT record. */
  ednsSize: number;
  ednsVersion: number;
  /** DNSSEC OK bit. */
  dnssecOk: boolean;
}

export type ParseResult =
  | { ok: true; query: Query }
  /** Answer with this rcode (id and flags known); question copied when questionEnd > 0. */
  /** rcode -1: not worth an answer (too short, a response, garbage header). */
  | { ok: false; rcode: number; id: number; flags: number; questionEnd: number };

const DROP: ParseResult = { ok: false, rcode: -1, id: 0, flags: 0, questionEnd: 0 };

/**
 * Parses a query message: header, exactly one question (no compression pointers, as every resolver sends),
 * and an OPT record if one follows. Never throws; bounded work for any input.
 */
export function parseQuery(msg: Buffer): ParseResult {
  const len = msg.length;
  if (len < HEADER) return DROP;
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  if (flags & FLAG.QR) return DROP; // a response: never answer (reflection loops)
  const opcode = (flags >> 11) & 0xf;
  const qd = msg.readUInt16BE(4);
  const an = msg.readUInt16BE(6);
  const ns = msg.readUInt16BE(8);
  const ar = msg.readUInt16BE(10);
  if (opcode !== 0) return { ok: false, rcode: RCODE.NOTIMP, id, flags, questionEnd: 0 };
  if (qd !== 1) return { ok: false, rcode: RCODE.FORMERR, id, flags, questionEnd: 0 };
  // The question name.
  let p = HEADER;
  let upper = false;
  for (;;) {
    if (p >= len) return { ok: false, rcode: RCODE.FORMERR, id, flags, questionEnd: 0 };
    const l = msg[p];
    if (l === 0) break;
    if (l > 63) return { ok: false, rcode: RCODE.FORMERR, id, flags, questionEnd: 0 }; // pointer or reserved
    const end = p + 1 + l;
    if (end > len || end - HEADER >= MAX_NAME) return { ok: false, rcode: RCODE.FORMERR, id, flags, questionEnd: 0 };
    for (let i = p + 1; i < end; i++) {
      const c = msg[i];
      if (c >= 65 && c <= 90) upper = true;
    }
    p = end;
  }
  const nameEnd = p + 1; // past the root label
  if (nameEnd + 4 > len) return { ok: false, rcode: RCODE.FORMERR, id, flags, questionEnd: 0 };
  const qtype = msg.readUInt16BE(nameEnd);
  const qclass = msg.readUInt16BE(nameEnd + 2);
  const questionEnd = nameEnd + 4;
  let key: string;
  if (upper) {
    const lower = Buffer.from(msg.subarray(HEADER, nameEnd));
    lowerInPlace(lower, 0, lower.length);
    key = lower.toString('latin1');
  } else {
    key = msg.toString('latin1', HEADER, nameEnd);
  }
  // EDNS0: find the OPT record among the additional records (skipping any answer/authority a client sent).
  let ednsSize = 0;
  let ednsVersion = 0;
  let dnssecOk = false;
  if (ar > 0 || an > 0 || ns > 0) {
    let q = questionEnd;
    const total = an + ns + ar;
    if (total > 64) return { ok: false, rcode: RCODE.FORMERR, id, flags, questionEnd };
    let opts = 0;
    for (let i = 0; i < total; i++) {
      const nameStart = q;
      q = skipName(msg, q);
      if (q < 0 || q + 10 > len) return { ok: false, rcode: RCODE.FORMERR, id, flags, questionEnd };
      const type = msg.readUInt16BE(q);
      const rdlen = msg.readUInt16BE(q + 8);
      if (i >= an + ns && type === TYPE.OPT) {
        if (msg[nameStart] !== 0 || ++opts > 1) return { ok: false, rcode: RCODE.FORMERR, id, flags, questionEnd };
        ednsSize = Math.max(UDP_MIN, msg.readUInt16BE(q + 2));
        ednsVersion = msg[q + 5];
        dnssecOk = (msg.readUInt16BE(q + 6) & 0x8000) !== 0;
      }
      q += 10 + rdlen;
      if (q > len) return { ok: false, rcode: RCODE.FORMERR, id, flags, questionEnd };
    }
  }
  return {
    ok: true,
    query: { id, flags, key, qtype, qclass, questionEnd, nameLength: nameEnd - HEADER, ednsSize, ednsVersion, dnssecOk },
  };
}

/** Offset past a (possibly compressed) name at p, or -1 if malformed. */
export function skipName(msg: Buffer, p: number): number {
  const len = msg.length;
  for (let n = 0; n < 128; n++) {
    if (p >= len) return -1;
    const l = msg[p];
    if (l === 0) return p + 1;
    if ((l & 0xc0) === 0xc0) return p + 2 <= len ? p + 2 : -1;
    if (l > 63) return -1;
    p += 1 + l;
  }
  return -1;
}

export function lowerInPlace(buf: Buffer, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const c = buf[i];
    if (c >= 65 && c <= 90) buf[i] = c + 32;
  }
}

/** Reads a (possibly compressed) name as dotted text with a trailing dot; undefined if malformed. */
export function readName(msg: Buffer, p: number): { name: string; end: number } | undefined {
  const labels: string[] = [];
  let end = -1;
  let jumps = 0;
  let total = 0;
  for (;;) {
    if (p >= msg.length) return undefined;
    const l = msg[p];
    if (l === 0) {
      if (end < 0) end = p + 1;
      break;
    }
    if ((l & 0xc0) === 0xc0) {
      if (p + 1 >= msg.length || ++jumps > 64) return undefined;
      if (end < 0) end = p + 2;
      p = ((l & 0x3f) << 8) | msg[p + 1];
      continue;
    }
    if (l > 63 || p + 1 + l > msg.length) return undefined;
    total += l + 1;
    if (total >= MAX_NAME) return undefined;
    labels.push(escapeLabel(msg, p + 1, p + 1 + l));
    p += 1 + l;
  }
  return { name: labels.length ? `${labels.join('.')}.` : '.', end };
}

function escapeLabel(msg: Buffer, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) {
    const c = msg[i];
    if (c === 0x2e || c === 0x5c) s += `\\${String.fromCharCode(c)}`;
    else if (c <= 0x20 || c >= 0x7f) s += `\\${String(c).padStart(3, '0')}`;
    else s += String.fromCharCode(c);
  }
  return s;
}

/**
 * Dotted name (trailing dot optional; `\.` and `\DDD` escapes) to wire labels.
 * Throws on empty labels, labels over 63 bytes, names over 255 bytes.
 */
export function nameToLabels(name: string): Buffer[] {
  if (name === '.' || name === '') return [];
  const labels: Buffer[] = [];
  let cur: number[] = [];
  for (let i = 0; i < name.length; i++) {
    const ch = name.charCodeAt(i);
    if (ch === 0x5c) {
      const d = /^\d{3}/.exec(name.slice(i + 1, i + 4));
      if (d) {
        cur.push(Number(d[0]) & 0xff);
        i += 3;
      } else if (i + 1 < name.length) {
        cur.push(name.charCodeAt(++i) & 0xff);
      }
    } else if (ch === 0x2e) {
      if (cur.length === 0) throw new Error(`empty label in ${JSON.stringify(name)}`);
      labels.push(Buffer.from(cur));
      cur = [];
    } else {
      cur.push(ch & 0xff);
    }
  }
  if (cur.length) labels.push(Buffer.from(cur));
  let total = 1;
  for (const l of labels) {
    if (l.length > 63) throw new Error(`label over 63 bytes in ${JSON.stringify(name)}`);
    total += l.length + 1;
  }
  if (total > MAX_NAME) throw new Error(`name over 255 bytes: ${JSON.stringify(name)}`);
  return labels;
}

/** Dotted name to its uncompressed wire form. */
export function nameToWire(name: string): Buffer {
  const labels = nameToLabels(name);
  const parts: Buffer[] = [];
  for (const l of labels) parts.push(Buffer.from([l.length]), l);
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

const PLAIN = /^[\x21-\x2d\x2f-\x5b\x5d-\x7e]+(\.[\x21-\x2d\x2f-\x5b\x5d-\x7e]+)*\.?$/;

/** Labels of a plain name (printable ASCII, no escapes) as strings, or undefined when it needs the full parser. */
export function plainLabels(name: string): string[] | undefined {
  if (name === '.' || name === '') return [];
  if (!PLAIN.test(name)) return undefined;
  const labels = (name.endsWith('.') ? name.slice(0, -1) : name).split('.');
  let total = 1;
  for (const l of labels) {
    if (l.length > 63) return undefined;
    total += l.length + 1;
  }
  return total > MAX_NAME ? undefined : labels;
}

/** The lookup key of a dotted name: its lowercased wire form as latin1 (what parseQuery gives). */
export function nameKey(name: string): string {
  const plain = plainLabels(name);
  if (plain) {
    let k = '';
    for (const l of plain) k += String.fromCharCode(l.length) + l.toLowerCase();
    return `${k}\x00`;
  }
  const w = nameToWire(name);
  lowerInPlace(w, 0, w.length);
  return w.toString('latin1');
}

/** The dotted, trailing-dot form of a key. */
export function keyToName(key: string): string {
  const r = readName(Buffer.from(key, 'latin1'), 0);
  return r ? r.name : '.';
}

/** Lowercase, trailing dot. */
export function fqdn(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith('.') ? n : `${n}.`;
}

/** Labels of a key, as offsets: the key of the parent of `key` (one label removed); undefined at the root. */
export function parentKey(key: string): string | undefined {
  if (key.length <= 1) return undefined;
  return key.slice(key.charCodeAt(0) + 1);
}

/** The first label of a key, as text. */
export function firstLabel(key: string): string {
  return key.slice(1, 1 + key.charCodeAt(0));
}

/** Splits a key into its label strings (raw bytes as latin1). */
export function keyLabels(key: string): string[] {
  const out: string[] = [];
  let p = 0;
  while (p < key.length) {
    const l = key.charCodeAt(p);
    if (l === 0) break;
    out.push(key.slice(p + 1, p + 1 + l));
    p += 1 + l;
  }
  return out;
}

/** True when key is zoneKey or lies under it, by whole labels. */
export function inZone(key: string, zoneKey: string): boolean {
  if (key.length < zoneKey.length || !key.endsWith(zoneKey)) return false;
  let p = 0;
  const target = key.length - zoneKey.length;
  while (p < target) p += 1 + key.charCodeAt(p);
  return p === target;
}

/** The key with zoneKey removed, as label strings (the part before the zone). */
export function labelsBefore(key: string, zoneKey: string): string[] {
  return keyLabels(key.slice(0, key.length - zoneKey.length) + '\x00');
}
