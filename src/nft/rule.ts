// Rule bodies as typed statements, and their rendering. Pure.
//
// How much typing: every operand is typed (a field has one key type and its
// values go through values.ts; chain, set and map names through names.ts),
// and statements are a closed union of what meshlet's parts need (matches,
// set/map lookups over concatenated fields, numgen dispatch, verdicts, NAT,
// marks, set updates, notrack, counter, log, limit). There is deliberately no
// free-text statement: a rule nft would parse differently from what the
// model says cannot be written. A new need is a new statement kind here.
import { assertComment, assertObjectName } from './names.ts';
import { renderValue, renderVerdict, verdictTarget, renderTimeout, NftValueError, type KeyType, type Value, type Verdict } from './values.ts';

/** Packet fields a rule can match or use as a key, each with its data type. */
export const FIELDS = {
  'ip saddr': 'ipv4_addr',
  'ip daddr': 'ipv4_addr',
  'ip6 saddr': 'ipv6_addr',
  'ip6 daddr': 'ipv6_addr',
  'ip protocol': 'inet_proto',
  'ip6 nexthdr': 'inet_proto',
  'meta l4proto': 'inet_proto',
  'meta nfproto': 'nf_proto',
  'th dport': 'inet_service',
  'th sport': 'inet_service',
  'tcp dport': 'inet_service',
  'udp dport': 'inet_service',
  'sctp dport': 'inet_service',
  'meta mark': 'mark',
  'ct mark': 'mark',
  'iifname': 'ifname',
  'oifname': 'ifname',
  'ct state': 'ct_state',
  'fib daddr type': 'fib_addrtype',
  'fib saddr type': 'fib_addrtype',
  'ct original ip daddr': 'ipv4_addr',
  'ct original ip6 daddr': 'ipv6_addr',
} as const satisfies Record<string, KeyType>;

export type Field = keyof typeof FIELDS;

export function fieldType(f: Field): KeyType {
  const t = (FIELDS as Record<string, KeyType>)[f];
  if (!t) throw new NftValueError(`unknown packet field ${JSON.stringify(f)}`);
  return t;
}

export type Statement =
  /** `<field> [!=] <value>` (a value, a prefix or a range [lo, hi]). */
  | { match: Field; op?: '==' | '!='; value: Value }
  /** `<field> [!=] { v1, v2, … }` (an anonymous set; prefixes and ranges allowed). */
  | { match: Field; op?: '==' | '!='; anyOf: readonly Value[] }
  /** `<field> & <mask> [!=] <value>` for marks. */
  | { matchMasked: 'meta mark' | 'ct mark'; mask: number; op?: '==' | '!='; value: number }
  /** `<f1> . <f2> … [!=] @set` (named set lookup). */
  | { inSet: string; key: readonly Field[]; negate?: boolean }
  /** `<f1> . <f2> … vmap @map` (named verdict map dispatch). */
  | { vmap: string; key: readonly Field[] }
  /** `numgen random mod N vmap { 0 : v0, … }` (random choice; N = verdicts.length). */
  | { numgen: readonly Verdict[] }
  /** `numgen random mod M V`: true for one in M packets (one step of a randomChoice cascade). */
  | { numgenIs: { mod: number; value: number } }
  /** `update @set { <f1> . … }` (a dynamic set; the set's own timeout applies). */
  | { update: string; key: readonly Field[]; timeout?: number }
  /** `meta mark set meta mark or|xor|and <v>`, or `meta mark set <v>`. */
  | { setMark: number; op?: 'set' | 'or' | 'xor' | 'and' }
  /**
   * `dnat ip to <addr>[:port]` / `dnat ip6 to [addr]:port`. A port needs a
   * protocol match first: give `protocol` to have it rendered here
   * (`meta l4proto tcp dnat ip to a:p`), as kube-proxy's endpoint chains do.
   */
  | { dnat: { family: 'ip' | 'ip6'; addr: string; port?: number; protocol?: 'tcp' | 'udp' | 'sctp' } }
  | { masquerade: { fullyRandom?: boolean } }
  | { reject: 'tcp reset' | 'icmp port-unreachable' | 'icmpv6 port-unreachable' | 'icmpx port-unreachable' | 'default' }
  | { notrack: true }
  | { counter: true }
  /** `log prefix "…" [group N]` (NFLOG group when given). */
  | { log: { prefix: string; group?: number } }
  /** `limit rate N/second|minute [burst B packets]`: the rule goes on only while under the rate. */
  | { limit: { rate: number; per: 'second' | 'minute'; burst?: number } }
  | { verdict: Verdict };

export interface Rule {
  body: readonly Statement[];
  comment?: string;
}

function fields(key: readonly Field[]): string {
  if (!Array.isArray(key) || key.length === 0) throw new NftValueError('a lookup key names at least one field');
  for (const f of key) fieldType(f);
  return key.join(' . ');
}

