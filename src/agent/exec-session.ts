// exec and attach sessions, apart from the wire they arrive on: a session
// takes the client's stdin, stdin-closed and resize messages and gives back
// stdout, stderr and one final Status (see src/kubelet/remote-command.ts).
//
// exec   a process entering the container (nsenter, as exec probes do; on a
//        terminal through the console helper's `pty` mode, which takes resizes
//        on fd 3). Its exit code is the Status.
// attach a connection to the container's console socket (the helper that
//        holds its stdin and terminal; frames <channel u8><length u32 BE>).
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import { execArgv, execEnv, type ContainerProcess } from '../kubelet/exec-plan.ts';
import {
  CHANNEL, failureStatus, statusForExit, successStatus,
  type ExecRequest, type StreamOptions, type StreamStatus, type TerminalSize,
} from '../kubelet/remote-command.ts';

/** What a session sends to the client. */
export interface SessionOutput {
  /** Sends data; `sent` is called once it is handed to the socket (the session's back-pressure). */
  write(channel: typeof CHANNEL.stdout | typeof CHANNEL.stderr, data: Buffer, sent?: () => void): void;
  /** The last thing a session says: the Status on the error channel, then the transport closes. */
  finish(status: StreamStatus): void;
}

/** What the client sends to a session. */
export interface SessionInput {
  /** Passes stdin on; false when the command is not keeping up (then call whenDrained before sending more). */
  stdin(data: Buffer): boolean;
  whenDrained(resume: () => void): void;
  closeStdin(): void;
  resize(size: TerminalSize): void;
  /** The client went away: stop. */
  abort(): void;
}

/** Grace between SIGTERM and SIGKILL when an exec's client goes away. */
const ABORT_GRACE_MS = 2000;
/** Output in flight to the client beyond which the command's output is no longer read (until it drains to half). */
const MAX_IN_FLIGHT = 4 * 1024 * 1024;

/** Copies a readable to the client, pausing it while too much is in flight. */
function pump(from: Readable, channel: typeof CHANNEL.stdout | typeof CHANNEL.stderr, out: SessionOutput, flight: { bytes: number; paused: Set<Readable> }): void {
  from.on('data', (d: Buffer) => {
    flight.bytes += d.length;
    out.write(channel, d, () => {
      flight.bytes -= d.length;
      if (flight.bytes <= MAX_IN_FLIGHT / 2) {
        for (const r of flight.paused) r.resume();
        flight.paused.clear();
      }
    });
    if (flight.bytes > MAX_IN_FLIGHT) {
      from.pause();
      flight.paused.add(from);
    }
  });
}

function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, sig);
  } catch {
    /* gone */
  }
}

/** Runs req.command in the container; its output and exit code go to out. */
export function startExec(target: ContainerProcess, req: ExecRequest, out: SessionOutput, log: Logger): SessionInput {
  const argv = execArgv(target.pid, target.namespaces, req.command, req.tty);
  const child = spawn(argv[0], argv.slice(1), {
    // Its own process group, so an abort reaches nsenter's child too.
    detached: true,
    cwd: '/',
    env: execEnv(target.env, req.tty),
    stdio: [req.stdin ? 'pipe' : 'ignore', req.stdout ? 'pipe' : 'ignore', req.stderr ? 'pipe' : 'ignore', req.tty ? 'pipe' : 'ignore'],
  });
  let finished = false;
  const finish = (status: StreamStatus): void => {
    if (finished) return;
    finished = true;
    out.finish(status);
  };
  const flight = { bytes: 0, paused: new Set<Readable>() };
  if (child.stdout) pump(child.stdout, CHANNEL.stdout, out, flight);
  if (child.stderr) pump(child.stderr, CHANNEL.stderr, out, flight);
  child.stdin?.on('error', () => {
    /* the command stopped reading: what it does next decides */
  });
  const control = child.stdio[3] as Writable | null;
  control?.on('error', () => {});
  child.once('error', (err) => finish(failureStatus(`cannot run the command in the container: ${err.message}`)));
  child.once('close', (code, signal) => {
    const exit = code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
    log.debug({ command: req.command, exit }, 'exec ended');
    finish(statusForExit(req.command, exit));
  });
  return {
    stdin: (d) => (child.stdin && !child.stdin.writableEnded ? child.stdin.write(d) : true),
    whenDrained: (resume) => {
      if (child.stdin && !child.stdin.destroyed) child.stdin.once('drain', resume);
      else resume();
    },
    closeStdin: () => child.stdin?.end(),
    resize: (s) => {
      if (control && !control.writableEnded) control.write(`${s.width} ${s.height}\n`);
    },
    abort: () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      killGroup(child, 'SIGTERM');
      setTimeout(() => killGroup(child, 'SIGKILL'), ABORT_GRACE_MS).unref();
    },
  };
}

