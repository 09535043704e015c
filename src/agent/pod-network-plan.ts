// The node's pod-network decisions as data. Pure: Node objects and IPAM
// leases in; overlay peers and the Node patch out.
//
// A peer is programmed only while BOTH hold: its Node object publishes its
// VTEP and subnet, and a live IPAM lease gives that node exactly that subnet.
// So a deleted Node and an expired (reaped) lease each withdraw the peer's
// route, neighbour and FDB entry, and a stale Node that still names a subnet
// the IPAM handed to someone else is never routed to.
import type { KubeObject } from '../core/types.ts';
import type { Lease } from '../overlay/ipam.ts';
import { normalizeCidr } from '../core/cidr.ts';
import { peersFromNodes, podCidrSpec, vtepAnnotations } from '../overlay/node-annotations.ts';
import type { OverlayPeer } from '../overlay/vxlan.ts';
import { KUBELET_ENDPOINT_ANNOTATION } from '../core/well-known.ts';


function sameSubnets(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const x = a.map((s) => normalizeCidr(s)).sort();
  const y = b.map((s) => normalizeCidr(s)).sort();
  return x.every((s, i) => s === y[i]);
}

/** Remote nodes to program: published on their Node and backed by a live lease of the same subnets. */
export function overlayPeers(nodes: readonly KubeObject[], leases: readonly Lease[], selfName: string): OverlayPeer[] {
  const byNode = new Map(leases.map((l) => [l.node, l]));
  return peersFromNodes([...nodes], selfName).filter((p) => {
    const lease = byNode.get(p.name);
    return lease !== undefined && sameSubnets(lease.subnets, p.subnets);
  });
}

export interface NodeNetworkFacts {
  subnets: string[];
  vtepIp: string;
  vtepMac: string;
  kubeletEndpoint?: string;
}

/** The merge patch that publishes this node's lease, VTEP and kubelet endpoint on its Node. */
export function nodeNetworkPatch(facts: NodeNetworkFacts): { metadata: { annotations: Record<string, string> }; spec: { podCIDR: string; podCIDRs: string[] } } {
  const annotations = vtepAnnotations({ ip: facts.vtepIp, mac: facts.vtepMac });
  if (facts.kubeletEndpoint) annotations[KUBELET_ENDPOINT_ANNOTATION] = facts.kubeletEndpoint;
  return { metadata: { annotations }, spec: podCidrSpec(facts.subnets) };
}

/** Whether the stored Node already shows everything the patch would write. */
export function nodeShowsPatch(node: KubeObject | undefined, patch: ReturnType<typeof nodeNetworkPatch>): boolean {
  if (!node) return false;
  const ann = node.metadata.annotations ?? {};
  for (const [k, v] of Object.entries(patch.metadata.annotations)) if (ann[k] !== v) return false;
  const spec = (node.spec ?? {}) as { podCIDR?: unknown; podCIDRs?: unknown };
  if (spec.podCIDR !== patch.spec.podCIDR) return false;
  return Array.isArray(spec.podCIDRs) && sameSubnets(spec.podCIDRs.map(String), patch.spec.podCIDRs);
}

/**
 * A fixed MAC for the node bridge, from its gateway address (0a:58 + the IPv4
 * bytes, as Kubernetes CNI plugins do). A bridge without an explicitly set
 * MAC takes the lowest MAC of its ports, so it would change whenever a pod's
 * veth comes or goes, and every pod's ARP entry for the gateway would point
 * at a MAC nobody has until it expires (tens of seconds without traffic).
 */
export function bridgeMacFor(gateway: string): string {
  const parts = gateway.split('.').map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) {
    throw new Error(`bridge MAC: ${gateway} is not an IPv4 address`);
  }
  return ['0a', '58', ...parts.map((n) => n.toString(16).padStart(2, '0'))].join(':');
}
