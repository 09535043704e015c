// Facts of the Service CIDR, pure: the default range, the cluster DNS address
// in it (the 10th address, as kubeadm derives it), and how ClusterIPs are
// spread over it (KEP-3070: a static lower band kept for explicit requests,
// dynamic picks from the upper band first).
import { addressAt, cidrSize, hostRange, offsetOf, parseCidr, type Cidr } from './cidr.ts';

export const DEFAULT_SERVICE_CIDR = '10.96.0.0/16';
/** Offset of the cluster DNS address from the range's network address (kubeadm: the 10th address). */
export const CLUSTER_DNS_OFFSET = 10n;

function asCidr(c: Cidr | string): Cidr {
  return typeof c === 'string' ? parseCidr(c) : c;
}

/** The cluster DNS address of a Service CIDR: its 10th address (10.96.0.0/16 → 10.96.0.10). */
export function clusterDnsAddress(serviceCidr: Cidr | string): string {
  const c = asCidr(serviceCidr);
  const { first, last } = hostRange(c);
  const at = c.network + CLUSTER_DNS_OFFSET;
  if (at < first || at > last) throw new Error(`service CIDR ${String(serviceCidr)} is too small to hold a cluster DNS address (its 10th address)`);
  return addressAt(c, CLUSTER_DNS_OFFSET);
}

/** The default/kubernetes Service's address: the range's first host address (10.96.0.0/16 → 10.96.0.1), as kube-apiserver takes it. */
export function firstServiceAddress(serviceCidr: Cidr | string): string {
  const c = asCidr(serviceCidr);
  return addressAt(c, hostRange(c).first - c.network);
}

/** The cluster DNS address of the default Service CIDR, 10.96.0.10. */
export const DEFAULT_CLUSTER_DNS = clusterDnsAddress(DEFAULT_SERVICE_CIDR);

/**
 * Size of the static lower band (KEP-3070): min(max(16, size/16), 256)
 * addresses, none for ranges of 16 addresses or fewer, as kube-apiserver's
 * calculateRangeOffset computes it.
 */
export function staticBandSize(serviceCidr: Cidr | string): bigint {
  const size = cidrSize(asCidr(serviceCidr));
  if (size <= 16n) return 0n;
  const offset = size / 16n;
  if (offset < 16n) return 16n;
  if (offset > 256n) return 256n;
  return offset;
}

/** A run of allocatable addresses, as offsets from the network address. */
export interface Band {
  first: bigint;
  count: bigint;
}

/**
 * The two bands of a range's host addresses: `lower` (the first
 * staticBandSize host addresses) and `upper` (the rest). Dynamic allocation
 * tries `upper` first and falls back to `lower`; explicit requests may name
 * any host address.
 */
export function allocationBands(serviceCidr: Cidr | string): { lower: Band; upper: Band } {
  const c = asCidr(serviceCidr);
  const hosts = hostRange(c);
  const first = hosts.first - c.network;
  const band = staticBandSize(c) < hosts.count ? staticBandSize(c) : hosts.count;
  return { lower: { first, count: band }, upper: { first: first + band, count: hosts.count - band } };
}

/** Is `ip` in the static lower band of the range? */
export function inStaticBand(serviceCidr: Cidr | string, ip: string): boolean {
  const c = asCidr(serviceCidr);
  const { lower } = allocationBands(c);
  const o = offsetOf(c, ip);
  return o >= lower.first && o < lower.first + lower.count;
}
