// Forwarding to upstream resolvers: one connected UDP socket per upstream, our
// own query (lowercase question, EDNS0 1232, RD), TCP when the answer comes back
// truncated. Each attempt has a deadline; an upstream failing in a row is skipped
// for a while, and with every upstream down the answer is SERVFAIL at once (one
// probe a second still goes out). Identical questions in flight share one query.
import { createSocket, type Socket } from 'node:dgram';
import { connect as tcpConnect } from 'node:net';
import { randomInt } from 'node:crypto';
import { FLAG, HEADER, UDP_EDNS_MAX } from './wire.ts';

export interface UpstreamServer {
  host: string;
  port: number;
}

export interface UpstreamOptions {
  servers: readonly UpstreamServer[];
  /** Per-attempt deadline (ms). */
  timeoutMs: number;
  /** Consecutive failures after which a server is skipped, and for how long (ms). */
  failuresToMarkDown?: number;
  downForMs?: number;
  /** Called with each answered attempt's latency (s) and outcome. */
  observe?: (server: string, seconds: number, outcome: 'ok' | 'timeout' | 'error' | 'truncated') => void;
  now?: () => number;
}

/** What the resolver needs from a forwarder (a fake stands in for it in unit tests). */
export interface Forwarder {
  /** The upstream's response bytes, or undefined when every upstream failed (answer SERVFAIL). */
  query(key: string, qtype: number, qclass: number): Promise<Buffer | undefined>;
  close(): void;
}

interface Pending {
  resolve: (b: Buffer | undefined) => void;
  question: Buffer;
  timer: NodeJS.Timeout;
}

class ServerState {
  socket?: Socket;
  readonly pending = new Map<number, Pending>();
  failures = 0;
  downUntil = 0;
  constructor(readonly server: UpstreamServer) {}
  get label(): string {
    return this.server.host.includes(':') ? `[${this.server.host}]:${this.server.port}` : `${this.server.host}:${this.server.port}`;
  }
}

