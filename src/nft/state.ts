// The committed state of one table as the adapter believes the kernel holds
// it, in rendered (canonical) form so that comparing is comparing strings.
// Pure. Built from a desired table (what a successful sync leaves behind),
// and checked for dangling references before anything is sent.
import { elementTarget, isMap, renderChainSpec, renderElement, renderElementKey, renderSetSpec, type ChainDef, type DesiredChain, type DesiredMap, type DesiredSet, type DesiredTable, type MapDef, type MapElement, type SetDef, type SetElement } from './model.ts';
import type { Rule } from './rule.ts';
import type { ListedSet } from './listing.ts';
import { renderRule, ruleRefs } from './rule.ts';
import { NftValueError } from './values.ts';

export interface ChainState {
  def: ChainDef;
  /** `renderChainSpec` of the declaration: a change of it means a rebuild. */
  spec: string;
  base: boolean;
  /** Rendered rules, in order, and the typed rules they came from. */
  rules: readonly string[];
  typed: readonly Rule[];
  /** Not desired any more: flushed at this time (ms), to be deleted once the delay has passed. */
  staleSince?: number;
}

export interface ElementState {
  /** The whole element rendered (key, timeout, comment, value): a change of it is a delete and an add. */
  text: string;
  element: SetElement | MapElement;
}

export interface SetState {
  def: SetDef | MapDef;
  spec: string;
  /** Rendered key → element; null when the kernel owns the elements (dynamic sets). */
  elements: Map<string, ElementState> | null;
  /** Known only from the kernel's listing (a leftover, or a later chunk's), not yet desired. */
  listed?: ListedSet;
}

export interface TableState {
  chains: Map<string, ChainState>;
  sets: Map<string, SetState>;
}

// Rendering caches keyed by the desired objects themselves: a part that keeps
// the objects of what did not change (as it should: desired state is
// immutable data) pays rendering and validation only for what changed.
const chainCache = new WeakMap<DesiredChain, ChainState & { refs: { chains: string[]; sets: string[] } }>();
const elementCache = new WeakMap<SetElement, ElementState & { spec: string; key: string }>();

export function chainState(c: DesiredChain): ChainState & { refs: { chains: string[]; sets: string[] } } {
  let st = chainCache.get(c);
  if (!st) {
    const { rules, ...def } = c;
    const refs = { chains: [] as string[], sets: [] as string[] };
    for (const r of rules) {
      const x = ruleRefs(r);
      refs.chains.push(...x.chains);
      refs.sets.push(...x.sets);
    }
    st = { def, spec: renderChainSpec(c), base: c.base !== undefined, rules: rules.map(renderRule), typed: rules, refs };
    chainCache.set(c, st);
  }
  return st;
}

export function elementState(s: SetDef | MapDef, spec: string, e: SetElement): ElementState & { key: string } {
  const hit = elementCache.get(e);
  if (hit && hit.spec === spec) return hit;
  const out = { spec, key: renderElementKey(s, e), text: renderElement(s, e), element: e };
  if (typeof e === 'object' && e !== null) elementCache.set(e, out);
  return out;
}

export function emptyState(): TableState {
  return { chains: new Map(), sets: new Map() };
}

/** The desired table rendered: chains with their rules, sets and maps with their elements. Validates everything. */
export function renderDesired(d: DesiredTable): TableState {
  const out = emptyState();
  const names = new Set<string>();
  for (const s of [...(d.sets ?? []), ...(d.maps ?? [])] as (DesiredSet | DesiredMap)[]) {
    if (names.has(s.name)) throw new NftValueError(`two sets or maps named ${s.name}`);
    names.add(s.name);
    const spec = renderSetSpec(s);
    let elements: Map<string, ElementState> | null = null;
    if (s.elements) {
      elements = new Map();
      for (const e of s.elements) {
        const st = elementState(s, spec, e);
        const { key, text } = st;
        const had = elements.get(key);
        if (had !== undefined && had.text !== text) throw new NftValueError(`${isMap(s) ? 'map' : 'set'} ${s.name}: two elements with key ${key}`);
        elements.set(key, st);
      }
    }
    const { elements: _drop, ...def } = s;
    out.sets.set(s.name, { def, spec, elements });
  }
  for (const c of d.chains) {
    if (out.chains.has(c.name)) throw new NftValueError(`two chains named ${c.name}`);
    out.chains.set(c.name, chainState(c));
  }
  // No dangling references: what a rule or a verdict map names must be in the table.
  for (const c of d.chains) {
    {
      const refs = chainState(c).refs;
      for (const t of refs.chains) {
        const target = out.chains.get(t);
        if (!target) throw new NftValueError(`chain ${c.name}: a rule jumps to chain ${t}, which the table does not have`);
        if (target.base) throw new NftValueError(`chain ${c.name}: a rule jumps to base chain ${t}`);
      }
      for (const s of refs.sets) if (!out.sets.has(s)) throw new NftValueError(`chain ${c.name}: a rule uses set or map ${s}, which the table does not have`);
    }
  }
  for (const m of d.maps ?? []) {
    for (const e of m.elements ?? []) {
      const t = elementTarget(m, e);
      if (t !== undefined && !out.chains.get(t)) throw new NftValueError(`map ${m.name}: an element points to chain ${t}, which the table does not have`);
    }
  }
  return out;
}

export function cloneState(s: TableState): TableState {
  return {
    chains: new Map([...s.chains].map(([k, v]) => [k, { ...v }])),
    sets: new Map([...s.sets].map(([k, v]) => [k, { ...v, elements: v.elements ? new Map(v.elements) : null }])),
  };
}
