// nftables objects as typed data: tables, chains (base and regular), sets,
// maps and their elements, and the desired state of one table. Pure; the
// rendering of each declaration lives next to its type so that one function
// says what a declaration looks like in `nft -f`.
import { assertComment, assertFamily, assertObjectName, assertTableName, NftNameError, type TableFamily } from './names.ts';
import { renderKey, renderTimeout, renderVerdict, verdictTarget, NftValueError, KEY_TYPES, type KeyType, type Value, type Verdict } from './values.ts';
import type { Rule } from './rule.ts';

export interface TableId {
  family: TableFamily;
  name: string;
}

export type ChainType = 'filter' | 'nat' | 'route';
export type Hook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
/** Standard priority names, optionally with an offset (`dstnat - 10`), or a number. */
export type PriorityName = 'raw' | 'mangle' | 'dstnat' | 'filter' | 'security' | 'srcnat';
export type Priority = number | PriorityName | { name: PriorityName; offset: number };

export interface BaseChainSpec {
  type: ChainType;
  hook: Hook;
  priority: Priority;
  policy?: 'accept' | 'drop';
}

export interface ChainDef {
  name: string;
  /** A base chain is attached to a hook; without it the chain is regular (reached by jump/goto). */
  base?: BaseChainSpec;
  comment?: string;
}

export type SetFlag = 'interval' | 'timeout' | 'dynamic' | 'constant';

export interface SetDef {
  name: string;
  /** The key's type; several types make a concatenation (`ipv4_addr . inet_proto . inet_service`). */
  type: readonly KeyType[];
  flags?: readonly SetFlag[];
  /** Default element timeout in seconds (needs the timeout flag). */
  timeout?: number;
  size?: number;
  comment?: string;
}

export interface MapDef extends SetDef {
  /** A verdict map (`: verdict`) or a data map with these value types. */
  value: 'verdict' | readonly KeyType[];
}

/** A set element: its key, one value per key type, and an optional timeout. */
export interface SetElement {
  key: readonly Value[];
  timeout?: number;
  comment?: string;
}

/** A map element: key and value (a verdict for verdict maps). */
export interface MapElement extends SetElement {
  value: Verdict | readonly Value[];
}

/** A chain in a desired table: its declaration and its rules, in order. */
export interface DesiredChain extends ChainDef {
  rules: readonly Rule[];
}

/**
 * A set in a desired table. `elements` absent means the kernel owns the
 * elements (a dynamic set the packet path fills, as session affinity): the
 * adapter creates the set and never touches what is in it.
 */
export interface DesiredSet extends SetDef {
  elements?: readonly SetElement[];
}

export interface DesiredMap extends MapDef {
  elements?: readonly MapElement[];
}

/** Everything one part wants in one of its tables. */
export interface DesiredTable {
  chains: readonly DesiredChain[];
  sets?: readonly DesiredSet[];
  maps?: readonly DesiredMap[];
  comment?: string;
}

const PRIORITY_NAMES: readonly PriorityName[] = ['raw', 'mangle', 'dstnat', 'filter', 'security', 'srcnat'];
const CHAIN_TYPES: readonly ChainType[] = ['filter', 'nat', 'route'];
const HOOKS: readonly Hook[] = ['prerouting', 'input', 'forward', 'output', 'postrouting'];
const SET_FLAGS: readonly SetFlag[] = ['interval', 'timeout', 'dynamic', 'constant'];

export function assertTable(t: TableId): void {
  if (!t || typeof t !== 'object') throw new NftNameError('a table is { family, name }');
  assertFamily(t.family);
  assertTableName(t.name);
}

export function tableKey(t: TableId): string {
  return `${t.family} ${t.name}`;
}

function renderPriority(p: Priority): string {
  const int = (n: number): string => {
    if (!Number.isInteger(n) || n < -1000 || n > 1000) throw new NftValueError(`invalid chain priority ${JSON.stringify(n)} (an integer -1000..1000)`);
    return String(n);
  };
  if (typeof p === 'number') return int(p);
  const name = typeof p === 'string' ? p : p?.name;
  if (!PRIORITY_NAMES.includes(name)) throw new NftValueError(`invalid chain priority ${JSON.stringify(p)}`);
  if (typeof p === 'string' || p.offset === 0) return name;
  int(p.offset);
  return p.offset < 0 ? `${name} - ${-p.offset}` : `${name} + ${p.offset}`;
}

