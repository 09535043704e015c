// Runs `ip` (iproute2) through runCommand (never a shell): single commands,
// groups as `ip -batch -` over stdin. Names are validated by the callers' plans.
import { runCommand } from '../core/command.ts';
import type { IpCommand } from './sandbox-plan.ts';
import { batchByNetns } from './sandbox-plan.ts';

function nsArgs(netns: string | undefined): string[] {
  return netns === undefined ? [] : ['-n', netns];
}

export function ip(netns: string | undefined, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return runCommand('ip', [...nsArgs(netns), ...args]);
}

/** Runs the commands in order, one `ip -batch -` per run of commands in the same namespace; stops at the first failure. */
export async function ipCommands(commands: IpCommand[]): Promise<void> {
  for (const group of batchByNetns(commands)) {
    if (group.length === 1) await ip(group[0].netns, group[0].args);
    else await runCommand('ip', [...nsArgs(group[0].netns), '-batch', '-'], { input: group.map((c) => c.args.join(' ')).join('\n') + '\n' });
  }
}

/** Names of the named network namespaces (/run/netns). */
export async function listNetns(): Promise<string[]> {
  const { stdout } = await runCommand('ip', ['netns', 'list']);
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
