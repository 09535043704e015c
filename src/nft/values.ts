// Typed values: the data types of set keys, map values and match operands,
// and the one function per type that validates a value and renders it in its
// canonical nft form. Pure. Nothing reaches `nft -f` as a value without going
// through `renderValue` for its declared type.
import { parseCidr, parseIp, formatCidr } from '../core/cidr.ts';
import { assertObjectName, NftNameError } from './names.ts';

/** nft data types meshlet declares sets and maps with (`type a . b . c`). */
export type KeyType = 'ipv4_addr' | 'ipv6_addr' | 'inet_proto' | 'inet_service' | 'mark' | 'ifname' | 'ct_state' | 'fib_addrtype' | 'nf_proto';

export const KEY_TYPES: readonly KeyType[] = ['ipv4_addr', 'ipv6_addr', 'inet_proto', 'inet_service', 'mark', 'ifname', 'ct_state', 'fib_addrtype', 'nf_proto'];

/**
 * One value of a key type. Addresses: "10.0.0.1", a CIDR "10.0.0.0/8" (in
 * sets with the interval flag, and in anonymous sets) or a range
 * ["10.0.0.1", "10.0.0.9"]. Ports and marks: a number or a range [lo, hi].
 * Protocols: "tcp" | "udp" | "sctp" | "icmp" | "icmpv6" or a number.
 */
export type Scalar = string | number;
export type Value = Scalar | readonly [Scalar, Scalar];

/** A verdict, as a rule statement or as a verdict map's value. */
export type Verdict = 'accept' | 'drop' | 'return' | 'continue' | { jump: string } | { goto: string };

export class NftValueError extends Error {
  override name = 'NftValueError';
}

const PROTOCOLS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58, sctp: 132 };
const PROTOCOL_NAMES = new Map(Object.entries(PROTOCOLS).map(([k, v]) => [v, k]));
const CT_STATES = new Set(['invalid', 'established', 'related', 'new', 'untracked']);
const FIB_TYPES = new Set(['unspec', 'unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit']);
const NF_PROTOS = new Set(['ipv4', 'ipv6']);
const IFNAME = /^[a-zA-Z0-9_.-]{1,15}\*?$/;

function bad(type: KeyType, v: unknown, why: string): never {
  throw new NftValueError(`invalid ${type} value ${JSON.stringify(v)}: ${why}`);
}

function intIn(type: KeyType, v: Scalar, max: number): number {
  const n = typeof v === 'number' ? v : /^(0x[0-9a-fA-F]+|\d+)$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > max) bad(type, v, `an integer 0..${max}`);
  return n;
}

// Canonical dotted quads (no leading zeros), the common case, checked without parsing to a number.
const QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function address(type: 'ipv4_addr' | 'ipv6_addr', v: Scalar, allowPrefix: boolean): string {
  if (typeof v !== 'string') bad(type, v, 'an address string');
  if (type === 'ipv4_addr' && QUAD.test(v)) return v;
  const want = type === 'ipv4_addr' ? 4 : 6;
  try {
    if (v.includes('/')) {
      if (!allowPrefix) bad(type, v, 'a prefix needs a set with the interval flag');
      const c = parseCidr(v);
      if (c.family !== want) bad(type, v, `not an IPv${want} prefix`);
      return formatCidr(c);
    }
    const a = parseIp(v);
    if (a.family !== want) bad(type, v, `not an IPv${want} address`);
    return formatCidr({ family: a.family, network: a.value, prefix: want === 4 ? 32 : 128 }).split('/')[0];
  } catch (err) {
    if (err instanceof NftValueError) throw err;
    bad(type, v, err instanceof Error ? err.message : String(err));
  }
}

