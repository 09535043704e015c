// The one typed module around the `netlink` npm package (rtnetlink over
// N-API). Nothing else imports `netlink`. It acts in the network namespace
// of the process (run it under `ip netns exec <ns>` to act in another one);
// only veth peers can be created straight into another namespace, by fd/pid.
//
// Package quirks handled here: link-type data (IFLA_LINKINFO, vxlan, veth
// peer) is raw Buffers built with its format* helpers; there is no named
// "onlink" route flag (RTNH_F_ONLINK = 4 goes in `__unknown`); NLM_F_CREATE,
// EXCL, REPLACE, APPEND are ours to pass. Every interface name is validated
// before it reaches the kernel.
import netlink from 'netlink';
import type { RtNetlinkSocket, rt as rtTypes, ifla as iflaTypes } from 'netlink';
import { bytesToIp, familyOf, ipToBytes, parseCidr, formatCidr, type Family } from '../core/cidr.ts';
import { validateIfName, validateMac } from './names.ts';

export { validateIfName, validateMac };

const { createRtNetlink, AttrStream, FlagsNew, rt, ifla } = netlink;

export const AF_INET = 2;
export const AF_BRIDGE = 7;
export const AF_INET6 = 10;
/** RTNH_F_ONLINK: the gateway is on the link, whatever the addresses say. */
const RTNH_F_ONLINK = 4;
export const RT_TABLE_MAIN = 254;

const CREATE_EXCL = FlagsNew.CREATE | FlagsNew.EXCL;
const CREATE_REPLACE = FlagsNew.CREATE | FlagsNew.REPLACE;

function macToBytes(mac: string): Buffer {
  return Buffer.from(validateMac(mac).split(':').map((h) => parseInt(h, 16)));
}

