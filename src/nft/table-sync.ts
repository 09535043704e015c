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
        throw err;
      }
      if (plan.mode !== 'incremental') this.log?.info({ table: `${this.handle.family} ${this.handle.name}`, mode: plan.mode, ops: plan.tx.size }, 'nft: table synced');
    }
    this.rebuildNext = false;
    this.committed = plan.next;
    return { mode: plan.mode, ops: plan.tx.size, ...(plan.staleDueAt !== undefined ? { staleDueAt: plan.staleDueAt } : {}) };
  }

  /** Delete the table (if present). The claim stays: the part may sync it again. */
  async delete(): Promise<void> {
    const tx = new Transaction(this.handle.owner).addTable(this.handle).deleteTable(this.handle);
    await this.runner.apply(renderTransaction(tx, this.owners));
    this.committed = undefined;
    this.rebuildNext = false;
  }
}
