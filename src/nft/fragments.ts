// A desired table in keyed fragments, and the O(changes) transaction between
// two of them. Pure.
//
// A part with many independent pieces (the proxy: one fragment per Service
// port) gives its table as a small base (the hooks, the dispatch maps with no
// elements of their own) and a map key → fragment: the chains and sets of
// that piece, and the elements it puts into the base's maps. Between two
// syncs only the fragments whose keys the part names as dirty are compared,
// old against new: the cost of a sync is that of what changed, never of the
// whole table (kubernetes#139513 is the cost of the other way).
//
// The rules for chains that go away are diff.ts's: a regular chain is flushed
// now and deleted by a later sync once the delay has passed.
import type { DesiredChain, DesiredSet, DesiredTable, MapElement, SetElement, DesiredMap } from './model.ts';
import { elementTarget } from './model.ts';
import { chainState, elementState, type ChainState, type ElementState, type SetState, type TableState } from './state.ts';
import { renderSetSpec } from './model.ts';
import type { TableHandle } from './owners.ts';
import { Transaction } from './transaction.ts';
import { NftValueError } from './values.ts';

/** An element one fragment puts into a set or map of the base table. */
export interface FragmentElement {
  set: string;
  element: SetElement | MapElement;
}

export interface TableFragment {
  chains?: readonly DesiredChain[];
  sets?: readonly DesiredSet[];
  elements?: readonly FragmentElement[];
}

export interface FragmentedTable {
  /** Chains, sets and maps shared by all fragments (its maps' elements: its own plus the fragments'). */
  base: DesiredTable;
  fragments: ReadonlyMap<string, TableFragment>;
}

/** The whole table as one DesiredTable (for full syncs), optionally of some fragments only (a cold-start chunk). */
export function flatten(t: FragmentedTable, keys?: Iterable<string>): DesiredTable {
  const chains: DesiredChain[] = [...t.base.chains];
  const sets: DesiredSet[] = [...(t.base.sets ?? [])];
  const extra = new Map<string, (SetElement | MapElement)[]>();
  const frags = keys ? [...keys].map((k) => t.fragments.get(k)).filter((f): f is TableFragment => f !== undefined) : t.fragments.values();
  for (const f of frags) {
    for (const c of f.chains ?? []) chains.push(c);
    for (const s of f.sets ?? []) sets.push(s);
    for (const e of f.elements ?? []) {
      const list = extra.get(e.set);
      if (list) list.push(e.element);
      else extra.set(e.set, [e.element]);
    }
  }
  const withExtra = <S extends DesiredSet | DesiredMap>(s: S): S => {
    const more = extra.get(s.name);
    if (!more) return s;
    extra.delete(s.name);
    return { ...s, elements: [...(s.elements ?? []), ...more] };
  };
  const outSets = sets.map(withExtra);
  const maps = (t.base.maps ?? []).map(withExtra);
  for (const name of extra.keys()) throw new NftValueError(`a fragment puts elements into ${name}, which the base table does not declare`);
  return { ...t.base, chains, sets: outSets, maps };
}

export interface FragmentPlanInput {
  table: TableHandle;
  /** The committed state (not changed by planning). */
  committed: TableState;
  /** Chains flushed and waiting for deletion: name → since (ms). */
  stale: ReadonlyMap<string, number>;
  before: ReadonlyMap<string, TableFragment>;
  after: ReadonlyMap<string, TableFragment>;
  dirty: Iterable<string>;
  now: number;
  staleDelayMs: number;
}

export interface FragmentPlan {
  tx: Transaction;
  /** Bring the committed state (and the stale list) to what `tx` leaves, once it has committed. */
  commit(state: TableState, stale: Map<string, number>): void;
  /** When the earliest stale chain becomes deletable, if any remain. */
  staleDueAt?: number;
}

/**
 * Plan the transaction from `before` to `after` for the dirty keys only.
 * Returns undefined when the change is not one fragments can express (a set
 * declared differently under the same name, a chain two fragments both
 * claim): the caller then syncs the flattened table.
 */