function bytesToMac(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

function familyNumber(f: Family): number {
  return f === 4 ? AF_INET : AF_INET6;
}

function familyOfNumber(n: number | undefined): Family | undefined {
  return n === AF_INET ? 4 : n === AF_INET6 ? 6 : undefined;
}

function flatten(data: netlink.StreamData): Buffer {
  const s = new AttrStream();
  s.emit(data);
  return Buffer.concat(s.bufs);
}

export interface VxlanInfo {
  vni: number;
  local?: string;
  port: number;
  /** Underlay device index (IFLA_VXLAN_LINK). */
  linkIndex?: number;
  learning: boolean;
}

export interface LinkState {
  index: number;
  name: string;
  /** IFLA_INFO_KIND ("bridge", "veth", "vxlan", …); undefined for physical/loopback. */
  kind?: string;
  mtu: number;
  up: boolean;
  master?: string;
  mac?: string;
  vxlan?: VxlanInfo;
}

export interface AddressState {
  dev: string;
  /** "10.244.1.1/24" */
  cidr: string;
  family: Family;
}

export interface RouteSpec {
  /** "10.244.2.0/24" ("0.0.0.0/0" default) */
  dst: string;
  gateway?: string;
  dev?: string;
  onlink?: boolean;
  table?: number;
  /** "link" for device routes without a gateway; default universe. */
  scope?: 'universe' | 'link' | 'host';
}

export interface RouteState extends Required<Pick<RouteSpec, 'dst' | 'onlink' | 'table'>> {
  gateway?: string;
  dev?: string;
  family: Family;
  protocol: string;
  type: string;
}

export interface NeighbourSpec {
  dev: string;
  ip: string;
  mac: string;
}

export interface NeighbourState extends NeighbourSpec {
  permanent: boolean;
}

export interface FdbSpec {
  dev: string;
  mac: string;
  /** Remote VTEP IP. */
  dst: string;
}

export interface FdbState {
  dev: string;
  mac: string;
  dst?: string;
  permanent: boolean;
  self: boolean;
}

export interface CreateVxlanOptions {
  name: string;
  vni: number;
  /** Local VTEP IP (source of the encapsulated packets). */
  local: string;
  /** UDP destination port (4789). */
  port: number;
  /** Underlay device name. */
  underlay?: string;
  learning?: boolean;
  mtu?: number;
  mac?: string;
}

/** Errors carry the operation and object; `errno`-style code when the kernel gave one. */
export class NetlinkError extends Error {
  readonly code?: string;
  constructor(what: string, cause: unknown) {
    super(`netlink: ${what}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'NetlinkError';
    this.code = errnoCode(cause);
  }
}

/** The package rejects with Error("Request rejected: ESRCH"): recover the code. */
function errnoCode(err: unknown): string | undefined {
  const c = err as { code?: unknown; message?: unknown } | undefined;
  if (typeof c?.code === 'string') return c.code;
  const m = typeof c?.message === 'string' ? /\b(E[A-Z0-9]+)\s*$/.exec(c.message) : null;
  return m ? m[1] : undefined;
}

function isMissing(err: unknown): boolean {
  const code = errnoCode(err);
  return code === 'ENOENT' || code === 'ESRCH' || code === 'ENODEV' || code === 'EADDRNOTAVAIL';
}

/** An rtnetlink socket with typed operations. Close it when done. */
export class Netlink {
  private readonly sock: RtNetlinkSocket;

  private constructor(sock: RtNetlinkSocket) {
    this.sock = sock;
  }

  static open(): Netlink {
    return new Netlink(createRtNetlink());
  }

  close(): void {
    this.sock.socket.close();
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new NetlinkError(what, err);
    }
  }

  // ---- links

  async listLinks(): Promise<LinkState[]> {
    const msgs = await this.call('list links', () => this.sock.getLinks());
    const names = new Map<number, string>();
    for (const m of msgs) if (m.data.index !== undefined && m.attrs.ifname) names.set(m.data.index, m.attrs.ifname);
    return msgs.map((m) => toLinkState(m, names));
  }

  async getLink(name: string): Promise<LinkState | undefined> {
    validateIfName(name);
    return (await this.listLinks()).find((l) => l.name === name);
  }

  private async index(name: string): Promise<number> {
    const l = await this.getLink(name);
    if (!l) throw new NetlinkError(`link ${name}`, new Error('no such device: ENODEV'));
    return l.index;
  }

  private async newLink(what: string, attrs: iflaTypes.LinkAttrs): Promise<void> {
    await this.call(what, () => this.sock.newLink({}, attrs, { flags: CREATE_EXCL }));
  }

  async createBridge(name: string, opts: { mtu?: number; mac?: string } = {}): Promise<void> {
    validateIfName(name);
    await this.newLink(`create bridge ${name}`, {
      ifname: name,
      ...(opts.mtu ? { mtu: opts.mtu } : {}),
      ...(opts.mac ? { address: macToBytes(opts.mac) } : {}),
      linkinfo: flatten(ifla.formatInfo({ kind: 'bridge' })),
    });
  }

  /** A dummy link (a local address holder, e.g. the cluster DNS address). */
  async createDummy(name: string): Promise<void> {
    validateIfName(name);
    await this.newLink(`create dummy ${name}`, { ifname: name, linkinfo: flatten(ifla.formatInfo({ kind: 'dummy' })) });
  }

  /** A veth pair; the peer is created straight into another namespace when peerNetnsFd/Pid is given. */
  async createVeth(name: string, peer: string, opts: { peerNetnsFd?: number; peerNetnsPid?: number; mtu?: number } = {}): Promise<void> {
    validateIfName(name);
    validateIfName(peer);
    const peerAttrs: iflaTypes.LinkAttrs = {
      ifname: peer,
      ...(opts.mtu ? { mtu: opts.mtu } : {}),
      ...(opts.peerNetnsFd !== undefined ? { netNsFd: opts.peerNetnsFd } : {}),
      ...(opts.peerNetnsPid !== undefined ? { netNsPid: opts.peerNetnsPid } : {}),
    };
    const peerMsg = Buffer.concat([rt.formatLink({}), flatten(ifla.formatLinkAttrs(peerAttrs))]);
    await this.newLink(`create veth ${name}/${peer}`, {
      ifname: name,
      ...(opts.mtu ? { mtu: opts.mtu } : {}),
      linkinfo: flatten(ifla.formatInfo({ kind: 'veth', data: flatten(ifla.formatVethInfo({ peer: peerMsg })) })),
    });
  }

  async createVxlan(o: CreateVxlanOptions): Promise<void> {
    validateIfName(o.name);
    if (!Number.isInteger(o.vni) || o.vni < 1 || o.vni > 0xffffff) throw new Error(`invalid VNI ${o.vni}`);
    if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new Error(`invalid VXLAN port ${o.port}`);
    const v6 = familyOf(o.local) === 6;
    const port = Buffer.alloc(2);
    port.writeUInt16BE(o.port);
    const data: iflaTypes.Vxlan = {
      id: o.vni,
      ...(v6 ? { local6: ipToBytes(o.local) } : { local: ipToBytes(o.local) }),
      port,
      learning: o.learning ? 1 : 0,
      ...(o.underlay ? { link: await this.index(validateIfName(o.underlay)) } : {}),
    };
    await this.newLink(`create vxlan ${o.name}`, {
      ifname: o.name,
      ...(o.mtu ? { mtu: o.mtu } : {}),
      ...(o.mac ? { address: macToBytes(o.mac) } : {}),
      linkinfo: flatten(ifla.formatInfo({ kind: 'vxlan', data: flatten(ifla.formatVxlan(data)) })),
    });
  }

  /** Change a link: up/down, MTU, master (null: no master), MAC, or move it into another namespace. */
  async setLink(name: string, change: { up?: boolean; mtu?: number; master?: string | null; mac?: string; netnsFd?: number; netnsPid?: number }): Promise<void> {
    const index = await this.index(validateIfName(name));
    const attrs: iflaTypes.LinkAttrs = {};
    if (change.mtu !== undefined) {
      if (!Number.isInteger(change.mtu) || change.mtu < 68 || change.mtu > 65535) throw new Error(`invalid MTU ${change.mtu}`);
      attrs.mtu = change.mtu;
    }
    if (change.master !== undefined) attrs.master = change.master === null ? 0 : await this.index(validateIfName(change.master));
    if (change.mac !== undefined) attrs.address = macToBytes(change.mac);
    if (change.netnsFd !== undefined) attrs.netNsFd = change.netnsFd;
    if (change.netnsPid !== undefined) attrs.netNsPid = change.netnsPid;
    const data: rtTypes.Link = { index };
    if (change.up !== undefined) {
      data.change = { up: true };
      data.flags = change.up ? { up: true } : {};
    }
    await this.call(`set link ${name}`, () => this.sock.setLink(data, attrs));
  }

  /** Delete a link; returns false if it did not exist. */
  async deleteLink(name: string): Promise<boolean> {
    const l = await this.getLink(validateIfName(name));
    if (!l) return false;
    try {
      await this.sock.delLink({ index: l.index });
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw new NetlinkError(`delete link ${name}`, err);
    }
  }

  // ---- addresses

  async listAddresses(dev?: string): Promise<AddressState[]> {
    const links = await this.listLinks();
    const names = new Map(links.map((l) => [l.index, l.name]));
    const msgs = await this.call('list addresses', () => this.sock.getAddresses());
    const out: AddressState[] = [];
    for (const m of msgs) {
      const family = familyOfNumber(m.data.family);
      const raw = m.attrs.local ?? m.attrs.address;
      const name = names.get(m.data.index ?? -1);
      if (!family || !raw || !name || (dev && name !== dev)) continue;
      out.push({ dev: name, cidr: `${bytesToIp(raw)}/${m.data.prefixlen}`, family });
    }
    return out;
  }

  /** Add "ip/prefix" to a device (host bits allowed: "10.244.1.1/24"). */
  async addAddress(dev: string, cidr: string): Promise<void> {
    const { data, attrs } = await this.addressMessage(dev, cidr);
    await this.call(`add address ${cidr} to ${dev}`, () => this.sock.newAddress(data, attrs, { flags: CREATE_EXCL }));
  }

  async delAddress(dev: string, cidr: string): Promise<void> {
    const { data, attrs } = await this.addressMessage(dev, cidr);
    await this.call(`delete address ${cidr} from ${dev}`, () => this.sock.delAddress(data, attrs));
  }

  private async addressMessage(dev: string, cidr: string): Promise<{ data: rtTypes.Address; attrs: rtTypes.AddressAttrs }> {
    const [ip, len] = cidr.split('/');
    const prefix = Number(len);
    const family = familyOf(ip);
    parseCidr(cidr, { allowHostBits: true });
    const bytes = ipToBytes(ip);
    const attrs: rtTypes.AddressAttrs = { local: bytes, address: bytes };
    if (family === 4 && prefix < 31) {
      const c = parseCidr(cidr, { allowHostBits: true });
      const bcast = parseCidr(formatCidr(c)).network + (1n << BigInt(32 - prefix)) - 1n;
      const b = Buffer.alloc(4);
      b.writeUInt32BE(Number(bcast));
      attrs.broadcast = b;
    }
    return { data: { family: familyNumber(family), prefixlen: prefix, index: await this.index(validateIfName(dev)) }, attrs };
  }

  // ---- routes

  /** Unicast routes of a table (default main), both families unless one is given. */
  async listRoutes(opts: { table?: number; family?: Family } = {}): Promise<RouteState[]> {
    const table = opts.table ?? RT_TABLE_MAIN;
    const names = new Map((await this.listLinks()).map((l) => [l.index, l.name]));
    const msgs = await this.call('list routes', () =>
      this.sock.getRoutes(opts.family ? { family: familyNumber(opts.family) } : undefined),
    );
    const out: RouteState[] = [];
    for (const m of msgs) {
      const family = familyOfNumber(m.data.family);
      const t = m.attrs.table ?? m.data.table;
      if (!family || t !== table) continue;
      const dst = m.attrs.dst ? `${bytesToIp(m.attrs.dst)}/${m.data.dstLen}` : family === 4 ? '0.0.0.0/0' : '::/0';
      const flags = rt.formatRouteFlags(m.data.flags ?? {});
      out.push({
        family,
        dst,
        table: t,
        onlink: (flags & RTNH_F_ONLINK) !== 0,
        ...(m.attrs.gateway ? { gateway: bytesToIp(m.attrs.gateway) } : {}),
        ...(m.attrs.oif !== undefined && names.has(m.attrs.oif) ? { dev: names.get(m.attrs.oif) } : {}),
        protocol: String(m.data.protocol),
        type: String(m.data.type),
      });
    }
    return out;
  }

  private async routeMessage(r: RouteSpec): Promise<{ data: rtTypes.Route; attrs: rtTypes.RouteAttrs }> {
    const dst = parseCidr(r.dst);
    const family = dst.family;
    if (r.gateway && familyOf(r.gateway) !== family) throw new Error(`route ${r.dst}: gateway ${r.gateway} of another family`);
    const scope = r.scope ?? (r.gateway ? 'universe' : 'link');
    const data: rtTypes.Route = {
      family: familyNumber(family),
      dstLen: dst.prefix,
      table: (r.table ?? RT_TABLE_MAIN) < 256 ? (r.table ?? RT_TABLE_MAIN) : 0,
      protocol: 'BOOT',
      scope: scope === 'universe' ? 'UNIVERSE' : scope === 'link' ? 'LINK' : 'HOST',
      type: 'UNICAST',
      ...(r.onlink ? { flags: { __unknown: RTNH_F_ONLINK } } : {}),
    };
    const attrs: rtTypes.RouteAttrs = {
      ...(dst.prefix > 0 ? { dst: ipToBytes(formatCidr(dst).split('/')[0]) } : {}),
      ...(r.gateway ? { gateway: ipToBytes(r.gateway) } : {}),
      ...(r.dev ? { oif: await this.index(validateIfName(r.dev)) } : {}),
      table: r.table ?? RT_TABLE_MAIN,
    };
    return { data, attrs };
  }

  async addRoute(r: RouteSpec): Promise<void> {
    const { data, attrs } = await this.routeMessage(r);
    await this.call(`add route ${r.dst}`, () => this.sock.newRoute(data, attrs, { flags: CREATE_EXCL }));
  }

  async replaceRoute(r: RouteSpec): Promise<void> {
    const { data, attrs } = await this.routeMessage(r);
    await this.call(`replace route ${r.dst}`, () => this.sock.newRoute(data, attrs, { flags: CREATE_REPLACE }));
  }

  /** Delete a route; returns false if there was none. */
  async delRoute(r: RouteSpec): Promise<boolean> {
    const { data, attrs } = await this.routeMessage(r);
    delete data.protocol;
    delete data.scope;
    try {
      await this.sock.delRoute({ ...data, scope: 'NOWHERE' }, attrs);
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw new NetlinkError(`delete route ${r.dst}`, err);
    }
  }

  // ---- neighbours (ARP / NDP)

  async listNeighbours(dev: string): Promise<NeighbourState[]> {
    const index = await this.index(validateIfName(dev));
    const msgs = await this.call(`list neighbours of ${dev}`, () => this.sock.getNeighbors());
    const out: NeighbourState[] = [];
    for (const m of msgs) {
      if (m.data.ifindex !== index || !familyOfNumber(m.data.family) || !m.attrs.dst) continue;
      out.push({
        dev,
        ip: bytesToIp(m.attrs.dst),
        mac: m.attrs.lladdr ? bytesToMac(m.attrs.lladdr) : '',
        permanent: Boolean(m.data.state?.permanent),
      });
    }
    return out;
  }

  /** Add or replace a permanent neighbour entry. */
  async setNeighbour(n: NeighbourSpec): Promise<void> {
    const index = await this.index(validateIfName(n.dev));
    await this.call(`set neighbour ${n.ip} on ${n.dev}`, () =>
      this.sock.newNeighbor(
        { family: familyNumber(familyOf(n.ip)), ifindex: index, state: { permanent: true } },
        { dst: ipToBytes(n.ip), lladdr: macToBytes(n.mac) },
        { flags: CREATE_REPLACE },
      ),
    );
  }

  async delNeighbour(n: { dev: string; ip: string }): Promise<boolean> {
    const index = await this.index(validateIfName(n.dev));
    try {
      await this.sock.delNeighbor({ family: familyNumber(familyOf(n.ip)), ifindex: index }, { dst: ipToBytes(n.ip) });
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw new NetlinkError(`delete neighbour ${n.ip} on ${n.dev}`, err);
    }
  }

  // ---- bridge FDB (AF_BRIDGE neighbours; on a vxlan device: MAC → remote VTEP)

  async listFdb(dev: string): Promise<FdbState[]> {
    const index = await this.index(validateIfName(dev));
    const msgs = await this.call(`list fdb of ${dev}`, () => this.sock.getNeighbors({ family: AF_BRIDGE }));
    const out: FdbState[] = [];
    for (const m of msgs) {
      if (m.data.family !== AF_BRIDGE || m.data.ifindex !== index || !m.attrs.lladdr) continue;
      out.push({
        dev,
        mac: bytesToMac(m.attrs.lladdr),
        ...(m.attrs.dst ? { dst: bytesToIp(m.attrs.dst) } : {}),
        permanent: Boolean(m.data.state?.permanent),
        self: Boolean(m.data.flags?.self),
      });
    }
    return out;
  }

  /** Add or replace a permanent `self` FDB entry: frames to `mac` go to VTEP `dst`. */
  async setFdb(f: FdbSpec): Promise<void> {
    const index = await this.index(validateIfName(f.dev));
    await this.call(`set fdb ${f.mac} → ${f.dst} on ${f.dev}`, () =>
      this.sock.newNeighbor(
        { family: AF_BRIDGE, ifindex: index, state: { permanent: true }, flags: { self: true } },
        { lladdr: macToBytes(f.mac), dst: ipToBytes(f.dst) },
        { flags: CREATE_REPLACE },
      ),
    );
  }

  async delFdb(f: { dev: string; mac: string; dst?: string }): Promise<boolean> {
    const index = await this.index(validateIfName(f.dev));
    try {
      await this.sock.delNeighbor(
        { family: AF_BRIDGE, ifindex: index, flags: { self: true } },
        { lladdr: macToBytes(f.mac), ...(f.dst ? { dst: ipToBytes(f.dst) } : {}) },
      );
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw new NetlinkError(`delete fdb ${f.mac} on ${f.dev}`, err);
    }
  }
}

function toLinkState(m: rtTypes.LinkMessage, names: Map<number, string>): LinkState {
  const info = m.attrs.linkinfo ? ifla.parseInfo(m.attrs.linkinfo) : undefined;
  const state: LinkState = {
    index: m.data.index ?? 0,
    name: m.attrs.ifname ?? '',
    mtu: m.attrs.mtu ?? 0,
    up: Boolean(m.data.flags?.up),
  };
  if (info?.kind) state.kind = info.kind;
  if (m.attrs.master) state.master = names.get(m.attrs.master);
  if (m.attrs.address && m.attrs.address.length === 6) state.mac = bytesToMac(m.attrs.address);
  if (info?.kind === 'vxlan' && info.data) {
    const v = ifla.parseVxlan(info.data);
    const local = v.local ?? v.local6;
    state.vxlan = {
      vni: v.id ?? 0,
      ...(local ? { local: bytesToIp(local) } : {}),
      port: v.port ? v.port.readUInt16BE(0) : 0,
      ...(v.link ? { linkIndex: v.link } : {}),
      learning: Boolean(v.learning),
    };
  }
  return state;
}
