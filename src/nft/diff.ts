// From desired state to the smallest transaction that gets there. Pure.
//
// Three modes:
// - incremental (committed state known): O(changes). A chain whose rules
//   differ is flushed and refilled; set and map elements are added and
//   deleted one by one; a chain no longer desired is flushed now and deleted
//   by a later sync once `staleDelayMs` has passed (kube-proxy does this for
//   kernels that refuse to delete a chain in the batch that drops the last
//   verdict-map element pointing at it).
// - full (committed state unknown: first sync of a process, or after a
//   failed transaction): every desired chain is declared, flushed and
//   refilled, every set with meshlet-owned elements flushed and refilled, in
//   one transaction, so rules in place keep working while they are replaced.
//   Leftovers the kernel listing shows (objects of an earlier run) are
//   flushed and marked stale (chains) or deleted (sets, maps, base chains).
// - rebuild: a declaration changed (a set's type, a base chain's hook) or a
//   full sync failed. The table is deleted and created again, in one
//   transaction.
import type { DesiredTable } from './model.ts';
import { renderDesired, type ChainState, type SetState, type TableState } from './state.ts';
import type { TableHandle } from './owners.ts';
import { Transaction } from './transaction.ts';

/** Names the kernel holds in a table (from `nft -j list table`), for the full sync's clean-up. */
export interface TableListing {
  chains: { name: string; base: boolean }[];
  sets: { name: string; map: boolean }[];
}

export type SyncMode = 'incremental' | 'full' | 'rebuild';

export interface PlanInput {
  table: TableHandle;
  desired: DesiredTable;
  /** What was committed; undefined when unknown (then a full sync). */
  committed?: TableState;
  /** With committed unknown: what the kernel holds now (null: no such table). */
  listing?: TableListing | null;
  rebuild?: boolean;
  now: number;
  /** Keep a flushed chain this long before deleting it (default 1000 ms). */
  staleDelayMs?: number;
}

export interface Plan {
  mode: SyncMode;
  tx: Transaction;
  /** The state once `tx` has committed. */
  next: TableState;
  /** When a stale chain becomes deletable (ms, the earliest), if any remain. */
  staleDueAt?: number;
}

export const STALE_CHAIN_DELAY_MS = 1000;

function sameDeclarations(committed: TableState, want: TableState): boolean {
  for (const [name, c] of want.chains) {
    const had = committed.chains.get(name);
    if (had && (had.spec !== c.spec || had.base !== c.base)) return false;
  }
  for (const [name, s] of want.sets) {
    const had = committed.sets.get(name);
    if (had && (had.spec !== s.spec || (had.elements === null) !== (s.elements === null))) return false;
  }
  return true;
}

function sameRules(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((r, i) => r === b[i]);
}

