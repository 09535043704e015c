// An in-memory stand-in for the kernel's nftables, for unit tests: applies
// the typed operations of a transaction to a model with nft's main checks
// (objects exist, a referenced chain or set cannot go, a chain with rules
// cannot be deleted, an element is not added twice with another value),
// all or nothing, and can be told to fail the next transaction.
import { elementTarget, isMap, renderChainSpec, renderElement, renderElementKey, renderSetSpec, tableKey, type ChainDef, type MapDef, type MapElement, type SetDef, type SetElement, type TableId } from './model.ts';
import { renderRule, ruleRefs } from './rule.ts';
import type { Op, RenderedTransaction } from './transaction.ts';
import { NftApplyError, type NftRunner } from './runner.ts';
import type { Value, Verdict } from './values.ts';
import { PRIORITY_VALUES, type ListedElement, type TableListing } from './listing.ts';

export interface FakeRule {
  handle: number;
  text: string;
  chains: string[];
  sets: string[];
}

export interface FakeChain {
  def: ChainDef;
  spec: string;
  base: boolean;
  rules: FakeRule[];
}

export interface FakeElement {
  text: string;
  element: SetElement | MapElement;
  /** The chain a verdict element points at. */
  target?: string;
}

export interface FakeSet {
  def: SetDef | MapDef;
  spec: string;
  /** Rendered key → element. */
  elements: Map<string, FakeElement>;
}

export interface FakeTable {
  chains: Map<string, FakeChain>;
  sets: Map<string, FakeSet>;
}

class OpFailure extends Error {}

function listedValue(v: MapElement['value']): ListedElement['value'] {
  return Array.isArray(v) ? [...(v as readonly Value[])] : (v as Verdict);
}

function clone(tables: Map<string, FakeTable>): Map<string, FakeTable> {
  const out = new Map<string, FakeTable>();
  for (const [k, t] of tables) {
    out.set(k, {
      chains: new Map([...t.chains].map(([n, c]) => [n, { ...c, rules: [...c.rules] }])),
      sets: new Map([...t.sets].map(([n, s]) => [n, { ...s, elements: new Map(s.elements) }])),
    });
  }
  return out;
}

export class FakeNft implements NftRunner {
  tables = new Map<string, FakeTable>();
  /** Every transaction that was applied successfully, in order. */
  readonly applied: RenderedTransaction[] = [];
  /** Every transaction offered, applied or not. */
  readonly attempts: RenderedTransaction[] = [];
  private failures: string[] = [];
  private handle = 1;

  /** Make the next transaction fail (on its first line) with this message; nothing of it is applied. */
  failNext(message = 'Operation not permitted'): void {
    this.failures.push(message);
  }

  table(t: TableId): FakeTable | undefined {
    return this.tables.get(tableKey(t));
  }

  /** Rules of a chain as rendered text. */
  rules(t: TableId, chain: string): string[] | undefined {
    return this.table(t)?.chains.get(chain)?.rules.map((r) => r.text);
  }

  /** Elements of a set or map as rendered text, sorted. */
  elements(t: TableId, set: string): string[] | undefined {
    const s = this.table(t)?.sets.get(set);
    return s ? [...s.elements.values()].map((e) => e.text).sort() : undefined;
  }

  async list(t: TableId): Promise<TableListing | null> {
    const tab = this.table(t);
    if (!tab) return null;
    // As nft lists them: numeric priorities, no dynamic flag.
    return {
      chains: [...tab.chains].map(([name, c]) => {
        const b = c.def.base;
        if (!b) return { name };
        const prio = typeof b.priority === 'number' ? b.priority : typeof b.priority === 'string' ? PRIORITY_VALUES[b.priority] : PRIORITY_VALUES[b.priority.name] + b.priority.offset;
        return { name, base: { type: b.type, hook: b.hook, prio } };
      }),
      sets: [...tab.sets].map(([name, s]) => ({
        name,
        map: isMap(s.def),
        type: [...s.def.type],
        ...(isMap(s.def) ? { value: s.def.value === 'verdict' ? ('verdict' as const) : [...s.def.value] } : {}),
        flags: (s.def.flags ?? []).filter((f) => f !== 'dynamic'),
        elements: [...s.elements.values()].map((e): ListedElement => ({
          key: [...e.element.key],
          ...(e.element.timeout !== undefined ? { timeout: e.element.timeout } : {}),
          ...(e.element.comment !== undefined ? { comment: e.element.comment } : {}),
          ...('value' in e.element ? { value: listedValue(e.element.value) } : {}),
        })),
      })),
    };
  }

