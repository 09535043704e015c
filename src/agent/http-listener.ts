// Where the agent's small HTTP servers listen: a unix socket (the lab: reachable
// from the host whatever the network namespace) or TCP. One place for binding
// and closing them.
import { chmodSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';

export type HttpListen = { socketPath: string } | { host: string; port: number };

export interface Listening {
  /** The TCP port bound, 0 on a unix socket. */
  port: number;
  close(): Promise<void>;
}

/** Binds server to listen (replacing a stale socket file; socketMode restricts who may connect). */
export async function listenHttp(server: Server, listen: HttpListen, socketMode?: number): Promise<Listening> {
  if ('socketPath' in listen) rmSync(listen.socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if ('socketPath' in listen) server.listen(listen.socketPath, resolve);
    else server.listen(listen.port, listen.host, resolve);
  });
  if ('socketPath' in listen && socketMode !== undefined) chmodSync(listen.socketPath, socketMode);
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
