// A part's own nftables table on the real `nft`: what masquerade, the node
// DNS and (so far written out by hand) the proxy and the policy enforcer pass
// to NftTable. Tests give a runner (src/nft/fake.ts) and their own owners.
import type { Logger } from 'pino';
import type { TableId } from './model.ts';
import type { TableOwners } from './owners.ts';
import { NftCommandRunner, type NftRunner } from './runner.ts';
import { NftTable } from './table-sync.ts';

/** How a part's table is reached: the real nft unless `runner` is given, the process's owners unless `owners` is. */
export interface OwnTableOptions {
  runner?: NftRunner;
  owners?: TableOwners;
  logger?: Logger;
}

/** The table `table`, claimed for `owner`. */
export function ownTable(owner: string, table: TableId, opts: OwnTableOptions): NftTable {
  return new NftTable({
    owner,
    table,
    runner: opts.runner ?? new NftCommandRunner(),
    ...(opts.owners ? { owners: opts.owners } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
}
