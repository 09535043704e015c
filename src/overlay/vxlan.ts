// The VXLAN overlay as data: what a node's kernel should hold (desiredOverlay)
// and what to change to get there from what it holds (diffOverlay). Pure.
//
// flannel's vxlan backend (pkg/backend/vxlan), node by node:
// - one VXLAN device `mlvx<vni>` (VNI 1, UDP 4789, learning off, MTU =
//   underlay MTU − 50) whose address is the own subnet's network address /32
//   (/128 for IPv6);
// - one bridge `mlbr0` for the node's pods, holding the gateway address
//   (first host of the own subnet, with the subnet's prefix);
// - per remote node and family: a permanent neighbour entry (remote subnet's
//   network address → remote VTEP MAC), a permanent `self` FDB entry (remote
//   VTEP MAC → remote VTEP IP) and a route (remote subnet via its network
//   address, onlink, dev vxlan). No L2/L3 miss handling.
import { gatewayOf, parseCidr, contains, familyOf, bigIntToIp, normalizeCidr } from '../core/cidr.ts';
import { validateIfName, validateMac } from './names.ts';
import type { FdbState, NeighbourState, RouteState } from './netlink.ts';
import { BRIDGE_NAME } from '../core/well-known.ts';

export const VXLAN_PORT = 4789;
export const VXLAN_OVERHEAD = 50;

export function vxlanDeviceName(vni: number): string {
  return validateIfName(`mlvx${vni}`);
}

export interface OverlaySelf {
  name: string;
  /** Underlay IP that other nodes send VXLAN packets to. */
  vtepIp: string;
  /** The node's pod subnets (one per family). */
  subnets: string[];
  /** Fix the VXLAN device's MAC (stable across restarts); else the kernel picks one. */
  mac?: string;
  /** Underlay device name (IFLA_VXLAN_LINK). */
  underlayDev?: string;
}

export interface OverlayPeer {
  name: string;
  vtepIp: string;
  vtepMac: string;
  subnets: string[];
}

export interface OverlayConfig {
  vni: number;
  port: number;
  underlayMtu: number;
  clusterCidrs: string[];
}

export interface VxlanDeviceSpec {
  name: string;
  vni: number;
  port: number;
  local: string;
  underlay?: string;
  mtu: number;
  learning: false;
  mac?: string;
  /** Own subnets' network addresses, "/32" or "/128". */
  addresses: string[];
}

export interface BridgeSpec {
  name: string;
  mtu: number;
  /** Gateway addresses, "10.244.1.1/24". */
  addresses: string[];
}

export interface OverlayRoute {
  dst: string;
  via: string;
  dev: string;
  onlink: true;
}

export interface OverlayNeighbour {
  ip: string;
  mac: string;
  dev: string;
}

export interface OverlayFdb {
  mac: string;
  dst: string;
  dev: string;
}

export interface DesiredOverlay {
  vxlan: VxlanDeviceSpec;
  bridge: BridgeSpec;
  routes: OverlayRoute[];
  neighbours: OverlayNeighbour[];
  fdb: OverlayFdb[];
  /** For masquerade: the own pod subnets and the cluster CIDRs. */
  podCidrs: string[];
  clusterCidrs: string[];
  /** Peers left out, with why (bad data from another node must not break this one). */
  skipped: { peer: string; reason: string }[];
}

function checkSubnets(subnets: string[], clusterCidrs: string[], who: string): string[] {
  if (!Array.isArray(subnets) || subnets.length === 0) throw new Error(`${who} has no subnet`);
  const out = subnets.map((s) => normalizeCidr(s));
  for (const s of out) {
    if (!clusterCidrs.some((c) => contains(c, s))) throw new Error(`${who}: subnet ${s} is outside the cluster CIDRs ${clusterCidrs.join(',')}`);
  }
  if (new Set(out.map((s) => familyOf(s.split('/')[0]))).size !== out.length) throw new Error(`${who}: more than one subnet per family`);
  return out;
}

function networkAddress(cidr: string): string {
  const c = parseCidr(cidr);
  return bigIntToIp(c.network, c.family);
}

