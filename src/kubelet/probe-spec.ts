// Container probes as the pod spec has them (core/v1 Probe), their defaults
// (period 10 s, timeout 1 s, failureThreshold 3, successThreshold 1, no
// initial delay), and the checks a probe passes before any of it reaches a
// command line or a socket: one handler, sane numbers, ports (named ones
// resolved against the container's ports), paths, headers and hosts. Pure.
import { isIp } from '../core/cidr.ts';
import type { ContainerSpec } from './pod-spec.ts';

export type ProbeKind = 'startup' | 'readiness' | 'liveness';
export const PROBE_KINDS: readonly ProbeKind[] = ['startup', 'readiness', 'liveness'];

export interface HttpHeader {
  name: string;
  value: string;
}

export interface ExecAction {
  command?: string[];
}

export interface HttpGetAction {
  path?: string;
  port: number | string;
  host?: string;
  scheme?: 'HTTP' | 'HTTPS';
  httpHeaders?: HttpHeader[];
}

export interface TcpSocketAction {
  port: number | string;
  host?: string;
}

export interface ProbeSpec {
  exec?: ExecAction;
  httpGet?: HttpGetAction;
  tcpSocket?: TcpSocketAction;
  grpc?: unknown;
  initialDelaySeconds?: number;
  timeoutSeconds?: number;
  periodSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
  terminationGracePeriodSeconds?: number;
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
}

/** The probe's numbers with defaults applied, in milliseconds where they are times. */
export interface ProbeTimings {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
}

/** A validated handler, ready to run. */
export type ProbeHandler =
  | { type: 'exec'; command: string[] }
  | { type: 'tcpSocket'; host?: string; port: number }
  | { type: 'httpGet'; scheme: 'http' | 'https'; host?: string; port: number; path: string; headers: HttpHeader[] };

export const PROBE_DEFAULTS = { periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3, initialDelaySeconds: 0 };

function intOr(v: unknown, fallback: number, min: number): number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min ? v : fallback;
}

/** Defaults for missing or out-of-range numbers; liveness and startup probes always need just one success. */
export function probeTimings(kind: ProbeKind, p: ProbeSpec): ProbeTimings {
  return {
    initialDelayMs: intOr(p.initialDelaySeconds, PROBE_DEFAULTS.initialDelaySeconds, 0) * 1000,
    periodMs: intOr(p.periodSeconds, PROBE_DEFAULTS.periodSeconds, 1) * 1000,
    timeoutMs: intOr(p.timeoutSeconds, PROBE_DEFAULTS.timeoutSeconds, 1) * 1000,
    successThreshold: kind === 'readiness' ? intOr(p.successThreshold, PROBE_DEFAULTS.successThreshold, 1) : 1,
    failureThreshold: intOr(p.failureThreshold, PROBE_DEFAULTS.failureThreshold, 1),
  };
}

/** The container's probes by kind (only those it has). */
export function probesOf(c: ContainerSpec): Partial<Record<ProbeKind, ProbeSpec>> {
  const out: Partial<Record<ProbeKind, ProbeSpec>> = {};
  if (isObject(c.startupProbe)) out.startup = c.startupProbe;
  if (isObject(c.readinessProbe)) out.readiness = c.readinessProbe;
  if (isObject(c.livenessProbe)) out.liveness = c.livenessProbe;
  return out;
}

function isObject(v: unknown): v is ProbeSpec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const SVC_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/** A port as number or IANA service name (matched against the container's named ports). Throws when it cannot be resolved. */
export function resolvePort(port: number | string | undefined, ports: readonly ContainerPort[] | undefined): number {
  if (typeof port === 'number') {
    if (Number.isInteger(port) && port >= 1 && port <= 65535) return port;
    throw new Error(`port ${port} is out of range 1-65535`);
  }
  if (typeof port !== 'string' || port === '') throw new Error('port is required');
  if (/^\d+$/.test(port)) return resolvePort(Number(port), ports);
  if (port.length > 15 || !SVC_NAME.test(port) || !/[a-z]/.test(port) || port.includes('--')) {
    throw new Error(`port ${JSON.stringify(port)} is neither a number nor a valid port name`);
  }
  const found = (ports ?? []).find((p) => p && p.name === port && (p.protocol ?? 'TCP') === 'TCP');
  if (!found) throw new Error(`port name ${JSON.stringify(port)} is not among the container's TCP ports`);
  return resolvePort(found.containerPort, undefined);
}

