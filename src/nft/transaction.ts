// A transaction: an ordered list of typed operations on one owner's tables,
// applied by nft as one atomic batch; and its rendering as `nft -f` input with
// a map from each rendered line back to the operation that produced it. Pure.
import { NftNameError, assertComment, assertObjectName } from './names.ts';
import { renderChainSpec, renderElement, renderElementKey, renderSetSpec, isMap, tableKey, type ChainDef, type MapDef, type MapElement, type SetDef, type SetElement } from './model.ts';
import { renderRule, ruleRefs, type Rule } from './rule.ts';
import { tableOwners, type TableHandle, type TableOwners } from './owners.ts';
import { NftValueError } from './values.ts';

export type Op =
  | { kind: 'add-table'; table: TableHandle; comment?: string }
  | { kind: 'flush-table'; table: TableHandle }
  | { kind: 'delete-table'; table: TableHandle }
  | { kind: 'add-chain'; table: TableHandle; chain: ChainDef }
  | { kind: 'flush-chain'; table: TableHandle; chain: string }
  | { kind: 'delete-chain'; table: TableHandle; chain: string }
  | { kind: 'add-set'; table: TableHandle; set: SetDef | MapDef }
  | { kind: 'flush-set'; table: TableHandle; set: SetDef | MapDef }
  | { kind: 'delete-set'; table: TableHandle; set: SetDef | MapDef }
  | { kind: 'add-rule'; table: TableHandle; chain: string; rule: Rule }
  /** At the head of the chain, or before the rule at position `index` (0-based). */
  | { kind: 'insert-rule'; table: TableHandle; chain: string; rule: Rule; index?: number }
  | { kind: 'replace-rule'; table: TableHandle; chain: string; handle: number; rule: Rule }
  | { kind: 'add-elements'; table: TableHandle; set: SetDef | MapDef; elements: readonly (SetElement | MapElement)[] }
  | { kind: 'delete-elements'; table: TableHandle; set: SetDef | MapDef; elements: readonly (SetElement | MapElement)[] };

/** Builder for one atomic batch of operations by one owner. */
export class Transaction {
  readonly ops: Op[] = [];
  constructor(readonly owner: string) {}

  get size(): number {
    return this.ops.length;
  }
  push(op: Op): this {
    this.ops.push(op);
    return this;
  }
  addTable(table: TableHandle, comment?: string): this {
    return this.push({ kind: 'add-table', table, ...(comment !== undefined ? { comment } : {}) });
  }
  flushTable(table: TableHandle): this {
    return this.push({ kind: 'flush-table', table });
  }
  /** Delete the table (it must exist: `addTable` first makes this idempotent). */
  deleteTable(table: TableHandle): this {
    return this.push({ kind: 'delete-table', table });
  }
  addChain(table: TableHandle, chain: ChainDef): this {
    return this.push({ kind: 'add-chain', table, chain });
  }
  flushChain(table: TableHandle, chain: string): this {
    return this.push({ kind: 'flush-chain', table, chain });
  }
  deleteChain(table: TableHandle, chain: string): this {
    return this.push({ kind: 'delete-chain', table, chain });
  }
  addSet(table: TableHandle, set: SetDef | MapDef): this {
    return this.push({ kind: 'add-set', table, set });
  }
  flushSet(table: TableHandle, set: SetDef | MapDef): this {
    return this.push({ kind: 'flush-set', table, set });
  }
  deleteSet(table: TableHandle, set: SetDef | MapDef): this {
    return this.push({ kind: 'delete-set', table, set });
  }
  addRule(table: TableHandle, chain: string, rule: Rule): this {
    return this.push({ kind: 'add-rule', table, chain, rule });
  }
  insertRule(table: TableHandle, chain: string, rule: Rule, index?: number): this {
    return this.push({ kind: 'insert-rule', table, chain, rule, ...(index !== undefined ? { index } : {}) });
  }
  replaceRule(table: TableHandle, chain: string, handle: number, rule: Rule): this {
    return this.push({ kind: 'replace-rule', table, chain, handle, rule });
  }
  addElements(table: TableHandle, set: SetDef | MapDef, elements: readonly (SetElement | MapElement)[]): this {
    return elements.length ? this.push({ kind: 'add-elements', table, set, elements }) : this;
  }
  deleteElements(table: TableHandle, set: SetDef | MapDef, elements: readonly (SetElement | MapElement)[]): this {
    return elements.length ? this.push({ kind: 'delete-elements', table, set, elements }) : this;
  }
}

/** One line of rendered input and the operation (index into `ops`) it came from. */
export interface RenderedLine {
  op: number;
  text: string;
}

export interface RenderedTransaction {
  owner: string;
  ops: readonly Op[];
  /** `nft -f` input; line i+1 of it is `lines[i].text`. */
  text: string;
  lines: readonly RenderedLine[];
}

/** Elements per rendered line: keeps lines (and nft's error columns) readable. */
export const ELEMENTS_PER_LINE = 256;

