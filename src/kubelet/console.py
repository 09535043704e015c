#!/usr/bin/python3
# meshlet's terminal and console helper (Node has no pty API; Python's pty module is in every Debian).
#
#   console.py pty -- ARGV...
#       `kubectl exec -t`: runs ARGV on a new pseudo-terminal (its controlling tty). Bytes on fd 0 go
#       to the terminal, the terminal's output to fd 1; fd 3, when open, carries resize lines
#       "<cols> <rows>\n". Exits with ARGV's status (128+signal when killed).
#
#   console.py serve SOCKET [--tty] [--stdin-once] -- ARGV...
#       A container that has `stdin` or `tty`: runs ARGV with its stdin held open (a pipe, or the
#       terminal with --tty), copies its output to fd 1/2 (the container log) and to every client
#       attached on the unix socket SOCKET. The socket speaks frames of
#       <channel u8><length u32 big-endian><payload>: clients send 0 stdin, 4 resize ("<cols> <rows>"),
#       255 stdin closed; they receive 1 stdout and 2 stderr. Signals are passed on to ARGV; as the
#       init of a PID namespace it also reaps orphans. Exits with ARGV's status.
import errno
import fcntl
import os
import pty
import selectors
import signal
import socket
import struct
import sys
import termios

# After the command ends, output still coming is copied until it pauses this long.
DRAIN_S = 0.2
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def set_size(fd, cols, rows):
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
    except OSError:
        pass


def spawn(argv, tty):
    """Starts argv; returns (pid, stdin fd, [(output fd, channel)])."""
    if tty:
        master, slave = pty.openpty()
        pid = os.fork()
        if pid == 0:
            os.close(master)
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
            if slave > 2:
                os.close(slave)
            exec_or_die(argv)
        os.close(slave)
        return pid, master, [(master, 1)]
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.dup2(in_r, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        for fd in (in_r, in_w, out_r, out_w, err_r, err_w):
            if fd > 2:
                os.close(fd)
        exec_or_die(argv)
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    return pid, in_w, [(out_r, 1), (err_r, 2)]


def exec_or_die(argv):
    for s in FORWARDED:
        signal.signal(s, signal.SIG_DFL)
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        os.write(2, ('meshlet: cannot run %s: %s\n' % (argv[0], e.strerror)).encode())
        os._exit(127 if e.errno == errno.ENOENT else 126)


def status_code(status):
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def reap(child):
    """Reaps every finished child; returns child's exit code once it is among them."""
    code = None
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return code
        if pid == 0:
            return code
        if pid == child:
            code = status_code(status)


def read_output(fd):
    """Up to 64 KiB of a command's output; b'' at its end (a terminal whose command side is gone reads EIO)."""
    try:
        return os.read(fd, 65536)
    except OSError:
        return b''


def write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]


def relay_signals(pid):
    """Passes the FORWARDED signals on to pid; returns the read end of a pipe written on each SIGCHLD (to wake the loop)."""
    wr, ww = os.pipe()
    os.set_blocking(wr, False)
    os.set_blocking(ww, False)
    for s in FORWARDED:
        signal.signal(s, lambda n, _f: os.kill(pid, n))
    signal.signal(signal.SIGCHLD, lambda _n, _f: os.write(ww, b'x'))
    return wr


