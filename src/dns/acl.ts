// Who may use the server's recursion (forwarding to upstream resolvers): a list
// of CIDRs, decided once per source address and remembered. Pure.
import ipaddr from 'ipaddr.js';

export const LOOPBACK_CIDRS: readonly string[] = ['127.0.0.0/8', '::1/128'];

export class RecursionAcl {
  private readonly ranges: [ipaddr.IPv4 | ipaddr.IPv6, number][];
  private readonly memo = new Map<string, boolean>();

  /** Throws on a malformed CIDR (or a bare address, taken as a /32 or /128). */
  constructor(readonly cidrs: readonly string[]) {
    this.ranges = cidrs.map((c) => {
      if (!c.includes('/')) {
        const a = ipaddr.parse(c);
        return [a, a.kind() === 'ipv4' ? 32 : 128];
      }
      return ipaddr.parseCIDR(c);
    });
  }

  allows(ip: string): boolean {
    const m = this.memo.get(ip);
    if (m !== undefined) return m;
    const v = this.decide(ip);
    if (this.memo.size >= 65536) this.memo.clear();
    this.memo.set(ip, v);
    return v;
  }

  private decide(ip: string): boolean {
    let a: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      a = ipaddr.process(ip.replace(/%.*$/, ''));
    } catch {
      return false;
    }
    for (const [net, bits] of this.ranges) {
      if (a.kind() === net.kind() && a.match(net, bits)) return true;
    }
    return false;
  }
}

/** Validates a CIDR (or address) for a command-line option; returns it or throws. */
export function checkCidr(text: string): string {
  if (text.includes('/')) ipaddr.parseCIDR(text);
  else ipaddr.parse(text);
  return text;
}
