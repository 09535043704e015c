// The nftables ruleset that masquerades pod traffic leaving the cluster CIDR
// (flannel's `-s podCIDR ! -d clusterCIDR -j MASQUERADE`). Pure: renders one
// `nft -f -` transaction that replaces the table whole, so applying it twice
// changes nothing and never leaves a half-written table.
import { familyOf, normalizeCidr } from '../core/cidr.ts';

export const NAT_TABLE = 'meshlet-nat';

function byFamily(cidrs: string[]): { 4: string[]; 6: string[] } {
  const out: { 4: string[]; 6: string[] } = { 4: [], 6: [] };
  for (const c of cidrs) {
    const n = normalizeCidr(c); // validates: nothing but a CIDR reaches nft
    out[familyOf(n.split('/')[0])].push(n);
  }
  return out;
}

function set(items: string[]): string {
  return items.length === 1 ? items[0] : `{ ${items.join(', ')} }`;
}

/** `nft -f -` input: (re)create table inet meshlet-nat with one masquerade rule per family. */
export function masqueradeRuleset(podCidrs: string[], clusterCidrs: string[], table: string = NAT_TABLE): string {
  if (!/^[a-zA-Z][a-zA-Z0-9_-]{0,30}$/.test(table)) throw new Error(`invalid nftables table name ${JSON.stringify(table)}`);
  const pods = byFamily(podCidrs);
  const cluster = byFamily(clusterCidrs);
  const rules: string[] = [];
  for (const [fam, kw] of [[4, 'ip'], [6, 'ip6']] as const) {
    if (pods[fam].length === 0) continue;
    if (cluster[fam].length === 0) throw new Error(`no IPv${fam} cluster CIDR for pod CIDRs ${pods[fam].join(',')}`);
    rules.push(`    ${kw} saddr ${set(pods[fam])} ${kw} daddr != ${set(cluster[fam])} masquerade`);
  }
  return [
    `table inet ${table}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    ...rules,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** `nft -f -` input removing the table (it must exist; pair with `table inet <name>` to make it idempotent). */
export function removeMasqueradeRuleset(table: string = NAT_TABLE): string {
  return `table inet ${table}\ndelete table inet ${table}\n`;
}