/** One console frame: <channel u8><length u32 BE><payload>. Pure. */
export function consoleFrame(channel: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + payload.length);
  out[0] = channel;
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, 5);
  return out;
}

/** Splits console frames off the front of buf; returns the frames and what is left. Pure. */
export function splitConsoleFrames(buf: Buffer): { frames: { channel: number; payload: Buffer }[]; rest: Buffer } {
  const frames: { channel: number; payload: Buffer }[] = [];
  let off = 0;
  while (buf.length - off >= 5) {
    const n = buf.readUInt32BE(off + 1);
    if (buf.length - off < 5 + n) break;
    frames.push({ channel: buf[off], payload: buf.subarray(off + 5, off + 5 + n) });
    off += 5 + n;
  }
  return { frames, rest: buf.subarray(off) };
}

/** Attaches to the container's console: its output from now on, our stdin to it. Ends when the container does. */
export function startAttach(target: ContainerProcess, opts: StreamOptions, out: SessionOutput): SessionInput {
  if (!target.console) {
    const fail = failureStatus('the container was not started with stdin or tty: attach needs "stdin: true" or "tty: true" in its spec');
    queueMicrotask(() => out.finish(fail));
    return { stdin: () => true, whenDrained: (resume) => resume(), closeStdin: () => {}, resize: () => {}, abort: () => {} };
  }
  const sock = connect(target.console);
  let buf: Buffer = Buffer.alloc(0);
  let finished = false;
  const finish = (status: StreamStatus): void => {
    if (finished) return;
    finished = true;
    sock.destroy();
    out.finish(status);
  };
  sock.on('data', (d: Buffer) => {
    const { frames, rest } = splitConsoleFrames(buf.length ? Buffer.concat([buf, d]) : d);
    buf = rest;
    for (const f of frames) {
      if (f.channel === CHANNEL.stdout && opts.stdout) out.write(CHANNEL.stdout, f.payload);
      // With a tty everything arrives as stdout; without one stderr goes where it was asked for.
      if (f.channel === CHANNEL.stderr) {
        if (opts.stderr) out.write(CHANNEL.stderr, f.payload);
        else if (opts.stdout && opts.tty) out.write(CHANNEL.stdout, f.payload);
      }
    }
  });
  sock.on('error', (err) => finish(failureStatus(`cannot attach to the container's console: ${err.message}`)));
  sock.on('close', () => finish(successStatus()));
  const send = (channel: number, payload: Uint8Array): boolean => (sock.destroyed ? true : sock.write(consoleFrame(channel, payload)));
  return {
    stdin: (d) => (opts.stdin ? send(CHANNEL.stdin, d) : true),
    whenDrained: (resume) => {
      if (!sock.destroyed) sock.once('drain', resume);
      else resume();
    },
    closeStdin: () => send(CHANNEL.close, Buffer.alloc(0)),
    resize: (s) => send(CHANNEL.resize, Buffer.from(`${s.width} ${s.height}`)),
    abort: () => {
      finished = true;
      sock.destroy();
    },
  };
}
