// What the DNS tests and benchmarks share: a real `meshlet dns` process, a feed
// client speaking its socket protocol, a stub upstream resolver on 127.0.0.1
// that counts the queries it gets, and the real `dig`.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import dnsPacket from 'dns-packet';
import { DNS_NODE_FLAGS } from '../../src/dns/node-flags.ts';
import type { DnsPidFile } from '../../src/dns/process.ts';
import type { FeedMessage, FeedReply } from '../../src/dns/feed.ts';
import { MESHLET_BIN, runProcess, type RunResult } from './run.ts';

export interface DnsProcess {
  child: ChildProcess;
  pid: DnsPidFile;
  port: number;
  stderr: () => string;
  /** SIGTERM, then wait for the exit. */
  stop(): Promise<number | null>;
}

export async function startDnsProcess(dir: string, args: readonly string[]): Promise<DnsProcess> {
  const pidFile = `${dir}/dns.pid`;
  const child = spawn(process.execPath, [...DNS_NODE_FLAGS, MESHLET_BIN, 'dns', '--data-dir', dir, ...args], {
    env: { ...process.env, MESHLET_LOG_LEVEL: process.env.MESHLET_LOG_LEVEL ?? 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d));
  child.stdout?.on('data', (d: Buffer) => (err += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const deadline = Date.now() + 30_000;
  while (!existsSync(pidFile)) {
    if (child.exitCode !== null) throw new Error(`meshlet dns exited ${child.exitCode}: ${err}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`meshlet dns did not start: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const pid = JSON.parse(readFileSync(pidFile, 'utf8')) as DnsPidFile;
  return {
    child, pid, port: pid.listen[0].port, stderr: () => err,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** The agent's side of the feed socket. */
export class FeedClient {
  private buf = '';
  private readonly waiting: ((r: FeedReply) => void)[] = [];
  readonly replies: FeedReply[] = [];
  private constructor(private readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf += d.toString('utf8');
      for (let i = this.buf.indexOf('\n'); i >= 0; i = this.buf.indexOf('\n')) {
        const r = JSON.parse(this.buf.slice(0, i)) as FeedReply;
        this.buf = this.buf.slice(i + 1);
        this.replies.push(r);
        this.waiting.shift()?.(r);
      }
    });
  }

  static connect(path: string): Promise<FeedClient> {
    return new Promise((resolve, reject) => {
      const s = connect(path, () => resolve(new FeedClient(s)));
      s.once('error', reject);
    });
  }

  /** Sends one message (or a raw line) and waits for its reply. */
  send(m: FeedMessage | string): Promise<FeedReply> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.sock.write(`${typeof m === 'string' ? m : JSON.stringify(m)}\n`);
    });
  }

  closed(): Promise<void> {
    return new Promise((r) => (this.sock.destroyed ? r() : this.sock.once('close', () => r())));
  }

  close(): void {
    this.sock.destroy();
  }
}

export interface DigResult {
  status: string;
  flags: string[];
  answers: string[][];
  authority: string[][];
  additional: string[][];
  raw: string;
}

/** Parses dig's default output (status, flags, sections). */
function parseDig(r: RunResult): DigResult {
  const raw = r.stdout;
  const status = /status: ([A-Z]+)/.exec(raw)?.[1] ?? `no answer (${r.code}): ${raw}${r.stderr}`;
  const flags = (/;; flags: ([a-z ]+);/.exec(raw)?.[1] ?? '').trim().split(/\s+/);
  const section = (name: string): string[][] => {
    const m = new RegExp(`;; ${name} SECTION:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(raw);
    return m ? m[1].split('\n').filter((l) => l && !l.startsWith(';')).map((l) => l.split(/\s+/)) : [];
  };
  return { status, flags, answers: section('ANSWER'), authority: section('AUTHORITY'), additional: section('ADDITIONAL'), raw };
}

/** Runs the real dig against a server on this host and parses its sections. */
export async function dig(port: number, args: readonly string[], server = '127.0.0.1'): Promise<DigResult> {
  return parseDig(await runProcess('dig', [`@${server}`, '-p', String(port), '+tries=1', '+time=3', ...args], { timeoutMs: 20_000 }));
}

/** Runs the real dig inside a network namespace (a pod's: it reads the pod's resolv.conf under /etc/netns), 3 tries of 2 s unless args say otherwise. */
export async function digIn(netns: string, args: readonly string[]): Promise<DigResult> {
  return parseDig(await runProcess('ip', ['netns', 'exec', netns, 'dig', '+tries=3', '+time=2', ...args], { timeoutMs: 60_000 }));
}

/** The answer records of one type. */
export const answersOf = (d: DigResult, type: string): string[][] => d.answers.filter((a) => a[3] === type);
/** The A records' addresses, sorted. */
export const addressesOf = (d: DigResult): string[] => answersOf(d, 'A').map((a) => a[4]).sort();

/** A stub upstream resolver on 127.0.0.1 (UDP and TCP) answering from a table, counting the queries it gets. */
export class StubUpstream {
  readonly queries: { name: string; type: string }[] = [];
  private udp?: UdpSocket;
  private tcp?: Server;
  port = 0;
  /** name (lowercase, no trailing dot) → type → answers. */
  records = new Map<string, Map<string, dnsPacket.Answer[]>>();
  /** When true, receive but never answer. */
  silent = false;

  add(name: string, type: 'A' | 'AAAA' | 'TXT' | 'CNAME', data: string, ttl = 300): void {
    const n = name.toLowerCase().replace(/\.$/, '');
    const m = this.records.get(n) ?? new Map<string, dnsPacket.Answer[]>();
    m.set(type, [...(m.get(type) ?? []), { name: n, type, ttl, class: 'IN', data } as dnsPacket.Answer]);
    this.records.set(n, m);
  }

  count(name: string, type?: string): number {
    const n = name.toLowerCase().replace(/\.$/, '');
    return this.queries.filter((q) => q.name === n && (!type || q.type === type)).length;
  }

  answer(msg: Buffer): Buffer | undefined {
    let q: dnsPacket.Packet;
    try {
      q = dnsPacket.decode(msg);
    } catch {
      return undefined;
    }
    const question = q.questions?.[0];
    if (!question) return undefined;
    const name = question.name.toLowerCase();
    this.queries.push({ name, type: question.type });
    if (this.silent) return undefined;
    const node = this.records.get(name);
    const answers = node?.get(question.type) ?? [];
    const rcode = node ? 0 : 3;
    return dnsPacket.encode({
      type: 'response', id: q.id, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | rcode,
      questions: [question], answers,
      authorities: answers.length ? [] : [{ name: 'example.', type: 'SOA', ttl: 60, class: 'IN', data: { mname: 'ns.example.', rname: 'h.example.', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 30 } }],
    });
  }

  async start(): Promise<void> {
    const udp = createSocket('udp4');
    udp.on('message', (msg, r) => {
      const a = this.answer(msg);
      if (a) udp.send(a, r.port, r.address);
    });
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    this.udp = udp;
    this.port = udp.address().port;
    const tcp = createServer((c) => {
      let buf = Buffer.alloc(0);
      c.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const a = this.answer(buf.subarray(2, 2 + buf.readUInt16BE(0)));
          buf = buf.subarray(2 + buf.readUInt16BE(0));
          if (a) {
            const l = Buffer.alloc(2);
            l.writeUInt16BE(a.length);
            c.write(Buffer.concat([l, a]));
          }
        }
      });
      c.on('error', () => undefined);
    });
    await new Promise<void>((r) => tcp.listen(this.port, '127.0.0.1', () => r()));
    this.tcp = tcp;
  }

  async stop(): Promise<void> {
    this.udp?.close();
    await new Promise<void>((r) => (this.tcp ? this.tcp.close(() => r()) : r()));
  }
}

/** Sends raw packets over UDP and collects what comes back (for fuzzing and malformed input). */
export function udpClient(): { sock: UdpSocket; send: (b: Buffer, port: number) => void } {
  const sock = createSocket('udp4');
  return { sock, send: (b, port) => sock.send(b, port, '127.0.0.1') };
}
