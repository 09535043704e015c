// The kubelet endpoint's streaming paths, reached by HTTP upgrade (the API
// server relays the upgraded connection byte for byte):
//   /exec/<ns>/<pod>/<container>?command=…&stdin&stdout&stderr&tty
//   /attach/<ns>/<pod>/<container>?stdin&stdout&stderr&tty
//   /portForward/<ns>/<pod>
// exec and attach speak the channel.k8s.io WebSocket subprotocols
// (src/kubelet/remote-command.ts) or, as a fallback, SPDY/3.1 (exec-spdy.ts);
// port-forward speaks SPDY/3.1, tunnelled in WebSocket
// (`SPDY/3.1+portforward.k8s.io`) or over a plain `Upgrade: SPDY/3.1`.
//
// Workaround (docs/DECISIONS.md): `ws` validates offered subprotocols as HTTP
// tokens and refuses `SPDY/3.1+portforward.k8s.io` (the `/`). The header is
// taken off the request before ws sees it, and the chosen subprotocol is
// added to the 101 in ws's `headers` event.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { WebSocketServer, createWebSocketStream, type RawData, type WebSocket } from 'ws';
import { KubeError } from '../core/errors.ts';
import { upgradeErrorResponse } from '../api/stream-proxy.ts';
import type { ContainerProcess } from '../kubelet/exec-plan.ts';
import {
  CHANNEL, decodeFrame, encodeFrame, errorChannelPayload, negotiateChannelProtocol, offeredProtocols,
  parseExecRequest, parseResize, parseStreamOptions,
  type ChannelProtocol, type StreamOptions,
} from '../kubelet/remote-command.ts';
import { negotiateSpdyProtocol, serveSpdySession } from './exec-spdy.ts';
import { startAttach, startExec, type SessionInput, type SessionOutput } from './exec-session.ts';
import { servePortForward } from './port-forward.ts';

export const PORT_FORWARD_WS_PROTOCOL = 'SPDY/3.1+portforward.k8s.io';
export const PORT_FORWARD_SPDY_PROTOCOL = 'portforward.k8s.io';

export type StreamRequest =
  | { kind: 'exec' | 'attach'; namespace: string; pod: string; container: string }
  | { kind: 'portForward'; namespace: string; pod: string };

/** A namespace, pod or container name as it may appear in a kubelet path. */
export const NAME_SEGMENT = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** Parses a streaming path; undefined when it is not one. Throws KubeError(BadRequest) on a bad name. Pure. */
export function parseStreamPath(pathname: string): StreamRequest | undefined {
  let parts: string[];
  try {
    parts = pathname.split('/').filter(Boolean).map((p) => decodeURIComponent(p));
  } catch {
    throw new KubeError('BadRequest', `malformed path ${pathname}`);
  }
  const kind = parts[0];
  const want = kind === 'exec' || kind === 'attach' ? 4 : kind === 'portForward' ? 3 : 0;
  if (want === 0 || parts.length !== want) return undefined;
  for (const [what, v] of [['namespace', parts[1]], ['pod', parts[2]], ['container', parts[3] ?? 'x']] as const) {
    if (!NAME_SEGMENT.test(v)) throw new KubeError('BadRequest', `invalid ${what} name "${v}"`);
  }
  if (kind === 'portForward') return { kind, namespace: parts[1], pod: parts[2] };
  return { kind: kind as 'exec' | 'attach', namespace: parts[1], pod: parts[2], container: parts[3] };
}

export interface StreamingDeps {
  containerProcess(namespace: string, pod: string, container: string): ContainerProcess;
  podSandbox(namespace: string, pod: string): { netns: string; uid: string };
  logger: Logger;
  metrics?: StreamMetrics;
}

export interface StreamMetrics {
  started: Counter<'kind' | 'transport'>;
  active: Gauge<'kind'>;
}

/** The streaming endpoint's metrics, registered in the agent's registry. */
export function createStreamMetrics(registry: Registry): StreamMetrics {
  return {
    started: new Counter({ name: 'meshlet_kubelet_streams_total', help: 'exec, attach and port-forward sessions started, by transport', labelNames: ['kind', 'transport'], registers: [registry] }),
    active: new Gauge({ name: 'meshlet_kubelet_streams_active', help: 'exec, attach and port-forward sessions open now', labelNames: ['kind'], registers: [registry] }),
  };
}

/** Counts a session from its upgrade to its socket's close. */
function countSession(deps: StreamingDeps, socket: Duplex, kind: string, transport: string): void {
  const m = deps.metrics;
  if (!m) return;
  m.started.inc({ kind, transport });
  m.active.inc({ kind });
  socket.once('close', () => m.active.dec({ kind }));
}

/** Answers an upgrade request that cannot proceed with an HTTP error carrying a Status. */
export function rejectUpgrade(socket: Duplex, err: unknown): void {
  const e = err instanceof KubeError ? err : new KubeError('BadRequest', err instanceof Error ? err.message : String(err));
  socket.end(upgradeErrorResponse(e.toStatus()));
}

function isWebSocket(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
}

function isSpdy(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').toLowerCase() === 'spdy/3.1';
}