function renderOp(op: Op): string[] {
  const t = tableKey(op.table);
  const setKind = (s: SetDef | MapDef): string => (isMap(s) ? 'map' : 'set');
  const chainName = (c: string): string => {
    assertObjectName('chain', c);
    return c;
  };
  switch (op.kind) {
    case 'add-table':
      if (op.comment !== undefined) {
        // The block form: `add table` takes no comment on nft 1.0.6.
        assertComment(op.comment);
        return [`table ${t} { comment "${op.comment}" ; }`];
      }
      return [`add table ${t}`];
    case 'flush-table':
      return [`flush table ${t}`];
    case 'delete-table':
      return [`delete table ${t}`];
    case 'add-chain':
      return [`add chain ${t} ${op.chain.name}${renderChainSpec(op.chain)}`];
    case 'flush-chain':
      return [`flush chain ${t} ${chainName(op.chain)}`];
    case 'delete-chain':
      return [`delete chain ${t} ${chainName(op.chain)}`];
    case 'add-set':
      return [`add ${setKind(op.set)} ${t} ${op.set.name}${renderSetSpec(op.set)}`];
    case 'flush-set':
      renderSetSpec(op.set);
      return [`flush ${setKind(op.set)} ${t} ${op.set.name}`];
    case 'delete-set':
      renderSetSpec(op.set);
      return [`delete ${setKind(op.set)} ${t} ${op.set.name}`];
    case 'add-rule':
      return [`add rule ${t} ${chainName(op.chain)} ${renderRule(op.rule)}`];
    case 'insert-rule': {
      if (op.index !== undefined && (!Number.isInteger(op.index) || op.index < 0)) throw new NftValueError(`invalid rule index ${op.index}`);
      return [`insert rule ${t} ${chainName(op.chain)}${op.index !== undefined ? ` index ${op.index}` : ''} ${renderRule(op.rule)}`];
    }
    case 'replace-rule':
      if (!Number.isInteger(op.handle) || op.handle < 1) throw new NftValueError(`invalid rule handle ${op.handle}`);
      return [`replace rule ${t} ${chainName(op.chain)} handle ${op.handle} ${renderRule(op.rule)}`];
    case 'add-elements':
    case 'delete-elements': {
      renderSetSpec(op.set);
      const verb = op.kind === 'add-elements' ? 'add' : 'delete';
      const out: string[] = [];
      for (let i = 0; i < op.elements.length; i += ELEMENTS_PER_LINE) {
        // A delete names the key only (nft finds elements by key).
        const chunk = op.elements.slice(i, i + ELEMENTS_PER_LINE).map((e) => (verb === 'add' ? renderElement(op.set, e) : renderElementKey(op.set, e)));
        out.push(`${verb} element ${t} ${op.set.name} { ${chunk.join(', ')} }`);
      }
      return out;
    }
  }
}

export class NftRenderError extends Error {
  override name = 'NftRenderError';
  constructor(
    message: string,
    readonly op: number,
  ) {
    super(message);
  }
}

/**
 * Render `tx` as `nft -f` input. Refuses (throws, nothing rendered) an
 * operation on a table its owner has not claimed, and any name or value that
 * does not validate; the error names the operation.
 */
export function renderTransaction(tx: Transaction, owners: TableOwners = tableOwners): RenderedTransaction {
  const lines: RenderedLine[] = [];
  const ops = tx.ops;
  /** Sets and maps this transaction adds, by table: rules may name them in the block form (nft knows them from the batch). */
  const added = new Set<string>();
  const fail = (i: number, err: unknown): never => {
    const msg = err instanceof Error ? err.message : String(err);
    throw new NftRenderError(`nft transaction of ${tx.owner}, operation ${i + 1} (${ops[i]?.kind ?? '?'}): ${msg}`, i);
  };
  const push = (i: number, text: string): void => {
    // Defence in depth: validated parts never hold a newline, a comment
    // sign or a command separator (specs and chain blocks separate their clauses with " ;").
    if (/[\n\r#]/.test(text) || text.replace(/ ;/g, '').includes(';')) fail(i, new NftValueError('a rendered line holds a forbidden character'));
    lines.push({ op: i, text });
  };
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    try {
      if (!op || typeof op !== 'object' || !op.table) throw new NftNameError('an operation names its table');
      owners.check(tx.owner, op.table);
    } catch (err) {
      fail(i, err);
    }
    if (op.kind === 'add-set') added.add(`${tableKey(op.table)}\u0000${op.set.name}`);
    // A run of rules appended to one chain: one `add chain T C { r1 ; r2 ; }` line (see blockable).
    if (op.kind === 'add-rule' && blockable(op, added)) {
      let j = i;
      const texts: string[] = [];
      while (j < ops.length) {
        const o = ops[j];
        if (o.kind !== 'add-rule' || o.chain !== op.chain || tableKey(o.table) !== tableKey(op.table) || !blockable(o, added)) break;
        try {
          owners.check(tx.owner, o.table);
          texts.push(renderRule(o.rule));
        } catch (err) {
          fail(j, err);
        }
        j++;
      }
      try {
        assertObjectName('chain', op.chain);
      } catch (err) {
        fail(i, err);
      }
      push(i, `add chain ${tableKey(op.table)} ${op.chain} { ${texts.join(' ; ')} ; }`);
      i = j - 1;
      continue;
    }
    let rendered: string[] = [];
    try {
      rendered = renderOp(op);
    } catch (err) {
      fail(i, err);
    }
    for (const text of rendered) push(i, text);
  }
  return { owner: tx.owner, ops, text: lines.map((l) => l.text + '\n').join(''), lines };
}

/**
 * Rules go into a chain as `add chain T C { r1 ; r2 ; }` rather than one
 * `add rule` each: nft 1.0.6 then loads only its table cache, while any
 * `add rule` makes it dump every chain and set of the network namespace
 * first (O(table) per transaction; measured in bench/nft-command-cost).
 * Appending to an existing chain this way is the same as `add rule`. The
 * one case it cannot take: a rule naming a set or map that exists in the
 * kernel but is not added by this transaction (nft would look it up in the
 * cache it did not load); such rules keep the `add rule` form, which loads it.
 */
function blockable(op: Extract<Op, { kind: 'add-rule' }>, added: ReadonlySet<string>): boolean {
  const t = tableKey(op.table);
  return ruleRefs(op.rule).sets.every((s) => added.has(`${t}\u0000${s}`));
}
