// A TCP listening socket bound inside another network namespace, for a
// process that stays in its own: a short-lived child (`nsenter --net` + node)
// binds HOST:PORT there and hands the listening socket back over the IPC
// channel (SCM_RIGHTS works across network namespaces); the child exits, the
// socket stays in the namespace it was made in. The lab's server listens on
// the underlay this way, so pods reach the API server through
// default/kubernetes while the server itself stays on the host's loopback.
import { spawn } from 'node:child_process';
import { connect, isIP, type Server as NetServer, type Socket } from 'node:net';
import { checkNetnsName } from '../kubelet/names.ts';

/** What the child runs: bind, send the listening handle, exit. CommonJS, given with -e. */
const BIND_SCRIPT = `
const net = require('node:net');
const [host, port] = [process.argv[1], Number(process.argv[2])];
const s = net.createServer();
s.once('error', (err) => { process.send({ error: String(err && err.message || err) }, () => process.exit(1)); });
s.listen({ host, port }, () => process.send({ listening: true }, s, () => { s.close(); process.disconnect(); }));
`;

const BIND_TIMEOUT_MS = 10_000;

/** A listening socket on host:port inside network namespace `netns` (a name under /run/netns). */
export function listenInNetns(netns: string, host: string, port: number): Promise<NetServer> {
  checkNetnsName(netns);
  if (!isIP(host)) throw new Error(`listen address ${JSON.stringify(host)} in netns ${netns} must be an IP address`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`port ${port} is out of range`);
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', [`--net=/run/netns/${netns}`, '--', process.execPath, '-e', BIND_SCRIPT, host, String(port)], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    let done = false;
    const finish = (err: Error | undefined, server?: NetServer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        child.kill('SIGKILL');
        reject(err);
      } else resolve(server as NetServer);
    };
    const timer = setTimeout(() => finish(new Error(`binding ${host}:${port} in netns ${netns} took over ${BIND_TIMEOUT_MS / 1000} s`)), BIND_TIMEOUT_MS);
    child.on('message', (msg: { listening?: boolean; error?: string }, handle: unknown) => {
      if (msg.error) finish(new Error(`cannot listen on ${host}:${port} in netns ${netns}: ${msg.error}`));
      else if (handle) finish(undefined, handle as NetServer);
    });
    child.on('error', (err) => finish(new Error(`cannot run nsenter for netns ${netns}: ${err.message}`)));
    child.on('exit', (code) => finish(new Error(`binding ${host}:${port} in netns ${netns} failed (exit ${code}): ${stderr.trim()}`)));
  });
}

/**
 * Relays every connection `server` accepts to target (raw bytes both ways,
 * so TLS ends at the target). Returns a function that closes the listener and
 * the open relays.
 */
export function relayConnections(server: NetServer, target: { host: string; port: number }, onError: (err: Error) => void): () => Promise<void> {
  const open = new Set<Socket>();
  server.on('connection', (client: Socket) => {
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      open.add(s);
      s.once('close', () => open.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.on('error', onError);
  return () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of open) s.destroy();
    });
}
