// `meshlet netpol serve`: agnhost's role in the upstream e2e tests. Listens on
// TCP and UDP (and SCTP through sctp.py when the kernel has it) on the given
// ports and answers every connection and datagram with one known line.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { REPLY_PREFIX, type NetpolProtocol } from './wire.ts';

const SCTP_HELPER = fileURLToPath(new URL('./sctp.py', import.meta.url));

export interface ServeOptions {
  ports: number[];
  protocols: NetpolProtocol[];
  /** Appended to REPLY_PREFIX in every answer (e.g. the pod's namespace/name). */
  reply: string;
  host: string;
}

export interface Serving {
  /** The protocols actually served (SCTP is left out when the kernel has none). */
  protocols: NetpolProtocol[];
  stop(): Promise<void>;
}

export function replyLine(reply: string): string {
  return `${REPLY_PREFIX}${reply ? ` ${reply}` : ''}\n`;
}

export async function serve(opts: ServeOptions, logger: Logger): Promise<Serving> {
  const line = replyLine(opts.reply);
  const tcp: Server[] = [];
  const udp: UdpSocket[] = [];
  let sctp: ChildProcess | undefined;
  const served: NetpolProtocol[] = [];
  if (opts.protocols.includes('TCP')) {
    for (const port of opts.ports) {
      const server = createServer((sock) => {
        sock.on('error', () => sock.destroy());
        sock.end(line);
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: opts.host, port }, () => resolve());
      });
      tcp.push(server);
    }
    served.push('TCP');
  }
  if (opts.protocols.includes('UDP')) {
    for (const port of opts.ports) {
      const sock = createSocket(opts.host.includes(':') ? 'udp6' : 'udp4');
      sock.on('message', (_msg, rinfo) => sock.send(line, rinfo.port, rinfo.address));
      sock.on('error', (err) => logger.warn({ err, port }, 'udp socket error'));
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.bind(port, opts.host, () => resolve());
      });
      udp.push(sock);
    }
    served.push('UDP');
  }
  if (opts.protocols.includes('SCTP')) {
    const child = spawn('python3', [SCTP_HELPER, 'serve', line.trimEnd(), ...opts.ports.map(String)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const first = await new Promise<string>((resolve) => {
      let out = '';
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0]);
      });
      child.once('exit', () => resolve(out));
    });
    if (first.includes('"serving"')) {
      sctp = child;
      served.push('SCTP');
    } else {
      logger.warn({ answer: first.trim() }, 'SCTP not served: this kernel has no SCTP');
    }
  }
  logger.info({ ports: opts.ports, protocols: served, reply: line.trimEnd() }, 'serving');
  return {
    protocols: served,
    async stop() {
      sctp?.kill('SIGTERM');
      await Promise.all(tcp.map((s) => new Promise<void>((r) => s.close(() => r()))));
      for (const s of udp) s.close();
    },
  };
}
