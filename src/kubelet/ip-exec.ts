// Runs `ip` (iproute2) without a shell: single commands with execFile, groups
// as `ip -batch -` over stdin. Names are validated by the callers' plans.
import { execFile } from 'node:child_process';
import type { IpCommand } from './sandbox-plan.ts';
import { batchByNetns } from './sandbox-plan.ts';

export interface ExecResult {
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  constructor(
    readonly file: string,
    readonly args: string[],
    readonly code: number | string | null,
    readonly stderr: string,
  ) {
    super(`${file} ${args.join(' ')} failed (${code}): ${stderr.trim()}`);
    this.name = 'CommandError';
  }
}

export function run(file: string, args: string[], input?: string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { maxBuffer: 16 * 1024 * 1024, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException & { code?: number | string }).code ?? null;
        reject(new CommandError(file, args, code, String(stderr) || err.message));
      } else resolve({ stdout: String(stdout), stderr: String(stderr) });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

function nsArgs(netns: string | undefined): string[] {
  return netns === undefined ? [] : ['-n', netns];
}

export function ip(netns: string | undefined, args: string[]): Promise<ExecResult> {
  return run('ip', [...nsArgs(netns), ...args]);
}

/** Runs the commands in order, one `ip -batch -` per run of commands in the same namespace; stops at the first failure. */
export async function ipCommands(commands: IpCommand[]): Promise<void> {
  for (const group of batchByNetns(commands)) {
    if (group.length === 1) await ip(group[0].netns, group[0].args);
    else await run('ip', [...nsArgs(group[0].netns), '-batch', '-'], group.map((c) => c.args.join(' ')).join('\n') + '\n');
  }
}

/** Names of the named network namespaces (/run/netns). */
export async function listNetns(): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list']);
  return stdout.split('\n').map((l) => l.trim().split(/\s+/)[0]).filter((n) => n);
}

/** Interface names in a namespace (or the current one). */
export async function listLinks(netns: string | undefined): Promise<string[]> {
  const { stdout } = await ip(netns, ['-o', 'link', 'show']);
  const names: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^\d+:\s+([^:@\s]+)/.exec(line);
    if (m) names.push(m[1]);
  }
  return names;
}
