// Who owns which nftables table: one owner (a part: "masquerade", "proxy",
// "policy", "dns", …) per table. A part claims its tables once and gets
// handles; a transaction carries its owner and is refused before rendering
// if it names a table that owner has not claimed. Pure in-memory registry
// (one per process by default; tests make their own).
import { NftNameError } from './names.ts';
import { assertTable, tableKey, type TableId } from './model.ts';

const brand = Symbol('nft-table-handle');

/** A claimed table. Only TableOwners makes these. */
export interface TableHandle extends TableId {
  readonly owner: string;
  readonly [brand]: TableOwners;
}

export class NftOwnershipError extends Error {
  override name = 'NftOwnershipError';
}

export class TableOwners {
  private readonly tables = new Map<string, TableHandle>();

  /** Claim `table` for `owner`. Claiming again as the same owner returns the same handle; another owner's table is refused. */
  claim(owner: string, table: TableId): TableHandle {
    if (typeof owner !== 'string' || !/^[a-z][a-z0-9-]{0,31}$/.test(owner)) throw new NftNameError(`invalid table owner ${JSON.stringify(owner)}`);
    assertTable(table);
    const key = tableKey(table);
    const have = this.tables.get(key);
    if (have) {
      if (have.owner !== owner) throw new NftOwnershipError(`nftables table ${key} is owned by ${have.owner}, not ${owner}`);
      return have;
    }
    const h: TableHandle = Object.freeze({ family: table.family, name: table.name, owner, [brand]: this });
    this.tables.set(key, h);
    return h;
  }

  /** Give a table up (after deleting it). */
  release(h: TableHandle): void {
    if (this.tables.get(tableKey(h)) === h) this.tables.delete(tableKey(h));
  }

  /** Throw unless `h` is a live handle of this registry held by `owner`. */
  check(owner: string, h: TableId): void {
    const have = this.tables.get(tableKey(h));
    if (!have) throw new NftOwnershipError(`nftables table ${tableKey(h)} is not claimed by any part: meshlet touches only its own tables`);
    if (have.owner !== owner) throw new NftOwnershipError(`nftables table ${tableKey(h)} is owned by ${have.owner}, not ${owner}`);
    if (have !== h) throw new NftOwnershipError(`nftables table ${tableKey(h)}: not a handle from this registry (claim the table first)`);
  }

  ownerOf(t: TableId): string | undefined {
    return this.tables.get(tableKey(t))?.owner;
  }
}

/** The process's registry: every part of one process claims its tables here. */
export const tableOwners = new TableOwners();