def unlink_if_present(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def main_pty(argv):
    pid, master, _ = spawn(argv, True)
    wr = relay_signals(pid)
    sel = selectors.DefaultSelector()
    sel.register(master, selectors.EVENT_READ, 'out')
    sel.register(0, selectors.EVENT_READ, 'in')
    sel.register(wr, selectors.EVENT_READ, 'wake')
    try:
        os.fstat(3)
        sel.register(3, selectors.EVENT_READ, 'ctl')
    except OSError:
        pass
    ctl = b''
    code = None
    while True:
        events = sel.select(None if code is None else DRAIN_S)
        if not events and code is not None:
            # The command is gone and its terminal quiet (a background process may hold it): done.
            return code
        for key, _ in events:
            what = key.data
            if what == 'out':
                data = read_output(master)
                if not data:
                    sel.unregister(master)
                    return code if code is not None else wait_code(pid)
                write_all(1, data)
            elif what == 'in':
                data = os.read(0, 65536)
                if not data:
                    sel.unregister(0)
                else:
                    write_all(master, data)
            elif what == 'ctl':
                data = os.read(3, 4096)
                if not data:
                    sel.unregister(3)
                ctl += data
                while b'\n' in ctl:
                    line, ctl = ctl.split(b'\n', 1)
                    parts = line.split()
                    if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
                        set_size(master, int(parts[0]), int(parts[1]))
            else:
                os.read(wr, 4096)
                got = reap(pid)
                if got is not None:
                    code = got


def wait_code(pid):
    try:
        _, status = os.waitpid(pid, 0)
        return status_code(status)
    except ChildProcessError:
        return 0


class Client:
    def __init__(self, conn):
        self.conn = conn
        self.buf = b''


def frame(channel, data):
    return struct.pack('>BI', channel, len(data)) + data


def main_serve(sock_path, tty, stdin_once, argv):
    unlink_if_present(sock_path)
    # Bound and listening under a temporary name, then renamed: the path appears
    # only once connections to it are accepted (no ECONNREFUSED window).
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp_path = sock_path + '.tmp'
    unlink_if_present(tmp_path)
    listener.bind(tmp_path)
    os.chmod(tmp_path, 0o600)
    listener.listen(8)
    os.rename(tmp_path, sock_path)
    listener.setblocking(False)
    pid, stdin_fd, outputs = spawn(argv, tty)
    wr = relay_signals(pid)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, 'accept')
    sel.register(wr, selectors.EVENT_READ, 'wake')
    for fd, ch in outputs:
        sel.register(fd, selectors.EVENT_READ, ('out', ch))
    open_outputs = len(outputs)
    clients = {}
    code = None
    stdin_open = True

    def close_stdin():
        nonlocal stdin_open
        if stdin_open and not tty:
            os.close(stdin_fd)
        stdin_open = False

    def drop(c):
        sel.unregister(c.conn)
        del clients[c.conn.fileno()]
        c.conn.close()
        if stdin_once:
            close_stdin()

    try:
        while code is None or open_outputs > 0:
            events = sel.select(None if code is None else DRAIN_S)
            if not events and code is not None:
                # The command is gone and its output quiet (a background process may hold it): done.
                break
            for key, _ in events:
                what = key.data
                if what == 'accept':
                    try:
                        conn, _ = listener.accept()
                    except BlockingIOError:
                        continue
                    conn.setblocking(True)
                    c = Client(conn)
                    clients[conn.fileno()] = c
                    sel.register(conn, selectors.EVENT_READ, ('client', c))
                elif what == 'wake':
                    os.read(wr, 4096)
                    got = reap(pid)
                    if got is not None:
                        code = got
                elif what[0] == 'out':
                    fd, ch = key.fd, what[1]
                    data = read_output(fd)
                    if not data:
                        sel.unregister(fd)
                        open_outputs -= 1
                        continue
                    write_all(1 if ch == 1 else 2, data)
                    for c in list(clients.values()):
                        try:
                            c.conn.sendall(frame(ch, data))
                        except OSError:
                            drop(c)
                else:
                    c = what[1]
                    try:
                        data = c.conn.recv(65536)
                    except OSError:
                        data = b''
                    if not data:
                        drop(c)
                        continue
                    c.buf += data
                    while len(c.buf) >= 5:
                        ch, n = struct.unpack('>BI', c.buf[:5])
                        if len(c.buf) < 5 + n:
                            break
                        payload, c.buf = c.buf[5:5 + n], c.buf[5 + n:]
                        if ch == 0 and stdin_open:
                            try:
                                write_all(stdin_fd, payload)
                            except OSError:
                                close_stdin()
                        elif ch == 4 and tty:
                            parts = payload.split()
                            if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
                                set_size(stdin_fd, int(parts[0]), int(parts[1]))
                        elif ch == 255 and stdin_once:
                            close_stdin()
    finally:
        for c in list(clients.values()):
            c.conn.close()
        try:
            os.unlink(sock_path)
        except OSError:
            pass
    return code if code is not None else wait_code(pid)


def main(args):
    if '--' not in args:
        sys.stderr.write('usage: console.py pty -- ARGV... | serve SOCKET [--tty] [--stdin-once] -- ARGV...\n')
        return 2
    i = args.index('--')
    head, argv = args[:i], args[i + 1:]
    if not argv or not head:
        sys.stderr.write('console.py: no command\n')
        return 2
    if head[0] == 'pty':
        return main_pty(argv)
    if head[0] == 'serve' and len(head) >= 2:
        return main_serve(head[1], '--tty' in head[2:], '--stdin-once' in head[2:], argv)
    sys.stderr.write('console.py: unknown mode %s\n' % head[0])
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
