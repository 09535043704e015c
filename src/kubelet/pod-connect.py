#!/usr/bin/python3
# meshlet's port-forward connector: run inside a pod's network namespace (`ip netns exec`),
# it connects to 127.0.0.1:PORT and copies fd 0 to the connection and the connection to fd 1.
# The connection's failure is one line on stderr and exit status 1; the half-closes pass through.
import os
import selectors
import socket
import sys


def main(port):
    try:
        conn = socket.create_connection(('127.0.0.1', port), timeout=10)
    except OSError as e:
        sys.stderr.write('dial tcp4 127.0.0.1:%d: connect: %s\n' % (port, e.strerror or e))
        return 1
    conn.settimeout(None)
    sel = selectors.DefaultSelector()
    sel.register(0, selectors.EVENT_READ, 'in')
    sel.register(conn, selectors.EVENT_READ, 'conn')
    open_ends = 2
    while open_ends:
        for key, _ in sel.select():
            if key.data == 'in':
                data = os.read(0, 65536)
                if not data:
                    sel.unregister(0)
                    open_ends -= 1
                    try:
                        conn.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                else:
                    conn.sendall(data)
            else:
                try:
                    data = conn.recv(65536)
                except OSError:
                    data = b''
                if not data:
                    sel.unregister(conn)
                    open_ends -= 1
                    os.close(1)
                else:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(1, view):]
    return 0


if __name__ == '__main__':
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.stderr.write('usage: pod-connect.py PORT\n')
        sys.exit(2)
    sys.exit(main(int(sys.argv[1])))
