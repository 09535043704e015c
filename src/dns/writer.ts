// Our DNS message encoder, with name compression (dns-packet has none): every
// name's suffixes are remembered at their offsets and later names point at them,
// so a headless Service's dozens of A records cost 16 bytes each.
import { isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';
import { FLAG, HEADER, nameToLabels, plainLabels, TYPE } from './wire.ts';

export type RData =
  | { type: typeof TYPE.A | typeof TYPE.AAAA; ip: string }
  | { type: typeof TYPE.CNAME | typeof TYPE.PTR | typeof TYPE.NS; target: string }
  | { type: typeof TYPE.SRV; priority: number; weight: number; port: number; target: string }
  | { type: typeof TYPE.TXT; texts: string[] }
  | { type: typeof TYPE.SOA; mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number }
  /** Anything else: rdata bytes as they go on the wire (no length prefix). */
  | { type: number; raw: Buffer };

export interface RR {
  /** Dotted owner name with the trailing dot. */
  name: string;
  ttl: number;
  data: RData;
}

export interface MessageSpec {
  id: number;
  flags: number;
  rcode: number;
  question?: { name: string; qtype: number; qclass: number };
  answers: readonly RR[];
  authority: readonly RR[];
  additional: readonly RR[];
  /** Append an OPT record advertising this UDP size (0: none). */
  ednsSize?: number;
}

const SCRATCH = Buffer.allocUnsafe(65535);

class Writer {
  p = 0;
  private readonly names = new Map<string, number>();
  constructor(private readonly buf: Buffer) {}

  u8(v: number): void {
    this.need(1);
    this.buf[this.p++] = v;
  }
  u16(v: number): void {
    this.need(2);
    this.buf.writeUInt16BE(v & 0xffff, this.p);
    this.p += 2;
  }
  u32(v: number): void {
    this.need(4);
    this.buf.writeUInt32BE(v >>> 0, this.p);
    this.p += 4;
  }
  bytes(b: Buffer): void {
    this.need(b.length);
    b.copy(this.buf, this.p);
    this.p += b.length;
  }
  need(n: number): void {
    if (this.p + n > this.buf.length) throw new RangeError('DNS message over 65535 bytes');
  }

  /** A name, pointing at an earlier copy of its longest known suffix when compress is on. */
  name(dotted: string, compress: boolean): void {
    const labels = plainLabels(dotted) ?? nameToLabels(dotted).map((b) => b.toString('latin1'));
    const suffixKeys: string[] = new Array(labels.length);
    let acc = '';
    for (let i = labels.length - 1; i >= 0; i--) {
      acc = `${String.fromCharCode(labels[i].length)}${asciiLower(labels[i])}${acc}`;
      suffixKeys[i] = acc;
    }
    for (let i = 0; i < labels.length; i++) {
      const at = this.names.get(suffixKeys[i]);
      if (compress && at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.p < 0x3fff && !this.names.has(suffixKeys[i])) this.names.set(suffixKeys[i], this.p);
      const l = labels[i];
      this.need(1 + l.length);
      this.buf[this.p++] = l.length;
      this.p += this.buf.write(l, this.p, 'latin1');
    }
    this.u8(0);
  }

  rr(r: RR): void {
    this.name(r.name, true);
    this.u16(r.data.type);
    this.u16(1); // IN
    this.u32(r.ttl);
    const lenAt = this.p;
    this.u16(0);
    const start = this.p;
    this.rdata(r.data);
    this.buf.writeUInt16BE(this.p - start, lenAt);
  }

  private rdata(d: RData): void {
    if ('raw' in d) {
      this.bytes(d.raw);
      return;
    }
    switch (d.type) {
      case TYPE.A:
      case TYPE.AAAA:
        this.bytes(Buffer.from(ipaddr.parse(d.ip).toByteArray()));
        return;
      case TYPE.CNAME:
      case TYPE.PTR:
      case TYPE.NS:
        this.name(d.target, true);
        return;
      case TYPE.SRV:
        this.u16(d.priority);
        this.u16(d.weight);
        this.u16(d.port);
        this.name(d.target, false); // RFC 2782: the target is not compressed
        return;
      case TYPE.TXT:
        for (const t of d.texts) {
          const b = Buffer.from(t, 'utf8');
          for (let i = 0; i < Math.max(1, b.length); i += 255) {
            const chunk = b.subarray(i, i + 255);
            this.u8(chunk.length);
            this.bytes(chunk);
          }
        }
        return;
      case TYPE.SOA:
        this.name(d.mname, true);
        this.name(d.rname, true);
        this.u32(d.serial);
        this.u32(d.refresh);
        this.u32(d.retry);
        this.u32(d.expire);
        this.u32(d.minimum);
        return;
    }
  }
}

/** Encodes a whole message. Throws RangeError past 65535 bytes. */
export function encodeMessage(m: MessageSpec): Buffer {
  const w = new Writer(SCRATCH);
  w.u16(m.id);
  w.u16((m.flags & ~0xf) | (m.rcode & 0xf));
  w.u16(m.question ? 1 : 0);
  w.u16(m.answers.length);
  w.u16(m.authority.length);
  w.u16(m.additional.length + (m.ednsSize ? 1 : 0));
  if (m.question) {
    w.name(m.question.name, false);
    w.u16(m.question.qtype);
    w.u16(m.question.qclass);
  }
  for (const r of m.answers) w.rr(r);
  for (const r of m.authority) w.rr(r);
  for (const r of m.additional) w.rr(r);
  if (m.ednsSize) {
    w.u8(0);
    w.u16(TYPE.OPT);
    w.u16(m.ednsSize);
    w.u8((m.rcode >> 4) & 0xff);
    w.u8(0);
    w.u16(0);
    w.u16(0);
  }
  return Buffer.from(SCRATCH.subarray(0, w.p));
}

/** Response flags for an answer we give: QR, RA, AA when authoritative. */
export function responseFlags(authoritative: boolean): number {
  return FLAG.QR | FLAG.RA | (authoritative ? FLAG.AA : 0);
}

/** The family record type of an address, or undefined if it is none. */
export function addressType(ip: string): typeof TYPE.A | typeof TYPE.AAAA | undefined {
  if (isIPv4(ip)) return TYPE.A;
  if (isIPv6(ip)) return TYPE.AAAA;
  return undefined;
}

export { HEADER };

/** ASCII-only lowercase (DNS names compare case-insensitively in ASCII only). */
function asciiLower(s: string): string {
  return /[A-Z]/.test(s) ? s.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : s;
}