function setRef(kind: 'set' | 'map', name: string): string {
  assertObjectName(kind, name);
  return `@${name}`;
}

function u32(what: string, n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new NftValueError(`invalid ${what} ${JSON.stringify(n)}`);
  return `0x${n.toString(16).padStart(8, '0')}`;
}

function statement(s: Statement): string {
  if ('match' in s) {
    const t = fieldType(s.match);
    if (s.op !== undefined && s.op !== '==' && s.op !== '!=') throw new NftValueError(`invalid match operator ${JSON.stringify(s.op)}`);
    const op = s.op === '!=' ? '!= ' : '';
    if ('anyOf' in s) {
      if (!Array.isArray(s.anyOf) || s.anyOf.length === 0) throw new NftValueError(`match on ${s.match}: an empty anonymous set matches nothing`);
      const items = [...new Set(s.anyOf.map((v) => renderValue(t, v, true)))];
      return `${s.match} ${op}${items.length === 1 ? items[0] : `{ ${items.join(', ')} }`}`;
    }
    return `${s.match} ${op}${renderValue(t, s.value, true)}`;
  }
  if ('matchMasked' in s) {
    if (s.matchMasked !== 'meta mark' && s.matchMasked !== 'ct mark') throw new NftValueError(`invalid masked field ${JSON.stringify(s.matchMasked)}`);
    return `${s.matchMasked} & ${u32('mask', s.mask)} ${s.op === '!=' ? '!= ' : '== '}${u32('mark', s.value)}`;
  }
  if ('inSet' in s) return `${fields(s.key)} ${s.negate ? '!= ' : ''}${setRef('set', s.inSet)}`;
  if ('vmap' in s) return `${fields(s.key)} vmap ${setRef('map', s.vmap)}`;
  if ('numgen' in s) {
    if (!Array.isArray(s.numgen) || s.numgen.length === 0 || s.numgen.length > 65536) throw new NftValueError('numgen needs 1..65536 verdicts');
    return `numgen random mod ${s.numgen.length} vmap { ${s.numgen.map((v, i) => `${i} : ${renderVerdict(v)}`).join(', ')} }`;
  }
  if ('numgenIs' in s) {
    const { mod, value } = s.numgenIs;
    if (!Number.isInteger(mod) || mod < 2 || mod > 65536) throw new NftValueError(`invalid numgen modulus ${JSON.stringify(mod)} (2..65536)`);
    if (!Number.isInteger(value) || value < 0 || value >= mod) throw new NftValueError(`invalid numgen value ${JSON.stringify(value)} (0..${mod - 1})`);
    return `numgen random mod ${mod} ${value}`;
  }
  if ('update' in s) return `update ${setRef('set', s.update)} { ${fields(s.key)}${s.timeout !== undefined ? ` timeout ${renderTimeout(s.timeout)}` : ''} }`;
  if ('setMark' in s) {
    const op = s.op ?? 'set';
    if (op === 'set') return `meta mark set ${u32('mark', s.setMark)}`;
    if (op !== 'or' && op !== 'xor' && op !== 'and') throw new NftValueError(`invalid mark operator ${JSON.stringify(op)}`);
    return `meta mark set meta mark ${op} ${u32('mark', s.setMark)}`;
  }
  if ('dnat' in s) {
    const { family, addr, port, protocol } = s.dnat;
    if (family !== 'ip' && family !== 'ip6') throw new NftValueError(`invalid dnat family ${JSON.stringify(family)}`);
    const a = renderValue(family === 'ip' ? 'ipv4_addr' : 'ipv6_addr', addr);
    const proto = protocol === undefined ? '' : `meta l4proto ${renderValue('inet_proto', protocol)} `;
    if (port === undefined) return `${proto}dnat ${family} to ${a}`;
    const p = renderValue('inet_service', port);
    return `${proto}dnat ${family} to ${family === 'ip' ? a : `[${a}]`}:${p}`;
  }
  if ('masquerade' in s) return s.masquerade.fullyRandom ? 'masquerade fully-random' : 'masquerade';
  if ('reject' in s) {
    const ok = ['tcp reset', 'icmp port-unreachable', 'icmpv6 port-unreachable', 'icmpx port-unreachable', 'default'];
    if (!ok.includes(s.reject)) throw new NftValueError(`invalid reject ${JSON.stringify(s.reject)}`);
    if (s.reject === 'default') return 'reject';
    if (s.reject === 'tcp reset') return 'reject with tcp reset';
    const [kind, code] = s.reject.split(' ');
    return `reject with ${kind} type ${code}`;
  }
  if ('notrack' in s) return 'notrack';
  if ('counter' in s) return 'counter';
  if ('log' in s) {
    assertComment(s.log.prefix);
    if (s.log.group !== undefined && (!Number.isInteger(s.log.group) || s.log.group < 0 || s.log.group > 65535)) throw new NftValueError(`invalid log group ${s.log.group}`);
    return `log prefix "${s.log.prefix}"${s.log.group !== undefined ? ` group ${s.log.group}` : ''}`;
  }
  if ('limit' in s) {
    const { rate, per, burst } = s.limit;
    if (!Number.isInteger(rate) || rate < 1 || rate > 1_000_000) throw new NftValueError(`invalid limit rate ${rate}`);
    if (per !== 'second' && per !== 'minute') throw new NftValueError(`invalid limit unit ${JSON.stringify(per)}`);
    if (burst !== undefined && (!Number.isInteger(burst) || burst < 1 || burst > 1_000_000)) throw new NftValueError(`invalid limit burst ${burst}`);
    return `limit rate ${rate}/${per}${burst !== undefined ? ` burst ${burst} packets` : ''}`;
  }
  if ('verdict' in s) return renderVerdict(s.verdict);
  throw new NftValueError(`unknown rule statement ${JSON.stringify(s)}`);
}