export function planFragments(input: FragmentPlanInput): FragmentPlan | undefined {
  const { table: t, committed, now } = input;
  const tx = new Transaction(t.owner);
  const chainPuts = new Map<string, ChainState>();
  const chainDeletes = new Set<string>();
  const setPuts = new Map<string, SetState>();
  const setDeletes = new Map<string, SetState>();
  const elementPuts: [string, string, ElementState][] = [];
  const elementDeletes: [string, string][] = [];
  const staleAdd = new Map<string, number>();
  const staleDrop = new Set<string>();
  const addSets: DesiredSet[] = [];
  const addChains: DesiredChain[] = [];
  const ruleOps: (() => void)[] = [];
  const flushStale: string[] = [];
  const delElements = new Map<string, { def: SetState['def']; els: (SetElement | MapElement)[] }>();
  const addElements = new Map<string, { def: SetState['def']; els: (SetElement | MapElement)[] }>();
  const wantedChains = new Map<string, ChainState>();
  const leavingChains = new Set<string>();
  const refsToCheck: { from: string; chains: string[]; sets: string[] }[] = [];

  const push = (m: typeof delElements, set: SetState, e: SetElement | MapElement): void => {
    const x = m.get(set.def.name);
    if (x) x.els.push(e);
    else m.set(set.def.name, { def: set.def, els: [e] });
  };
  const elementsOf = (f: TableFragment | undefined): Map<string, { set: SetState; st: ElementState & { key: string } }> => {
    const out = new Map<string, { set: SetState; st: ElementState & { key: string } }>();
    for (const fe of f?.elements ?? []) {
      const set = committed.sets.get(fe.set);
      if (!set || set.elements === null) throw new NftValueError(`a fragment puts elements into ${fe.set}, which the table does not hold with elements`);
      const st = elementState(set.def, set.spec, fe.element);
      out.set(`${fe.set}\u0000${st.key}`, { set, st });
    }
    return out;
  };

  for (const key of new Set(input.dirty)) {
    const old = input.before.get(key);
    const neu = input.after.get(key);
    if (old === neu) continue;
    // Sets of the fragment (affinity): added when new, deleted at the end when gone.
    const newSets = new Set<string>();
    for (const s of neu?.sets ?? []) {
      newSets.add(s.name);
      const spec = renderSetSpec(s);
      const had = committed.sets.get(s.name);
      if (had) {
        if (had.listed ? false : had.spec !== spec) return undefined;
        if (had.listed) continue; // a listed set of this name: kept as the kernel has it (elements owned by the kernel)
        continue;
      }
      if (setPuts.has(s.name)) return undefined;
      addSets.push(s);
      const { elements, ...def } = s;
      setPuts.set(s.name, { def, spec, elements: elements ? new Map() : null });
      if (elements?.length) return undefined; // fragments' own sets are kernel-filled; anything else: full path
    }
    for (const s of old?.sets ?? []) if (!newSets.has(s.name)) {
      const had = committed.sets.get(s.name);
      if (had) setDeletes.set(s.name, had);
    }
    // Chains: new ones declared, changed ones flushed and refilled, gone ones flushed (deleted later).
    const newChains = new Set<string>();
    for (const c of neu?.chains ?? []) {
      if (wantedChains.has(c.name)) return undefined;
      const st = chainState(c);
      if (st.base) return undefined;
      newChains.add(c.name);
      wantedChains.set(c.name, st);
      const had = committed.chains.get(c.name);
      refsToCheck.push({ from: c.name, ...st.refs });
      if (!had) addChains.push(c);
      if (had && had.base) return undefined;
      if (!had || (had !== st && !(had.rules.length === st.rules.length && had.rules.every((r, i) => r === st.rules[i])))) {
        ruleOps.push(() => {
          if (had && had.rules.length) tx.flushChain(t, c.name);
          for (const r of st.typed) tx.addRule(t, c.name, r);
        });
      }
      chainPuts.set(c.name, st);
      if (input.stale.has(c.name)) staleDrop.add(c.name);
    }
    for (const c of old?.chains ?? []) if (!newChains.has(c.name)) leavingChains.add(c.name);
    // Elements in the base's maps.
    const oldEls = elementsOf(old);
    const newEls = elementsOf(neu);
    for (const [k, { set, st }] of oldEls) {
      const w = newEls.get(k);
      if (w && w.st.text === st.text) continue;
      const had = set.elements!.get(st.key);
      if (!had) continue;
      push(delElements, set, had.element);
      elementDeletes.push([set.def.name, st.key]);
    }
    for (const [k, { set, st }] of newEls) {
      const had = set.elements!.get(st.key);
      if (had?.text === st.text && oldEls.has(k)) continue;
      if (had?.text === st.text && !oldEls.has(k)) {
        // Already there (adopted from a listing, or a later chunk): keep it.
        elementPuts.push([set.def.name, st.key, st]);
        continue;
      }
      if (had && !oldEls.has(k)) {
        push(delElements, set, had.element);
      }
      push(addElements, set, st.element);
      elementPuts.push([set.def.name, st.key, st]);
    }
  }
  // Chains that left one fragment and were not taken by another.
  for (const name of leavingChains) {
    if (wantedChains.has(name)) continue;
    const had = committed.chains.get(name);
    if (!had || input.stale.has(name)) continue;
    if (had.rules.length) flushStale.push(name);
    chainPuts.set(name, { ...had, rules: [], typed: [], staleSince: now });
    staleAdd.set(name, now);
  }
  // References of new or changed chains must resolve in the table as it will be.
  const chainAfter = (n: string): ChainState | undefined => (chainPuts.has(n) ? chainPuts.get(n) : committed.chains.get(n));
  for (const r of refsToCheck) {
    for (const c of r.chains) {
      const target = chainAfter(c);
      if (!target || target.staleSince !== undefined && !wantedChains.has(c)) throw new NftValueError(`chain ${r.from}: a rule jumps to chain ${c}, which the table does not have`);
      if (target.base) throw new NftValueError(`chain ${r.from}: a rule jumps to base chain ${c}`);
    }
    for (const s of r.sets) if (!(setPuts.has(s) || (committed.sets.has(s) && !setDeletes.has(s)))) throw new NftValueError(`chain ${r.from}: a rule uses set or map ${s}, which the table does not have`);
  }
  for (const { def, els } of addElements.values()) {
    for (const e of els) {
      const target = elementTarget(def, e);
      if (target !== undefined) {
        const c = chainAfter(target);
        if (!c || (c.staleSince !== undefined && !wantedChains.has(target))) throw new NftValueError(`map ${def.name}: an element points to chain ${target}, which the table does not have`);
      }
    }
  }
  // Stale chains whose delay has passed are deleted now (they were flushed, and what pointed at them removed, earlier).
  const dueDeletes: string[] = [];
  for (const [name, since] of input.stale) {
    if (staleDrop.has(name)) continue;
    if (now - since >= input.staleDelayMs) {
      dueDeletes.push(name);
      chainDeletes.add(name);
    }
  }
  for (const s of setDeletes.keys()) if (setPuts.has(s)) setDeletes.delete(s);

  for (const s of addSets) tx.addSet(t, s);
  for (const c of addChains) tx.addChain(t, c);
  for (const { def, els } of delElements.values()) tx.deleteElements(t, def, els);
  for (const op of ruleOps) op();
  for (const name of flushStale) tx.flushChain(t, name);
  for (const name of dueDeletes) tx.deleteChain(t, name);
  for (const { def, els } of addElements.values()) tx.addElements(t, def, els);
  for (const s of setDeletes.values()) tx.deleteSet(t, s.def);

  let due: number | undefined;
  for (const [name, since] of input.stale) if (!chainDeletes.has(name) && !staleDrop.has(name)) due = Math.min(due ?? Infinity, since + input.staleDelayMs);
  for (const since of staleAdd.values()) due = Math.min(due ?? Infinity, since + input.staleDelayMs);

  return {
    tx,
    ...(due !== undefined ? { staleDueAt: due } : {}),
    commit(state, stale) {
      for (const [name, set] of setPuts) state.sets.set(name, set);
      for (const [set, key] of elementDeletes) state.sets.get(set)?.elements?.delete(key);
      for (const [set, key, st] of elementPuts) state.sets.get(set)?.elements?.set(key, st);
      for (const name of setDeletes.keys()) state.sets.delete(name);
      for (const [name, c] of chainPuts) state.chains.set(name, c);
      for (const name of chainDeletes) state.chains.delete(name);
      for (const name of staleDrop) stale.delete(name);
      for (const name of chainDeletes) stale.delete(name);
      for (const [name, since] of staleAdd) stale.set(name, since);
    },
  };
}
