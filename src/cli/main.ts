// Entry point: parse the command line against the table, then load and run
// only the module of the command asked for.
import { parseCommandLine, UsageError, type RunCommand } from './args.ts';
import { commandHelp, findCommand } from './commands.ts';
import { KubeError } from '../core/errors.ts';
import { NETPOL_LOADERS } from './netpol.ts';

/** A command returns its exit code, or undefined when it keeps running (servers exit on their own). */
export type CommandRunner = (cmd: RunCommand) => Promise<number | undefined>;

const LOADERS: Record<string, () => Promise<CommandRunner>> = {
  server: async () => (await import('./server.ts')).runServer,
  agent: async () => (await import('./agent.ts')).runAgent,
  dns: async () => (await import('./dns.ts')).runDnsCommand,
  'lab up': async () => (await import('./lab.ts')).runLabUp,
  'lab down': async () => (await import('./lab.ts')).runLabDown,
  'lab status': async () => (await import('./lab.ts')).runLabStatus,
  'lab kubeconfig': async () => (await import('./lab.ts')).runLabKubeconfig,
  'lab exec': async () => (await import('./lab.ts')).runLabExec,
  apply: async () => (await import('./objects.ts')).runApply,
  get: async () => (await import('./objects.ts')).runGet,
  delete: async () => (await import('./objects.ts')).runDelete,
  ...NETPOL_LOADERS,
};

export async function main(argv: readonly string[]): Promise<number | undefined> {
  const parsed = parseCommandLine(argv);
  if (parsed.kind === 'help') {
    process.stdout.write(parsed.text);
    return 0;
  }
  if (parsed.kind === 'usage-error') {
    process.stderr.write(`error: ${parsed.message}\n\n${parsed.usage}`);
    return 2;
  }
  const load = LOADERS[parsed.command];
  if (!load) {
    process.stderr.write(`error: command "${parsed.command}" is not available\n`);
    return 2;
  }
  try {
    const run = await load();
    return await run(parsed);
  } catch (err) {
    return reportError(err, parsed.command);
  }
}

/** Prints an error the way kubectl does for API errors; returns the exit code. */
export function reportError(err: unknown, command: string): number {
  if (err instanceof UsageError) {
    const spec = findCommand(command);
    process.stderr.write(`error: ${err.message}\n\n${spec ? commandHelp(spec) : ''}`);
    return 2;
  }
  if (err instanceof KubeError) {
    process.stderr.write(`Error from server (${err.reason}): ${err.message}\n`);
    return 1;
  }
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  return 1;
}