/** Builds our upstream query for a question key. */
export function upstreamQuery(id: number, key: string, qtype: number, qclass: number): Buffer {
  const name = Buffer.from(key, 'latin1');
  const out = Buffer.alloc(HEADER + name.length + 4 + 11);
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE(FLAG.RD, 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(1, 10);
  name.copy(out, HEADER);
  let p = HEADER + name.length;
  out.writeUInt16BE(qtype, p);
  out.writeUInt16BE(qclass, p + 2);
  p += 4;
  out[p] = 0;
  out.writeUInt16BE(41, p + 1);
  out.writeUInt16BE(UDP_EDNS_MAX, p + 3);
  return out;
}

/** Does the response answer exactly this question (case-insensitively)? */
function sameQuestion(resp: Buffer, question: Buffer): boolean {
  if (resp.length < HEADER + question.length) return false;
  if (resp.readUInt16BE(4) !== 1) return false;
  for (let i = 0; i < question.length; i++) {
    let a = resp[HEADER + i];
    if (a >= 65 && a <= 90) a += 32;
    if (a !== question[i]) return false;
  }
  return true;
}

export class Upstreams implements Forwarder {
  private readonly states: ServerState[];
  private readonly inflight = new Map<string, Promise<Buffer | undefined>>();
  private closed = false;
  private readonly now: () => number;

  constructor(private readonly opts: UpstreamOptions) {
    this.states = opts.servers.map((s) => new ServerState(s));
    this.now = opts.now ?? Date.now;
  }

  query(key: string, qtype: number, qclass: number): Promise<Buffer | undefined> {
    const k = `${qtype}/${qclass}/${key}`;
    const existing = this.inflight.get(k);
    if (existing) return existing;
    const p = this.resolve(key, qtype, qclass).finally(() => this.inflight.delete(k));
    this.inflight.set(k, p);
    return p;
  }

  /**
   * Upstreams in the order to try: those not marked down; when every one is
   * down, all of them, the one down longest first (as CoreDNS's forward does:
   * marking down reorders, it never refuses to try). A burst of timeouts (a
   * flood, a busy upstream) thus costs the next query at most a timeout,
   * never SERVFAIL for the whole down period.
   */
  private candidates(): ServerState[] {
    const now = this.now();
    const up = this.states.filter((s) => s.downUntil <= now);
    if (up.length > 0) return up;
    return [...this.states].sort((a, b) => a.downUntil - b.downUntil);
  }

  private async resolve(key: string, qtype: number, qclass: number): Promise<Buffer | undefined> {
    for (const s of this.candidates()) {
      if (this.closed) return undefined;
      const r = await this.attempt(s, key, qtype, qclass);
      if (r) return r;
    }
    return undefined;
  }

  private async attempt(s: ServerState, key: string, qtype: number, qclass: number): Promise<Buffer | undefined> {
    const t0 = performance.now();
    const udp = await this.udp(s, key, qtype, qclass);
    let outcome: 'ok' | 'timeout' | 'error' | 'truncated' = udp === 'timeout' ? 'timeout' : udp === 'error' ? 'error' : 'ok';
    let resp = typeof udp === 'string' ? undefined : udp;
    if (resp && resp.readUInt16BE(2) & FLAG.TC) {
      outcome = 'truncated';
      resp = await this.tcp(s, key, qtype, qclass);
      if (!resp) outcome = 'error';
    }
    this.opts.observe?.(s.label, (performance.now() - t0) / 1000, outcome);
    if (resp) {
      s.failures = 0;
      s.downUntil = 0;
      return resp;
    }
    if (++s.failures >= (this.opts.failuresToMarkDown ?? 3)) s.downUntil = this.now() + (this.opts.downForMs ?? 5000);
    return undefined;
  }

  private socketFor(s: ServerState): Socket {
    if (s.socket) return s.socket;
    const sock = createSocket(s.server.host.includes(':') ? 'udp6' : 'udp4');
    s.socket = sock;
    sock.on('message', (msg) => {
      if (msg.length < HEADER) return;
      const p = s.pending.get(msg.readUInt16BE(0));
      if (!p || !sameQuestion(msg, p.question)) return;
      clearTimeout(p.timer);
      s.pending.delete(msg.readUInt16BE(0));
      p.resolve(msg);
    });
    // ECONNREFUSED (ICMP port unreachable) and friends: nothing will come back for what is pending.
    sock.on('error', () => {
      for (const [id, p] of s.pending) {
        clearTimeout(p.timer);
        s.pending.delete(id);
        p.resolve(undefined);
      }
      sock.close();
      if (s.socket === sock) s.socket = undefined;
    });
    sock.connect(s.server.port, s.server.host);
    sock.unref();
    return sock;
  }

  private udp(s: ServerState, key: string, qtype: number, qclass: number): Promise<Buffer | 'timeout' | 'error'> {
    return new Promise((resolve) => {
      let id = randomInt(0, 65536);
      for (let i = 0; s.pending.has(id) && i < 16; i++) id = randomInt(0, 65536);
      if (s.pending.has(id)) return resolve('error');
      const msg = upstreamQuery(id, key, qtype, qclass);
      const question = msg.subarray(HEADER, HEADER + key.length + 4);
      const sock = this.socketFor(s);
      const timer = setTimeout(() => {
        s.pending.delete(id);
        resolve('timeout');
      }, this.opts.timeoutMs);
      s.pending.set(id, { resolve: (b) => resolve(b ?? 'error'), question, timer });
      const send = (): void => {
        sock.send(msg, (err) => {
          if (err && s.pending.get(id)?.timer === timer) {
            clearTimeout(timer);
            s.pending.delete(id);
            resolve('error');
          }
        });
      };
      // A freshly created socket connects asynchronously: send once it has.
      try {
        sock.remoteAddress();
        send();
      } catch {
        sock.once('connect', send);
      }
    });
  }

  private tcp(s: ServerState, key: string, qtype: number, qclass: number): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const id = randomInt(0, 65536);
      const msg = upstreamQuery(id, key, qtype, qclass);
      const question = msg.subarray(HEADER, HEADER + key.length + 4);
      const conn = tcpConnect({ host: s.server.host, port: s.server.port });
      let buf = Buffer.alloc(0);
      let done = false;
      const finish = (b: Buffer | undefined): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        conn.destroy();
        resolve(b);
      };
      const timer = setTimeout(() => finish(undefined), this.opts.timeoutMs);
      conn.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(msg.length);
        conn.write(Buffer.concat([len, msg]));
      });
      conn.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const resp = buf.subarray(2, 2 + buf.readUInt16BE(0));
          finish(resp.length >= HEADER && resp.readUInt16BE(0) === id && sameQuestion(resp, question) ? Buffer.from(resp) : undefined);
        }
      });
      conn.on('error', () => finish(undefined));
      conn.on('close', () => finish(undefined));
    });
  }

  close(): void {
    this.closed = true;
    for (const s of this.states) {
      for (const [, p] of s.pending) {
        clearTimeout(p.timer);
        p.resolve(undefined);
      }
      s.pending.clear();
      s.socket?.close();
      s.socket = undefined;
    }
  }
}
