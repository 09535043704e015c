// `meshlet netpol run CASE_FILE...`: option handling and output around src/netpol/runner.ts.
import { readFileSync } from 'node:fs';
import { CaseFormatError, parseCaseFile } from '../policy/cases.ts';
import { labNameProblem, MAX_NODES } from '../lab/plan.ts';
import { Progress } from '../lab/progress.ts';
import { labRoot } from '../lab/state-file.ts';
import { formatSummary } from '../netpol/report.ts';
import { runSuite, type CaseSource } from '../netpol/runner.ts';
import { NetpolInputError, parseDurationMs } from '../netpol/wire.ts';
import { UsageError, booleanOption, integerOption, listOption, stringOption, type RunCommand } from './args.ts';

function duration(cmd: RunCommand, name: string, fallback: string, maxMs: number): number {
  try {
    return parseDurationMs(stringOption(cmd.options, name) ?? fallback, `--${name}`, maxMs);
  } catch (err) {
    if (err instanceof NetpolInputError) throw new UsageError(err.message);
    throw err;
  }
}

/** Reads and parses every file first: a bad file is reported before any lab is touched. */
export function loadCases(files: readonly string[], only: readonly string[]): CaseSource[] {
  const sources: CaseSource[] = [];
  const seen = new Set<string>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(`${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
    let cases;
    try {
      cases = parseCaseFile(text);
    } catch (err) {
      throw new UsageError(`${file}: ${err instanceof CaseFormatError ? err.message : (err as Error).message}`);
    }
    for (const c of cases) {
      if (seen.has(c.name)) throw new UsageError(`${file}: case "${c.name}" appears twice`);
      seen.add(c.name);
    }
    sources.push({ file, cases: only.length ? cases.filter((c) => only.includes(c.name)) : cases });
  }
  const missing = only.filter((n) => !seen.has(n));
  if (missing.length) throw new UsageError(`no case named ${missing.join(', ')} in the files given`);
  return sources.filter((s) => s.cases.length);
}

export async function runNetpolRun(cmd: RunCommand): Promise<number> {
  const sources = loadCases(cmd.positionals, listOption(cmd.options, 'case'));
  const name = stringOption(cmd.options, 'name');
  if (name !== undefined) {
    const problem = labNameProblem(name);
    if (problem) throw new UsageError(problem);
    if (stringOption(cmd.options, 'nodes') !== undefined) throw new UsageError('--nodes is for a lab of its own; leave it out with --name');
  }
  const nodes = integerOption(cmd.options, 'nodes', 1, MAX_NODES, 3);
  const stepTimeoutMs = duration(cmd, 'timeout', '30s', 600_000);
  const probeTimeoutMs = duration(cmd, 'probe-timeout', '1s', 10_000);
  const json = booleanOption(cmd.options, 'json');
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new Error('netpol run uses a lab (network namespaces): run it as root');
  const out = json ? process.stderr : process.stdout;
  const report = await runSuite({
    sources,
    ...(name ? { labName: name } : {}),
    root: labRoot(),
    nodes,
    keep: booleanOption(cmd.options, 'keep'),
    stepTimeoutMs,
    probeTimeoutMs,
    progress: new Progress(process.stderr),
    onStep: (text) => out.write(text + '\n'),
  });
  out.write(formatSummary(report) + '\n');
  if (json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  return report.failed === 0 ? 0 : 1;
}
