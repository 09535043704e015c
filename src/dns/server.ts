// The DNS listeners: UDP and TCP on each --listen address, in front of one
// Resolver. TCP takes pipelined queries and answers each as soon as it is ready
// (RFC 7766 allows any order); an idle connection, a message that trickles in too
// slowly, a client that does not read its answers, or one connection too many is
// closed, so no client can hold the server.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { DnsMetrics } from './metrics.ts';
import type { Resolver } from './resolver.ts';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface DnsServerOptions {
  resolver: Resolver;
  listen: readonly ListenAddress[];
  logger: Logger;
  metrics?: DnsMetrics;
  /** Close a TCP connection idle this long (ms). */
  tcpIdleMs?: number;
  /** A started message must be complete within this long (ms). */
  tcpMessageMs?: number;
  tcpMaxConnections?: number;
  /** Queries answered at once per TCP connection before it stops reading. */
  tcpMaxInflight?: number;
  /** Unanswered bytes queued to a TCP client before it is dropped as not reading. */
  tcpMaxQueuedBytes?: number;
}

export interface BoundAddress {
  host: string;
  port: number;
  transport: 'udp' | 'tcp';
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

/** dgram's lookup for addresses that are already IP literals (the rinfo.address we reply to). */
function literalLookup(host: string, opts: unknown, cb?: LookupCallback): void {
  const callback = (typeof opts === 'function' ? opts : cb) as LookupCallback;
  callback(null, host, host.includes(':') ? 6 : 4);
}

export class DnsServer {
  private readonly udp: UdpSocket[] = [];
  private readonly tcp: Server[] = [];
  private readonly conns = new Set<Socket>();
  private inflight = 0;
  private draining = false;
  private readonly idleMs: number;
  private readonly messageMs: number;
  private readonly maxConns: number;
  private readonly maxInflight: number;
  private readonly maxQueued: number;
  readonly bound: BoundAddress[] = [];

  constructor(private readonly o: DnsServerOptions) {
    this.idleMs = o.tcpIdleMs ?? 10_000;
    this.messageMs = o.tcpMessageMs ?? Math.min(5_000, this.idleMs);
    this.maxConns = o.tcpMaxConnections ?? 1000;
    this.maxInflight = o.tcpMaxInflight ?? 64;
    this.maxQueued = o.tcpMaxQueuedBytes ?? 256 * 1024;
  }

  async start(): Promise<void> {
    for (const a of this.o.listen) {
      const udp = await this.bindUdp(a);
      // TCP on the same port as UDP (the port UDP got, when 0 asked for any).
      await this.listenTcp({ host: a.host, port: udp.port });
    }
  }

  private bindUdp(a: ListenAddress): Promise<{ port: number }> {
    return new Promise((resolve, reject) => {
      // Replies go to the literal source address: a synchronous lookup spares dns.lookup and a tick per send.
      const sock = createSocket({ type: a.host.includes(':') ? 'udp6' : 'udp4', ipv6Only: a.host.includes(':'), lookup: literalLookup });
      const onError = (err: Error): void => reject(err);
      sock.once('error', onError);
      sock.on('message', (msg, rinfo) => this.onUdp(sock, msg, rinfo.address, rinfo.port));
      sock.bind({ address: a.host, port: a.port, exclusive: false }, () => {
        sock.off('error', onError);
        sock.on('error', (err) => this.o.logger.warn({ err }, 'udp socket error'));
        const addr = sock.address();
        this.udp.push(sock);
        this.bound.push({ host: a.host, port: addr.port, transport: 'udp' });
        resolve({ port: addr.port });
      });
    });
  }

