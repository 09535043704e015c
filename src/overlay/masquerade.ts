// Masquerade of pod traffic leaving the cluster CIDR (flannel's
// `-s podCIDR ! -d clusterCIDR -j MASQUERADE`), on the shared nftables
// adapter (src/nft). The desired table is a pure function of the node's pod
// subnets and the cluster CIDRs; the Masquerade object holds the table's
// committed state, so the table is created once, a change of subnets
// flushes and refills the one chain in one transaction, and a reconcile
// that changes nothing runs no nft at all.
import { familyOf, normalizeCidr } from '../core/cidr.ts';
import { NftTable, type SyncOutcome } from '../nft/table-sync.ts';
import { ownTable, type OwnTableOptions } from '../nft/own-table.ts';
import { masquerade, matchAny, notMatchAny, rule } from '../nft/rule.ts';
import type { DesiredTable } from '../nft/model.ts';
import type { Logger } from 'pino';

export const NAT_TABLE = 'meshlet-nat';
/** The part that owns table inet meshlet-nat. */
export const MASQUERADE_OWNER = 'masquerade';
export const NAT_CHAIN = 'postrouting';

function byFamily(cidrs: string[]): { 4: string[]; 6: string[] } {
  const out: { 4: string[]; 6: string[] } = { 4: [], 6: [] };
  for (const c of cidrs) {
    const n = normalizeCidr(c); // validates (the adapter validates again, by type)
    out[familyOf(n.split('/')[0])].push(n);
  }
  return out;
}

/** The desired table inet meshlet-nat: one masquerade rule per family that has pod subnets. */
export function masqueradeTable(podCidrs: string[], clusterCidrs: string[]): DesiredTable {
  const pods = byFamily(podCidrs);
  const cluster = byFamily(clusterCidrs);
  const rules = [];
  for (const [fam, saddr, daddr] of [[4, 'ip saddr', 'ip daddr'], [6, 'ip6 saddr', 'ip6 daddr']] as const) {
    if (pods[fam].length === 0) continue;
    if (cluster[fam].length === 0) throw new Error(`no IPv${fam} cluster CIDR for pod CIDRs ${pods[fam].join(',')}`);
    rules.push(rule(matchAny(saddr, pods[fam]), notMatchAny(daddr, cluster[fam]), masquerade));
  }
  return {
    chains: [{ name: NAT_CHAIN, base: { type: 'nat', hook: 'postrouting', priority: 'srcnat', policy: 'accept' }, rules }],
  };
}

export type MasqueradeOptions = OwnTableOptions;

/** The node's masquerade table, kept in sync. One per network namespace (process). */
export class Masquerade {
  readonly table: NftTable;

  constructor(opts: MasqueradeOptions = {}) {
    this.table = ownTable(MASQUERADE_OWNER, { family: 'inet', name: NAT_TABLE }, opts);
  }

  /** Bring the table to what `podCidrs`/`clusterCidrs` want; sends nothing when nothing changed. */
  async sync(podCidrs: string[], clusterCidrs: string[]): Promise<SyncOutcome> {
    return this.table.sync(masqueradeTable(podCidrs, clusterCidrs));
  }

  /** Remove the table (if present). */
  remove(): Promise<void> {
    return this.table.delete();
  }
}

let processMasquerade: Masquerade | undefined;

/** The process's Masquerade (created on first use, with the real nft). */
export function defaultMasquerade(logger?: Logger): Masquerade {
  processMasquerade ??= new Masquerade(logger ? { logger } : {});
  return processMasquerade;
}