/** Plan the transaction taking the table from `committed` (or from what the kernel holds) to `desired`. */
export function planSync(input: PlanInput): Plan {
  const { table: t, now } = input;
  const delay = input.staleDelayMs ?? STALE_CHAIN_DELAY_MS;
  const want = renderDesired(input.desired);
  const tx = new Transaction(t.owner);
  const next: TableState = { chains: new Map(), sets: new Map() };
  let mode: SyncMode = input.rebuild ? 'rebuild' : input.committed ? 'incremental' : 'full';
  if (mode === 'incremental' && !sameDeclarations(input.committed!, want)) mode = 'rebuild';

  const refill = (name: string, c: ChainState): void => {
    for (const r of c.typed) tx.addRule(t, name, r);
  };

  if (mode !== 'incremental') {
    const fresh = mode === 'rebuild' || input.listing === null;
    tx.addTable(t, input.desired.comment);
    if (mode === 'rebuild') tx.deleteTable(t).addTable(t, input.desired.comment);
    const listing = fresh ? { chains: [], sets: [] } : input.listing ?? { chains: [], sets: [] };
    // Chains first (elements of verdict maps point at them), then sets and maps.
    for (const c of want.chains.values()) tx.addChain(t, c.def);
    for (const s of want.sets.values()) {
      tx.addSet(t, s.def);
      if (s.elements !== null && !fresh) tx.flushSet(t, s.def);
      next.sets.set(s.def.name, s);
    }
    for (const [name, c] of want.chains) {
      if (!fresh) tx.flushChain(t, name);
      refill(name, c);
      next.chains.set(name, c);
    }
    // Leftovers of an earlier run.
    for (const c of listing.chains) {
      if (want.chains.has(c.name)) continue;
      tx.flushChain(t, c.name);
      if (c.base) tx.deleteChain(t, c.name);
      else next.chains.set(c.name, { def: { name: c.name }, spec: '', base: false, rules: [], typed: [], staleSince: now });
    }
    for (const s of listing.sets) {
      if (want.sets.has(s.name)) continue;
      tx.deleteSet(t, s.map ? { name: s.name, type: ['mark'], value: 'verdict' } : { name: s.name, type: ['mark'] });
    }
    for (const s of want.sets.values()) {
      if (s.elements !== null) tx.addElements(t, s.def, [...s.elements.values()].map((e) => e.element));
    }
    return finish(mode, tx, next, delay);
  }

  const committed = input.committed!;
  // 1. New sets and maps; 2. new chains (declared empty, so that rules and
  //    verdict-map elements may point at them).
  for (const [name, s] of want.sets) {
    if (!committed.sets.has(name)) tx.addSet(t, s.def);
  }
  for (const [name, c] of want.chains) {
    if (!committed.chains.has(name)) tx.addChain(t, c.def);
  }
  // 3. Elements that went away or changed.
  const adds: [SetState, string[]][] = [];
  for (const [name, s] of want.sets) {
    next.sets.set(name, s);
    if (s.elements === null) continue;
    const had = committed.sets.get(name)?.elements ?? new Map();
    const gone = [...had].filter(([k, e]) => s.elements!.get(k)?.text !== e.text).map(([, e]) => e.element);
    tx.deleteElements(t, s.def, gone);
    const added = [...s.elements].filter(([k, e]) => had.get(k)?.text !== e.text).map(([k]) => k);
    adds.push([s, added]);
  }
  // 4. Chains whose rules changed: flush and refill.
  for (const [name, c] of want.chains) {
    const had = committed.chains.get(name);
    if (!had || !sameRules(had.rules, c.rules)) {
      if (had && had.rules.length) tx.flushChain(t, name);
      refill(name, c);
    }
    next.chains.set(name, c);
  }
  // 5. Chains no longer desired: base chains go now; regular chains are
  //    flushed now and deleted later.
  for (const [name, had] of committed.chains) {
    if (want.chains.has(name)) continue;
    if (had.base) {
      tx.flushChain(t, name).deleteChain(t, name);
      continue;
    }
    if (had.staleSince === undefined) {
      if (had.rules.length) tx.flushChain(t, name);
      next.chains.set(name, { ...had, rules: [], typed: [], staleSince: now });
    } else if (now - had.staleSince >= delay) {
      tx.deleteChain(t, name); // 7. due: flushed by an earlier transaction
    } else next.chains.set(name, had);
  }
  // 6. Elements that are new or changed.
  for (const [s, keys] of adds) tx.addElements(t, s.def, keys.map((k) => s.elements!.get(k)!.element));
  // 8. Sets and maps no longer desired (their users were flushed above).
  for (const [name, had] of committed.sets) {
    if (!want.sets.has(name)) tx.deleteSet(t, had.def);
  }
  return finish(mode, tx, next, delay);
}

function finish(mode: SyncMode, tx: Transaction, next: TableState, delay: number): Plan {
  let due: number | undefined;
  for (const c of next.chains.values()) {
    if (c.staleSince !== undefined) due = Math.min(due ?? Infinity, c.staleSince + delay);
  }
  return { mode, tx, next, ...(due !== undefined ? { staleDueAt: due } : {}) };
}
