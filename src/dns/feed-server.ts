// The feed listener: a unix socket (mode 0600) on which the agent delivers the
// cluster data (protocol in feed.ts). One feeder at a time: a connection that
// sends a snapshot supersedes the previous one, which is closed. Deltas are
// accepted only after a snapshot on the same connection and with increasing
// sequence numbers; anything else is answered with an error and the connection
// is closed (the agent reconnects and sends a fresh snapshot). The data already
// applied stays in service throughout.
import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { FeedError, MAX_FEED_LINE, parseFeedLine, type FeedMessage, type FeedReply } from './feed.ts';

export interface FeedServerOptions {
  path: string;
  logger: Logger;
  /** Applies a validated message (and passes its raw line on, e.g. to worker processes); acked once it settles. */
  apply: (m: FeedMessage, line: string) => void | Promise<void>;
  onConnected?: (connected: boolean) => void;
}

export class FeedServer {
  private server?: Server;
  private current?: Socket;
  lastSeq = -1;
  snapshots = 0;

  constructor(private readonly o: FeedServerOptions) {}

  async start(): Promise<void> {
    rmSync(this.o.path, { force: true });
    const server = createServer((c) => this.onConnection(c));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(this.o.path, 0o600);
    this.server = server;
  }

  private onConnection(c: Socket): void {
    const log = this.o.logger.child({ feed: 'connection' });
    let chunks: Buffer[] = [];
    let size = 0;
    let seq = -1; // -1: no snapshot yet on this connection
    const reply = (r: FeedReply): void => {
      if (!c.destroyed) c.write(`${JSON.stringify(r)}\n`);
    };
    const fail = (message: string, at?: number): void => {
      log.warn({ seq: at, error: message }, 'feed message refused; closing the feed connection');
      reply({ type: 'error', ...(at !== undefined ? { seq: at } : {}), message });
      c.end();
      c.destroySoon?.();
      closed = true;
    };
    let closed = false;
    // Messages are applied one after another (a snapshot may take a while), each acked when applied.
    let chain: Promise<void> = Promise.resolve();
    const enqueue = (text: string): void => {
      chain = chain.then(() => line(text));
    };
    const line = async (text: string): Promise<void> => {
      if (closed || text.trim() === '') return;
      let m: FeedMessage;
      try {
        m = parseFeedLine(text);
      } catch (err) {
        if (err instanceof FeedError) return fail(err.message, err.seq);
        throw err;
      }
      if (m.type === 'snapshot') {
        if (this.current && this.current !== c) {
          log.info('a new feeder sent a snapshot: closing the previous feed connection');
          this.current.destroy();
        }
        this.current = c;
        this.o.onConnected?.(true);
      } else {
        if (seq < 0) return fail('a snapshot must come first on a connection', m.seq);
        if (this.current !== c) return fail('superseded by a newer feeder', m.seq);
        if (m.seq <= seq) return fail(`sequence ${m.seq} after ${seq}: must increase`, m.seq);
      }
      try {
        await this.o.apply(m, text);
      } catch (err) {
        return fail(`could not apply: ${(err as Error).message}`, m.seq);
      }
      seq = m.seq;
      this.lastSeq = m.seq;
      if (m.type === 'snapshot') this.snapshots++;
      reply({ type: 'ack', seq: m.seq });
    };
    c.on('data', (d: Buffer) => {
      let from = 0;
      for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, from)) {
        const part = d.subarray(from, i);
        const text = chunks.length ? Buffer.concat([...chunks, part]).toString('utf8') : part.toString('utf8');
        chunks = [];
        size = 0;
        from = i + 1;
        enqueue(text);
      }
      if (from < d.length) {
        chunks.push(d.subarray(from));
        size += d.length - from;
        if (size > MAX_FEED_LINE) fail(`line over ${MAX_FEED_LINE} bytes`);
      }
    });
    c.on('error', () => undefined);
    c.on('close', () => {
      if (this.current === c) {
        this.current = undefined;
        this.o.onConnected?.(false);
        log.info({ lastSeq: this.lastSeq }, 'feeder disconnected; serving the last data');
      }
    });
  }

  get connected(): boolean {
    return this.current !== undefined;
  }

  async close(): Promise<void> {
    this.current?.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    rmSync(this.o.path, { force: true });
  }
}
