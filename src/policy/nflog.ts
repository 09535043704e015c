// NFLOG: packets the policy table logs (`log group G`), read by the agent
// from a netfilter netlink socket (NETLINK_NETFILTER, subsystem ULOG) bound
// to that group in the agent's own network namespace. The message builders
// and parsers are pure (unit-tested on bytes); NflogReader is the shell.
//
// Why NFLOG and not `log` to the kernel log or counters: the kernel log is
// off for non-init network namespaces by default (nf_log_all_netns), and
// counters carry no addresses. NFLOG hands userspace the packet's header and
// the rule's prefix, per namespace, with the rate limit in the rule.
import netlink from 'netlink';
import type { NetlinkSocket } from 'netlink';

const NETLINK_NETFILTER = 12;
const NFNL_SUBSYS_ULOG = 4;
const NFULNL_MSG_PACKET = 0;
const NFULNL_MSG_CONFIG = 1;
const NFULA_CFG_CMD = 1;
const NFULA_CFG_MODE = 2;
const NFULA_CFG_TIMEOUT = 3;
const NFULA_CFG_QTHRESH = 4;
const NFULNL_CFG_CMD_BIND = 1;
const NFULNL_CFG_CMD_UNBIND = 2;
const NFULNL_COPY_PACKET = 2;
const NFULA_PAYLOAD = 9;
const NFULA_PREFIX = 10;
const NLM_F_REQUEST = 1;
const NLM_F_ACK = 4;

export const NFLOG_MSG_PACKET = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;
export const NFLOG_MSG_CONFIG = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;

function attr(type: number, value: Buffer): Buffer {
  const len = 4 + value.length;
  const out = Buffer.alloc((len + 3) & ~3);
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  value.copy(out, 4);
  return out;
}

function nfgen(family: number, resId: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt8(family, 0);
  b.writeUInt8(0, 1); // NFNETLINK_V0
  b.writeUInt16BE(resId, 2);
  return b;
}

function be32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
}

/** The config messages that bind `group` (copy `copyRange` bytes of each packet, deliver each packet at once). */
export function bindMessages(group: number, copyRange = 128): Buffer[] {
  if (!Number.isInteger(group) || group < 0 || group > 65535) throw new Error(`invalid NFLOG group ${group}`);
  const mode = Buffer.alloc(6);
  mode.writeUInt32BE(copyRange, 0);
  mode.writeUInt8(NFULNL_COPY_PACKET, 4);
  return [
    Buffer.concat([nfgen(0, group), attr(NFULA_CFG_CMD, Buffer.from([NFULNL_CFG_CMD_BIND]))]),
    Buffer.concat([nfgen(0, group), attr(NFULA_CFG_MODE, mode), attr(NFULA_CFG_QTHRESH, be32(1)), attr(NFULA_CFG_TIMEOUT, be32(1))]),
  ];
}

export function unbindMessage(group: number): Buffer {
  return Buffer.concat([nfgen(0, group), attr(NFULA_CFG_CMD, Buffer.from([NFULNL_CFG_CMD_UNBIND]))]);
}

export interface NflogPacket {
  group: number;
  prefix: string;
  /** The packet from its network header on (as much as copyRange allowed). */
  payload: Buffer;
}

/** An NFULNL_MSG_PACKET body (after the netlink header). Pure; undefined for what is not one. */
export function parseNflogPacket(data: Buffer): NflogPacket | undefined {
  if (data.length < 4) return undefined;
  const group = data.readUInt16BE(2);
  let prefix = '';
  let payload: Buffer | undefined;
  for (let off = 4; off + 4 <= data.length; ) {
    const len = data.readUInt16LE(off);
    const type = data.readUInt16LE(off + 2) & 0x3fff;
    if (len < 4 || off + len > data.length) break;
    const value = data.subarray(off + 4, off + len);
    if (type === NFULA_PREFIX) prefix = value.toString('latin1').replace(/\0.*$/s, '');
    if (type === NFULA_PAYLOAD) payload = value;
    off += (len + 3) & ~3;
  }
  return payload ? { group, prefix, payload } : undefined;
}

export type PacketProtocol = 'TCP' | 'UDP' | 'SCTP' | 'ICMP' | `${number}`;

export interface PacketHeader {
  src: string;
  dst: string;
  protocol: PacketProtocol;
  /** Destination port (TCP, UDP, SCTP). */
  port?: number;
}

/** The IPv4 addresses, protocol and destination port of a packet. Pure; undefined for non-IPv4 or a short packet. */
export function parseIpv4Header(p: Buffer): PacketHeader | undefined {
  if (p.length < 20 || p[0] >> 4 !== 4) return undefined;
  const ihl = (p[0] & 0x0f) * 4;
  const proto = p[9];
  const addr = (o: number): string => `${p[o]}.${p[o + 1]}.${p[o + 2]}.${p[o + 3]}`;
  const names: Record<number, PacketProtocol> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 132: 'SCTP' };
  const protocol = names[proto] ?? (`${proto}` as PacketProtocol);
  const out: PacketHeader = { src: addr(12), dst: addr(16), protocol };
  const fragOffset = p.readUInt16BE(6) & 0x1fff;
  if ((proto === 6 || proto === 17 || proto === 132) && fragOffset === 0 && p.length >= ihl + 4) out.port = p.readUInt16BE(ihl + 2);
  return out;
}

/** Reads one NFLOG group in the process's network namespace. */
export class NflogReader {
  private readonly socket: NetlinkSocket;

  private constructor(socket: NetlinkSocket, readonly group: number) {
    this.socket = socket;
  }

  /** Bind `group`; `onPacket` gets every logged packet. Throws when the kernel refuses (e.g. the group is taken). */
  static async open(group: number, onPacket: (p: NflogPacket) => void, onError: (err: Error) => void): Promise<NflogReader> {
    const socket = netlink.createNetlink(NETLINK_NETFILTER, { ref: true, recvBufferSize: 1 << 20, sendBufferSize: 1 << 16 });
    socket.on('error', onError);
    socket.on('message', (msgs) => {
      for (const m of msgs) {
        if (m.type !== NFLOG_MSG_PACKET) continue;
        const p = parseNflogPacket(m.data);
        if (p) onPacket(p);
      }
    });
    try {
      for (const body of bindMessages(group)) await socket.request(NFLOG_MSG_CONFIG, body, { flags: NLM_F_REQUEST | NLM_F_ACK, timeout: 2000 });
    } catch (err) {
      socket.close();
      throw err;
    }
    return new NflogReader(socket, group);
  }

  close(): void {
    try {
      this.socket.send(NFLOG_MSG_CONFIG, unbindMessage(this.group), { flags: NLM_F_REQUEST });
    } catch {
      // closing anyway
    }
    this.socket.close();
  }
}
