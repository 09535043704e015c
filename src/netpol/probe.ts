// One probe, the imperative edge of `meshlet netpol connect`: a TCP connect,
// a UDP datagram and its answer, an SCTP association (through sctp.py: Node.js
// has no SCTP sockets), or a DNS lookup through this process's resolv.conf.
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { connect as tcpConnect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { outcomeOfError, REPLY_PREFIX, type LookupTarget, type ProbeResult, type ProbeTarget } from './wire.ts';

const SCTP_HELPER = fileURLToPath(new URL('./sctp.py', import.meta.url));
/** UDP: the datagram is sent again this often until an answer or the timeout (a lost datagram is not a drop). */
const UDP_RESEND_MS = 250;

const firstLine = (b: Buffer): string => b.toString('utf8').split('\n')[0].slice(0, 200);

function elapsed(start: number): number {
  return Math.round(performance.now() - start);
}

function probeTcp(t: ProbeTarget): Promise<ProbeResult> {
  const start = performance.now();
  return new Promise((resolve) => {
    let connectedAt: number | undefined;
    let done = false;
    const sock = tcpConnect({ host: t.host, port: t.port });
    const finish = (r: ProbeResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish(connectedAt === undefined ? { outcome: 'timeout', ms: elapsed(start) } : { outcome: 'connected', ms: connectedAt }), t.timeoutMs);
    sock.once('connect', () => {
      connectedAt = elapsed(start);
    });
    sock.once('data', (b: Buffer) => finish({ outcome: 'connected', ms: connectedAt ?? elapsed(start), reply: firstLine(b) }));
    sock.once('end', () => finish({ outcome: 'connected', ms: connectedAt ?? elapsed(start) }));
    sock.once('error', (err: NodeJS.ErrnoException) => {
      if (connectedAt !== undefined) finish({ outcome: 'connected', ms: connectedAt });
      else finish({ outcome: outcomeOfError(err.code), ms: elapsed(start), error: err.code ?? err.message });
    });
  });
}

function probeUdp(t: ProbeTarget): Promise<ProbeResult> {
  const start = performance.now();
  return new Promise((resolve) => {
    const sock = createSocket(t.host.includes(':') ? 'udp6' : 'udp4');
    let done = false;
    let resend: NodeJS.Timeout | undefined;
    const finish = (r: ProbeResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearInterval(resend);
      sock.close();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ outcome: 'timeout', ms: elapsed(start) }), t.timeoutMs);
    sock.on('message', (b: Buffer) => finish({ outcome: 'connected', ms: elapsed(start), reply: firstLine(b) }));
    sock.on('error', (err: NodeJS.ErrnoException) => finish({ outcome: outcomeOfError(err.code), ms: elapsed(start), error: err.code ?? err.message }));
    // A connected UDP socket: an ICMP port unreachable comes back as ECONNREFUSED.
    sock.connect(t.port, t.host, () => {
      const send = (): void => {
        if (!done) sock.send(`${REPLY_PREFIX} probe\n`, (err) => err && finish({ outcome: outcomeOfError((err as NodeJS.ErrnoException).code), ms: elapsed(start), error: err.message }));
      };
      send();
      resend = setInterval(send, UDP_RESEND_MS);
    });
  });
}

function probeSctp(t: ProbeTarget): Promise<ProbeResult> {
  const start = performance.now();
  return new Promise((resolve) => {
    execFile('python3', [SCTP_HELPER, 'connect', t.host, String(t.port), String(t.timeoutMs)], { timeout: t.timeoutMs + 5000 }, (err, stdout) => {
      try {
        resolve(JSON.parse(stdout) as ProbeResult);
      } catch {
        resolve({ outcome: 'error', ms: elapsed(start), error: `sctp helper: ${err?.message ?? 'no answer'}` });
      }
    });
  });
}

async function lookup(t: LookupTarget): Promise<ProbeResult> {
  const start = performance.now();
  // c-ares reads /etc/resolv.conf (the pod's, bind-mounted by `ip netns exec`); one try within the timeout.
  const resolver = new Resolver({ timeout: t.timeoutMs, tries: 1 });
  try {
    const addresses = await resolver.resolve4(t.lookup);
    return { outcome: 'connected', ms: elapsed(start), addresses };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ETIMEOUT / ECONNREFUSED from c-ares: the server was not reached; ENOTFOUND and the like: it answered.
    const outcome = code === 'ETIMEOUT' ? 'timeout' : code === 'ECONNREFUSED' ? 'refused' : 'error';
    return { outcome, ms: elapsed(start), error: code ?? (err as Error).message };
  }
}

export function probe(t: ProbeTarget | LookupTarget): Promise<ProbeResult> {
  if ('lookup' in t) return lookup(t);
  if (t.protocol === 'UDP') return probeUdp(t);
  if (t.protocol === 'SCTP') return probeSctp(t);
  return probeTcp(t);
}