  async apply(tx: RenderedTransaction): Promise<void> {
    this.attempts.push(tx);
    if (tx.lines.length === 0) return;
    const fail = this.failures.shift();
    if (fail !== undefined) throw new NftApplyError(`nft transaction of ${tx.owner} failed, nothing applied: line 1: ${fail}`, [{ line: 1, message: fail, text: tx.lines[0].text, op: tx.lines[0].op }], `/dev/stdin:1:1-1: Error: ${fail}\n`);
    const work = clone(this.tables);
    const firstLine = new Map<number, number>();
    tx.lines.forEach((l, i) => firstLine.has(l.op) || firstLine.set(l.op, i + 1));
    for (const [i, op] of tx.ops.entries()) {
      try {
        this.applyOp(work, op);
      } catch (err) {
        if (!(err instanceof OpFailure)) throw err;
        const line = firstLine.get(i) ?? 1;
        throw new NftApplyError(`nft transaction of ${tx.owner} failed, nothing applied: line ${line} (operation ${i + 1} ${op.kind}): ${err.message}`, [{ line, message: err.message, text: tx.lines[line - 1]?.text, op: i }], `/dev/stdin:${line}:1-1: Error: ${err.message}\n`);
      }
    }
    this.tables = work;
    this.applied.push(tx);
  }

  private applyOp(tables: Map<string, FakeTable>, op: Op): void {
    const key = tableKey(op.table);
    const fail = (m: string): never => {
      throw new OpFailure(m);
    };
    if (op.kind === 'add-table') {
      if (!tables.has(key)) tables.set(key, { chains: new Map(), sets: new Map() });
      return;
    }
    const t = tables.get(key) ?? fail(`Could not process rule: No such file or directory (table ${key})`);
    const chain = (name: string): FakeChain => t.chains.get(name) ?? fail(`Could not process rule: No such file or directory (chain ${name})`);
    const set = (name: string): FakeSet => t.sets.get(name) ?? fail(`Could not process rule: No such file or directory (set ${name})`);
    const chainUsed = (name: string): boolean =>
      [...t.chains.values()].some((c) => c.rules.some((r) => r.chains.includes(name))) || [...t.sets.values()].some((s) => [...s.elements.values()].some((e) => e.target === name));
    const setUsed = (name: string): boolean => [...t.chains.values()].some((c) => c.rules.some((r) => r.sets.includes(name)));
    const makeRule = (r: Extract<Op, { rule: unknown }>['rule']): FakeRule => {
      const refs = ruleRefs(r);
      for (const c of refs.chains) chain(c);
      for (const s of refs.sets) set(s);
      return { handle: this.handle++, text: renderRule(r), chains: refs.chains, sets: refs.sets };
    };
    switch (op.kind) {
      case 'flush-table':
        for (const c of t.chains.values()) c.rules = [];
        for (const s of t.sets.values()) s.elements.clear();
        return;
      case 'delete-table':
        tables.delete(key);
        return;
      case 'add-chain': {
        const spec = renderChainSpec(op.chain);
        const had = t.chains.get(op.chain.name);
        if (had && had.spec !== spec) fail(`Could not process rule: Device or resource busy (chain ${op.chain.name} exists with another declaration)`);
        if (!had) t.chains.set(op.chain.name, { def: op.chain, spec, base: op.chain.base !== undefined, rules: [] });
        return;
      }
      case 'flush-chain':
        chain(op.chain).rules = [];
        return;
      case 'delete-chain': {
        const c = chain(op.chain);
        if (c.rules.length || chainUsed(op.chain)) fail(`Could not process rule: Device or resource busy (chain ${op.chain})`);
        t.chains.delete(op.chain);
        return;
      }
      case 'add-set': {
        const spec = renderSetSpec(op.set);
        const had = t.sets.get(op.set.name);
        if (had && had.spec !== spec) fail(`Could not process rule: File exists (set ${op.set.name} exists with another declaration)`);
        if (!had) t.sets.set(op.set.name, { def: op.set, spec, elements: new Map() });
        return;
      }
      case 'flush-set':
        set(op.set.name).elements.clear();
        return;
      case 'delete-set':
        set(op.set.name);
        if (setUsed(op.set.name)) fail(`Could not process rule: Device or resource busy (set ${op.set.name})`);
        t.sets.delete(op.set.name);
        return;
      case 'add-rule':
        chain(op.chain).rules.push(makeRule(op.rule));
        return;
      case 'insert-rule': {
        const c = chain(op.chain);
        const idx = op.index ?? 0;
        if (idx > c.rules.length) fail(`Could not process rule: No such file or directory (rule index ${idx})`);
        c.rules.splice(idx, 0, makeRule(op.rule));
        return;
      }
      case 'replace-rule': {
        const c = chain(op.chain);
        const i = c.rules.findIndex((r) => r.handle === op.handle);
        if (i < 0) fail(`Could not process rule: No such file or directory (handle ${op.handle})`);
        c.rules[i] = { ...makeRule(op.rule), handle: op.handle };
        return;
      }
      case 'add-elements': {
        const s = set(op.set.name);
        for (const e of op.elements) {
          const k = renderElementKey(op.set, e);
          const text = renderElement(op.set, e);
          const target = elementTarget(op.set, e);
          if (target !== undefined) chain(target);
          const had = s.elements.get(k);
          if (had && had.text !== text) fail(`Could not process rule: File exists (element ${k})`);
          s.elements.set(k, { text, element: e, ...(target !== undefined ? { target } : {}) });
        }
        return;
      }
      case 'delete-elements': {
        const s = set(op.set.name);
        for (const e of op.elements) {
          const k = renderElementKey(op.set, e);
          if (!s.elements.delete(k)) fail(`Could not process rule: No such file or directory (element ${k})`);
        }
        return;
      }
    }
  }
}
