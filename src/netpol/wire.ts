// What `meshlet netpol serve`, `connect` and `connect --batch` exchange, as
// data: targets, outcomes, the batch line protocol and option parsing. Pure.
import { isIP } from 'node:net';

export const NETPOL_PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;
export type NetpolProtocol = (typeof NETPOL_PROTOCOLS)[number];

/** What `serve` answers on every connection and datagram, followed by its --reply text (default: nothing more). */
export const REPLY_PREFIX = 'meshlet-netpol';

/**
 * connected: the handshake (TCP, SCTP) or a reply datagram (UDP) came back;
 * refused: RST / ICMP port unreachable; timeout: nothing came back in time
 * (what a policy drop looks like); unreachable: no route / ICMP host
 * unreachable; unsupported: this kernel cannot make the socket (SCTP);
 * error: anything else (the message says).
 */
export type ProbeOutcome = 'connected' | 'refused' | 'timeout' | 'unreachable' | 'unsupported' | 'error';

export interface ProbeTarget {
  host: string;
  port: number;
  protocol: NetpolProtocol;
  timeoutMs: number;
}

/** A DNS lookup through the caller's resolv.conf (the pod's, under `ip netns exec`). */
export interface LookupTarget {
  lookup: string;
  timeoutMs: number;
}

export interface ProbeResult {
  outcome: ProbeOutcome;
  ms: number;
  /** The first line the server sent (TCP, SCTP) or its datagram (UDP). */
  reply?: string;
  /** Addresses a lookup resolved to. */
  addresses?: string[];
  error?: string;
}

export class NetpolInputError extends Error {
  override name = 'NetpolInputError';
}

export const MAX_TIMEOUT_MS = 60_000;

/** "1s", "500ms", "2" (seconds), "1.5s", "2m": milliseconds from 1 to maxMs. */
export function parseDurationMs(text: string, what = 'timeout', maxMs = MAX_TIMEOUT_MS): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new NetpolInputError(`${what} "${text}": want e.g. 1s or 500ms`);
  const ms = Math.round(Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000));
  if (ms < 1 || ms > maxMs) throw new NetpolInputError(`${what} "${text}": from 1ms to ${maxMs / 1000}s`);
  return ms;
}

export function parseProtocol(text: string): NetpolProtocol {
  const p = text.toUpperCase();
  if (!(NETPOL_PROTOCOLS as readonly string[]).includes(p)) throw new NetpolInputError(`protocol "${text}": want tcp, udp or sctp`);
  return p as NetpolProtocol;
}

export function parsePort(value: unknown): number {
  const n = typeof value === 'number' ? value : /^\d{1,5}$/.test(String(value)) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new NetpolInputError(`port ${JSON.stringify(value)}: want 1 to 65535`);
  return n;
}

/** "10.0.0.1:80" or "[fd00::1]:80": an IP literal (no names: a probe names exactly what it reaches) and a port. */
export function parseAddressPort(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  if (!m || !host || !isIP(host) || (m[1] !== undefined && isIP(host) !== 6)) throw new NetpolInputError(`"${text}": want IP:PORT (IPv6 as [IP]:PORT)`);
  return { host, port: parsePort(m[3]) };
}

/** A DNS name as a lookup target: letters, digits, '-', '.', at most 253 characters. */
export function parseLookupName(text: string): string {
  if (text.length === 0 || text.length > 253 || !/^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*\.?$/.test(text)) {
    throw new NetpolInputError(`lookup "${text}": not a DNS name`);
  }
  return text;
}

export interface BatchRequest {
  id: string;
  target: ProbeTarget | LookupTarget;
}

/**
 * One line of `connect --batch` input: JSON
 * {"id": "...", "host": "10.244.1.10", "port": 80, "protocol": "TCP", "timeoutMs": 1000}
 * or {"id": "...", "lookup": "kubernetes.default.svc.cluster.local", "timeoutMs": 1000};
 * protocol defaults to TCP and timeoutMs to defaultTimeoutMs.
 */
export function parseBatchLine(line: string, defaultTimeoutMs: number): BatchRequest {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new NetpolInputError(`not JSON: ${line.slice(0, 80)}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new NetpolInputError('a batch line is a JSON object');
  const o = v as Record<string, unknown>;
  if (typeof o.id !== 'string' || o.id === '' || o.id.length > 200) throw new NetpolInputError('"id": a string of 1 to 200 characters');
  const timeoutMs = o.timeoutMs === undefined ? defaultTimeoutMs : Number(o.timeoutMs);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) throw new NetpolInputError(`${o.id}: "timeoutMs" from 1 to ${MAX_TIMEOUT_MS}`);
  if (o.lookup !== undefined) return { id: o.id, target: { lookup: parseLookupName(String(o.lookup)), timeoutMs } };
  if (typeof o.host !== 'string' || !isIP(o.host)) throw new NetpolInputError(`${o.id}: "host" must be an IP address`);
  return { id: o.id, target: { host: o.host, port: parsePort(o.port), protocol: parseProtocol(o.protocol === undefined ? 'TCP' : String(o.protocol)), timeoutMs } };
}

export interface BatchResult extends ProbeResult {
  id: string;
}

export function formatBatchResult(id: string, r: ProbeResult): string {
  return JSON.stringify({ id, ...r });
}

/** Parse a line `connect --batch` printed. */
export function parseBatchResult(line: string): BatchResult {
  const v = JSON.parse(line) as Partial<BatchResult>;
  if (typeof v.id !== 'string' || typeof v.outcome !== 'string') throw new NetpolInputError(`not a batch result: ${line.slice(0, 80)}`);
  return v as BatchResult;
}

/** The one line `connect` prints. */
export function describeResult(t: ProbeTarget, r: ProbeResult): string {
  const where = `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}/${t.protocol}`;
  const extra = r.outcome === 'connected' && r.reply !== undefined ? ` reply ${JSON.stringify(r.reply)}` : r.error ? ` (${r.error})` : '';
  return `${r.outcome} ${where} in ${r.ms} ms${extra}`;
}

/** Maps a socket error code to an outcome. */
export function outcomeOfError(code: string | undefined): ProbeOutcome {
  switch (code) {
    case 'ECONNREFUSED':
    case 'ECONNRESET':
      return 'refused';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
      return 'unreachable';
    case 'ETIMEDOUT':
      return 'timeout';
    case 'EPROTONOSUPPORT':
    case 'ESOCKTNOSUPPORT':
    case 'EAFNOSUPPORT':
      return 'unsupported';
    default:
      return 'error';
  }
}
