// port-forward over SPDY/3.1 (plain, or tunnelled in WebSocket frames as
// kubectl 1.32 tries first): for each forwarded connection the client opens
// two streams with the same `requestid`, `streamtype: error` and
// `streamtype: data`, and a `port`. The data stream is piped to a TCP
// connection made from inside the pod's network namespace (a small connector
// under `ip netns exec`); a failure is reported as text on the error stream.
import { spawn } from 'node:child_process';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { podConnectArgv } from '../kubelet/exec-plan.ts';
import { serveSpdy, streamHeader, type SpdyStream } from './spdy.ts';

/** The port of a stream's `port` header; throws on a bad one. Pure. */
export function parseForwardPort(v: string | undefined): number {
  if (v === undefined || !/^\d{1,5}$/.test(v) || Number(v) < 1 || Number(v) > 65535) {
    throw new Error(`invalid port ${JSON.stringify(v ?? '')}: must be 1-65535`);
  }
  return Number(v);
}

interface Pair {
  error?: SpdyStream;
  data?: SpdyStream;
}

export interface PortForwardTarget {
  pod: string;
  uid?: string;
  netns: string;
}

/** Serves one port-forward connection; resolves when it closes. */
export function servePortForward(socket: Duplex, target: PortForwardTarget, log: Logger): Promise<void> {
  const pairs = new Map<string, Pair>();
  const children = new Set<ReturnType<typeof spawn>>();
  const forward = (id: string, p: Required<Pair>): void => {
    pairs.delete(id);
    let port: number;
    try {
      port = parseForwardPort(streamHeader(p.data, 'port'));
    } catch (err) {
      p.error.end(`error forwarding port: ${(err as Error).message}`);
      p.data.end();
      return;
    }
    const argv = podConnectArgv(target.netns, port);
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], cwd: '/' });
    children.add(child);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    p.data.pipe(child.stdin);
    child.stdout.pipe(p.data);
    child.stdin.on('error', () => {});
    p.data.on('error', () => child.kill('SIGKILL'));
    p.error.on('error', () => {});
    child.once('close', (code) => {
      children.delete(child);
      if (code !== 0) {
        const msg = `error forwarding port ${port} to pod ${target.pod}, uid ${target.uid ?? ''}: ${stderr.trim() || `exit ${code}`}`;
        log.info({ pod: target.pod, port, err: stderr.trim() }, 'port-forward connection failed');
        p.error.end(msg);
      } else p.error.end();
    });
  };
  return new Promise((resolve) => {
    const conn = serveSpdy(socket, (stream) => {
      stream.on('error', () => {});
      const id = streamHeader(stream, 'requestid') ?? '';
      const type = streamHeader(stream, 'streamtype');
      if (type !== 'error' && type !== 'data') {
        stream.abort();
        return;
      }
      // The client does not read the data of an error stream it sends on; drain it.
      if (type === 'error') stream.resume();
      const pair = pairs.get(id) ?? {};
      pair[type] = stream;
      pairs.set(id, pair);
      if (pair.error && pair.data) forward(id, pair as Required<Pair>);
    });
    let done = false;
    const close = (): void => {
      if (done) return;
      done = true;
      for (const c of children) c.kill('SIGKILL');
      resolve();
    };
    conn.on('error', (err) => {
      log.debug({ err }, 'port-forward connection error');
      close();
    });
    socket.on('close', close);
    socket.on('error', close);
  });
}
