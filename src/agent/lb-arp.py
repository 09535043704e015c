#!/usr/bin/env python3
# meshlet's layer-2 LoadBalancer announcer (started by src/agent/lb-announcer.ts):
# answers ARP requests for the IPv4 addresses it is given, on one interface,
# with that interface's MAC, and sends gratuitous ARP for each address it starts
# announcing. The addresses are never configured on the node: when this process
# ends (its agent stopped or died: stdin closes), nobody on this node answers
# for them any more, so a dead agent cannot keep an address (as MetalLB's
# speaker). Input, one JSON line each: {"ips": ["a.b.c.d", ...]}. Output, one
# JSON line per input line: {"announcing": [...], "garp": [...], "replies": N}.
import json, os, select, socket, struct, sys

ETH_P_ARP = 0x0806
PACKET_OUTGOING = 4
BROADCAST = b'\xff' * 6


def frame(dst_mac, src_mac, op, sha, spa, tha, tpa):
    eth = dst_mac + src_mac + struct.pack('!H', ETH_P_ARP)
    arp = struct.pack('!HHBBH', 1, 0x0800, 6, 4, op) + sha + spa + tha + tpa
    return eth + arp


def main():
    ifname = sys.argv[1]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    s.bind((ifname, ETH_P_ARP))
    mac = s.getsockname()[4]
    ips = set()
    replies = 0

    def garp(ip):
        b = socket.inet_aton(ip)
        # Both forms: a request (what most hosts act on) and a reply.
        s.send(frame(BROADCAST, mac, 1, mac, b, b'\x00' * 6, b))
        s.send(frame(BROADCAST, mac, 2, mac, b, BROADCAST, b))

    stdin = sys.stdin.buffer
    buf = b''
    print(json.dumps({'ready': True, 'mac': mac.hex(':')}), flush=True)
    while True:
        r, _, _ = select.select([s, stdin], [], [])
        if stdin in r:
            chunk = os.read(stdin.fileno(), 65536)
            if not chunk:
                return
            buf += chunk
            while b'\n' in buf:
                line, buf = buf.split(b'\n', 1)
                want = set(json.loads(line)['ips'])
                for ip in want:
                    socket.inet_aton(ip)
                new = sorted(want - ips)
                ips = want
                for ip in new:
                    garp(ip)
                print(json.dumps({'announcing': sorted(ips), 'garp': new, 'replies': replies}), flush=True)
        if s in r:
            data, addr = s.recvfrom(65535)
            if addr[2] == PACKET_OUTGOING or len(data) < 42:
                continue
            htype, ptype, hlen, plen, op = struct.unpack('!HHBBH', data[14:22])
            if htype != 1 or ptype != 0x0800 or hlen != 6 or plen != 4 or op != 1:
                continue
            sha, spa, tpa = data[22:28], data[28:32], data[38:42]
            if socket.inet_ntoa(tpa) not in ips:
                continue
            s.send(frame(sha, mac, 2, mac, tpa, sha, spa))
            replies += 1


if __name__ == '__main__':
    try:
        main()
    except KeyboardInterrupt:
        pass
