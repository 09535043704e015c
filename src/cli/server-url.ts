// API server URLs as meshlet's own client can reach them.

/**
 * The meshlet client speaks plain http (or a unix socket). A meshlet server's TCP
 * port answers https and http alike, so a loopback https:// server is reached over http.
 */
export function clientServer(server: string): string {
  const url = server.startsWith('https://') ? new URL(server) : undefined;
  if (!url) return server;
  if (!['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname)) {
    throw new Error(`${server}: meshlet's client reaches https:// servers only on loopback (where a meshlet server also answers plain http); use http:// or unix://`);
  }
  return `http://${url.host}`;
}

export function httpUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