function scalar(type: KeyType, v: Scalar, allowPrefix: boolean): string {
  switch (type) {
    case 'ipv4_addr':
    case 'ipv6_addr':
      return address(type, v, allowPrefix);
    case 'inet_service':
      return String(intIn(type, v, 65535));
    case 'mark':
      return `0x${intIn(type, v, 0xffffffff).toString(16).padStart(8, '0')}`;
    case 'inet_proto': {
      if (typeof v === 'string' && v in PROTOCOLS) return v;
      const n = intIn(type, v, 255);
      return PROTOCOL_NAMES.get(n) ?? String(n);
    }
    case 'ifname':
      if (typeof v !== 'string' || !IFNAME.test(v)) bad(type, v, 'an interface name [a-zA-Z0-9_.-]{1,15}, optionally ending in *');
      return `"${v}"`;
    case 'ct_state':
      if (typeof v !== 'string' || !CT_STATES.has(v)) bad(type, v, [...CT_STATES].join('|'));
      return v;
    case 'fib_addrtype':
      if (typeof v !== 'string' || !FIB_TYPES.has(v)) bad(type, v, [...FIB_TYPES].join('|'));
      return v;
    case 'nf_proto':
      if (typeof v !== 'string' || !NF_PROTOS.has(v)) bad(type, v, 'ipv4|ipv6');
      return v;
  }
}

function isRange(v: Value): v is readonly [Scalar, Scalar] {
  return Array.isArray(v);
}

const ORDERED: ReadonlySet<KeyType> = new Set(['ipv4_addr', 'ipv6_addr', 'inet_service', 'mark', 'inet_proto']);

/**
 * Validate `v` as a value of `type` and render it canonically (so equal
 * values render equal: "10.0.0.0/8" and "10.1.2.3/8" both give 10.0.0.0/8,
 * IPv6 is compressed, marks are hex). Ranges and prefixes only when
 * `intervals` (a set with the interval flag, or an anonymous set).
 */
export function renderValue(type: KeyType, v: Value, intervals = false): string {
  if (!(KEY_TYPES as readonly string[]).includes(type)) throw new NftValueError(`unknown nftables key type ${JSON.stringify(type)}`);
  if (isRange(v)) {
    if (!intervals) bad(type, v, 'a range needs a set with the interval flag');
    if (!ORDERED.has(type)) bad(type, v, 'this type has no ranges');
    if (v.length !== 2) bad(type, v, 'a range is [low, high]');
    const lo = scalar(type, v[0], false);
    const hi = scalar(type, v[1], false);
    return `${lo}-${hi}`;
  }
  if (typeof v !== 'string' && typeof v !== 'number') bad(type, v, 'a string or a number');
  return scalar(type, v, intervals);
}

/** Render a verdict; chain names are validated. */
export function renderVerdict(v: Verdict): string {
  if (typeof v === 'string') {
    if (v === 'accept' || v === 'drop' || v === 'return' || v === 'continue') return v;
    throw new NftValueError(`invalid verdict ${JSON.stringify(v)}`);
  }
  if (v && typeof v === 'object') {
    if ('jump' in v && typeof v.jump === 'string') {
      assertObjectName('chain', v.jump);
      return `jump ${v.jump}`;
    }
    if ('goto' in v && typeof v.goto === 'string') {
      assertObjectName('chain', v.goto);
      return `goto ${v.goto}`;
    }
  }
  throw new NftValueError(`invalid verdict ${JSON.stringify(v)}`);
}

/** The chain a verdict sends packets to, if any. */
export function verdictTarget(v: Verdict): string | undefined {
  if (typeof v === 'string') return undefined;
  return 'jump' in v ? v.jump : v.goto;
}

/** Render a concatenated key (`a . b . c`), one value per declared type. */
export function renderKey(types: readonly KeyType[], values: readonly Value[], intervals = false): string {
  if (!Array.isArray(values) || values.length !== types.length) {
    throw new NftValueError(`a key of type ${types.join(' . ')} has ${types.length} part(s), not ${Array.isArray(values) ? values.length : JSON.stringify(values)}`);
  }
  return types.map((t, i) => renderValue(t, values[i], intervals)).join(' . ');
}

/** A timeout in whole seconds (1 s .. 30 days), rendered as `Ns`. */
export function renderTimeout(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 30 * 86400) throw new NftValueError(`invalid timeout ${JSON.stringify(seconds)}: whole seconds, 1..2592000`);
  return `${seconds}s`;
}

export { NftNameError };