/** The `{ … }` body of `add chain` (empty string for a regular chain without comment). */
export function renderChainSpec(c: ChainDef): string {
  assertObjectName('chain', c.name);
  const parts: string[] = [];
  if (c.base) {
    const b = c.base;
    if (!CHAIN_TYPES.includes(b.type)) throw new NftValueError(`invalid chain type ${JSON.stringify(b.type)}`);
    if (!HOOKS.includes(b.hook)) throw new NftValueError(`invalid chain hook ${JSON.stringify(b.hook)}`);
    parts.push(`type ${b.type} hook ${b.hook} priority ${renderPriority(b.priority)} ;`);
    if (b.policy !== undefined) {
      if (b.policy !== 'accept' && b.policy !== 'drop') throw new NftValueError(`invalid chain policy ${JSON.stringify(b.policy)}`);
      parts.push(`policy ${b.policy} ;`);
    }
  }
  if (c.comment !== undefined) {
    assertComment(c.comment);
    parts.push(`comment "${c.comment}" ;`);
  }
  return parts.length ? ` { ${parts.join(' ')} }` : '';
}

function isMap(s: SetDef | MapDef): s is MapDef {
  return 'value' in s;
}

function hasFlag(s: SetDef, f: SetFlag): boolean {
  return (s.flags ?? []).includes(f);
}

/** The `{ … }` body of `add set` / `add map`. */
export function renderSetSpec(s: SetDef | MapDef): string {
  const kind = isMap(s) ? 'map' : 'set';
  assertObjectName(kind, s.name);
  if (!Array.isArray(s.type) || s.type.length === 0) throw new NftValueError(`${kind} ${s.name}: a key type is required`);
  for (const t of s.type) if (!KEY_TYPES.includes(t)) throw new NftValueError(`${kind} ${s.name}: unknown key type ${JSON.stringify(t)}`);
  let type = s.type.join(' . ');
  if (isMap(s)) {
    if (s.value === 'verdict') type += ' : verdict';
    else {
      if (!Array.isArray(s.value) || s.value.length === 0) throw new NftValueError(`map ${s.name}: a value type is required`);
      for (const t of s.value) if (!KEY_TYPES.includes(t)) throw new NftValueError(`map ${s.name}: unknown value type ${JSON.stringify(t)}`);
      type += ` : ${s.value.join(' . ')}`;
    }
  }
  const parts = [`type ${type} ;`];
  const flags = [...new Set(s.flags ?? [])];
  for (const f of flags) if (!SET_FLAGS.includes(f)) throw new NftValueError(`${kind} ${s.name}: unknown flag ${JSON.stringify(f)}`);
  if (flags.length) parts.push(`flags ${flags.join(',')} ;`);
  if (s.timeout !== undefined) {
    if (!flags.includes('timeout')) throw new NftValueError(`${kind} ${s.name}: a timeout needs the timeout flag`);
    parts.push(`timeout ${renderTimeout(s.timeout)} ;`);
  }
  if (s.size !== undefined) {
    if (!Number.isInteger(s.size) || s.size < 1 || s.size > 1 << 24) throw new NftValueError(`${kind} ${s.name}: invalid size ${s.size}`);
    parts.push(`size ${s.size} ;`);
  }
  if (s.comment !== undefined) {
    assertComment(s.comment);
    parts.push(`comment "${s.comment}" ;`);
  }
  return ` { ${parts.join(' ')} }`;
}

/** An element's key as rendered (the identity of the element in its set). */
export function renderElementKey(s: SetDef, e: SetElement): string {
  if (!e || typeof e !== 'object') throw new NftValueError(`${s.name}: an element is { key: [...] }`);
  return renderKey(s.type, e.key, hasFlag(s, 'interval'));
}

/** An element as rendered inside `{ … }` of `add element` (key, timeout, comment, `: value`). */
export function renderElement(s: SetDef | MapDef, e: SetElement | MapElement): string {
  let out = renderElementKey(s, e);
  if (e.timeout !== undefined) {
    if (!hasFlag(s, 'timeout')) throw new NftValueError(`${s.name}: an element timeout needs the timeout flag`);
    out += ` timeout ${renderTimeout(e.timeout)}`;
  }
  if (e.comment !== undefined) {
    assertComment(e.comment);
    out += ` comment "${e.comment}"`;
  }
  if (isMap(s)) {
    const v = (e as MapElement).value;
    if (v === undefined) throw new NftValueError(`map ${s.name}: element ${out} has no value`);
    out += ` : ${s.value === 'verdict' ? renderVerdict(v as Verdict) : renderKey(s.value, v as readonly Value[])}`;
  } else if ('value' in e) throw new NftValueError(`set ${s.name}: elements of a set have no value`);
  return out;
}

/** The chain a verdict-map element points at, if any. */
export function elementTarget(m: SetDef | MapDef, e: SetElement | MapElement): string | undefined {
  if (!isMap(m) || m.value !== 'verdict') return undefined;
  return verdictTarget((e as MapElement).value as Verdict);
}

export { isMap };
