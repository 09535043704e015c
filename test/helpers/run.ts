// Runs a command to completion and collects its output: the one way tests run
// meshlet, kubectl and friends as separate processes.
import { spawn } from 'node:child_process';
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

export function runProcess(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** `meshlet <args>` through bin/meshlet.js with this Node. */
export function runMeshlet(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return runProcess(process.execPath, [MESHLET_BIN, ...args], opts);
}