  private listenTcp(a: ListenAddress): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = createServer((c) => this.onTcp(c));
      server.maxConnections = this.maxConns;
      server.once('error', reject);
      server.listen({ host: a.host, port: a.port, exclusive: false }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.o.logger.warn({ err }, 'tcp listener error'));
        this.tcp.push(server);
        const addr = server.address();
        this.bound.push({ host: a.host, port: typeof addr === 'object' && addr ? addr.port : a.port, transport: 'tcp' });
        resolve();
      });
    });
  }

  private onUdp(sock: UdpSocket, msg: Buffer, host: string, port: number): void {
    const t0 = performance.now();
    let r: ReturnType<Resolver['handle']>;
    try {
      r = this.o.resolver.handle(msg, host, 'udp');
    } catch (err) {
      this.o.logger.error({ err }, 'query handling failed');
      this.o.metrics?.dropped('error');
      return;
    }
    if (r === undefined) return;
    if (!(r instanceof Promise)) {
      sock.send(r, port, host);
      this.o.metrics?.requestSeconds.observe((performance.now() - t0) / 1000);
      return;
    }
    this.inflight++;
    r.then(
      (b) => {
        if (b) sock.send(b, port, host);
        this.o.metrics?.requestSeconds.observe((performance.now() - t0) / 1000);
      },
      (err: unknown) => {
        this.o.logger.error({ err }, 'query handling failed');
        this.o.metrics?.dropped('error');
      },
    ).finally(() => this.inflight--);
  }

  private onTcp(c: Socket): void {
    if (this.draining) {
      c.destroy();
      return;
    }
    this.conns.add(c);
    this.o.metrics?.tcpConnections.set(this.conns.size);
    const host = c.remoteAddress ?? '';
    let buf: Buffer = Buffer.alloc(0);
    let pending = 0;
    let partialTimer: NodeJS.Timeout | undefined;
    c.setNoDelay(true);
    c.setTimeout(this.idleMs, () => c.destroy());
    const drop = (): void => {
      c.destroy();
    };
    const write = (b: Buffer): void => {
      if (c.destroyed) return;
      const len = Buffer.allocUnsafe(2);
      len.writeUInt16BE(b.length);
      c.write(Buffer.concat([len, b]));
      if (c.writableLength > this.maxQueued) drop();
    };
    const pump = (): void => {
      while (buf.length >= 2 && pending < this.maxInflight) {
        const n = buf.readUInt16BE(0);
        if (buf.length < 2 + n) break;
        const msg = buf.subarray(2, 2 + n);
        buf = buf.subarray(2 + n);
        const t0 = performance.now();
        let r: ReturnType<Resolver['handle']>;
        try {
          r = this.o.resolver.handle(Buffer.from(msg), host, 'tcp');
        } catch (err) {
          this.o.logger.error({ err }, 'query handling failed');
          return drop();
        }
        if (r === undefined) return drop(); // garbage on a stream: nothing sane follows
        if (!(r instanceof Promise)) {
          write(r);
          this.o.metrics?.requestSeconds.observe((performance.now() - t0) / 1000);
          continue;
        }
        pending++;
        this.inflight++;
        r.then(
          (b) => {
            if (b) write(b);
            this.o.metrics?.requestSeconds.observe((performance.now() - t0) / 1000);
          },
          () => drop(),
        ).finally(() => {
          pending--;
          this.inflight--;
          if (c.isPaused() && !c.destroyed) c.resume();
          pump();
          if (this.draining && pending === 0 && buf.length === 0) c.end();
        });
      }
      if (pending >= this.maxInflight) c.pause();
      // A message started must arrive whole in time (a trickling client cannot keep the connection alive).
      if (buf.length > 0 && !partialTimer) partialTimer = setTimeout(drop, this.messageMs);
      else if (buf.length === 0 && partialTimer) {
        clearTimeout(partialTimer);
        partialTimer = undefined;
      }
    };
    c.on('data', (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      if (buf.length > 2 + 65535 + 65537 * this.maxInflight) return drop();
      pump();
    });
    c.on('error', () => undefined);
    c.on('close', () => {
      if (partialTimer) clearTimeout(partialTimer);
      this.conns.delete(c);
      this.o.metrics?.tcpConnections.set(this.conns.size);
    });
  }

  /** Stops listening, lets answers in flight go out (up to timeoutMs), closes client connections. */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    for (const s of this.udp) s.removeAllListeners('message');
    for (const s of this.tcp) s.close();
    const deadline = Date.now() + timeoutMs;
    while (this.inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const s of this.udp) s.close();
    this.udp.length = 0;
    for (const c of this.conns) c.end();
    await new Promise((r) => setTimeout(r, 20));
    for (const c of this.conns) c.destroy();
  }

  async close(): Promise<void> {
    await this.drain(0);
  }
}