/** Wires a WebSocket speaking channel protocol p to a session. */
function bindChannels(ws: WebSocket, p: ChannelProtocol, start: (out: SessionOutput) => SessionInput, log: Logger): void {
  let finished = false;
  const out: SessionOutput = {
    write: (channel, data, sent) => {
      if (ws.readyState === ws.OPEN) ws.send(encodeFrame(p, channel, data), () => sent?.());
      else sent?.();
    },
    finish: (status) => {
      finished = true;
      const payload = errorChannelPayload(p, status);
      if (ws.readyState !== ws.OPEN) return;
      if (payload) ws.send(encodeFrame(p, CHANNEL.error, payload));
      ws.close(1000);
    },
  };
  const input = start(out);
  ws.on('message', (data: RawData, isBinary: boolean) => {
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    let frame;
    try {
      frame = decodeFrame(p, buf, !isBinary);
    } catch (err) {
      log.debug({ err }, 'bad stream frame');
      return;
    }
    if (!frame) return;
    if (frame.channel === CHANNEL.stdin) {
      if (!input.stdin(frame.payload)) {
        ws.pause();
        input.whenDrained(() => ws.resume());
      }
    }
    else if (frame.channel === CHANNEL.resize && p.version >= 3) {
      const size = parseResize(frame.payload);
      if (size) input.resize(size);
    } else if (frame.channel === CHANNEL.close && p.version >= 5 && frame.payload[0] === CHANNEL.stdin) input.closeStdin();
  });
  ws.on('close', () => {
    if (!finished) input.abort();
  });
  ws.on('error', () => {});
}

/** Handles one upgrade request (the caller has checked the bearer token). */
export function handleStreamUpgrade(deps: StreamingDeps, wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const log = deps.logger;
  try {
    const url = new URL(req.url ?? '/', 'http://kubelet');
    const r = parseStreamPath(url.pathname);
    if (!r) throw new KubeError('NotFound', `no such path ${url.pathname}`);
    const offered = offeredProtocols(req.headers['sec-websocket-protocol']);
    if (r.kind === 'portForward') {
      const target = { pod: r.pod, ...deps.podSandbox(r.namespace, r.pod) };
      if (isWebSocket(req)) {
        if (!offered.includes(PORT_FORWARD_WS_PROTOCOL)) throw new KubeError('BadRequest', `port-forward speaks the WebSocket subprotocol ${PORT_FORWARD_WS_PROTOCOL}; offered: ${offered.join(', ') || 'none'}`);
        countSession(deps, socket, r.kind, 'websocket');
        upgradeWebSocket(wss, req, socket, head, PORT_FORWARD_WS_PROTOCOL, (ws) => {
          void servePortForward(createWebSocketStream(ws), target, log);
        });
        return;
      }
      if (isSpdy(req)) {
        const versions = String(req.headers['x-stream-protocol-version'] ?? '').split(',').map((s) => s.trim());
        if (!versions.includes(PORT_FORWARD_SPDY_PROTOCOL)) throw new KubeError('BadRequest', `port-forward speaks ${PORT_FORWARD_SPDY_PROTOCOL}`);
        countSession(deps, socket, r.kind, 'spdy');
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${PORT_FORWARD_SPDY_PROTOCOL}\r\n\r\n`);
        if (head.length > 0) socket.unshift(head);
        void servePortForward(socket, target, log);
        return;
      }
      throw new KubeError('BadRequest', 'port-forward needs an Upgrade to websocket or SPDY/3.1');
    }
    const target = deps.containerProcess(r.namespace, r.pod, r.container);
    let opts: StreamOptions;
    let start: (out: SessionOutput) => SessionInput;
    if (r.kind === 'exec') {
      const er = parseExecRequest(url.searchParams);
      opts = er;
      start = (out) => startExec(target, er, out, log);
    } else {
      const o = parseStreamOptions(url.searchParams);
      opts = o;
      start = (out) => startAttach(target, o, out);
    }
    if (isSpdy(req)) {
      const p = negotiateSpdyProtocol(req.headers['x-stream-protocol-version']);
      if (!p) throw new KubeError('BadRequest', `none of the offered stream protocols is supported (offered: ${String(req.headers['x-stream-protocol-version'] ?? 'none')})`);
      countSession(deps, socket, r.kind, 'spdy');
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${p.name}\r\n\r\n`);
      if (head.length > 0) socket.unshift(head);
      serveSpdySession(socket, p, opts, start, log);
      return;
    }
    if (!isWebSocket(req)) throw new KubeError('BadRequest', `${r.kind} needs an Upgrade to websocket or SPDY/3.1`);
    const p = negotiateChannelProtocol(offered);
    if (!p) throw new KubeError('BadRequest', `none of the offered subprotocols is supported (offered: ${offered.join(', ') || 'none'})`);
    countSession(deps, socket, r.kind, 'websocket');
    upgradeWebSocket(wss, req, socket, head, p.name, (ws) => bindChannels(ws, p, start, log));
  } catch (err) {
    rejectUpgrade(socket, err instanceof KubeError ? err : new KubeError(/is not on node|not found/.test(String(err)) ? 'NotFound' : 'BadRequest', err instanceof Error ? err.message : String(err)));
  }
}

const chosen = new WeakMap<IncomingMessage, string>();

/** Creates the WebSocketServer (noServer) that adds the chosen subprotocol to each 101. */
export function streamingWebSocketServer(): WebSocketServer {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
  wss.on('headers', (headers: string[], req: IncomingMessage) => {
    const p = chosen.get(req);
    if (p) headers.push(`Sec-WebSocket-Protocol: ${p}`);
  });
  return wss;
}

function upgradeWebSocket(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer, protocol: string, onOpen: (ws: WebSocket) => void): void {
  delete req.headers['sec-websocket-protocol'];
  chosen.set(req, protocol);
  wss.handleUpgrade(req, socket, head, onOpen);
}
