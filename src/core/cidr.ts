// IP addresses and CIDRs, IPv4 and IPv6, with BigInt: the one strict parser
// (a dotted quad, or IPv6 without a zone) every part uses, and the arithmetic:
// splitting a cluster CIDR into node subnets, gateways and host ranges. Pure.
import ipaddr from 'ipaddr.js';

export type Family = 4 | 6;

/** A network: its address as a number with the host bits cleared, and its prefix length. */
export interface Cidr {
  family: Family;
  network: bigint;
  prefix: number;
}

export const FAMILY_BITS: Record<Family, number> = { 4: 32, 6: 128 };
/** Default node subnet size per family (flannel: /24; IPv6 nodes: /64). */
/** The cluster's pod network unless told otherwise (flannel's default). */
export const DEFAULT_CLUSTER_CIDR = '10.244.0.0/16';

export const DEFAULT_NODE_PREFIX: Record<Family, number> = { 4: 24, 6: 64 };

function bits(family: Family): bigint {
  return BigInt(FAMILY_BITS[family]);
}

/** Number of addresses in a network of this prefix. */
export function cidrSize(c: Cidr): bigint {
  return 1n << (bits(c.family) - BigInt(c.prefix));
}

/** The family of an IP address; undefined when it is not one (strict: see isIp). */
export function ipFamily(ip: unknown): Family | undefined {
  if (typeof ip !== 'string') return undefined;
  if (ipaddr.IPv4.isValidFourPartDecimal(ip)) return 4;
  if (ip.includes(':') && !ip.includes('%') && ipaddr.IPv6.isValid(ip)) return 6;
  return undefined;
}

/** An IPv4 dotted quad or an IPv6 address without a zone (what Go's net.ParseIP accepts). */
export function isIp(ip: unknown): ip is string {
  return ipFamily(ip) !== undefined;
}

export function familyOf(ip: string): Family {
  const family = ipFamily(ip);
  if (family === undefined) throw new Error(`invalid IP address ${JSON.stringify(ip)}`);
  return family;
}

/** Strict parse of an IPv4 dotted quad or an IPv6 address (no zone ids). */
export function parseIp(ip: string): { family: Family; value: bigint } {
  const family = familyOf(ip);
  const addr = ipaddr.parse(ip);
  let value = 0n;
  for (const b of addr.toByteArray()) value = (value << 8n) | BigInt(b);
  return { family, value };
}

export function ipToBigInt(ip: string): bigint {
  return parseIp(ip).value;
}