/** Render a rule body (and its comment) as nft text. */
export function renderRule(r: Rule): string {
  if (!r || !Array.isArray(r.body) || r.body.length === 0) throw new NftValueError('a rule has at least one statement');
  const text = r.body.map(statement).join(' ');
  if (r.comment === undefined) return text;
  assertComment(r.comment);
  return `${text} comment "${r.comment}"`;
}

/** Names a rule refers to: chains (jump/goto), sets and maps (lookups, updates). */
export function ruleRefs(r: Rule): { chains: string[]; sets: string[] } {
  const chains: string[] = [];
  const sets: string[] = [];
  for (const s of r.body) {
    if ('verdict' in s) {
      const t = verdictTarget(s.verdict);
      if (t) chains.push(t);
    } else if ('numgen' in s) {
      for (const v of s.numgen) {
        const t = verdictTarget(v);
        if (t) chains.push(t);
      }
    } else if ('inSet' in s) sets.push(s.inSet);
    else if ('vmap' in s) sets.push(s.vmap);
    else if ('update' in s) sets.push(s.update);
  }
  return { chains, sets };
}

// Small builders, so parts write rules as data without spelling statements out.
export const match = (field: Field, value: Value): Statement => ({ match: field, value });
export const notMatch = (field: Field, value: Value): Statement => ({ match: field, op: '!=', value });
export const matchAny = (field: Field, values: readonly Value[]): Statement => ({ match: field, anyOf: values });
export const notMatchAny = (field: Field, values: readonly Value[]): Statement => ({ match: field, op: '!=', anyOf: values });
export const inSet = (set: string, ...key: Field[]): Statement => ({ inSet: set, key });
export const notInSet = (set: string, ...key: Field[]): Statement => ({ inSet: set, key, negate: true });
export const vmap = (map: string, ...key: Field[]): Statement => ({ vmap: map, key });
export const numgen = (verdicts: readonly Verdict[]): Statement => ({ numgen: verdicts });
export const jump = (chain: string): Statement => ({ verdict: { jump: chain } });
export const goTo = (chain: string): Statement => ({ verdict: { goto: chain } });
export const accept: Statement = { verdict: 'accept' };
export const drop: Statement = { verdict: 'drop' };
export const ret: Statement = { verdict: 'return' };
export const masquerade: Statement = { masquerade: {} };
export const notrack: Statement = { notrack: true };
export const counter: Statement = { counter: true };
export const rule = (...body: Statement[]): Rule => ({ body });

/**
 * Up to this many choices, randomChoice is a cascade of rules; above it, one
 * numgen verdict map. A numgen map is an anonymous set in the kernel, and
 * every set of a table makes set lookups by name and new anonymous sets cost
 * O(sets in the table) in the kernel (and nft dumps each one into its cache),
 * so a proxy with a map per Service pays O(Services) for any change; rules
 * cost nothing of the kind. A cascade evaluates at most this many rules for
 * the first packet of a connection (NAT chains see no other).
 */
export const RANDOM_CASCADE_MAX = 16;

/**
 * A uniformly random choice among `verdicts`, as rules: rule i is
 * `numgen random mod (N-i) 0 <verdict i>` (taken with probability 1/(N-i)
 * of the packets that reach it, so each verdict gets 1/N), the last one
 * unconditional (iptables' statistic cascade, with numgen). Above
 * RANDOM_CASCADE_MAX choices: one `numgen random mod N vmap { … }` rule.
 */
export function randomChoice(verdicts: readonly Verdict[], max: number = RANDOM_CASCADE_MAX): Rule[] {
  const n = verdicts.length;
  if (n === 0) throw new NftValueError('a random choice needs at least one verdict');
  if (n > max) return [rule(numgen(verdicts))];
  return verdicts.map((v, i) => (i === n - 1 ? rule({ verdict: v }) : rule({ numgenIs: { mod: n - i, value: 0 } }, { verdict: v })));
}
