// The adapter a part holds for one of its tables: it claims the table, keeps
// the committed state in memory, and turns each desired state into the
// smallest transaction (diff.ts), applied through a runner. Nothing is sent
// when nothing changed. After a failure the committed state is forgotten, so
// the next sync is a full one (and after a failed full one, a rebuild).
import type { Logger } from 'pino';
import type { DesiredTable, TableId } from './model.ts';
import { tableOwners, type TableHandle, type TableOwners } from './owners.ts';
import { planSync, STALE_CHAIN_DELAY_MS, type SyncMode } from './diff.ts';
import { renderTransaction, Transaction } from './transaction.ts';
import type { NftRunner } from './runner.ts';
import type { TableState } from './state.ts';
import { flatten, planFragments, type FragmentedTable, type TableFragment } from './fragments.ts';

export interface NftTableOptions {
  /** The part that owns the table ("masquerade", "proxy", "policy", …). */
  owner: string;
  table: TableId;
  runner: NftRunner;
  owners?: TableOwners;
  /** Delay between flushing a chain no longer desired and deleting it (default 1000 ms). */
  staleDelayMs?: number;
  now?: () => number;
  logger?: Logger;
}

export interface SyncOutcome {
  mode: SyncMode;
  /** Operations sent (0: nothing changed, nft not run). */
  ops: number;
  /** When stale chains become deletable (ms since epoch), if any remain: sync again then. */
  staleDueAt?: number;
}

export class NftTable {
  readonly handle: TableHandle;
  private committed: TableState | undefined;
  private rebuildNext = false;
  private readonly runner: NftRunner;
  private readonly owners: TableOwners;
  private readonly now: () => number;
  private readonly staleDelayMs: number;
  private readonly log: Logger | undefined;
  /** Fragments as last committed by syncFragments (undefined: the last sync was not by fragments). */
  private fragments: Map<string, TableFragment> | undefined;
  private fragmentBase: FragmentedTable['base'] | undefined;
  private stale = new Map<string, number>();

  constructor(opts: NftTableOptions) {
    this.owners = opts.owners ?? tableOwners;
    this.handle = this.owners.claim(opts.owner, opts.table);
    this.runner = opts.runner;
    this.now = opts.now ?? Date.now;
    this.staleDelayMs = opts.staleDelayMs ?? STALE_CHAIN_DELAY_MS;
    this.log = opts.logger;
  }

  /** What the adapter believes is committed (undefined: unknown, the next sync is full). */
  get state(): TableState | undefined {
    return this.committed;
  }

  /** Forget the committed state: the next sync is a full one (a periodic resync does this). */
  invalidate(): void {
    this.committed = undefined;
    this.fragments = undefined;
  }

  /**
   * Bring the table to `desired` in one atomic transaction (none when nothing
   * differs). `partial`: `desired` is one chunk of a cold start (each chunk
   * the union of those so far); nothing outside it is retired until a sync
   * that is not partial.
   */
  async sync(desired: DesiredTable, opts: { partial?: boolean } = {}): Promise<SyncOutcome> {
    const listing = this.committed || this.rebuildNext ? undefined : await this.runner.list(this.handle);
    const plan = planSync({
      table: this.handle,
      desired,
      ...(this.committed ? { committed: this.committed } : {}),
      ...(listing !== undefined ? { listing } : {}),
      rebuild: this.rebuildNext,
      partial: opts.partial ?? false,
      now: this.now(),
      staleDelayMs: this.staleDelayMs,
    });
    const rendered = renderTransaction(plan.tx, this.owners);
    if (rendered.lines.length) {
      try {
        await this.runner.apply(rendered);
      } catch (err) {
        this.rebuildNext = plan.mode !== 'incremental';
        this.committed = undefined;
        this.fragments = undefined;
        throw err;
      }
      if (plan.mode !== 'incremental') this.log?.info({ table: `${this.handle.family} ${this.handle.name}`, mode: plan.mode, ops: plan.tx.size }, 'nft: table synced');
    }
    this.rebuildNext = false;
    this.committed = plan.next;
    this.fragments = undefined;
    this.stale = new Map();
    for (const [name, c] of plan.next.chains) if (c.staleSince !== undefined) this.stale.set(name, c.staleSince);
    return { mode: plan.mode, ops: plan.tx.size, ...(plan.staleDueAt !== undefined ? { staleDueAt: plan.staleDueAt } : {}) };
  }

  /**
   * Sync a table given in fragments. With the committed state known, the
   * same base object and `dirty` given, only the dirty fragments are compared
   * (O(changes)); otherwise the flattened table goes through sync(). `only`:
   * sync the base and these fragments as a partial chunk of a cold start
   * (the chunks after it are then dirty keys of later calls).
   */
  async syncFragments(desired: FragmentedTable, opts: { dirty?: Iterable<string>; only?: readonly string[] } = {}): Promise<SyncOutcome> {
    if (opts.only) {
      const out = await this.sync(flatten(desired, opts.only), { partial: true });
      this.fragments = new Map();
      for (const k of opts.only) {
        const f = desired.fragments.get(k);
        if (f) this.fragments.set(k, f);
      }
      this.fragmentBase = desired.base;
      return out;
    }
    const committed = this.committed;
    const before = this.fragments;
    if (!committed || !before || opts.dirty === undefined || desired.base !== this.fragmentBase) return this.syncFlat(desired);
    const plan = planFragments({ table: this.handle, committed, stale: this.stale, before, after: desired.fragments, dirty: opts.dirty, now: this.now(), staleDelayMs: this.staleDelayMs });
    if (!plan) return this.syncFlat(desired);
    const rendered = renderTransaction(plan.tx, this.owners);
    if (rendered.lines.length) {
      try {
        await this.runner.apply(rendered);
      } catch (err) {
        this.committed = undefined;
        this.fragments = undefined;
        throw err;
      }
    }
    plan.commit(committed, this.stale);
    for (const k of new Set(opts.dirty)) {
      const f = desired.fragments.get(k);
      if (f) before.set(k, f);
      else before.delete(k);
    }
    return { mode: 'incremental', ops: plan.tx.size, ...(plan.staleDueAt !== undefined ? { staleDueAt: plan.staleDueAt } : {}) };
  }

  private async syncFlat(desired: FragmentedTable): Promise<SyncOutcome> {
    const out = await this.sync(flatten(desired));
    this.fragments = new Map(desired.fragments);
    this.fragmentBase = desired.base;
    return out;
  }

  /** Delete the table (if present). The claim stays: the part may sync it again. */
  async delete(): Promise<void> {
    const tx = new Transaction(this.handle.owner).addTable(this.handle).deleteTable(this.handle);
    await this.runner.apply(renderTransaction(tx, this.owners));
    this.committed = undefined;
    this.fragments = undefined;
    this.rebuildNext = false;
  }
}
