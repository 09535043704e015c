// How a node tells the others where its VTEP is (like flannel's
// flannel.alpha.coreos.com/backend-data): Node annotations for the VTEP MAC
// and IP, and spec.podCIDR(s) for its subnets. Pure; the agent wires these
// to the API.
import type { KubeObject } from '../core/types.ts';
import type { OverlayPeer } from './vxlan.ts';
import { validateMac } from './names.ts';
import { familyOf, normalizeCidr } from '../core/cidr.ts';
import { VTEP_IP_ANNOTATION, VTEP_MAC_ANNOTATION } from '../core/well-known.ts';


/** Annotations a node publishes on its Node object. */
export function vtepAnnotations(vtep: { ip: string; mac: string }): Record<string, string> {
  familyOf(vtep.ip);
  return { [VTEP_MAC_ANNOTATION]: validateMac(vtep.mac), [VTEP_IP_ANNOTATION]: vtep.ip };
}

/** spec fields a node's lease maps to. */
export function podCidrSpec(subnets: string[]): { podCIDR: string; podCIDRs: string[] } {
  const s = subnets.map((c) => normalizeCidr(c));
  if (s.length === 0) throw new Error('no pod subnet');
  return { podCIDR: s[0], podCIDRs: s };
}

/** A Node's spec.podCIDRs (else spec.podCIDR), as written; [] when it has none. */
export function podCidrsOfNode(node: KubeObject): string[] {
  const spec = (node.spec ?? {}) as { podCIDR?: unknown; podCIDRs?: unknown };
  if (Array.isArray(spec.podCIDRs) && spec.podCIDRs.length > 0) return spec.podCIDRs.map(String);
  return typeof spec.podCIDR === 'string' && spec.podCIDR ? [spec.podCIDR] : [];
}

/** A Node object as an overlay peer, or undefined while it has not published everything (or published garbage). */
export function peerFromNode(node: KubeObject): OverlayPeer | undefined {
  const name = node.metadata.name;
  const ann = node.metadata.annotations ?? {};
  const cidrs = podCidrsOfNode(node);
  const mac = ann[VTEP_MAC_ANNOTATION];
  const ip = ann[VTEP_IP_ANNOTATION];
  if (!name || !mac || !ip || cidrs.length === 0) return undefined;
  try {
    familyOf(ip);
    return { name, vtepIp: ip, vtepMac: validateMac(mac), subnets: cidrs.map((c) => normalizeCidr(String(c))) };
  } catch {
    return undefined;
  }
}

/** Every other node that has published its VTEP. */
export function peersFromNodes(nodes: KubeObject[], selfName: string): OverlayPeer[] {
  const out: OverlayPeer[] = [];
  for (const n of nodes) {
    if (n.metadata.name === selfName) continue;
    const p = peerFromNode(n);
    if (p) out.push(p);
  }
  return out;
}
