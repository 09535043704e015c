// The cluster DNS address made local to the node (NodeLocal DNSCache's design,
// KEP-1024, without iptables): the address sits on a dummy link (or `lo` where
// the kernel has no dummy driver), so pods'
// queries to it are delivered to this node's `meshlet dns` with no DNAT, and
// an nftables table of meshlet's own (inet meshlet-dns, raw priority, in
// prerouting and output) marks the queries and the answers `notrack`, so
// conntrack never sees them (the race behind the 5 s timeouts cannot happen).
// The table is a pure function of the DNS addresses; the shell applies it
// through the shared adapter (src/nft) and the link through src/overlay/netlink.ts.
import type { Logger } from 'pino';
import { familyOf } from '../core/cidr.ts';
import type { DesiredTable } from '../nft/model.ts';
import { ownTable, type OwnTableOptions } from '../nft/own-table.ts';
import { match, matchAny, notrack, rule } from '../nft/rule.ts';
import { NftTable, type SyncOutcome } from '../nft/table-sync.ts';
import { Netlink } from '../overlay/netlink.ts';

/** The dummy link holding the cluster DNS address. */
export const DNS_LINK = 'mldns0';
export const DNS_TABLE = 'meshlet-dns';
/** The part that owns table inet meshlet-dns. */
export const DNS_OWNER = 'dns';
export const DNS_PORT = 53;

/** Pure: table inet meshlet-dns — no conntrack for DNS to or from the cluster DNS addresses. */
export function dnsNotrackTable(dnsIps: readonly string[], port = DNS_PORT): DesiredTable {
  const rulesTo = [];
  const rulesFrom = [];
  for (const ip of dnsIps) {
    const [daddr, saddr] = familyOf(ip) === 4 ? (['ip daddr', 'ip saddr'] as const) : (['ip6 daddr', 'ip6 saddr'] as const);
    // Queries arriving from pods (prerouting) or sent on the node itself (output).
    rulesTo.push(rule(match(daddr, ip), matchAny('meta l4proto', ['udp', 'tcp']), match('th dport', port), notrack));
    // Answers the server sends (output).
    rulesFrom.push(rule(match(saddr, ip), matchAny('meta l4proto', ['udp', 'tcp']), match('th sport', port), notrack));
  }
  return {
    comment: 'meshlet: no conntrack for the node-local cluster DNS',
    chains: [
      { name: 'prerouting', base: { type: 'filter', hook: 'prerouting', priority: 'raw', policy: 'accept' }, rules: rulesTo },
      { name: 'output', base: { type: 'filter', hook: 'output', priority: 'raw', policy: 'accept' }, rules: [...rulesTo, ...rulesFrom] },
    ],
  };
}

/** Pure: the host prefix of an address ("10.96.0.10/32"). */
export function hostCidr(ip: string): string {
  return `${ip}/${familyOf(ip) === 4 ? 32 : 128}`;
}

/** The loopback link: where the DNS addresses go when the kernel has no dummy links. */
export const LOOPBACK_LINK = 'lo';

/**
 * Puts the DNS addresses on the dummy link (created and brought up if
 * missing), or, on a kernel without the dummy driver, on the loopback link
 * (a host address there is just as local). Idempotent. Returns the link used.
 */
export async function ensureDnsAddresses(dnsIps: readonly string[], logger: Logger, link = DNS_LINK): Promise<string> {
  const nl = Netlink.open();
  try {
    let dev = link;
    if (!(await nl.getLink(link))) {
      try {
        await nl.createDummy(link);
        logger.info({ link }, 'created the cluster DNS link');
      } catch (err) {
        if (!/ENOTSUP|EOPNOTSUPP/.test((err as Error).message)) throw err;
        logger.warn({ link: LOOPBACK_LINK }, 'this kernel has no dummy links: the cluster DNS address goes on the loopback link');
        dev = LOOPBACK_LINK;
      }
    }
    await nl.setLink(dev, { up: true });
    const have = new Set((await nl.listAddresses(dev)).map((a) => a.cidr));
    for (const ip of dnsIps) {
      const cidr = hostCidr(ip);
      if (!have.has(cidr)) await nl.addAddress(dev, cidr);
    }
    return dev;
  } finally {
    nl.close();
  }
}

export type DnsNotrackOptions = OwnTableOptions;

/** The node's inet meshlet-dns table, kept in sync. */
export class DnsNotrack {
  readonly table: NftTable;

  constructor(opts: DnsNotrackOptions = {}) {
    this.table = ownTable(DNS_OWNER, { family: 'inet', name: DNS_TABLE }, opts);
  }

  sync(dnsIps: readonly string[]): Promise<SyncOutcome> {
    return this.table.sync(dnsNotrackTable(dnsIps));
  }
}
