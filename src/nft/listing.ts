// What the kernel holds in a table, as the full sync needs it: chain names
// and hooks, set and map declarations and (for sets whose elements meshlet
// owns) their elements. Parsed from `nft -j list chains|sets|maps <family>`
// (no rules are listed: a full sync refills every chain it wants anyway, and
// listing rules is the cost behind kubernetes#139513). Pure.
import type { TableId } from './model.ts';
import type { Value, Verdict } from './values.ts';

export interface ListedChain {
  name: string;
  base?: { type: string; hook: string; prio: number };
}

export interface ListedElement {
  key: Value[];
  value?: Verdict | Value[];
  timeout?: number;
  comment?: string;
}

export interface ListedSet {
  name: string;
  map: boolean;
  type: string[];
  /** A map's value type: 'verdict' or the data types. */
  value?: 'verdict' | string[];
  flags: string[];
  elements: ListedElement[];
}

export interface TableListing {
  chains: ListedChain[];
  sets: ListedSet[];
}

/** Numeric priorities of the standard names (ip, ip6, inet), to compare a declaration with a listing. */
export const PRIORITY_VALUES: Record<string, number> = { raw: -300, mangle: -150, dstnat: -100, filter: 0, security: 50, srcnat: 100 };

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

function isObj(j: Json | undefined): j is Obj {
  return typeof j === 'object' && j !== null && !Array.isArray(j);
}

export class NftListingError extends Error {
  override name = 'NftListingError';
}

function scalar(j: Json): Value {
  if (typeof j === 'string' || typeof j === 'number') return j;
  if (isObj(j) && isObj(j.prefix)) return `${String(j.prefix.addr)}/${Number(j.prefix.len)}`;
  if (isObj(j) && Array.isArray(j.range) && j.range.length === 2) {
    const [lo, hi] = j.range;
    if ((typeof lo === 'string' || typeof lo === 'number') && (typeof hi === 'string' || typeof hi === 'number')) return [lo, hi];
  }
  throw new NftListingError(`unexpected value in nft's listing: ${JSON.stringify(j)}`);
}

function values(j: Json): Value[] {
  if (isObj(j) && Array.isArray(j.concat)) return j.concat.map(scalar);
  return [scalar(j)];
}

function verdict(j: Json): Verdict | undefined {
  if (!isObj(j)) return undefined;
  for (const v of ['accept', 'drop', 'return', 'continue'] as const) if (v in j) return v;
  if (isObj(j.goto) && typeof j.goto.target === 'string') return { goto: j.goto.target };
  if (isObj(j.jump) && typeof j.jump.target === 'string') return { jump: j.jump.target };
  return undefined;
}

function element(j: Json, isMap: boolean, verdictMap: boolean): ListedElement {
  let keyJ: Json = j;
  let valJ: Json | undefined;
  if (isMap) {
    if (!Array.isArray(j) || j.length !== 2) throw new NftListingError(`unexpected map element in nft's listing: ${JSON.stringify(j)}`);
    [keyJ, valJ] = j;
  }
  const out: ListedElement = { key: [] };
  if (isObj(keyJ) && isObj(keyJ.elem)) {
    const e = keyJ.elem;
    if (typeof e.timeout === 'number') out.timeout = e.timeout;
    if (typeof e.comment === 'string') out.comment = e.comment;
    keyJ = e.val ?? null;
  }
  out.key = values(keyJ);
  if (valJ !== undefined) {
    if (verdictMap) {
      const v = verdict(valJ);
      if (!v) throw new NftListingError(`unexpected verdict in nft's listing: ${JSON.stringify(valJ)}`);
      out.value = v;
    } else out.value = values(valJ);
  }
  return out;
}

const list = (j: Json | undefined): string[] => (Array.isArray(j) ? j.map(String) : typeof j === 'string' ? [j] : []);

/**
 * Build the listing of `table` from the JSON of `nft -j list chains <f>`,
 * `list sets <f>` and `list maps <f>` (every table of the family; objects of
 * other tables are ignored).
 */
export function parseListing(table: TableId, ...docs: string[]): TableListing {
  const out: TableListing = { chains: [], sets: [] };
  for (const doc of docs) {
    const parsed = JSON.parse(doc) as Json;
    const items = isObj(parsed) && Array.isArray(parsed.nftables) ? parsed.nftables : [];
    for (const item of items) {
      if (!isObj(item)) continue;
      const c = item.chain;
      if (isObj(c) && c.table === table.name && c.family === table.family) {
        out.chains.push({
          name: String(c.name),
          ...(typeof c.hook === 'string' ? { base: { type: String(c.type), hook: c.hook, prio: Number(c.prio) } } : {}),
        });
      }
      const s = isObj(item.set) ? item.set : isObj(item.map) ? item.map : undefined;
      if (s && s.table === table.name && s.family === table.family) {
        const isMap = isObj(item.map);
        const value = isMap ? (s.map === 'verdict' ? 'verdict' : list(s.map)) : undefined;
        out.sets.push({
          name: String(s.name),
          map: isMap,
          type: list(s.type),
          ...(value !== undefined ? { value } : {}),
          flags: list(s.flags),
          elements: (Array.isArray(s.elem) ? s.elem : []).map((e) => element(e, isMap, value === 'verdict')),
        });
      }
    }
  }
  return out;
}
