// `meshlet netpol <subcommand>`: one dispatcher; each subcommand's module is loaded only when it runs.
import type { RunCommand } from './args.ts';
import type { CommandRunner } from './main.ts';

const SUBCOMMANDS: Record<string, () => Promise<CommandRunner>> = {
  serve: async () => (await import('./netpol-probe.ts')).runNetpolServe,
  connect: async () => (await import('./netpol-probe.ts')).runNetpolConnect,
  run: async () => (await import('./netpol-run.ts')).runNetpolRun,
  // explain, denials: issue 9 §3 (src/cli/netpol-explain.ts, src/cli/netpol-denials.ts).
};

export async function runNetpol(cmd: RunCommand): Promise<number | undefined> {
  const sub = cmd.command.split(' ')[1] ?? '';
  const load = SUBCOMMANDS[sub];
  if (!load) throw new Error(`"netpol ${sub}" is not available`);
  return (await load())(cmd);
}
