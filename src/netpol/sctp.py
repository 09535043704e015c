# SCTP for `meshlet netpol serve|connect`: Node.js has no SCTP sockets, Python's
# socket module does (IPPROTO_SCTP, one-to-one style) when the kernel has SCTP.
#   sctp.py connect HOST PORT TIMEOUT_MS   -> one JSON line {outcome, ms, reply?, error?}
#   sctp.py serve REPLY PORT...            -> answers REPLY on every association; exits 3
#                                             with {"outcome": "unsupported"} when the kernel has no SCTP
import errno, json, socket, sys, threading, time

UNSUPPORTED = (errno.EPROTONOSUPPORT, errno.ESOCKTNOSUPPORT, errno.EAFNOSUPPORT)
OUTCOMES = {errno.ECONNREFUSED: 'refused', errno.ECONNRESET: 'refused', errno.EHOSTUNREACH: 'unreachable',
            errno.ENETUNREACH: 'unreachable', errno.ETIMEDOUT: 'timeout'}

def sctp_socket(family):
    return socket.socket(family, socket.SOCK_STREAM, getattr(socket, 'IPPROTO_SCTP', 132))

def connect(host, port, timeout_ms):
    start = time.monotonic()
    ms = lambda: int((time.monotonic() - start) * 1000)
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    try:
        s = sctp_socket(family)
    except OSError as e:
        outcome = 'unsupported' if e.errno in UNSUPPORTED else 'error'
        return {'outcome': outcome, 'ms': ms(), 'error': 'this kernel has no SCTP (%s)' % errno.errorcode.get(e.errno, e.errno)}
    s.settimeout(timeout_ms / 1000)
    try:
        s.connect((host, port))
    except socket.timeout:
        return {'outcome': 'timeout', 'ms': ms()}
    except OSError as e:
        return {'outcome': OUTCOMES.get(e.errno, 'error'), 'ms': ms(), 'error': errno.errorcode.get(e.errno, str(e))}
    out = {'outcome': 'connected', 'ms': ms()}
    try:
        data = s.recv(512)
        if data:
            out['reply'] = data.decode('utf-8', 'replace').split('\n')[0]
    except OSError:
        pass
    s.close()
    return out

def serve(reply, ports):
    socks = []
    for port in ports:
        try:
            s = sctp_socket(socket.AF_INET)
        except OSError as e:
            if e.errno in UNSUPPORTED:
                print(json.dumps({'outcome': 'unsupported', 'error': 'this kernel has no SCTP'}), flush=True)
                sys.exit(3)
            raise
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('0.0.0.0', port))
        s.listen(64)
        socks.append(s)
    print(json.dumps({'outcome': 'serving', 'ports': ports}), flush=True)
    def loop(s):
        while True:
            c, _ = s.accept()
            try:
                c.sendall(reply.encode() + b'\n')
            except OSError:
                pass
            c.close()
    threads = [threading.Thread(target=loop, args=(s,), daemon=True) for s in socks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

if __name__ == '__main__':
    if sys.argv[1] == 'connect':
        print(json.dumps(connect(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))), flush=True)
    elif sys.argv[1] == 'serve':
        serve(sys.argv[2], [int(p) for p in sys.argv[3:]])
