// `meshlet netpol …`: the subcommands' modules, loaded only when one runs.
import type { CommandRunner } from './main.ts';

export const NETPOL_LOADERS: Record<string, () => Promise<CommandRunner>> = {
  'netpol serve': async () => (await import('./netpol-probe.ts')).runNetpolServe,
  'netpol connect': async () => (await import('./netpol-probe.ts')).runNetpolConnect,
  'netpol run': async () => (await import('./netpol-run.ts')).runNetpolRun,
  'netpol explain': async () => (await import('./netpol-explain.ts')).runNetpolExplain,
  'netpol denials': async () => (await import('./netpol-denials.ts')).runNetpolDenials,
};
