// Reading whole DNS messages (upstream answers): a bounded walker that finds
// every record, its TTL's offset and, for the record types that carry names,
// the decompressed names, so answers can be cached as bytes (TTLs patched in
// place) or re-encoded into our own messages (autopath, ExternalName).
import { HEADER, nameKey, readName, TYPE } from './wire.ts';
import type { RData, RR } from './writer.ts';

export interface WalkedRR {
  rr: RR;
  /** Offset of the TTL field in the message. */
  ttlOffset: number;
  /** Offset where the record starts and ends. */
  start: number;
  end: number;
}

export interface WalkedMessage {
  id: number;
  flags: number;
  rcode: number;
  question?: { key: string; qtype: number; qclass: number };
  questionEnd: number;
  answers: WalkedRR[];
  authority: WalkedRR[];
  additional: WalkedRR[];
  /** The OPT record, if any (in additional; not in `additional`). */
  opt?: { start: number; end: number };
}

/** Walks a whole message; undefined if it is malformed anywhere. */
export function walkMessage(msg: Buffer): WalkedMessage | undefined {
  if (msg.length < HEADER) return undefined;
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  const qd = msg.readUInt16BE(4);
  const counts = [msg.readUInt16BE(6), msg.readUInt16BE(8), msg.readUInt16BE(10)];
  if (qd > 1) return undefined;
  let p = HEADER;
  let question: WalkedMessage['question'];
  if (qd === 1) {
    const r = readName(msg, p);
    if (!r || r.end + 4 > msg.length) return undefined;
    let key: string;
    try {
      key = nameKey(r.name);
    } catch {
      return undefined;
    }
    question = { key, qtype: msg.readUInt16BE(r.end), qclass: msg.readUInt16BE(r.end + 2) };
    p = r.end + 4;
  }
  const questionEnd = p;
  const sections: WalkedRR[][] = [[], [], []];
  let opt: WalkedMessage['opt'];
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s]; i++) {
      const start = p;
      const owner = readName(msg, p);
      if (!owner) return undefined;
      p = owner.end;
      if (p + 10 > msg.length) return undefined;
      const type = msg.readUInt16BE(p);
      const ttl = msg.readUInt32BE(p + 4);
      const rdlen = msg.readUInt16BE(p + 8);
      const ttlOffset = p + 4;
      const rdStart = p + 10;
      const rdEnd = rdStart + rdlen;
      if (rdEnd > msg.length) return undefined;
      p = rdEnd;
      if (type === TYPE.OPT) {
        if (s !== 2 || opt) return undefined;
        opt = { start, end: rdEnd };
        continue;
      }
      const data = rdataOf(msg, type, rdStart, rdEnd);
      if (!data) return undefined;
      sections[s].push({ rr: { name: owner.name, ttl, data }, ttlOffset, start, end: rdEnd });
    }
  }
  return {
    id, flags, rcode: flags & 0xf, ...(question ? { question } : {}), questionEnd,
    answers: sections[0], authority: sections[1], additional: sections[2], ...(opt ? { opt } : {}),
  };
}

function rdataOf(msg: Buffer, type: number, from: number, to: number): RData | undefined {
  switch (type) {
    case TYPE.CNAME:
    case TYPE.PTR:
    case TYPE.NS: {
      const r = readName(msg, from);
      if (!r || r.end > to) return undefined;
      return { type, target: r.name };
    }
    case TYPE.SRV: {
      if (to - from < 7) return undefined;
      const r = readName(msg, from + 6);
      if (!r || r.end > to) return undefined;
      return { type, priority: msg.readUInt16BE(from), weight: msg.readUInt16BE(from + 2), port: msg.readUInt16BE(from + 4), target: r.name };
    }
    case TYPE.SOA: {
      const m = readName(msg, from);
      if (!m) return undefined;
      const r = readName(msg, m.end);
      if (!r || r.end + 20 > to) return undefined;
      const at = r.end;
      return {
        type, mname: m.name, rname: r.name, serial: msg.readUInt32BE(at), refresh: msg.readUInt32BE(at + 4),
        retry: msg.readUInt32BE(at + 8), expire: msg.readUInt32BE(at + 12), minimum: msg.readUInt32BE(at + 16),
      };
    }
    case TYPE.MX: {
      if (to - from < 3) return undefined;
      const r = readName(msg, from + 2);
      if (!r || r.end > to) return undefined;
      // Re-encoded uncompressed: preference + the name's wire form.
      return { type, raw: Buffer.concat([msg.subarray(from, from + 2), wireOf(r.name)]) };
    }
    case TYPE.A:
      if (to - from !== 4) return undefined;
      return { type, raw: Buffer.from(msg.subarray(from, to)) };
    case TYPE.AAAA:
      if (to - from !== 16) return undefined;
      return { type, raw: Buffer.from(msg.subarray(from, to)) };
    default:
      return { type, raw: Buffer.from(msg.subarray(from, to)) };
  }
}

function wireOf(dotted: string): Buffer {
  const r: number[] = [];
  if (dotted !== '.') {
    for (const label of dotted.replace(/\.$/, '').split('.')) {
      const b = Buffer.from(label, 'latin1');
      r.push(b.length, ...b);
    }
  }
  r.push(0);
  return Buffer.from(r);
}

/** The TTL a negative answer may be cached for (RFC 2308: the SOA's min(ttl, minimum)), if it has an SOA. */
export function negativeTtl(m: WalkedMessage): number | undefined {
  for (const a of m.authority) {
    if (a.rr.data.type === TYPE.SOA && 'minimum' in a.rr.data) return Math.min(a.rr.ttl, a.rr.data.minimum);
  }
  return undefined;
}
