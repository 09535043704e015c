// exec and attach over SPDY/3.1: what kubectl falls back to when the
// WebSocket upgrade fails (KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false) and what
// older clients speak. The client opens one stream per channel, named by its
// `streamtype` header (error, stdin, stdout, stderr, resize); the session
// starts once every stream the query asks for is there. The final Status goes
// on the error stream (v4: JSON; older: the message text), then everything ends.
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { CHANNEL, errorChannelPayload, failureStatus, parseResize, type ChannelProtocol, type StreamOptions } from '../kubelet/remote-command.ts';
import type { SessionInput, SessionOutput } from './exec-session.ts';
import { serveSpdy, streamHeader, type SpdyStream } from './spdy.ts';

/** What we answer over SPDY, best first (v5 is a WebSocket-only addition). */
const SPDY_VERSIONS: readonly { name: string; version: ChannelProtocol['version'] }[] = [
  { name: 'v4.channel.k8s.io', version: 4 },
  { name: 'v3.channel.k8s.io', version: 3 },
  { name: 'v2.channel.k8s.io', version: 2 },
  { name: 'channel.k8s.io', version: 1 },
];

/** The protocol for an `X-Stream-Protocol-Version` list; undefined when none is ours. Pure. */
export function negotiateSpdyProtocol(header: string | string[] | undefined): ChannelProtocol | undefined {
  const offered = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((s) => s.trim());
  const p = SPDY_VERSIONS.find((v) => offered.includes(v.name));
  return p ? { name: p.name, version: p.version, base64: false } : undefined;
}

/** The streams a session waits for. Pure. */
export function expectedStreams(opts: StreamOptions, p: ChannelProtocol): string[] {
  const want = ['error'];
  if (opts.stdin) want.push('stdin');
  if (opts.stdout) want.push('stdout');
  if (opts.stderr && !opts.tty) want.push('stderr');
  if (opts.tty && p.version >= 3) want.push('resize');
  return want;
}

/** How long to wait for the client's streams. */
const STREAMS_TIMEOUT_MS = 30_000;

/** Serves one exec/attach session on an upgraded socket (the 101 already written). */
export function serveSpdySession(socket: Duplex, p: ChannelProtocol, opts: StreamOptions, start: (out: SessionOutput) => SessionInput, log: Logger): void {
  const want = expectedStreams(opts, p);
  const streams = new Map<string, SpdyStream>();
  let input: SessionInput | undefined;
  let finished = false;
  const conn = serveSpdy(socket, (stream) => {
    stream.on('error', () => {});
    const type = streamHeader(stream, 'streamtype') ?? '';
    if (!want.includes(type) || streams.has(type)) {
      stream.abort();
      return;
    }
    streams.set(type, stream);
    if (type !== 'stdin' && type !== 'resize') stream.resume();
    if (streams.size === want.length) begin();
  });
  const timer = setTimeout(() => {
    log.info({ got: [...streams.keys()], want }, 'exec over SPDY: the client did not open its streams');
    socket.destroy();
  }, STREAMS_TIMEOUT_MS);
  const close = (): void => {
    clearTimeout(timer);
    if (!finished) input?.abort();
  };
  socket.on('close', close);
  socket.on('error', close);
  conn.on('error', (err) => {
    log.debug({ err }, 'exec over SPDY: connection error');
    socket.destroy();
  });

  const begin = (): void => {
    clearTimeout(timer);
    const out: SessionOutput = {
      write: (channel, data, sent) => {
        const s = streams.get(channel === CHANNEL.stdout ? 'stdout' : 'stderr');
        if (s && !s.writableEnded) s.write(data, () => sent?.());
        else sent?.();
      },
      finish: (status) => {
        finished = true;
        for (const name of ['stdout', 'stderr', 'stdin', 'resize']) {
          const s = streams.get(name);
          if (s && !s.writableEnded) s.end();
        }
        const err = streams.get('error');
        const payload = errorChannelPayload(p, status);
        if (err) {
          if (payload) err.end(payload);
          else err.end();
        }
        // The client closes once it has read the error stream; do it ourselves if it does not.
        setTimeout(() => socket.destroy(), 2000).unref();
      },
    };
    try {
      input = start(out);
    } catch (err) {
      out.finish(failureStatus(err instanceof Error ? err.message : String(err)));
      return;
    }
    const stdin = streams.get('stdin');
    stdin?.on('data', (d: Buffer) => {
      if (input && !input.stdin(d)) {
        stdin.pause();
        input.whenDrained(() => stdin.resume());
      }
    });
    stdin?.on('end', () => input?.closeStdin());
    let pending = '';
    streams.get('resize')?.on('data', (d: Buffer) => {
      pending += d.toString('utf8');
      // Go's json.Encoder writes one object per line.
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        const size = parseResize(Buffer.from(pending.slice(0, nl)));
        pending = pending.slice(nl + 1);
        if (size) input?.resize(size);
      }
    });
  };
}
