// Runs a command to completion and collects its output: the one way tests run
// meshlet, kubectl and friends as separate processes.
import { runToExit } from '../../src/core/command.ts';
import { fileURLToPath } from 'node:url';

export const MESHLET_BIN = fileURLToPath(new URL('../../bin/meshlet.js', import.meta.url));
export const KUBECTL = '/usr/bin/kubectl';

export interface RunResult {
  /** The exit code; 1 when the process died of a signal. */
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed. */
  input?: string;
  /** SIGKILL after this long (default 120 s). */
  timeoutMs?: number;
}

export async function runProcess(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await runToExit(cmd, args, { env: opts.env, input: opts.input, timeoutMs: opts.timeoutMs ?? 120_000, maxOutputBytes: 256 * 1024 * 1024 });
  if (r.code === null && r.signal === null) throw new Error(`cannot run ${cmd}: ${r.error ?? 'unknown error'}`);
  return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** `meshlet <args>` through bin/meshlet.js with this Node. */
export function runMeshlet(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return runProcess(process.execPath, [MESHLET_BIN, ...args], opts);
}
