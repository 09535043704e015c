// Running a program to completion: the one wrapper every part uses for `ip`,
// `nft`, `unshare` and friends. Never through a shell: the program and its
// arguments go to the kernel as they are (callers validate names first).
// Output is collected up to a bound; a program that outlives its timeout is
// killed. This is shell, not core logic, but it is shared by every shell.
import { spawn } from 'node:child_process';

export interface CommandOptions {
  /** Written to stdin, which is then closed (stdin is empty otherwise). */
  input?: string;
  /** SIGKILL after this long (default 30 s). */
  timeoutMs?: number;
  /** Output kept per stream; a program writing more fails (default 16 MiB). */
  maxOutputBytes?: number;
  env?: NodeJS.ProcessEnv;
}

export interface CommandExit {
  /** The exit code; null when the program died of a signal (see `signal`) or never started. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Why it failed to start, or was stopped (timeout, too much output). */
  error?: string;
}

export class CommandError extends Error {
  constructor(
    readonly file: string,
    readonly args: readonly string[],
    /** Exit code, signal name, or the spawn error code (ENOENT, …). */
    readonly code: number | string | null,
    readonly stderr: string,
  ) {
    super(`${file} ${args.join(' ')} failed (${code}): ${stderr.trim()}`);
    this.name = 'CommandError';
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024;

/** Runs the program to its end and reports how it ended, whatever that was. Never rejects. */
export function runToExit(file: string, args: readonly string[], opts: CommandOptions = {}): Promise<CommandExit> {
  const max = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  return new Promise((resolve) => {
    const child = spawn(file, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const sizes = { out: 0, err: 0 };
    let error: string | undefined;
    const stop = (why: string): void => {
      error ??= why;
      child.kill('SIGKILL');
    };
    const collect = (into: Buffer[], which: 'out' | 'err') => (chunk: Buffer): void => {
      sizes[which] += chunk.length;
      if (sizes[which] > max) return stop(`more than ${max} bytes of output`);
      into.push(chunk);
    };
    child.stdout.on('data', collect(out, 'out'));
    child.stderr.on('data', collect(err, 'err'));
    const timer = setTimeout(() => stop(`timed out after ${opts.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`), opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    let spawnError: NodeJS.ErrnoException | undefined;
    child.once('error', (e: NodeJS.ErrnoException) => {
      spawnError = e;
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: spawnError ? null : code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ...(spawnError ? { error: spawnError.code ?? spawnError.message } : error ? { error } : {}),
      });
    });
    // A program that exits without reading its input must not fail us with EPIPE: its exit tells why.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs the program; resolves with its output when it exits 0, rejects with a CommandError otherwise. */
export async function runCommand(file: string, args: readonly string[], opts: CommandOptions = {}): Promise<{ stdout: string; stderr: string }> {
  const r = await runToExit(file, args, opts);
  if (r.code === 0 && r.error === undefined) return { stdout: r.stdout, stderr: r.stderr };
  throw new CommandError(file, args, r.code ?? r.signal ?? r.error ?? null, [r.stderr.trim(), r.error].filter(Boolean).join('; '));
}
