// Small helpers every benchmark shares: percentiles, medians, flags, machine info, output.
import { cpus, totalmem } from 'node:os';

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** The middle value; the mean of the two middle values for an even count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** --name value flags over numeric defaults; unknown flags are an error. */
export function parseFlags<T extends Record<string, number>>(argv: readonly string[], defaults: T): T {
  const out: Record<string, number> = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, '');
    if (!(name in defaults)) throw new Error(`unknown flag ${argv[i]}; known: ${Object.keys(defaults).join(', ')}`);
    const value = Number(argv[++i]);
    if (!Number.isFinite(value)) throw new Error(`flag ${argv[i - 1]} needs a number`);
    out[name] = value;
  }
  return out as T;
}

export function machineInfo(): { cpu: string; cores: number; memoryGiB: number; node: string; kernel: string } {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: process.platform === 'linux' ? readKernel() : process.platform,
  };
}

function readKernel(): string {
  try {
    return (process.report?.getReport() as { header?: { osRelease?: string } } | undefined)?.header?.osRelease ?? 'linux';
  } catch {
    return 'linux';
  }
}

const round = (v: unknown): unknown =>
  typeof v === 'number' ? Math.round(v * 1000) / 1000 : v && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, round(x)]))
    : v;

/** One JSON line on stdout: what bench/run.ts and docs/BENCHMARKS.md take. */
export function printResult(result: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(round(result)) + '\n');
}

/** Runs task(0..count-1) on `concurrency` workers, each taking the next index; resolves when all are done. */
export async function forEachConcurrently(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) await task(i);
    }),
  );
}
