// A server-side SPDY/3.1 connection (spdy-transport) over a socket or a
// WebSocket stream, as Kubernetes' streaming protocols use it: every stream
// the client opens is answered at once, and its headers say what it is for.
//
// Workaround (docs/DECISIONS.md): spdy-transport treats SPDY as HTTP and
// refuses a SYN_STREAM without `:method` and `:path`; Kubernetes' clients
// send only their own headers (streamtype, port, requestid). The connection's
// header parser gets them added before that check.
import type { Duplex } from 'node:stream';
import transport, { type SpdyConnection, type SpdyStream } from 'spdy-transport';

export type { SpdyConnection, SpdyStream };

/** A stream header as one string (spdy-transport gives repeated headers as arrays). */
export function streamHeader(stream: SpdyStream, name: string): string | undefined {
  const v = stream.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Serves SPDY/3.1 on `socket`, calling onStream for each stream the client opens (already answered 200). */
export function serveSpdy(socket: Duplex, onStream: (stream: SpdyStream) => void): SpdyConnection {
  const conn = transport.connection.create(socket, { protocol: 'spdy', isServer: true });
  const parser = conn._spdyState.parser;
  const parseKVs = parser.parseKVs;
  parser.parseKVs = function (buffer, callback) {
    parseKVs.call(this, buffer, (err, headers) => {
      if (!err && headers) {
        headers[':method'] ??= 'POST';
        headers[':path'] ??= '/';
      }
      callback(err, headers);
    });
  };
  conn.start(3.1);
  conn.on('stream', (stream) => {
    stream.respond(200, {});
    onStream(stream);
  });
  return conn;
}