const HOSTNAME = /^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

function checkHost(host: string | undefined): string | undefined {
  if (host === undefined || host === '') return undefined;
  if (typeof host !== 'string' || !(isIp(host) || HOSTNAME.test(host))) throw new Error(`host ${JSON.stringify(host)} is not an IP address or host name`);
  return host;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Visible ASCII, space and tab (RFC 9110 field-value), no CR/LF/NUL.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
// Path and query: printable ASCII without space, '#' or control characters.
const PATH = /^\/[\x21-\x22\x24-\x7e]*$/;

function checkNoNul(s: unknown, what: string): string {
  if (typeof s !== 'string') throw new Error(`${what} must be a string`);
  if (s.includes('\0')) throw new Error(`${what} must not contain NUL`);
  return s;
}

/**
 * The probe's handler, checked. Exactly one of exec, httpGet, tcpSocket
 * (grpc is not supported by meshlet). Throws an Error saying what is wrong.
 */
export function probeHandler(p: ProbeSpec, ports: readonly ContainerPort[] | undefined): ProbeHandler {
  const given = (['exec', 'httpGet', 'tcpSocket', 'grpc'] as const).filter((k) => p[k] !== undefined && p[k] !== null);
  if (given.length !== 1) throw new Error(given.length === 0 ? 'the probe has no handler' : `the probe has more than one handler (${given.join(', ')})`);
  if (p.exec) {
    const cmd = p.exec.command;
    if (!Array.isArray(cmd) || cmd.length === 0 || cmd[0] === '') throw new Error('exec.command must be a non-empty list');
    return { type: 'exec', command: cmd.map((s, i) => checkNoNul(s, `exec.command[${i}]`)) };
  }
  if (p.tcpSocket) {
    return { type: 'tcpSocket', host: checkHost(p.tcpSocket.host), port: resolvePort(p.tcpSocket.port, ports) };
  }
  if (p.httpGet) {
    const g = p.httpGet;
    const scheme = g.scheme === undefined || g.scheme === 'HTTP' ? 'http' : g.scheme === 'HTTPS' ? 'https' : undefined;
    if (!scheme) throw new Error(`httpGet.scheme ${JSON.stringify(g.scheme)} is not HTTP or HTTPS`);
    let path = g.path === undefined || g.path === '' ? '/' : g.path;
    if (typeof path !== 'string') throw new Error('httpGet.path must be a string');
    if (!path.startsWith('/')) path = `/${path}`;
    if (!PATH.test(path)) throw new Error(`httpGet.path ${JSON.stringify(path)} holds characters a request path cannot`);
    const headers: HttpHeader[] = [];
    for (const h of g.httpHeaders ?? []) {
      if (!h || typeof h.name !== 'string' || !TOKEN.test(h.name)) throw new Error(`httpGet header name ${JSON.stringify(h?.name)} is not a valid token`);
      if (typeof h.value !== 'string' || !FIELD_VALUE.test(h.value)) throw new Error(`httpGet header ${h.name} has an invalid value`);
      headers.push({ name: h.name, value: h.value });
    }
    return { type: 'httpGet', scheme, host: checkHost(g.host), port: resolvePort(g.port, ports), path, headers };
  }
  throw new Error('grpc probes are not supported by meshlet');
}

/** Seconds between SIGTERM and SIGKILL when a probe kills the container: the probe's own, else the pod's. */
export function probeGraceSeconds(p: ProbeSpec, podGraceSeconds: number): number {
  const own = p.terminationGracePeriodSeconds;
  return typeof own === 'number' && Number.isInteger(own) && own >= 0 ? own : podGraceSeconds;
}
