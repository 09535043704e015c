// The node's pod-network decisions as data. Pure: Node objects in; overlay
// peers, the node's own subnet and the Node patch out.
//
// The node-IPAM controller (src/controllers/node-ipam.ts) writes every node's
// subnet into its Node's spec.podCIDR(s) and removes it when the node is
// deleted or its lease lapses. So a peer is simply another Node that shows
// podCIDRs and a VTEP; a Node that loses its podCIDRs (or is deleted) is
// withdrawn everywhere.
import type { KubeObject } from '../core/types.ts';
import { normalizeCidr } from '../core/cidr.ts';
import { peersFromNodes, podCidrsOfNode, vtepAnnotations } from '../overlay/node-annotations.ts';
import { VTEP_IP_ANNOTATION, VTEP_MAC_ANNOTATION } from '../core/well-known.ts';
import type { OverlayPeer } from '../overlay/vxlan.ts';
import { KUBELET_ENDPOINT_ANNOTATION } from '../core/well-known.ts';


export function sameSubnets(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const norm = (s: string): string => {
    try {
      return normalizeCidr(s);
    } catch {
      return s;
    }
  };
  const x = a.map(norm).sort();
  const y = b.map(norm).sort();
  return x.every((s, i) => s === y[i]);
}

/** This node's subnets as its Node shows them (normalised; [] while the controller has written none). */
export function ownSubnets(node: KubeObject | undefined): string[] {
  if (!node) return [];
  try {
    return podCidrsOfNode(node).map((c) => normalizeCidr(c));
  } catch {
    return [];
  }
}

/**
 * Remote nodes to program: every other Node that shows podCIDRs and a VTEP,
 * except one claiming a subnet of this node (only the controller writes
 * podCIDRs, so that is a misconfiguration; routing it would steal our pods' traffic).
 */
export function overlayPeers(nodes: readonly KubeObject[], selfName: string, selfSubnets: readonly string[]): OverlayPeer[] {
  const mine = new Set(selfSubnets.map((s) => normalizeCidr(s)));
  return peersFromNodes([...nodes], selfName).filter((p) => !p.subnets.some((s) => mine.has(s)));
}

/**
 * What of a Node the overlay depends on, as a comparable string. Only a change
 * of this (podCIDRs, VTEP annotations, existence; for this node also its
 * kubelet endpoint, which it publishes) is worth a reconcile: the Node status
 * the agents repost every 40 s changes none of it.
 */
export function overlayProjection(node: KubeObject, selfName: string): string {
  const ann = node.metadata.annotations ?? {};
  const fields: (string | undefined)[] = [
    [...podCidrsOfNode(node)].sort().join(','),
    ann[VTEP_MAC_ANNOTATION],
    ann[VTEP_IP_ANNOTATION],
  ];
  if (node.metadata.name === selfName) fields.push(ann[KUBELET_ENDPOINT_ANNOTATION]);
  return JSON.stringify(fields);
}

export interface NodeNetworkFacts {
  vtepIp: string;
  vtepMac: string;
  kubeletEndpoint?: string;
}

/** The merge patch that publishes this node's VTEP and kubelet endpoint on its Node (never its podCIDRs: the controller owns those). */
export function nodeNetworkPatch(facts: NodeNetworkFacts): { metadata: { annotations: Record<string, string> } } {
  const annotations = vtepAnnotations({ ip: facts.vtepIp, mac: facts.vtepMac });
  if (facts.kubeletEndpoint) annotations[KUBELET_ENDPOINT_ANNOTATION] = facts.kubeletEndpoint;
  return { metadata: { annotations } };
}

/** Whether the stored Node already shows everything the patch would write. */
export function nodeShowsPatch(node: KubeObject | undefined, patch: ReturnType<typeof nodeNetworkPatch>): boolean {
  if (!node) return false;
  const ann = node.metadata.annotations ?? {};
  return Object.entries(patch.metadata.annotations).every(([k, v]) => ann[k] === v);
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
