// The LoadBalancer address pool (`meshlet server --lb-pool`), pure: IPv4
// CIDRs (their host addresses) and inclusive ranges A-B, in the order given;
// the layer-2 announcer answers ARP, so IPv4 only.
import { bigIntToIp, hostRange, ipFamily, ipToBigInt, parseCidr } from '../core/cidr.ts';

export interface LbRange {
  first: bigint;
  last: bigint;
}

export interface LbPool {
  /** As given, for logs. */
  text: string[];
  ranges: LbRange[];
}

/** Pool addresses are capped so that a typo (a /8) cannot make a scan of millions. */
export const MAX_POOL_ADDRESSES = 65_536n;

function parseEntry(entry: string): LbRange {
  const dash = entry.indexOf('-');
  if (dash >= 0) {
    const a = entry.slice(0, dash).trim();
    const b = entry.slice(dash + 1).trim();
    if (ipFamily(a) !== 4 || ipFamily(b) !== 4) throw new Error(`"${entry}" is not an IPv4 range A-B`);
    const first = ipToBigInt(a);
    const last = ipToBigInt(b);
    if (last < first) throw new Error(`range "${entry}" ends before it starts`);
    return { first, last };
  }
  const c = parseCidr(entry.trim());
  if (c.family !== 4) throw new Error(`"${entry}" is not IPv4 (the layer-2 announcer answers ARP only)`);
  const { first, last } = hostRange(c);
  return { first, last };
}

/** Parses the --lb-pool values (each may hold several, comma-separated); throws a clear error on bad input or overlaps. */
export function parseLbPool(values: readonly string[]): LbPool | undefined {
  const text = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  if (text.length === 0) return undefined;
  const ranges = text.map(parseEntry);
  let total = 0n;
  for (const [i, r] of ranges.entries()) {
    total += r.last - r.first + 1n;
    for (const other of ranges.slice(0, i)) {
      if (r.first <= other.last && other.first <= r.last) throw new Error(`pool entries ${text[ranges.indexOf(other)]} and ${text[i]} overlap`);
    }
  }
  if (total > MAX_POOL_ADDRESSES) throw new Error(`the pool has ${total} addresses; at most ${MAX_POOL_ADDRESSES}`);
  return { text, ranges };
}

export function inPool(pool: LbPool, ip: string): boolean {
  if (ipFamily(ip) !== 4) return false;
  const v = ipToBigInt(ip);
  return pool.ranges.some((r) => v >= r.first && v <= r.last);
}

/** The first pool address not in `taken`, in pool order; undefined when the pool is used up. */
export function firstFree(pool: LbPool, taken: ReadonlySet<string>): string | undefined {
  for (const r of pool.ranges) {
    for (let v = r.first; v <= r.last; v++) {
      const ip = bigIntToIp(v, 4);
      if (!taken.has(ip)) return ip;
    }
  }
  return undefined;
}