export function desiredOverlay(self: OverlaySelf, peers: OverlayPeer[], cfg: OverlayConfig): DesiredOverlay {
  if (!Number.isInteger(cfg.vni) || cfg.vni < 1 || cfg.vni > 0xffffff) throw new Error(`invalid VNI ${cfg.vni}`);
  if (!Number.isInteger(cfg.underlayMtu) || cfg.underlayMtu < 68 + VXLAN_OVERHEAD) throw new Error(`invalid underlay MTU ${cfg.underlayMtu}`);
  const clusterCidrs = cfg.clusterCidrs.map((c) => normalizeCidr(c));
  const own = checkSubnets(self.subnets, clusterCidrs, `node ${self.name}`);
  familyOf(self.vtepIp);
  const dev = vxlanDeviceName(cfg.vni);
  const mtu = cfg.underlayMtu - VXLAN_OVERHEAD;
  const vxlan: VxlanDeviceSpec = {
    name: dev,
    vni: cfg.vni,
    port: cfg.port,
    local: self.vtepIp,
    ...(self.underlayDev ? { underlay: validateIfName(self.underlayDev) } : {}),
    mtu,
    learning: false,
    ...(self.mac ? { mac: validateMac(self.mac) } : {}),
    addresses: own.map((s) => `${networkAddress(s)}/${familyOf(networkAddress(s)) === 4 ? 32 : 128}`),
  };
  const bridge: BridgeSpec = {
    name: BRIDGE_NAME,
    mtu,
    addresses: own.map((s) => `${gatewayOf(parseCidr(s))}/${parseCidr(s).prefix}`),
  };
  const routes: OverlayRoute[] = [];
  const neighbours: OverlayNeighbour[] = [];
  const fdb: OverlayFdb[] = [];
  const skipped: DesiredOverlay['skipped'] = [];
  const seenNames = new Set<string>([self.name]);
  const seenMacs = new Set<string>();
  const seenSubnets = new Set<string>(own);
  const sorted = [...peers].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const p of sorted) {
    try {
      if (seenNames.has(p.name)) throw new Error(p.name === self.name ? 'is this node' : 'duplicate node');
      if (p.vtepIp === self.vtepIp) throw new Error(`has this node's VTEP IP ${p.vtepIp}`);
      familyOf(p.vtepIp);
      const mac = validateMac(p.vtepMac);
      if (seenMacs.has(mac)) throw new Error(`VTEP MAC ${mac} is used by another node`);
      const subnets = checkSubnets(p.subnets, clusterCidrs, `node ${p.name}`);
      for (const s of subnets) if (seenSubnets.has(s)) throw new Error(`subnet ${s} is claimed twice`);
      seenNames.add(p.name);
      seenMacs.add(mac);
      for (const s of subnets) {
        seenSubnets.add(s);
        const via = networkAddress(s);
        neighbours.push({ ip: via, mac, dev });
        routes.push({ dst: s, via, dev, onlink: true });
      }
      fdb.push({ mac, dst: p.vtepIp, dev });
    } catch (err) {
      skipped.push({ peer: p.name, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  return { vxlan, bridge, routes, neighbours, fdb, podCidrs: own, clusterCidrs, skipped };
}

// ---- actual state and the diff

export interface ActualLink {
  name: string;
  kind?: string;
  mtu: number;
  up: boolean;
  mac?: string;
  master?: string;
  vxlan?: { vni: number; port: number; local?: string; underlay?: string; learning: boolean };
}

export interface ActualOverlay {
  vxlan?: ActualLink;
  bridge?: ActualLink;
  /** Addresses of the vxlan device and the bridge ("dev", "ip/prefix"). */
  addresses: { dev: string; cidr: string }[];
  /** Routes through the vxlan device. */
  routes: RouteState[];
  /** Neighbour entries of the vxlan device. */
  neighbours: NeighbourState[];
  /** FDB entries of the vxlan device. */
  fdb: FdbState[];
}

export interface OverlayChanges {
  deleteLinks: string[];
  createVxlan?: VxlanDeviceSpec;
  createBridge?: BridgeSpec;
  setLinks: { name: string; mtu?: number; up?: boolean }[];
  removeAddresses: { dev: string; cidr: string }[];
  addAddresses: { dev: string; cidr: string }[];
  removeRoutes: { dst: string; via?: string; dev: string; onlink: boolean }[];
  removeNeighbours: { ip: string; dev: string }[];
  removeFdb: { mac: string; dst?: string; dev: string }[];
  /** Added or replaced, in flannel's order: neighbours, FDB, routes. */
  addNeighbours: OverlayNeighbour[];
  addFdb: OverlayFdb[];
  addRoutes: OverlayRoute[];
}

export function isEmptyChange(c: OverlayChanges): boolean {
  return (
    c.deleteLinks.length + c.setLinks.length + c.removeAddresses.length + c.addAddresses.length + c.removeRoutes.length +
      c.removeNeighbours.length + c.removeFdb.length + c.addNeighbours.length + c.addFdb.length + c.addRoutes.length === 0 &&
    !c.createVxlan &&
    !c.createBridge
  );
}

function vxlanMatches(a: ActualLink, d: VxlanDeviceSpec): boolean {
  const v = a.vxlan;
  return (
    a.kind === 'vxlan' && v !== undefined && v.vni === d.vni && v.port === d.port && v.local === d.local &&
    !v.learning && (d.underlay === undefined || v.underlay === d.underlay) && (d.mac === undefined || a.mac === d.mac)
  );
}

const isLinkLocal = (cidr: string): boolean => /^fe80:/i.test(cidr);

function diffLink(actual: ActualLink | undefined, mtu: number, recreate: boolean): { mtu?: number; up?: boolean } {
  if (!actual || recreate) return { mtu, up: true };
  const out: { mtu?: number; up?: boolean } = {};
  if (actual.mtu !== mtu) out.mtu = mtu;
  if (!actual.up) out.up = true;
  return out;
}

/** What to change so that `actual` becomes `desired`; stale entries go, nothing is duplicated. */
export function diffOverlay(actual: ActualOverlay, desired: DesiredOverlay): OverlayChanges {
  const dev = desired.vxlan.name;
  const br = desired.bridge.name;
  const ch: OverlayChanges = {
    deleteLinks: [], setLinks: [], removeAddresses: [], addAddresses: [], removeRoutes: [], removeNeighbours: [],
    removeFdb: [], addNeighbours: [], addFdb: [], addRoutes: [],
  };
  // Devices: a VXLAN device with other parameters (or another kind under our name) is recreated.
  const recreateVx = actual.vxlan !== undefined && !vxlanMatches(actual.vxlan, desired.vxlan);
  const recreateBr = actual.bridge !== undefined && actual.bridge.kind !== 'bridge';
  if (recreateVx) ch.deleteLinks.push(dev);
  if (recreateBr) ch.deleteLinks.push(br);
  if (!actual.vxlan || recreateVx) ch.createVxlan = desired.vxlan;
  if (!actual.bridge || recreateBr) ch.createBridge = desired.bridge;
  for (const [name, a, mtu, again] of [
    [dev, actual.vxlan, desired.vxlan.mtu, recreateVx],
    [br, actual.bridge, desired.bridge.mtu, recreateBr],
  ] as const) {
    const s = diffLink(a, mtu, again);
    if (s.mtu !== undefined || s.up !== undefined) ch.setLinks.push({ name, ...s });
  }
  // Everything on a recreated (or new) device starts from nothing.
  const vxGone = !actual.vxlan || recreateVx;
  const brGone = !actual.bridge || recreateBr;
  const onDev = (d: string): boolean => (d === dev ? !vxGone : d === br ? !brGone : false);

  // Addresses.
  const want = new Map<string, Set<string>>([
    [dev, new Set(desired.vxlan.addresses)],
    [br, new Set(desired.bridge.addresses)],
  ]);
  const have = new Map<string, Set<string>>([[dev, new Set()], [br, new Set()]]);
  for (const a of actual.addresses) {
    if (!onDev(a.dev) || isLinkLocal(a.cidr)) continue;
    have.get(a.dev)?.add(a.cidr);
    if (!want.get(a.dev)?.has(a.cidr)) ch.removeAddresses.push({ dev: a.dev, cidr: a.cidr });
  }
  for (const [d, set] of want) for (const cidr of set) if (!have.get(d)?.has(cidr)) ch.addAddresses.push({ dev: d, cidr });

  // Routes through the VXLAN device (kernel-made routes, e.g. fe80::/64, are not ours).
  const wantRoutes = new Map(desired.routes.map((r) => [r.dst, r]));
  const goodRoutes = new Set<string>();
  if (!vxGone) {
    for (const r of actual.routes) {
      if (r.dev !== dev || r.protocol === 'KERNEL' || isLinkLocal(r.dst)) continue;
      const w = wantRoutes.get(r.dst);
      if (w && r.gateway === w.via && r.onlink && !goodRoutes.has(r.dst)) goodRoutes.add(r.dst);
      else if (!w) ch.removeRoutes.push({ dst: r.dst, ...(r.gateway ? { via: r.gateway } : {}), dev, onlink: r.onlink });
      // A desired destination with a wrong gateway is replaced below, not removed.
    }
  }
  for (const r of desired.routes) if (!goodRoutes.has(r.dst)) ch.addRoutes.push(r);

  // Permanent neighbour entries of the VXLAN device.
  const wantNeigh = new Map(desired.neighbours.map((n) => [n.ip, n]));
  const goodNeigh = new Set<string>();
  if (!vxGone) {
    for (const n of actual.neighbours) {
      if (!n.permanent) continue;
      const w = wantNeigh.get(n.ip);
      if (w && n.mac === w.mac) goodNeigh.add(n.ip);
      else if (!w) ch.removeNeighbours.push({ ip: n.ip, dev });
    }
  }
  for (const n of desired.neighbours) if (!goodNeigh.has(n.ip)) ch.addNeighbours.push(n);

  // FDB: one permanent entry per remote VTEP MAC, pointing at its VTEP IP.
  const wantFdb = new Map(desired.fdb.map((f) => [f.mac, f]));
  const goodFdb = new Set<string>();
  if (!vxGone) {
    for (const f of actual.fdb) {
      if (!f.permanent) continue;
      const w = wantFdb.get(f.mac);
      if (w && f.dst === w.dst && !goodFdb.has(f.mac)) goodFdb.add(f.mac);
      else ch.removeFdb.push({ mac: f.mac, ...(f.dst ? { dst: f.dst } : {}), dev });
    }
  }
  for (const f of desired.fdb) if (!goodFdb.has(f.mac)) ch.addFdb.push(f);
  return ch;
}

/** Render a plan for logs: one line per change. */
export function describeChanges(c: OverlayChanges): string[] {
  const out: string[] = [];
  for (const l of c.deleteLinks) out.push(`delete link ${l}`);
  if (c.createVxlan) out.push(`create vxlan ${c.createVxlan.name} vni ${c.createVxlan.vni} local ${c.createVxlan.local} port ${c.createVxlan.port}`);
  if (c.createBridge) out.push(`create bridge ${c.createBridge.name}`);
  for (const s of c.setLinks) out.push(`set link ${s.name}${s.mtu ? ` mtu ${s.mtu}` : ''}${s.up ? ' up' : ''}`);
  for (const a of c.removeAddresses) out.push(`del address ${a.cidr} dev ${a.dev}`);
  for (const a of c.addAddresses) out.push(`add address ${a.cidr} dev ${a.dev}`);
  for (const r of c.removeRoutes) out.push(`del route ${r.dst}${r.via ? ` via ${r.via}` : ''} dev ${r.dev}`);
  for (const n of c.removeNeighbours) out.push(`del neigh ${n.ip} dev ${n.dev}`);
  for (const f of c.removeFdb) out.push(`del fdb ${f.mac}${f.dst ? ` dst ${f.dst}` : ''} dev ${f.dev}`);
  for (const n of c.addNeighbours) out.push(`set neigh ${n.ip} lladdr ${n.mac} dev ${n.dev} permanent`);
  for (const f of c.addFdb) out.push(`set fdb ${f.mac} dst ${f.dst} dev ${f.dev} self permanent`);
  for (const r of c.addRoutes) out.push(`set route ${r.dst} via ${r.via} dev ${r.dev} onlink`);
  return out;
}

