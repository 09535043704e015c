// The kubelet's streaming protocols for exec and attach, as data: which
// WebSocket subprotocol to speak, how a frame is laid out on each, what the
// error channel carries, and the exec/attach query. Pure.
//
// Subprotocols (newest first; the client lists what it speaks, we take its
// first one we know):
//   v5.channel.k8s.io  v4 + channel 255 "close" (`ff 00` = stdin ended)
//   v4.channel.k8s.io  channel 3 carries a JSON Status, exit code in details.causes
//   v3.channel.k8s.io  v2 + channel 4 resize
//   v2.channel.k8s.io, channel.k8s.io  channel 3 carries the error text (nothing on success)
//   base64.*           the same as text frames: byte 0 the channel as an ASCII digit, then base64
// Channels: 0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize, 255 close.
import type { Status } from '../core/types.ts';

/** The Status on the error channel: the shape the kubelet writes (no kind, no code on exit codes). */
export type StreamStatus = Pick<Status, 'metadata' | 'status'> & Partial<Omit<Status, 'metadata' | 'status'>>;

export const CHANNEL = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;

export interface ChannelProtocol {
  /** The subprotocol as negotiated (echoed in the 101). */
  name: string;
  version: 1 | 2 | 3 | 4 | 5;
  base64: boolean;
}

const VERSIONS: Record<string, ChannelProtocol['version']> = {
  'v5.channel.k8s.io': 5,
  'v4.channel.k8s.io': 4,
  'v3.channel.k8s.io': 3,
  'v2.channel.k8s.io': 2,
  'channel.k8s.io': 1,
};

/** What the client may be answered with, in our order of preference (for error messages). */
export const CHANNEL_PROTOCOLS: readonly string[] = [
  ...Object.keys(VERSIONS),
  ...Object.keys(VERSIONS).filter((p) => p !== 'v5.channel.k8s.io').map((p) => `base64.${p}`),
];

function parseOne(name: string): ChannelProtocol | undefined {
  const base64 = name.startsWith('base64.');
  const version = VERSIONS[base64 ? name.slice('base64.'.length) : name];
  if (version === undefined || (base64 && version === 5)) return undefined;
  return { name, version, base64 };
}

/** Splits a Sec-WebSocket-Protocol header (one string, comma-separated, or several headers). */
export function offeredProtocols(header: string | string[] | undefined): string[] {
  const all = Array.isArray(header) ? header.join(',') : (header ?? '');
  return all.split(',').map((s) => s.trim()).filter(Boolean);
}

/** The first offered subprotocol we speak; undefined when none (the client then falls back or fails). */
export function negotiateChannelProtocol(offered: readonly string[]): ChannelProtocol | undefined {
  for (const o of offered) {
    const p = parseOne(o);
    if (p) return p;
  }
  return undefined;
}

/** One frame for `channel` on protocol p: a Buffer (binary frame) or a string (text frame, base64 protocols). */
export function encodeFrame(p: ChannelProtocol, channel: number, data: Uint8Array): Buffer | string {
  if (p.base64) return String.fromCharCode(48 + channel) + Buffer.from(data).toString('base64');
  const out = Buffer.allocUnsafe(data.length + 1);
  out[0] = channel;
  out.set(data, 1);
  return out;
}

export interface Frame {
  channel: number;
  payload: Buffer;
}

/** A frame from the client; undefined for an empty one (which carries nothing). Throws on a malformed base64 frame. */
export function decodeFrame(p: ChannelProtocol, data: Buffer, isText: boolean): Frame | undefined {
  if (data.length === 0) return undefined;
  if (p.base64 || isText) {
    const text = data.toString('latin1');
    const channel = text.charCodeAt(0) - 48;
    if (channel < 0 || channel > 9) throw new Error(`bad channel ${JSON.stringify(text[0])} in a text frame`);
    return { channel, payload: Buffer.from(text.slice(1), 'base64') };
  }
  return { channel: data[0], payload: data.subarray(1) };
}

export interface TerminalSize {
  width: number;
  height: number;
}

/** A resize message (`{"Width":100,"Height":30}`); undefined when it is not one. */
export function parseResize(payload: Buffer): TerminalSize | undefined {
  let v: unknown;
  try {
    v = JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
  const o = v as { Width?: unknown; Height?: unknown } | null;
  const ok = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 0xffff;
  if (!o || !ok(o.Width) || !ok(o.Height)) return undefined;
  return { width: o.Width, height: o.Height };
}

/** The Status a successful command ends with. */
export function successStatus(): StreamStatus {
  return { metadata: {}, status: 'Success' }
}

/** The Status for a command that exited non-zero: kubectl exits with details.causes[ExitCode]. */
export function exitCodeStatus(command: readonly string[], code: number): StreamStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  }
}

/** The Status for a stream that could not run at all (no such container, cannot start the command). */
export function failureStatus(message: string): StreamStatus {
  return { metadata: {}, status: 'Failure', message, reason: 'InternalError', code: 500 }
}

/** The Status of a finished command: success, or its exit code. */
export function statusForExit(command: readonly string[], code: number): StreamStatus {
  return code === 0 ? successStatus() : exitCodeStatus(command, code);
}

/** What goes on the error channel for a final Status: v4+ JSON, older protocols the message text (nothing on success). */
export function errorChannelPayload(p: ChannelProtocol, status: StreamStatus): Buffer | undefined {
  if (p.version >= 4) return Buffer.from(JSON.stringify(status));
  if (status.status === 'Success') return undefined;
  return Buffer.from(String(status.message ?? 'error'));
}

/** Go's strconv.ParseBool, as the API server parses query booleans; undefined for anything else. */
export function parseGoBool(v: string | null): boolean | undefined {
  if (v === null) return undefined;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

export interface StreamOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

export interface ExecRequest extends StreamOptions {
  command: string[];
}

const MAX_ARGS = 4096;
const MAX_ARG_BYTES = 128 * 1024;

function boolOption(q: URLSearchParams, name: string): boolean {
  const raw = q.get(name);
  if (raw === null || raw === '') return false;
  const v = parseGoBool(raw);
  if (v === undefined) throw new Error(`${name}: invalid boolean "${raw}"`);
  return v;
}

/** stdin/stdout/stderr/tty of an exec or attach query; with a tty there is no separate stderr. Throws on bad input. */
export function parseStreamOptions(q: URLSearchParams): StreamOptions {
  const o = { stdin: boolOption(q, 'stdin'), stdout: boolOption(q, 'stdout'), stderr: boolOption(q, 'stderr'), tty: boolOption(q, 'tty') };
  if (!o.stdin && !o.stdout && !o.stderr) throw new Error('you must specify at least 1 of stdin, stdout, stderr');
  if (o.tty) o.stderr = false;
  return o;
}

/** An exec query: `command` repeated (the argv), plus the stream options. Throws on bad input. */
export function parseExecRequest(q: URLSearchParams): ExecRequest {
  const command = q.getAll('command');
  if (command.length === 0 || command[0] === '') throw new Error('you must specify at least one command for the container');
  if (command.length > MAX_ARGS) throw new Error(`command: at most ${MAX_ARGS} arguments`);
  let bytes = 0;
  for (const a of command) {
    if (a.includes('\0')) throw new Error('command: an argument contains a NUL byte');
    bytes += Buffer.byteLength(a);
  }
  if (bytes > MAX_ARG_BYTES) throw new Error(`command: longer than ${MAX_ARG_BYTES} bytes`);
  return { command, ...parseStreamOptions(q) };
}
