// Names of nftables objects as meshlet writes them, each validated before it
// can reach `nft -f`. Pure.
//
// Only tables named `meshlet…` are meshlet's: the adapter refuses any other
// table name, so no transaction can ever name a host table (`filter`,
// `nat`, `firewalld`, `kube-proxy`, …).

/** Table families meshlet uses. */
export type TableFamily = 'ip' | 'ip6' | 'inet';
export const TABLE_FAMILIES: readonly TableFamily[] = ['ip', 'ip6', 'inet'];

const TABLE_NAME = /^meshlet(-[a-z0-9]+)*$/;
// Chains, sets and maps: nft identifiers ([a-zA-Z][a-zA-Z0-9/\._-]*), kept to
// what `nft` parses unquoted and capped well below NFT_NAME_MAXLEN (256).
const OBJECT_NAME = /^[a-zA-Z][a-zA-Z0-9_.-]{0,127}$/;
// Reserved words that the nft parser reads as keywords, not names.
const RESERVED = new Set(['table', 'chain', 'set', 'map', 'rule', 'element', 'elements', 'flush', 'delete', 'add', 'insert', 'replace', 'create', 'list', 'ruleset', 'type', 'hook', 'priority', 'policy', 'flags', 'timeout', 'counter', 'comment', 'accept', 'drop', 'return', 'continue', 'jump', 'goto', 'queue', 'reject', 'ip', 'ip6', 'inet', 'arp', 'bridge', 'netdev', 'meta', 'ct', 'th', 'tcp', 'udp', 'sctp', 'icmp', 'icmpv6', 'define', 'include', 'vmap', 'numgen', 'dnat', 'snat', 'masquerade', 'redirect', 'notrack', 'log', 'update', 'delete', 'limit', 'quota', 'mark', 'handle', 'index', 'position', 'interval', 'dynamic', 'constant']);

export class NftNameError extends Error {
  override name = 'NftNameError';
}

export function assertFamily(f: string): asserts f is TableFamily {
  if (!(TABLE_FAMILIES as readonly string[]).includes(f)) throw new NftNameError(`invalid nftables table family ${JSON.stringify(f)} (ip, ip6 or inet)`);
}

/** A meshlet table name: `meshlet` or `meshlet-<word>[-<word>…]`, lower case, at most 64 characters. */
export function assertTableName(name: string): void {
  if (typeof name !== 'string' || name.length > 64 || !TABLE_NAME.test(name)) {
    throw new NftNameError(`invalid nftables table name ${JSON.stringify(name)}: meshlet's tables are named meshlet-<a-z0-9>… (at most 64 characters)`);
  }
}

/** A chain, set or map name. */
export function assertObjectName(kind: 'chain' | 'set' | 'map', name: string): void {
  if (typeof name !== 'string' || !OBJECT_NAME.test(name) || RESERVED.has(name)) {
    throw new NftNameError(`invalid nftables ${kind} name ${JSON.stringify(name)}: [a-zA-Z][a-zA-Z0-9_.-]{0,127}, not a keyword`);
  }
}

const COMMENT = /^[a-zA-Z0-9 _.,:/=+()@-]{0,128}$/;

/** Comments are rendered in double quotes: no quotes, backslashes, semicolons, braces or newlines. */
export function assertComment(c: string): void {
  if (typeof c !== 'string' || !COMMENT.test(c)) throw new NftNameError(`invalid nftables comment ${JSON.stringify(c)}: [a-zA-Z0-9 _.,:/=+()@-], at most 128 characters`);
}

/** A network namespace name, as `ip netns` accepts it. */
export function assertNetnsName(ns: string): void {
  if (typeof ns !== 'string' || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/.test(ns)) throw new NftNameError(`invalid network namespace name ${JSON.stringify(ns)}`);
}
