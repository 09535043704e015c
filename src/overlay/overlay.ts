// The overlay's imperative shell: read what the kernel holds, diff it with
// desiredOverlay (src/overlay/vxlan.ts), apply the difference through
// netlink.ts, turn forwarding on and masquerade pod traffic leaving the
// cluster (nftables table inet meshlet-nat). Runs in the node's network
// namespace (the agent's own, or under `ip netns exec`).
//
// Level-triggered: applyOverlay always reconciles from the kernel's actual
// state, so a restart, a crash halfway or a stale entry is fixed by the next
// call. A change that fails does not stop the others; the errors are thrown
// together at the end (the next reconcile retries them).
import { writeFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { Netlink, type LinkState } from './netlink.ts';
import { familyOf } from '../core/cidr.ts';
import { diffOverlay, describeChanges, type ActualLink, type ActualOverlay, type DesiredOverlay, type OverlayChanges } from './vxlan.ts';
import { defaultMasquerade, type Masquerade } from './masquerade.ts';

function toActualLink(l: LinkState, names: Map<number, string>): ActualLink {
  return {
    name: l.name,
    ...(l.kind ? { kind: l.kind } : {}),
    mtu: l.mtu,
    up: l.up,
    ...(l.mac ? { mac: l.mac } : {}),
    ...(l.master ? { master: l.master } : {}),
    ...(l.vxlan
      ? {
          vxlan: {
            vni: l.vxlan.vni,
            port: l.vxlan.port,
            ...(l.vxlan.local ? { local: l.vxlan.local } : {}),
            ...(l.vxlan.linkIndex !== undefined && names.has(l.vxlan.linkIndex) ? { underlay: names.get(l.vxlan.linkIndex) } : {}),
            learning: l.vxlan.learning,
          },
        }
      : {}),
  };
}

/** What the kernel holds for the overlay devices `vxlanName` and `bridgeName`. */
export async function readOverlay(nl: Netlink, vxlanName: string, bridgeName: string): Promise<ActualOverlay> {
  const links = await nl.listLinks();
  const names = new Map(links.map((l) => [l.index, l.name]));
  const vx = links.find((l) => l.name === vxlanName);
  const br = links.find((l) => l.name === bridgeName);
  const addresses = (await nl.listAddresses()).filter((a) => a.dev === vxlanName || a.dev === bridgeName);
  const isVx = vx?.kind === 'vxlan';
  return {
    ...(vx ? { vxlan: toActualLink(vx, names) } : {}),
    ...(br ? { bridge: toActualLink(br, names) } : {}),
    addresses: addresses.map((a) => ({ dev: a.dev, cidr: a.cidr })),
    routes: vx ? (await nl.listRoutes()).filter((r) => r.dev === vxlanName) : [],
    neighbours: vx ? await nl.listNeighbours(vxlanName) : [],
    fdb: isVx ? await nl.listFdb(vxlanName) : [],
  };
}

/** Apply a diff in a safe order: devices, addresses, removals (route, neighbour, FDB), then additions (neighbour, FDB, route). */
export async function applyChanges(nl: Netlink, ch: OverlayChanges): Promise<void> {
  const errors: unknown[] = [];
  const step = async (fn: () => Promise<unknown>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      errors.push(err);
    }
  };
  // Devices come first and must succeed: everything else hangs off them.
  for (const l of ch.deleteLinks) await nl.deleteLink(l);
  if (ch.createVxlan) {
    const v = ch.createVxlan;
    await nl.createVxlan({ name: v.name, vni: v.vni, local: v.local, port: v.port, underlay: v.underlay, learning: v.learning, mtu: v.mtu, mac: v.mac });
  }
  if (ch.createBridge) await nl.createBridge(ch.createBridge.name, { mtu: ch.createBridge.mtu });
  for (const s of ch.setLinks) await nl.setLink(s.name, { ...(s.mtu !== undefined ? { mtu: s.mtu } : {}), ...(s.up ? { up: true } : {}) });
  for (const a of ch.removeAddresses) await step(() => nl.delAddress(a.dev, a.cidr));
  for (const a of ch.addAddresses) await step(() => nl.addAddress(a.dev, a.cidr));
  for (const r of ch.removeRoutes) await step(() => nl.delRoute({ dst: r.dst, gateway: r.via, dev: r.dev, onlink: r.onlink }));
  for (const n of ch.removeNeighbours) await step(() => nl.delNeighbour(n));
  for (const f of ch.removeFdb) await step(() => nl.delFdb(f));
  for (const n of ch.addNeighbours) await step(() => nl.setNeighbour(n));
  for (const f of ch.addFdb) await step(() => nl.setFdb(f));
  for (const r of ch.addRoutes) await step(() => nl.replaceRoute({ dst: r.dst, gateway: r.via, dev: r.dev, onlink: r.onlink }));
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `overlay: ${errors.length} changes failed: ${errors.map((e) => (e instanceof Error ? e.message : String(e))).join('; ')}`);
}

