// The part of spdy-transport 3 (no types of its own) that meshlet uses: a
// server-side SPDY/3.1 connection over any duplex stream.
declare module 'spdy-transport' {
  import type { Duplex } from 'node:stream';
  import type { EventEmitter } from 'node:events';

  export interface SpdyStream extends Duplex {
    id: number;
    headers: Record<string, string | string[]>;
    respond(status: number, headers: Record<string, string>, callback?: (err?: Error) => void): void;
    abort(code?: string, callback?: () => void): void;
  }

  export interface SpdyParser {
    parseKVs(buffer: unknown, callback: (err: Error | null, headers?: Record<string, string | string[]>) => void): void;
  }

  export interface SpdyConnection extends EventEmitter {
    _spdyState: { parser: SpdyParser };
    start(version: number): void;
    end(callback?: () => void): void;
    destroyStreams(err?: Error): void;
    on(event: 'stream', listener: (stream: SpdyStream) => void): this;
    on(event: 'error' | 'close', listener: (err?: Error) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }

  /** A CommonJS module: its exports are the default import. */
  const transport: {
    connection: {
      create(socket: Duplex, options: { protocol: 'spdy' | 'http2'; isServer: boolean; windowSize?: number }): SpdyConnection;
    };
  };
  export default transport;
}