export function bigIntToIp(value: bigint, family: Family): string {
  const n = FAMILY_BITS[family] / 8;
  if (value < 0n || value >= 1n << bits(family)) throw new Error(`value out of range for IPv${family}`);
  const bytes: number[] = new Array(n);
  let v = value;
  for (let i = n - 1; i >= 0; i--) {
    bytes[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return ipaddr.fromByteArray(bytes).toString();
}

/** Bytes of an address in network order (for netlink). */
export function ipToBytes(ip: string): Buffer {
  parseIp(ip);
  return Buffer.from(ipaddr.parse(ip).toByteArray());
}

export function bytesToIp(bytes: Uint8Array): string {
  if (bytes.length !== 4 && bytes.length !== 16) throw new Error(`an address has 4 or 16 bytes, not ${bytes.length}`);
  return ipaddr.fromByteArray([...bytes]).toString();
}

/**
 * Parse "a.b.c.d/n" or "x::/n". Host bits set are an error unless
 * `allowHostBits` (then they are cleared: "10.0.0.5/24" → 10.0.0.0/24).
 */
export function parseCidr(s: string, opts: { allowHostBits?: boolean } = {}): Cidr {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(typeof s === 'string' ? s : '');
  if (!m) throw new Error(`invalid CIDR ${JSON.stringify(s)}`);
  const { family, value } = parseIp(m[1]);
  const prefix = Number(m[2]);
  if (prefix > FAMILY_BITS[family]) throw new Error(`invalid CIDR ${s}: prefix longer than ${FAMILY_BITS[family]}`);
  const network = value & maskOf(family, prefix);
  if (network !== value && !opts.allowHostBits) throw new Error(`invalid CIDR ${s}: host bits set (network is ${bigIntToIp(network, family)}/${prefix})`);
  return { family, network, prefix };
}

/** Is `s` a CIDR? With `allowHostBits`, as Go's net.ParseCIDR accepts it ("10.0.0.5/24"). */
export function isCidr(s: unknown, opts: { allowHostBits?: boolean } = {}): s is string {
  if (typeof s !== 'string') return false;
  try {
    parseCidr(s, opts);
    return true;
  } catch {
    return false;
  }
}

function maskOf(family: Family, prefix: number): bigint {
  const total = bits(family);
  return ((1n << total) - 1n) ^ ((1n << (total - BigInt(prefix))) - 1n);
}

export function formatCidr(c: Cidr): string {
  return `${bigIntToIp(c.network, c.family)}/${c.prefix}`;
}

/** The canonical spelling of a CIDR string ("fd00:10:244:0::/64" → "fd00:10:244::/64"). */
export function normalizeCidr(s: string): string {
  return formatCidr(parseCidr(s));
}

/** Last address of the network (the IPv4 broadcast address). */
export function lastAddress(c: Cidr): bigint {
  return c.network + cidrSize(c) - 1n;
}

/** Does `outer` contain the address or the whole network `inner`? */
export function contains(outer: Cidr | string, inner: Cidr | string): boolean {
  const o = typeof outer === 'string' ? parseCidr(outer) : outer;
  let i: Cidr;
  if (typeof inner === 'string') {
    if (inner.includes('/')) i = parseCidr(inner);
    else {
      const ip = parseIp(inner);
      i = { family: ip.family, network: ip.value, prefix: FAMILY_BITS[ip.family] };
    }
  } else i = inner;
  if (o.family !== i.family || i.prefix < o.prefix) return false;
  return (i.network & maskOf(o.family, o.prefix)) === o.network;
}

/** How many subnets of `/size` fit in `cluster`. */
export function subnetCount(cluster: Cidr, size: number): bigint {
  checkSplit(cluster, size);
  return 1n << BigInt(size - cluster.prefix);
}

function checkSplit(cluster: Cidr, size: number): void {
  if (!Number.isInteger(size) || size < cluster.prefix || size > FAMILY_BITS[cluster.family]) {
    throw new Error(`cannot split ${formatCidr(cluster)} into /${size} subnets`);
  }
}

/** The n-th (0-based) `/size` subnet of `cluster`. */
export function nthSubnet(cluster: Cidr, size: number, n: bigint | number): Cidr {
  const count = subnetCount(cluster, size);
  const i = BigInt(n);
  if (i < 0n || i >= count) throw new Error(`subnet index ${i} out of range: ${formatCidr(cluster)} has ${count} /${size} subnets`);
  return { family: cluster.family, prefix: size, network: cluster.network + i * (1n << (bits(cluster.family) - BigInt(size))) };
}

/** Inverse of nthSubnet: the index of `subnet` in `cluster`, or throws if it is not one of its /size subnets. */
export function subnetIndex(cluster: Cidr, size: number, subnet: Cidr | string): bigint {
  const s = typeof subnet === 'string' ? parseCidr(subnet) : subnet;
  if (s.prefix !== size || !contains(cluster, s)) throw new Error(`${formatCidr(s)} is not a /${size} subnet of ${formatCidr(cluster)}`);
  return (s.network - cluster.network) >> (bits(cluster.family) - BigInt(size));
}

/** Every `/size` subnet of `cluster`, in order (lazy: a /8 has 65536 /24s). */
export function* splitCidr(cluster: Cidr, size: number): Generator<Cidr> {
  const count = subnetCount(cluster, size);
  for (let i = 0n; i < count; i++) yield nthSubnet(cluster, size, i);
}

/** First host: the gateway of a pod subnet (10.244.1.0/24 → 10.244.1.1). */
export function gatewayOf(c: Cidr): string {
  if (cidrSize(c) < 2n) throw new Error(`${formatCidr(c)} has no host addresses`);
  return bigIntToIp(c.network + 1n, c.family);
}

/**
 * Host addresses of a subnet: IPv4 excludes the network and broadcast
 * addresses (/31 and /32 are point-to-point: all of them); IPv6 excludes the
 * subnet-router anycast address (the network address) only.
 */
export function hostRange(c: Cidr): { first: bigint; last: bigint; count: bigint } {
  const size = cidrSize(c);
  if (c.family === 4 && size <= 2n) return { first: c.network, last: lastAddress(c), count: size };
  if (c.family === 6 && size === 1n) return { first: c.network, last: c.network, count: 1n };
  const first = c.network + 1n;
  const last = c.family === 4 ? lastAddress(c) - 1n : lastAddress(c);
  return { first, last, count: last - first + 1n };
}

/** The address `offset` from the network address of `c` (offset 1 = gateway). */
export function addressAt(c: Cidr, offset: bigint | number): string {
  const o = BigInt(offset);
  if (o < 0n || o >= cidrSize(c)) throw new Error(`offset ${o} outside ${formatCidr(c)}`);
  return bigIntToIp(c.network + o, c.family);
}

/** Offset of `ip` from the network address of `c`; throws if outside. */
export function offsetOf(c: Cidr, ip: string): bigint {
  const p = parseIp(ip);
  if (!contains(c, ip)) throw new Error(`${ip} is not in ${formatCidr(c)}`);
  return p.value - c.network;
}

/** Default node subnet prefix for a cluster CIDR, flannel's rule: /24 when the network is larger than /22; IPv6 /64. */
export function defaultNodePrefix(cluster: Cidr): number {
  if (cluster.family === 6) return Math.max(64, cluster.prefix);
  return cluster.prefix <= 22 ? 24 : Math.min(cluster.prefix + 2, 30);
}

/** Pod offsets stay plain numbers (an IPv6 /64 is far larger than any node's pod count). */
const MAX_POD_OFFSET = 2n ** 32n;

/**
 * Offsets from the network address a pod may get in every one of a node's
 * `subnets` (one per family; dual-stack pods get the same offset in each):
 * [first, last], skipping the network address, the gateway (offset 1) and, in
 * IPv4, broadcast.
 */
export function podOffsetRange(subnets: readonly string[]): { first: number; last: number } {
  if (subnets.length === 0) throw new Error('no pod subnet');
  const last = Math.min(
    ...subnets.map((s) => {
      const c = parseCidr(s);
      const l = c.family === 4 ? cidrSize(c) - 2n : cidrSize(c) - 1n;
      return Number(l < MAX_POD_OFFSET ? l : MAX_POD_OFFSET);
    }),
  );
  if (last < 2) throw new Error(`subnet ${subnets.join(',')} holds no pod address besides the gateway`);
  return { first: 2, last };
}