/** Turn on IPv4 (and, with IPv6 subnets, IPv6) forwarding in this namespace. */
export async function enableForwarding(families: Set<4 | 6>): Promise<void> {
  if (families.has(4)) await writeFile('/proc/sys/net/ipv4/ip_forward', '1\n');
  if (families.has(6)) await writeFile('/proc/sys/net/ipv6/conf/all/forwarding', '1\n');
}

export interface ApplyOverlayOptions {
  /** Reuse a socket (else one is opened and closed). */
  netlink?: Netlink;
  /** Masquerade pod traffic leaving the cluster (default true). */
  masquerade?: boolean;
  /** The NAT table's adapter, which remembers what it committed (default: the process's, see defaultMasquerade). */
  nat?: Masquerade;
  /** Turn on forwarding (default true). */
  forwarding?: boolean;
  logger?: Logger;
}

export interface ApplyOverlayResult {
  changes: OverlayChanges;
  /** The VXLAN device's MAC: publish it (Node annotation meshlet.io/vtep-mac) for the other nodes. */
  vtepMac: string;
}

/** Reconcile the node's overlay with `desired`. Idempotent. */
export async function applyOverlay(desired: DesiredOverlay, opts: ApplyOverlayOptions = {}): Promise<ApplyOverlayResult> {
  const nl = opts.netlink ?? Netlink.open();
  try {
    for (const s of desired.skipped) opts.logger?.warn({ peer: s.peer, reason: s.reason }, 'overlay: peer skipped');
    const actual = await readOverlay(nl, desired.vxlan.name, desired.bridge.name);
    const changes = diffOverlay(actual, desired);
    const lines = describeChanges(changes);
    if (lines.length) opts.logger?.info({ changes: lines }, 'overlay: applying changes');
    await applyChanges(nl, changes);
    if (opts.forwarding ?? true) await enableForwarding(new Set(desired.podCidrs.map((c) => familyOf(c.split('/')[0]))));
    if (opts.masquerade ?? true) {
      const nat = await (opts.nat ?? defaultMasquerade(opts.logger)).sync(desired.podCidrs, desired.clusterCidrs);
      if (nat.ops) opts.logger?.info({ mode: nat.mode, ops: nat.ops }, 'overlay: masquerade table updated');
    }
    const vx = await nl.getLink(desired.vxlan.name);
    if (!vx?.mac) throw new Error(`overlay: ${desired.vxlan.name} has no MAC address after apply`);
    return { changes, vtepMac: vx.mac };
  } finally {
    if (!opts.netlink) nl.close();
  }
}

/** Remove the overlay devices and the NAT table from this namespace. */
export async function removeOverlay(vxlanName: string, bridgeName: string, opts: { netlink?: Netlink; nat?: Masquerade } = {}): Promise<void> {
  const nl = opts.netlink ?? Netlink.open();
  try {
    await nl.deleteLink(vxlanName);
    await nl.deleteLink(bridgeName);
    await (opts.nat ?? defaultMasquerade()).remove();
  } finally {
    if (!opts.netlink) nl.close();
  }
}
